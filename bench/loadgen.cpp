// loadgen — a WebSocket (RFC 6455) load generator for duplex's end-to-end benchmarks.
//
// Linux only: one epoll loop per thread, non-blocking sockets, edge-triggered. It does not use
// duplex's engine (only duplex::accept_key for the handshake check), so that the instrument does
// not share code paths with the server it measures. See usage() for the options and output.
//
// Every client does a real HTTP/1.1 upgrade (random 16-byte key; checks the 101 and
// Sec-WebSocket-Accept), sends masked frames (a fresh random mask per frame) and checks every
// echo: opcode, length, FIN, and the payload's sequence-number prefix, middle and last byte.
// Messages sent in one batch share one send timestamp; latency is batch send -> echo received.
#include <duplex/core/handshake.hpp>

#include "fd_limit.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

enum class run_mode { echo, connect, idle };

struct options {
    std::string host = "127.0.0.1";
    unsigned port = 0;
    unsigned connections = 100;
    unsigned threads = 1;
    std::size_t size = 16;
    unsigned depth = 1;
    double duration = 10;
    double warmup = 2;
    run_mode mode = run_mode::echo;
    bool binary = false;
    bool plain = false;
    long server_pid = 0;
    double timeout = 10;
    unsigned max_pending = 256;
    std::string path = "/";
};

void usage(const char* argv0) {
    std::fprintf(
        stderr,
        "usage: %s --port P [options]\n"
        "\n"
        "  --host ADDR         server address (default 127.0.0.1; IPv4)\n"
        "  --port P            server port (required)\n"
        "  --path PATH         request target of the upgrade (default /)\n"
        "  --connections C     connections (default 100); in connect mode, concurrent connect loops\n"
        "  --threads T         threads, each with its own epoll loop; connections split among them\n"
        "                      (default 1)\n"
        "  --size BYTES        message payload size (default 16)\n"
        "  --depth D           messages in flight per connection (default 1 = ping-pong). D frames\n"
        "                      go out in one write; the next D once all D echoes are back\n"
        "  --duration SECONDS  measured window (default 10); idle mode: hold time, 0 = until signal\n"
        "  --warmup SECONDS    unmeasured time after every connection is open (default 2)\n"
        "  --mode echo|connect|idle\n"
        "                      echo: send, check echoes, report msgs/s and latency (default)\n"
        "                      connect: connect, handshake, close handshake, repeat; handshakes/s\n"
        "                      idle: open C connections, print \"idle: C connections open\", hold\n"
        "  --binary            binary messages (default text)\n"
        "  --plain             no WebSocket: raw TCP echo of fixed-size messages (echo mode only)\n"
        "  --server-pid PID    sample the server's CPU time (/proc/PID/stat) at the start and end\n"
        "                      of the measured window, and its VmRSS in idle mode\n"
        "  --timeout SECONDS   connect, handshake, echo and close timeout (default 10)\n"
        "  --max-pending N     connects+handshakes in progress per thread (default 256)\n"
        "\n"
        "Output: a human-readable line, then one machine-readable line starting with RESULT, e.g.\n"
        "  RESULT mode=echo plain=0 conns=100 size=16 depth=1 msgs=... secs=... msgs_per_s=...\n"
        "         p50_us=... p99_us=... p999_us=... server_cpu_us_per_msg=... errors=...\n"
        "Lines WINDOW_START and WINDOW_END mark the measured window on stdout. Exit status: 0 if\n"
        "no errors, 1 if there were errors, 2 on bad usage.\n",
        argv0);
}

bool parse_double(const char* v, double& out) {
    char* end = nullptr;
    out = std::strtod(v, &end);
    return end != v && *end == '\0' && out >= 0;
}

bool parse_unsigned(const char* v, unsigned long long& out) {
    char* end = nullptr;
    errno = 0;
    out = std::strtoull(v, &end, 10);
    return end != v && *end == '\0' && errno == 0 && v[0] != '-';
}

bool parse_args(int argc, char** argv, options& o) {
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--help" || arg == "-h")
            return false;
        if (arg == "--binary") {
            o.binary = true;
            continue;
        }
        if (arg == "--plain") {
            o.plain = true;
            continue;
        }
        if (i + 1 >= argc) {
            std::fprintf(stderr, "loadgen: missing value for %s\n", arg.c_str());
            return false;
        }
        const char* v = argv[++i];
        unsigned long long n = 0;
        bool ok = true;
        if (arg == "--host")
            o.host = v;
        else if (arg == "--path")
            o.path = v;
        else if (arg == "--port")
            ok = parse_unsigned(v, n) && n > 0 && n < 65536, o.port = static_cast<unsigned>(n);
        else if (arg == "--connections")
            ok = parse_unsigned(v, n) && n > 0 && n < 1000000, o.connections = static_cast<unsigned>(n);
        else if (arg == "--threads")
            ok = parse_unsigned(v, n) && n > 0 && n < 1024, o.threads = static_cast<unsigned>(n);
        else if (arg == "--size")
            ok = parse_unsigned(v, n) && n < (1ull << 30), o.size = static_cast<std::size_t>(n);
        else if (arg == "--depth")
            ok = parse_unsigned(v, n) && n > 0 && n < 100000, o.depth = static_cast<unsigned>(n);
        else if (arg == "--max-pending")
            ok = parse_unsigned(v, n) && n > 0 && n < 1000000, o.max_pending = static_cast<unsigned>(n);
        else if (arg == "--server-pid")
            ok = parse_unsigned(v, n) && n > 0, o.server_pid = static_cast<long>(n);
        else if (arg == "--duration")
            ok = parse_double(v, o.duration);
        else if (arg == "--warmup")
            ok = parse_double(v, o.warmup);
        else if (arg == "--timeout")
            ok = parse_double(v, o.timeout) && o.timeout > 0;
        else if (arg == "--mode") {
            const std::string m = v;
            if (m == "echo")
                o.mode = run_mode::echo;
            else if (m == "connect")
                o.mode = run_mode::connect;
            else if (m == "idle")
                o.mode = run_mode::idle;
            else
                ok = false;
        } else {
            std::fprintf(stderr, "loadgen: unknown option %s\n", arg.c_str());
            return false;
        }
        if (!ok) {
            std::fprintf(stderr, "loadgen: bad value for %s: %s\n", arg.c_str(), v);
            return false;
        }
    }
    if (o.port == 0) {
        std::fprintf(stderr, "loadgen: --port is required\n");
        return false;
    }
    if (o.plain && o.mode != run_mode::echo) {
        std::fprintf(stderr, "loadgen: --plain works in echo mode only\n");
        return false;
    }
    if (o.plain && o.size == 0) {
        std::fprintf(stderr, "loadgen: --plain needs --size > 0\n");
        return false;
    }
    return true;
}

// ---------------------------------------------------------------------------------------------
// Clocks, randomness, statistics

std::int64_t now_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// splitmix64: fast, good enough for masks and keys (RFC 6455 asks for unpredictability against
// intermediaries, which does not matter on a benchmark loopback); seeded from the OS.
struct rng {
    std::uint64_t s;
    explicit rng(std::uint64_t seed) : s(seed) {}
    std::uint64_t next() {
        std::uint64_t z = (s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
};

std::uint64_t os_seed() {
    std::uint64_t seed = 0;
    int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (::read(fd, &seed, sizeof seed) != static_cast<ssize_t>(sizeof seed))
            seed = 0;
        ::close(fd);
    }
    return seed ^ static_cast<std::uint64_t>(now_ns()) ^ (static_cast<std::uint64_t>(getpid()) << 32);
}

// Log-linear latency histogram in nanoseconds: exact below 128 ns, then 64 sub-buckets per
// power of two (under 1.6 % relative error).
class histogram {
public:
    static constexpr int sub_bits = 6;
    static constexpr std::size_t buckets = 128 + 58 * 64;

    histogram() : counts_(buckets, 0) {}

    void record(std::int64_t ns) {
        const auto v = static_cast<std::uint64_t>(ns < 0 ? 0 : ns);
        ++counts_[index(v)];
        ++total_;
    }
    void merge(const histogram& h) {
        for (std::size_t i = 0; i < buckets; ++i)
            counts_[i] += h.counts_[i];
        total_ += h.total_;
    }
    std::uint64_t total() const { return total_; }
    // Value (ns) at quantile q in [0,1]; 0 when empty.
    double quantile(double q) const {
        if (total_ == 0)
            return 0;
        auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(total_)));
        rank = std::max<std::uint64_t>(rank, 1);
        std::uint64_t seen = 0;
        for (std::size_t i = 0; i < buckets; ++i) {
            seen += counts_[i];
            if (seen >= rank)
                return middle(i);
        }
        return middle(buckets - 1);
    }
    double max() const {
        for (std::size_t i = buckets; i-- > 0;)
            if (counts_[i])
                return middle(i);
        return 0;
    }

private:
    static std::size_t index(std::uint64_t v) {
        if (v < 128)
            return static_cast<std::size_t>(v);
        const int e = 63 - __builtin_clzll(v); // >= 7
        const std::uint64_t m = v >> (e - sub_bits); // 64..127
        const std::size_t i = 128 + static_cast<std::size_t>(e - 7) * 64 + static_cast<std::size_t>(m - 64);
        return std::min(i, buckets - 1);
    }
    static double middle(std::size_t i) {
        if (i < 128)
            return static_cast<double>(i);
        const std::size_t e = (i - 128) / 64 + 7;
        const std::size_t m = (i - 128) % 64 + 64;
        return (static_cast<double>(m) + 0.5) * std::ldexp(1.0, static_cast<int>(e) - sub_bits);
    }

    std::vector<std::uint64_t> counts_;
    std::uint64_t total_ = 0;
};

struct stats {
    std::uint64_t msgs = 0;       // echoes received inside the window
    std::uint64_t handshakes = 0; // connect mode: full cycles completed inside the window
    std::uint64_t err_connect = 0, err_handshake = 0, err_protocol = 0, err_verify = 0,
                  err_timeout = 0, err_closed = 0, err_io = 0;
    std::uint64_t close_incomplete = 0; // at the end: close handshakes that did not finish
    histogram latency;

    std::uint64_t errors() const {
        return err_connect + err_handshake + err_protocol + err_verify + err_timeout + err_closed +
               err_io;
    }
    void merge(const stats& s) {
        msgs += s.msgs;
        handshakes += s.handshakes;
        err_connect += s.err_connect;
        err_handshake += s.err_handshake;
        err_protocol += s.err_protocol;
        err_verify += s.err_verify;
        err_timeout += s.err_timeout;
        err_closed += s.err_closed;
        err_io += s.err_io;
        close_incomplete += s.close_incomplete;
        latency.merge(s.latency);
    }
};

// Phases, set by the main thread: 0 = setup and warmup, 1 = measuring, 2 = stop.
std::atomic<int> g_phase{0};
std::atomic<unsigned> g_open{0};         // connections that completed their handshake (and still are)
std::atomic<unsigned> g_setup_failed{0}; // connections that failed before being open
volatile sig_atomic_t g_signal = 0;

extern "C" void on_signal(int) { g_signal = 1; }

// ---------------------------------------------------------------------------------------------
// /proc sampling

// utime + stime of a process (all its threads), in clock ticks; -1 if unreadable.
long long proc_cpu_ticks(long pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(f, line))
        return -1;
    const auto close = line.rfind(')');
    if (close == std::string::npos)
        return -1;
    std::istringstream in(line.substr(close + 2));
    std::string field;
    long long utime = -1, stime = -1;
    // After "pid (comm) ", field 3 (state) is token 0; utime is field 14, stime field 15.
    for (int i = 0; i <= 12 && (in >> field); ++i) {
        if (i == 11)
            utime = std::atoll(field.c_str());
        if (i == 12)
            stime = std::atoll(field.c_str());
    }
    return utime < 0 || stime < 0 ? -1 : utime + stime;
}

// VmRSS in kB; -1 if unreadable.
long long proc_rss_kb(long pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("VmRSS:", 0) == 0)
            return std::atoll(line.c_str() + 6);
    return -1;
}

double self_cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

// ---------------------------------------------------------------------------------------------
// Payloads: a fixed printable pattern (valid UTF-8), whose first min(size, 16) bytes are replaced
// by the low hex digits of the message's sequence number. Checks: prefix, middle and last byte.

constexpr char hex_digits[] = "0123456789abcdef";

class payload_pattern {
public:
    explicit payload_pattern(std::size_t size) : size_(size), base_(size) {
        for (std::size_t i = 0; i < size; ++i)
            base_[i] = static_cast<std::uint8_t>('A' + (i * 7 + i / 26) % 26);
        prefix_ = std::min<std::size_t>(size, 16);
    }
    std::size_t size() const { return size_; }
    // Fills out[0, size) with message `seq`.
    void fill(std::uint8_t* out, std::uint64_t seq) const {
        if (size_ > prefix_)
            std::memcpy(out + prefix_, base_.data() + prefix_, size_ - prefix_);
        write_prefix(out, seq);
    }
    void write_prefix(std::uint8_t* out, std::uint64_t seq) const {
        for (std::size_t j = 0; j < prefix_; ++j)
            out[j] = static_cast<std::uint8_t>(hex_digits[(seq >> (4 * (prefix_ - 1 - j))) & 0xF]);
    }
    // Checks the bytes of message `seq` at message offsets [off, off + n) that it samples.
    bool check(const std::uint8_t* p, std::size_t n, std::size_t off, std::uint64_t seq) const {
        for (std::size_t j = off; j < prefix_ && j < off + n; ++j)
            if (p[j - off] != static_cast<std::uint8_t>(hex_digits[(seq >> (4 * (prefix_ - 1 - j))) & 0xF]))
                return false;
        const std::size_t mid = size_ / 2, last = size_ - 1;
        if (size_ > prefix_) {
            if (mid >= prefix_ && mid >= off && mid < off + n && p[mid - off] != base_[mid])
                return false;
            if (last >= off && last < off + n && p[last - off] != base_[last])
                return false;
        }
        return true;
    }

private:
    std::size_t size_;
    std::vector<std::uint8_t> base_;
    std::size_t prefix_;
};

// XORs n bytes with the 4-byte mask (mask byte i applies to payload byte i mod 4).
void mask_copy(std::uint8_t* dst, const std::uint8_t* src, std::size_t n, const std::uint8_t key[4]) {
    std::uint64_t k8 = 0;
    std::uint8_t kb[8] = {key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3]};
    std::memcpy(&k8, kb, 8);
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        std::uint64_t w = 0;
        std::memcpy(&w, src + i, 8);
        w ^= k8;
        std::memcpy(dst + i, &w, 8);
    }
    for (; i < n; ++i)
        dst[i] = static_cast<std::uint8_t>(src[i] ^ key[i & 3]);
}

// ---------------------------------------------------------------------------------------------
// Connections and the per-thread event loop

enum class conn_state : std::uint8_t {
    unstarted, // not yet connected (or waiting to reconnect in connect mode)
    connecting,
    handshake, // request sent, waiting for the 101
    open,
    closing,   // our close frame is out, waiting for the server's
    dead,      // finished or failed; not reconnected (echo and idle modes)
};

struct connection {
    int fd = -1;
    conn_state state = conn_state::unstarted;
    std::vector<std::uint8_t> in;  // [in_beg, in_end) unread
    std::size_t in_beg = 0, in_end = 0;
    std::vector<std::uint8_t> out; // [out_off, out.size()) unsent
    std::size_t out_off = 0;
    char accept[duplex::accept_size] = {};
    std::uint64_t send_seq = 0, recv_seq = 0;
    unsigned in_flight = 0;
    std::int64_t batch_sent = 0;     // when the in-flight batch went out
    std::int64_t started = 0;        // connect() time (connect-mode handshake latency)
    std::int64_t deadline = 0;       // timeout for the current wait; 0 = none
    // The data message being received (possibly fragmented).
    bool in_message = false;
    std::uint8_t msg_op = 0;
    std::size_t msg_off = 0;
};

class worker {
public:
    worker(const options& o, const sockaddr_in& addr, unsigned count, std::uint64_t seed)
        : o_(o), addr_(addr), conns_(count), rng_(seed), pattern_(o.size) {
        scratch_.resize(o.size);
    }

    stats& result() { return st_; }

    void run() {
        ep_ = epoll_create1(EPOLL_CLOEXEC);
        if (ep_ < 0) {
            std::perror("loadgen: epoll_create1");
            st_.err_io += conns_.size();
            g_setup_failed += static_cast<unsigned>(conns_.size());
            return;
        }
        std::vector<epoll_event> events(512);
        std::int64_t next_scan = 0;
        bool stopping = false;
        std::int64_t stop_deadline = 0;
        while (true) {
            const int phase = g_phase.load(std::memory_order_relaxed);
            if (phase == 2 && !stopping) {
                stopping = true;
                stop_deadline = now_ns() + static_cast<std::int64_t>(std::min(o_.timeout, 2.0) * 1e9);
                begin_stop();
            }
            if (stopping && (live_ == 0 || now_ns() > stop_deadline))
                break;
            if (!stopping)
                start_more();
            const int n = epoll_wait(ep_, events.data(), static_cast<int>(events.size()), 20);
            if (n < 0 && errno != EINTR) {
                std::perror("loadgen: epoll_wait");
                break;
            }
            for (int i = 0; i < n; ++i)
                on_event(conns_[events[static_cast<std::size_t>(i)].data.u64], events[static_cast<std::size_t>(i)].events);
            const std::int64_t now = now_ns();
            if (now >= next_scan) {
                next_scan = now + 50'000'000;
                scan_timeouts(now);
            }
        }
        for (auto& c : conns_) {
            if (c.fd >= 0) {
                if (c.state == conn_state::closing || c.state == conn_state::open)
                    ++st_.close_incomplete;
                drop(c);
            }
        }
        ::close(ep_);
    }

private:
    // ---- lifecycle ----

    void start_more() {
        while (pending_ < o_.max_pending && next_start_ < conns_.size()) {
            connection& c = conns_[next_start_++];
            if (c.state == conn_state::unstarted)
                start(c);
        }
        if (o_.mode == run_mode::connect) {
            // Connect mode: restart finished slots.
            for (std::size_t i = 0; i < restart_.size() && pending_ < o_.max_pending;) {
                connection& c = conns_[restart_[i]];
                restart_[i] = restart_.back();
                restart_.pop_back();
                if (c.state == conn_state::unstarted)
                    start(c);
            }
        }
    }

    void start(connection& c) {
        c = connection{};
        c.started = now_ns();
        c.state = conn_state::connecting;
        c.deadline = c.started + timeout_ns();
        ++pending_;
        c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c.fd < 0) {
            fail(c, st_.err_connect, "socket");
            return;
        }
        ++live_;
        const int one = 1;
        ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
        ev.data.u64 = static_cast<std::uint64_t>(&c - conns_.data());
        if (::epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev) < 0) {
            fail(c, st_.err_io, "epoll_ctl");
            return;
        }
        if (::connect(c.fd, reinterpret_cast<const sockaddr*>(&addr_), sizeof addr_) < 0 &&
            errno != EINPROGRESS) {
            fail(c, st_.err_connect, "connect");
            return;
        }
    }

    // Closes the socket. Connect mode queues the slot for a new cycle (unless stopping).
    void drop(connection& c) {
        if (c.fd >= 0) {
            ::close(c.fd); // also removes it from the epoll set
            c.fd = -1;
            --live_;
        }
        if (c.state == conn_state::connecting || c.state == conn_state::handshake)
            --pending_;
        if (c.state == conn_state::open || c.state == conn_state::closing) {
            if (o_.mode != run_mode::connect)
                --g_open;
        }
        c.in = {};
        c.out = {};
        c.deadline = 0;
        if (o_.mode == run_mode::connect && g_phase.load(std::memory_order_relaxed) != 2) {
            c.state = conn_state::unstarted;
            restart_.push_back(static_cast<std::size_t>(&c - conns_.data()));
        } else {
            c.state = conn_state::dead;
        }
    }

    void fail(connection& c, std::uint64_t& counter, const char* what) {
        ++counter;
        if (errors_printed_ < 5) {
            ++errors_printed_;
            const int e = errno;
            std::fprintf(stderr, "loadgen: connection error: %s%s%s\n", what, e ? ": " : "",
                         e ? std::strerror(e) : "");
        }
        if (c.state == conn_state::connecting || c.state == conn_state::handshake)
            if (o_.mode != run_mode::connect)
                ++g_setup_failed;
        drop(c);
    }

    void begin_stop() {
        for (auto& c : conns_) {
            if (c.fd < 0)
                continue;
            if (c.state == conn_state::open && !o_.plain) {
                send_close(c);
                c.state = conn_state::closing;
                c.deadline = now_ns() + timeout_ns();
                flush(c);
            } else if (c.state != conn_state::closing) {
                drop(c);
            }
        }
    }

    void scan_timeouts(std::int64_t now) {
        for (auto& c : conns_) {
            if (c.fd < 0 || c.deadline == 0 || now < c.deadline)
                continue;
            errno = 0;
            const char* what = c.state == conn_state::connecting  ? "connect timeout"
                               : c.state == conn_state::handshake ? "handshake timeout"
                               : c.state == conn_state::closing   ? "close timeout"
                                                                  : "echo timeout";
            fail(c, st_.err_timeout, what);
        }
    }

    std::int64_t timeout_ns() const { return static_cast<std::int64_t>(o_.timeout * 1e9); }

    // ---- events ----

    void on_event(connection& c, std::uint32_t ev) {
        if (c.fd < 0)
            return;
        if (c.state == conn_state::connecting) {
            if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
                return;
            int err = 0;
            socklen_t len = sizeof err;
            ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err != 0 || (ev & (EPOLLERR | EPOLLHUP))) {
                errno = err;
                fail(c, st_.err_connect, "connect");
                return;
            }
            on_connected(c);
            if (c.fd < 0)
                return;
        } else if (ev & EPOLLOUT) {
            if (!flush(c))
                return;
        }
        if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            on_readable(c, (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0);
    }

    void on_connected(connection& c) {
        c.in.resize(4096);
        if (o_.plain) {
            on_open(c);
            if (c.fd >= 0)
                flush(c);
            return;
        }
        // Sec-WebSocket-Key: base64 of 16 random bytes.
        std::uint8_t raw[16];
        const std::uint64_t a = rng_.next(), b = rng_.next();
        std::memcpy(raw, &a, 8);
        std::memcpy(raw + 8, &b, 8);
        static constexpr char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        char key[25] = {};
        for (int i = 0, j = 0; i < 15; i += 3, j += 4) {
            const unsigned v = (raw[i] << 16) | (raw[i + 1] << 8) | raw[i + 2];
            key[j] = b64[(v >> 18) & 63];
            key[j + 1] = b64[(v >> 12) & 63];
            key[j + 2] = b64[(v >> 6) & 63];
            key[j + 3] = b64[v & 63];
        }
        key[20] = b64[raw[15] >> 2];
        key[21] = b64[(raw[15] & 3) << 4];
        key[22] = '=';
        key[23] = '=';
        duplex::accept_key(std::string_view(key, 24), c.accept);
        std::string req;
        req.reserve(256);
        req += "GET " + o_.path + " HTTP/1.1\r\nHost: " + o_.host + ":" + std::to_string(o_.port) +
               "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ";
        req.append(key, 24);
        req += "\r\nSec-WebSocket-Version: 13\r\n\r\n";
        c.out.assign(req.begin(), req.end());
        c.out_off = 0;
        c.state = conn_state::handshake;
        c.deadline = now_ns() + timeout_ns();
        flush(c);
    }

    void on_open(connection& c) {
        --pending_;
        c.state = conn_state::open;
        c.deadline = 0;
        if (o_.mode == run_mode::connect) {
            if (g_phase.load(std::memory_order_relaxed) == 1)
                st_.latency.record(now_ns() - c.started);
            send_close(c);
            c.state = conn_state::closing;
            c.deadline = now_ns() + timeout_ns();
            flush(c);
            return;
        }
        ++g_open;
        if (o_.mode == run_mode::echo) {
            const std::size_t want = std::max<std::size_t>(65536, 2 * (o_.size + 14) + 16384);
            if (c.in.size() < want)
                c.in.resize(want);
            send_batch(c);
        }
    }

    // Returns false if the connection was dropped.
    bool flush(connection& c) {
        while (c.out_off < c.out.size()) {
            const ssize_t n = ::send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
            if (n > 0) {
                c.out_off += static_cast<std::size_t>(n);
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                return true; // EPOLLOUT (edge-triggered) resumes
            if (n < 0 && errno == EINTR)
                continue;
            fail(c, c.state == conn_state::closing ? st_.err_closed : st_.err_io, "send");
            return false;
        }
        c.out.clear();
        c.out_off = 0;
        return true;
    }

    void on_readable(connection& c, bool hangup) {
        while (c.fd >= 0) {
            if (c.in_beg == c.in_end)
                c.in_beg = c.in_end = 0;
            if (c.in.size() - c.in_end < 2048) {
                if (c.in_beg > 0) {
                    std::memmove(c.in.data(), c.in.data() + c.in_beg, c.in_end - c.in_beg);
                    c.in_end -= c.in_beg;
                    c.in_beg = 0;
                }
                if (c.in.size() - c.in_end < 2048)
                    c.in.resize(std::max<std::size_t>(c.in.size() * 2, 4096));
            }
            const std::size_t room = c.in.size() - c.in_end;
            const ssize_t n = ::recv(c.fd, c.in.data() + c.in_end, room, 0);
            if (n > 0) {
                c.in_end += static_cast<std::size_t>(n);
                bool changed = false;
                if (!process(c, changed))
                    return;
                if (changed && !flush(c))
                    return;
                // A short read drained the socket; with edge triggering, more data is a new edge.
                if (static_cast<std::size_t>(n) < room && !hangup)
                    return;
                continue;
            }
            if (n == 0) {
                errno = 0;
                fail(c, c.state == conn_state::handshake ? st_.err_handshake : st_.err_closed,
                     c.state == conn_state::closing ? "server closed TCP before its close frame"
                                                    : "server closed the connection");
                return;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno == EINTR)
                continue;
            fail(c, st_.err_io, "recv");
            return;
        }
    }

    // Consumes what is buffered. Returns false if the connection was dropped; `changed` is set
    // when something was queued for sending.
    bool process(connection& c, bool& changed) {
        if (c.state == conn_state::handshake) {
            if (!parse_response(c))
                return false;
            if (c.state != conn_state::open && c.state != conn_state::closing)
                return true; // incomplete
            changed = true;
        }
        if (o_.plain)
            return process_plain(c, changed);
        return process_frames(c, changed);
    }

    bool parse_response(connection& c) {
        const std::string_view buf(reinterpret_cast<const char*>(c.in.data() + c.in_beg), c.in_end - c.in_beg);
        const auto end = buf.find("\r\n\r\n");
        if (end == std::string_view::npos) {
            if (buf.size() > 16384) {
                errno = 0;
                fail(c, st_.err_handshake, "response headers too large");
                return false;
            }
            return true;
        }
        const std::string_view head = buf.substr(0, end + 2);
        bool ok = head.rfind("HTTP/1.1 101", 0) == 0;
        bool accept_ok = false, extensions = false;
        std::size_t pos = head.find("\r\n") + 2;
        while (ok && pos < head.size()) {
            const auto eol = head.find("\r\n", pos);
            const std::string_view line = head.substr(pos, eol - pos);
            pos = eol + 2;
            const auto colon = line.find(':');
            if (colon == std::string_view::npos)
                continue;
            std::string name(line.substr(0, colon));
            for (auto& ch : name)
                ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            std::string_view value = line.substr(colon + 1);
            while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
                value.remove_prefix(1);
            while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
                value.remove_suffix(1);
            if (name == "sec-websocket-accept")
                accept_ok = value == std::string_view(c.accept, duplex::accept_size);
            else if (name == "sec-websocket-extensions")
                extensions = true;
        }
        if (!ok || !accept_ok || extensions) {
            errno = 0;
            fail(c, st_.err_handshake,
                 !ok ? "no 101 response" : !accept_ok ? "bad Sec-WebSocket-Accept" : "unrequested extension");
            return false;
        }
        c.in_beg += end + 4;
        on_open(c);
        return c.fd >= 0;
    }

    // ---- sending ----

    void put_frame(connection& c, std::uint8_t op, const std::uint8_t* payload, std::size_t n) {
        std::uint8_t h[14];
        std::size_t hl = 2;
        h[0] = static_cast<std::uint8_t>(0x80 | op);
        if (n < 126) {
            h[1] = static_cast<std::uint8_t>(0x80 | n);
        } else if (n <= 0xFFFF) {
            h[1] = 0x80 | 126;
            h[2] = static_cast<std::uint8_t>(n >> 8);
            h[3] = static_cast<std::uint8_t>(n);
            hl = 4;
        } else {
            h[1] = 0x80 | 127;
            for (int i = 0; i < 8; ++i)
                h[2 + i] = static_cast<std::uint8_t>(static_cast<std::uint64_t>(n) >> (56 - 8 * i));
            hl = 10;
        }
        const auto m = static_cast<std::uint32_t>(rng_.next());
        std::memcpy(h + hl, &m, 4);
        const std::size_t at = c.out.size();
        c.out.resize(at + hl + 4 + n);
        std::memcpy(c.out.data() + at, h, hl + 4);
        mask_copy(c.out.data() + at + hl + 4, payload, n, h + hl);
    }

    void send_close(connection& c) {
        const std::uint8_t code[2] = {0x03, 0xE8}; // 1000
        put_frame(c, 0x8, code, 2);
    }

    void send_batch(connection& c) {
        for (unsigned i = 0; i < o_.depth; ++i) {
            if (o_.plain) {
                const std::size_t at = c.out.size();
                c.out.resize(at + o_.size);
                pattern_.fill(c.out.data() + at, c.send_seq++);
            } else {
                pattern_.fill(scratch_.data(), c.send_seq++);
                put_frame(c, o_.binary ? 0x2 : 0x1, scratch_.data(), o_.size);
            }
        }
        c.in_flight = o_.depth;
        c.batch_sent = now_ns();
        c.deadline = c.batch_sent + timeout_ns();
    }

    // ---- receiving ----

    // One echoed message is complete.
    void complete(connection& c, bool& changed) {
        ++c.recv_seq;
        if (c.in_flight > 0)
            --c.in_flight;
        if (g_phase.load(std::memory_order_relaxed) == 1) {
            ++st_.msgs;
            st_.latency.record(now_ns() - c.batch_sent);
        }
        if (c.in_flight == 0 && c.state == conn_state::open) {
            if (g_phase.load(std::memory_order_relaxed) == 2)
                c.deadline = 0;
            else {
                send_batch(c);
                changed = true;
            }
        }
    }

    bool process_plain(connection& c, bool& changed) {
        while (c.in_beg < c.in_end) {
            if (c.in_flight == 0) {
                errno = 0;
                fail(c, st_.err_protocol, "unexpected bytes from the server");
                return false;
            }
            const std::size_t n = std::min(c.in_end - c.in_beg, o_.size - c.msg_off);
            if (!pattern_.check(c.in.data() + c.in_beg, n, c.msg_off, c.recv_seq)) {
                errno = 0;
                fail(c, st_.err_verify, "echoed bytes differ");
                return false;
            }
            c.in_beg += n;
            c.msg_off += n;
            if (c.msg_off == o_.size) {
                c.msg_off = 0;
                complete(c, changed);
            }
        }
        return true;
    }

    bool process_frames(connection& c, bool& changed) {
        while (c.in_end - c.in_beg >= 2) {
            const std::uint8_t* p = c.in.data() + c.in_beg;
            const std::size_t avail = c.in_end - c.in_beg;
            const bool fin = (p[0] & 0x80) != 0;
            const std::uint8_t op = p[0] & 0x0F;
            if ((p[0] & 0x70) != 0 || (p[1] & 0x80) != 0) {
                errno = 0;
                fail(c, st_.err_protocol, (p[1] & 0x80) ? "masked frame from the server" : "RSV bit set");
                return false;
            }
            std::uint64_t len = p[1] & 0x7F;
            std::size_t hl = 2;
            if (len == 126) {
                if (avail < 4)
                    break;
                len = (static_cast<std::uint64_t>(p[2]) << 8) | p[3];
                hl = 4;
            } else if (len == 127) {
                if (avail < 10)
                    break;
                len = 0;
                for (int i = 0; i < 8; ++i)
                    len = (len << 8) | p[2 + i];
                hl = 10;
            }
            if (len > (1ull << 30) || len > o_.size + 125) {
                errno = 0;
                fail(c, st_.err_protocol, "frame larger than any message sent");
                return false;
            }
            if (avail < hl + len) {
                // Make room for the whole frame; the caller reads more.
                const std::size_t need = hl + static_cast<std::size_t>(len) + 2048;
                if (c.in.size() - c.in_beg < need) {
                    std::memmove(c.in.data(), c.in.data() + c.in_beg, avail);
                    c.in_end = avail;
                    c.in_beg = 0;
                    if (c.in.size() < need)
                        c.in.resize(need);
                }
                break;
            }
            const std::uint8_t* payload = p + hl;
            const auto n = static_cast<std::size_t>(len);
            c.in_beg += hl + n;
            if (op >= 0x8) {
                if (!fin || n > 125) {
                    errno = 0;
                    fail(c, st_.err_protocol, "bad control frame");
                    return false;
                }
                if (op == 0x9) { // ping -> pong with the same payload
                    put_frame(c, 0xA, payload, n);
                    changed = true;
                } else if (op == 0x8) {
                    if (c.state == conn_state::closing) {
                        if (o_.mode == run_mode::connect && g_phase.load(std::memory_order_relaxed) == 1)
                            ++st_.handshakes;
                        drop(c);
                        return false;
                    }
                    errno = 0;
                    fail(c, st_.err_closed, "the server closed the WebSocket");
                    return false;
                } else if (op != 0xA) {
                    errno = 0;
                    fail(c, st_.err_protocol, "reserved control opcode");
                    return false;
                }
                continue;
            }
            // Data frame: a message may arrive in several fragments.
            if (op == 0x0) {
                if (!c.in_message) {
                    errno = 0;
                    fail(c, st_.err_protocol, "continuation without a message");
                    return false;
                }
            } else if (op == 0x1 || op == 0x2) {
                if (c.in_message) {
                    errno = 0;
                    fail(c, st_.err_protocol, "new message inside a fragmented one");
                    return false;
                }
                c.in_message = true;
                c.msg_op = op;
                c.msg_off = 0;
            } else {
                errno = 0;
                fail(c, st_.err_protocol, "reserved data opcode");
                return false;
            }
            if (o_.mode != run_mode::echo || c.in_flight == 0 || c.msg_off + n > o_.size ||
                !pattern_.check(payload, n, c.msg_off, c.recv_seq)) {
                errno = 0;
                fail(c, st_.err_verify,
                     o_.mode != run_mode::echo || c.in_flight == 0 ? "unexpected message"
                     : c.msg_off + n > o_.size                       ? "echo longer than sent"
                                                                     : "echoed payload differs");
                return false;
            }
            c.msg_off += n;
            if (!fin)
                continue;
            c.in_message = false;
            if (c.msg_off != o_.size || c.msg_op != (o_.binary ? 0x2 : 0x1)) {
                errno = 0;
                fail(c, st_.err_verify, c.msg_off != o_.size ? "echo shorter than sent" : "echo has the wrong opcode");
                return false;
            }
            complete(c, changed);
        }
        return true;
    }

    const options& o_;
    sockaddr_in addr_;
    std::vector<connection> conns_;
    std::vector<std::size_t> restart_;
    rng rng_;
    payload_pattern pattern_;
    std::vector<std::uint8_t> scratch_;
    stats st_;
    int ep_ = -1;
    std::size_t next_start_ = 0;
    unsigned pending_ = 0;
    std::size_t live_ = 0;
    int errors_printed_ = 0;
};

// Sleeps up to `seconds` (forever if negative), returning early on SIGINT/SIGTERM or when
// `until` returns true. Returns false if a signal arrived.
template <class Pred>
bool wait_for(double seconds, Pred until) {
    const std::int64_t end = seconds < 0 ? INT64_MAX : now_ns() + static_cast<std::int64_t>(seconds * 1e9);
    while (now_ns() < end) {
        if (g_signal)
            return false;
        if (until())
            return true;
        ::usleep(2000);
    }
    return !g_signal;
}

} // namespace

int main(int argc, char** argv) {
    options o;
    if (!parse_args(argc, argv, o)) {
        usage(argv[0]);
        return 2;
    }

    const rlim_t fds = raise_fd_limit();
    if (fds != RLIM_INFINITY && fds < static_cast<rlim_t>(o.connections) + 64)
        std::fprintf(stderr, "loadgen: warning: RLIMIT_NOFILE is %llu, below %u connections\n",
                     static_cast<unsigned long long>(fds), o.connections);

    struct sigaction sa{};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    std::signal(SIGPIPE, SIG_IGN);

    sockaddr_in addr{};
    {
        addrinfo hints{};
        hints.ai_family = AF_INET;
        hints.ai_socktype = SOCK_STREAM;
        addrinfo* res = nullptr;
        if (getaddrinfo(o.host.c_str(), nullptr, &hints, &res) != 0 || res == nullptr) {
            std::fprintf(stderr, "loadgen: cannot resolve %s\n", o.host.c_str());
            return 2;
        }
        std::memcpy(&addr, res->ai_addr, sizeof addr);
        freeaddrinfo(res);
        addr.sin_port = htons(static_cast<std::uint16_t>(o.port));
    }

    const long long rss_before = o.server_pid ? proc_rss_kb(o.server_pid) : -1;
    const unsigned threads = std::min(o.threads, o.connections);
    std::vector<std::unique_ptr<worker>> workers;
    const std::uint64_t seed = os_seed();
    for (unsigned t = 0; t < threads; ++t) {
        const unsigned count = o.connections / threads + (t < o.connections % threads ? 1 : 0);
        workers.push_back(std::make_unique<worker>(o, addr, count, seed + 0x1234567ull * (t + 1)));
    }
    std::vector<std::thread> pool;
    for (auto& w : workers)
        pool.emplace_back([&w] { w->run(); });

    // Setup: wait until every connection is open or has failed (not in connect mode).
    const double setup_limit = o.timeout * 3 + static_cast<double>(o.connections) / 500.0;
    bool interrupted = false;
    if (o.mode != run_mode::connect)
        interrupted = !wait_for(setup_limit, [&] { return g_open + g_setup_failed >= o.connections; });
    const unsigned opened = g_open.load();
    if (!interrupted && o.mode != run_mode::connect && opened < o.connections)
        std::fprintf(stderr, "loadgen: only %u of %u connections opened\n", opened, o.connections);

    long long rss_after = -1;
    double secs = 0, server_cpu = -1, self_cpu = 0;
    const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
    if (o.mode == run_mode::idle) {
        if (!interrupted) {
            interrupted = !wait_for(1.0, [] { return false; }); // let the server settle
            if (o.server_pid)
                rss_after = proc_rss_kb(o.server_pid);
            std::printf("idle: %u connections open\n", g_open.load());
            std::fflush(stdout);
        }
        if (!interrupted)
            wait_for(o.duration > 0 ? o.duration : -1.0, [] { return false; });
        g_phase = 2;
    } else {
        if (!interrupted)
            interrupted = !wait_for(o.warmup, [] { return false; });
        const long long cpu0 = o.server_pid ? proc_cpu_ticks(o.server_pid) : -1;
        const double self0 = self_cpu_seconds();
        const std::int64_t t0 = now_ns();
        g_phase = 1;
        std::printf("WINDOW_START\n");
        std::fflush(stdout);
        if (!interrupted)
            wait_for(o.duration, [] { return false; });
        const long long cpu1 = o.server_pid ? proc_cpu_ticks(o.server_pid) : -1;
        const double self1 = self_cpu_seconds();
        const std::int64_t t1 = now_ns();
        g_phase = 2;
        std::printf("WINDOW_END\n");
        std::fflush(stdout);
        secs = static_cast<double>(t1 - t0) * 1e-9;
        if (cpu0 >= 0 && cpu1 >= 0)
            server_cpu = static_cast<double>(cpu1 - cpu0) / tick;
        self_cpu = self1 - self0;
    }
    for (auto& t : pool)
        t.join();

    stats total;
    for (auto& w : workers)
        total.merge(w->result());
    const double p50 = total.latency.quantile(0.50) / 1e3, p99 = total.latency.quantile(0.99) / 1e3,
                 p999 = total.latency.quantile(0.999) / 1e3, pmax = total.latency.max() / 1e3;
    const std::uint64_t errors = total.errors();
    if (errors)
        std::fprintf(stderr,
                     "loadgen: errors: connect %llu, handshake %llu, protocol %llu, verify %llu, "
                     "timeout %llu, closed %llu, io %llu\n",
                     static_cast<unsigned long long>(total.err_connect),
                     static_cast<unsigned long long>(total.err_handshake),
                     static_cast<unsigned long long>(total.err_protocol),
                     static_cast<unsigned long long>(total.err_verify),
                     static_cast<unsigned long long>(total.err_timeout),
                     static_cast<unsigned long long>(total.err_closed),
                     static_cast<unsigned long long>(total.err_io));

    char cpu_field[64] = "na", cpu_pct[64] = "na";
    const char* kind = o.plain ? "tcp" : o.binary ? "binary" : "text";
    if (o.mode == run_mode::echo) {
        const double rate = secs > 0 ? static_cast<double>(total.msgs) / secs : 0;
        if (server_cpu >= 0 && total.msgs > 0)
            std::snprintf(cpu_field, sizeof cpu_field, "%.3f", server_cpu * 1e6 / static_cast<double>(total.msgs));
        if (server_cpu >= 0 && secs > 0)
            std::snprintf(cpu_pct, sizeof cpu_pct, "%.1f", server_cpu * 100 / secs);
        std::printf("echo: %u conns, %zu B %s, depth %u: %.0f msgs/s, %.2f MB/s, latency p50 %.1f us, "
                    "p99 %.1f us, p99.9 %.1f us; server cpu %s us/msg (%s%%), loadgen cpu %.1f%%, "
                    "errors %llu\n",
                    o.connections, o.size, kind, o.depth, rate, rate * static_cast<double>(o.size) / 1e6,
                    p50, p99, p999, cpu_field, cpu_pct, secs > 0 ? self_cpu * 100 / secs : 0,
                    static_cast<unsigned long long>(errors));
        std::printf("RESULT mode=echo plain=%d binary=%d conns=%u threads=%u size=%zu depth=%u msgs=%llu "
                    "secs=%.3f msgs_per_s=%.1f bytes_per_s=%.0f p50_us=%.1f p99_us=%.1f p999_us=%.1f "
                    "max_us=%.1f server_cpu_s=%.3f server_cpu_pct=%s server_cpu_us_per_msg=%s "
                    "loadgen_cpu_pct=%.1f close_incomplete=%llu errors=%llu\n",
                    o.plain ? 1 : 0, o.binary ? 1 : 0, o.connections, threads, o.size, o.depth,
                    static_cast<unsigned long long>(total.msgs), secs, rate,
                    rate * static_cast<double>(o.size), p50, p99, p999, pmax, server_cpu, cpu_pct,
                    cpu_field, secs > 0 ? self_cpu * 100 / secs : 0,
                    static_cast<unsigned long long>(total.close_incomplete),
                    static_cast<unsigned long long>(errors));
    } else if (o.mode == run_mode::connect) {
        const double rate = secs > 0 ? static_cast<double>(total.handshakes) / secs : 0;
        if (server_cpu >= 0 && total.handshakes > 0)
            std::snprintf(cpu_field, sizeof cpu_field, "%.3f",
                          server_cpu * 1e6 / static_cast<double>(total.handshakes));
        if (server_cpu >= 0 && secs > 0)
            std::snprintf(cpu_pct, sizeof cpu_pct, "%.1f", server_cpu * 100 / secs);
        std::printf("connect: %u concurrent: %.0f handshakes/s (connect+upgrade+close), handshake "
                    "p50 %.1f us, p99 %.1f us; server cpu %s us/handshake (%s%%), loadgen cpu %.1f%%, "
                    "errors %llu\n",
                    o.connections, rate, p50, p99, cpu_field, cpu_pct, secs > 0 ? self_cpu * 100 / secs : 0,
                    static_cast<unsigned long long>(errors));
        std::printf("RESULT mode=connect conns=%u threads=%u handshakes=%llu secs=%.3f "
                    "handshakes_per_s=%.1f msgs_per_s=%.1f p50_us=%.1f p99_us=%.1f p999_us=%.1f "
                    "server_cpu_s=%.3f server_cpu_pct=%s server_cpu_us_per_handshake=%s "
                    "loadgen_cpu_pct=%.1f errors=%llu\n",
                    o.connections, threads, static_cast<unsigned long long>(total.handshakes), secs, rate,
                    rate, p50, p99, p999, server_cpu, cpu_pct, cpu_field,
                    secs > 0 ? self_cpu * 100 / secs : 0, static_cast<unsigned long long>(errors));
    } else {
        char per_conn[64] = "na";
        if (rss_before >= 0 && rss_after >= 0 && opened > 0)
            std::snprintf(per_conn, sizeof per_conn, "%.0f",
                          static_cast<double>(rss_after - rss_before) * 1024.0 / opened);
        std::printf("idle: %u of %u connections opened; server VmRSS %lld kB before, %lld kB with them "
                    "open: %s bytes per connection; errors %llu\n",
                    opened, o.connections, rss_before, rss_after, per_conn,
                    static_cast<unsigned long long>(errors));
        std::printf("RESULT mode=idle conns=%u open=%u server_rss_before_kb=%lld server_rss_after_kb=%lld "
                    "rss_per_conn_bytes=%s errors=%llu\n",
                    o.connections, opened, rss_before, rss_after, per_conn,
                    static_cast<unsigned long long>(errors));
    }
    std::fflush(stdout);
    return errors ? 1 : 0;
}
