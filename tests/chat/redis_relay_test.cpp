// Tests for examples/chat/redis_relay.hpp: two relays ("instances") against a real redis-server
// that the test starts on 127.0.0.1 (and kills and restarts), against no server at all, and
// against fake servers (an Asio acceptor here) that answer with garbage or oversized replies.
#include <chat/redis_relay.hpp>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read_until.hpp>
#include <asio/streambuf.hpp>
#include <asio/write.hpp>
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

using clock_type = std::chrono::steady_clock;

constexpr const char* redis_server_path = "/usr/bin/redis-server";
constexpr const char* prefix = "test-chat:";

// A port nothing listens on (bound once by the kernel's choice, then closed).
unsigned short free_port() {
    asio::io_context io;
    tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    return a.local_endpoint().port();
}

// A redis-server child process on 127.0.0.1:port, without persistence. The destructor stops it
// (SIGTERM, then SIGKILL if it lingers) and reaps it, also when a REQUIRE failed.
class redis_process {
public:
    explicit redis_process(unsigned short port) : port_(port) { start(); }
    ~redis_process() { terminate(); }
    redis_process(const redis_process&) = delete;
    redis_process& operator=(const redis_process&) = delete;

    unsigned short port() const { return port_; }

    void start() {
        REQUIRE(pid_ <= 0);
        if (::access(redis_server_path, X_OK) != 0)
            FAIL("no redis-server at " << redis_server_path << ": apt-get install redis-server");
        // Everything the child needs is prepared before fork().
        const std::string port = std::to_string(port_);
        std::vector<std::string> args{redis_server_path, "--port", port, "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--daemonize", "no"};
        std::vector<char*> argv;
        for (auto& a : args)
            argv.push_back(a.data());
        argv.push_back(nullptr);
        const pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            const int fd = ::open("/dev/null", O_RDWR);
            if (fd >= 0) {
                ::dup2(fd, 0);
                ::dup2(fd, 1);
                ::dup2(fd, 2);
            }
            ::execv(redis_server_path, argv.data());
            ::_exit(127);
        }
        pid_ = pid;
        wait_ready();
    }

    // Like a crash: SIGKILL, then reap.
    void kill() {
        REQUIRE(pid_ > 0);
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }

    void terminate() noexcept {
        if (pid_ <= 0)
            return;
        ::kill(pid_, SIGTERM);
        for (int i = 0; i < 300; ++i) { // 3 s
            if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
                pid_ = -1;
                return;
            }
            std::this_thread::sleep_for(10ms);
        }
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }

private:
    // Until PING is answered with +PONG (5 s at most).
    void wait_ready() {
        const auto end = clock_type::now() + 5s;
        for (;;) {
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                FAIL("redis-server exited at start (status " << status << ")");
            }
            try {
                asio::io_context io;
                tcp::socket s(io);
                s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_));
                asio::write(s, asio::buffer(std::string("*1\r\n$4\r\nPING\r\n")));
                asio::streambuf buf;
                asio::read_until(s, buf, "\r\n");
                std::string line(asio::buffers_begin(buf.data()), asio::buffers_end(buf.data()));
                if (line.rfind("+PONG", 0) == 0)
                    return;
            } catch (const std::exception&) {
            }
            if (clock_type::now() > end)
                FAIL("redis-server on port " << port_ << " did not answer PING within 5 s");
            std::this_thread::sleep_for(20ms);
        }
    }

    unsigned short port_;
    pid_t pid_ = -1;
};

// Runs io until pred() holds or timeout passes; returns pred().
bool run_until(asio::io_context& io, const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
    const auto end = clock_type::now() + timeout;
    while (!pred()) {
        if (clock_type::now() > end)
            return false;
        io.restart();
        io.run_for(5ms);
        if (io.stopped())
            std::this_thread::sleep_for(1ms);
    }
    return true;
}

// Runs io for a while regardless.
void run_for(asio::io_context& io, std::chrono::milliseconds d) {
    run_until(io, [] { return false; }, d);
}

// Everything a relay reported.
struct recorder {
    std::vector<std::pair<std::string, std::string>> messages;
    std::vector<std::pair<bool, std::string>> states;
    std::vector<unsigned> attempts;
    std::vector<std::chrono::milliseconds> delays;

    void attach(chat::redis_relay& r) {
        r.on_message = [this](std::string_view room, std::string_view payload) {
            messages.emplace_back(std::string(room), std::string(payload));
        };
        r.on_state = [this](bool up, std::string_view detail) { states.emplace_back(up, std::string(detail)); };
        r.on_retry = [this](unsigned attempt, std::chrono::milliseconds delay, std::string_view) {
            attempts.push_back(attempt);
            delays.push_back(delay);
        };
    }
    int ups() const { return count(true); }
    int downs() const { return count(false); }
    int count(bool up) const {
        int n = 0;
        for (const auto& s : states)
            n += s.first == up ? 1 : 0;
        return n;
    }
    std::string last_down() const {
        for (auto it = states.rbegin(); it != states.rend(); ++it)
            if (!it->first)
                return it->second;
        return {};
    }
};

chat::redis_relay_options fast_options() {
    chat::redis_relay_options o;
    o.backoff.initial_delay = 50ms;
    o.backoff.max_delay = 400ms;
    o.backoff.jitter = 0.2;
    o.connect_timeout = 1000ms;
    o.ping_interval = 100ms; // exercises the health check alongside the traffic
    o.reply_timeout = 2000ms;
    return o;
}

// Two relays on one io_context, connected to the same Redis.
struct two_instances {
    explicit two_instances(unsigned short port, chat::redis_relay_options o = fast_options())
        : a(io.get_executor(), "127.0.0.1", port, prefix, o), b(io.get_executor(), "127.0.0.1", port, prefix, o) {
        ra.attach(a);
        rb.attach(b);
        a.start();
        b.start();
    }
    bool both_up(int times = 1) const { return a.up() && b.up() && ra.ups() == times && rb.ups() == times; }

    asio::io_context io;
    chat::redis_relay a;
    chat::redis_relay b;
    recorder ra;
    recorder rb;
};

std::string random_bytes(std::size_t n, std::uint32_t seed) {
    std::mt19937 gen(seed);
    std::string s(n, '\0');
    for (auto& c : s)
        c = static_cast<char>(gen() & 0xFF);
    return s;
}

// A fake Redis on 127.0.0.1: accepts every connection and answers each chunk it reads with a
// fixed reply (on every connection; nothing when the reply is empty). When first_reply_for is
// set, a chunk containing that text gets first_reply instead (a proper handshake).
class fake_redis {
public:
    fake_redis(asio::io_context& io, std::string reply)
        : acceptor_(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), reply_(std::move(reply)) {
        accept();
    }
    ~fake_redis() { close(); }

    unsigned short port() const { return acceptor_.local_endpoint().port(); }
    int connections() const { return connections_; }

    std::vector<std::pair<std::string, std::string>> handshake; // (command text, its reply)

    void close() {
        std::error_code ignored;
        acceptor_.close(ignored);
        for (auto& s : sockets_)
            s->close(ignored);
    }

private:
    void accept() {
        acceptor_.async_accept([this](std::error_code ec, tcp::socket s) {
            if (ec)
                return;
            ++connections_;
            auto sp = std::make_shared<tcp::socket>(std::move(s));
            sockets_.push_back(sp);
            serve(sp);
            accept();
        });
    }

    void serve(const std::shared_ptr<tcp::socket>& sp) {
        auto buf = std::make_shared<std::array<char, 4096>>();
        sp->async_read_some(asio::buffer(*buf), [this, sp, buf](std::error_code ec, std::size_t n) {
            if (ec)
                return;
            const std::string got(buf->data(), n);
            const std::string* answer = &reply_;
            for (const auto& h : handshake)
                if (got.find(h.first) != std::string::npos)
                    answer = &h.second;
            if (!answer->empty())
                asio::async_write(*sp, asio::buffer(*answer), [sp](std::error_code, std::size_t) {});
            serve(sp);
        });
    }

    tcp::acceptor acceptor_;
    std::string reply_;
    int connections_ = 0;
    std::vector<std::shared_ptr<tcp::socket>> sockets_;
};

} // namespace

TEST_CASE("a message published on one instance reaches the other, not itself") {
    redis_process redis(free_port());
    two_instances t(redis.port());
    REQUIRE(run_until(t.io, [&] { return t.both_up(); }, 5s));
    CHECK(t.a.instance_id().size() == 16);
    CHECK(t.a.instance_id() != t.b.instance_id());
    CHECK(t.ra.downs() == 0);

    t.a.publish("lobby", "hello from A");
    REQUIRE(run_until(t.io, [&] { return t.rb.messages.size() == 1; }, 3s));
    CHECK(t.rb.messages[0] == std::make_pair(std::string("lobby"), std::string("hello from A")));

    // Redis delivered A's own message to A's subscription before B's reply (one connection,
    // in order): once B's arrives, A has seen and ignored its own.
    t.b.publish("other room", "hello from B");
    REQUIRE(run_until(t.io, [&] { return t.ra.messages.size() == 1; }, 3s));
    CHECK(t.ra.messages[0] == std::make_pair(std::string("other room"), std::string("hello from B")));
    CHECK(t.a.own_echoes() == 1);
    CHECK(t.b.own_echoes() == 1);
    CHECK(t.a.received() == 1);
    CHECK(t.b.received() == 1);
    CHECK(t.a.published() == 1);
    CHECK(t.a.dropped() == 0);
    CHECK(t.a.ignored() == 0);
}

TEST_CASE("many messages arrive in order, both ways at once") {
    redis_process redis(free_port());
    two_instances t(redis.port());
    REQUIRE(run_until(t.io, [&] { return t.both_up(); }, 5s));
    constexpr int n = 3000;
    for (int i = 0; i < n; ++i) {
        t.a.publish("room-" + std::to_string(i % 3), "a" + std::to_string(i));
        t.b.publish("room-" + std::to_string(i % 5), "b" + std::to_string(i));
    }
    CHECK(t.a.dropped() == 0);
    REQUIRE(run_until(t.io, [&] { return t.ra.messages.size() == n && t.rb.messages.size() == n; }, 10s));
    for (int i = 0; i < n; ++i) {
        CHECK(t.rb.messages[static_cast<std::size_t>(i)] ==
              std::make_pair("room-" + std::to_string(i % 3), "a" + std::to_string(i)));
        CHECK(t.ra.messages[static_cast<std::size_t>(i)] ==
              std::make_pair("room-" + std::to_string(i % 5), "b" + std::to_string(i)));
    }
    CHECK(t.ra.downs() == 0);
    CHECK(t.rb.downs() == 0);
}

TEST_CASE("room names and payloads are binary-safe, up to 64 KiB and beyond") {
    redis_process redis(free_port());
    two_instances t(redis.port());
    REQUIRE(run_until(t.io, [&] { return t.both_up(); }, 5s));
    const std::vector<std::pair<std::string, std::string>> sent{
        {"lobby", ""},
        {"r\r\n", "line\r\nbreaks\r\n"},
        {std::string("\0nul\0", 5), std::string("\0\0x\0", 4)},
        {"*?[glob]\\", "$5\r\n*3\r\n-ERR not a reply\r\n"},
        {"big", random_bytes(64 * 1024, 1)},
        {"zeros", std::string(64 * 1024, '\0')},
        {"crlf", [] {
             std::string s;
             while (s.size() < 64 * 1024)
                 s += "\r\n";
             return s;
         }()},
        {"largest", random_bytes(t.a.options().max_payload_bytes, 2)},
        {std::string(t.a.options().max_room_bytes, 'r'), "long room"},
    };
    for (const auto& m : sent)
        t.a.publish(m.first, m.second);
    REQUIRE(run_until(t.io, [&] { return t.rb.messages.size() == sent.size(); }, 10s));
    for (std::size_t i = 0; i < sent.size(); ++i) {
        INFO("message " << i);
        CHECK(t.rb.messages[i].first == sent[i].first);
        CHECK(t.rb.messages[i].second.size() == sent[i].second.size());
        CHECK(t.rb.messages[i].second == sent[i].second);
    }
    CHECK(t.a.dropped() == 0);
    CHECK(t.rb.downs() == 0);

    // Over the limits: dropped and counted, never sent.
    t.a.publish("lobby", std::string(t.a.options().max_payload_bytes + 1, 'x'));
    t.a.publish(std::string(t.a.options().max_room_bytes + 1, 'r'), "x");
    CHECK(t.a.dropped() == 2);
    t.a.publish("lobby", "after");
    REQUIRE(run_until(t.io, [&] { return t.rb.messages.size() == sent.size() + 1; }, 3s));
    CHECK(t.rb.messages.back().second == "after");
}

TEST_CASE("a full outgoing queue drops and counts") {
    redis_process redis(free_port());
    auto o = fast_options();
    o.ping_interval = 0ms; // no PINGs in the queue: exactly max_queue_messages fit
    o.max_queue_messages = 10;
    two_instances t(redis.port(), o);
    REQUIRE(run_until(t.io, [&] { return t.both_up(); }, 5s));
    for (int i = 0; i < 100; ++i) // nothing is written or answered until the io_context runs
        t.a.publish("lobby", std::to_string(i));
    CHECK(t.a.published() == 10);
    CHECK(t.a.dropped() == 90);
    REQUIRE(run_until(t.io, [&] { return t.rb.messages.size() == 10; }, 3s));
    CHECK(t.rb.messages.back().second == "9");
    // Answered: room again.
    t.a.publish("lobby", "more");
    CHECK(t.a.published() == 11);
}

TEST_CASE("Redis killed and restarted: one down report per instance, drops while down, recovery") {
    redis_process redis(free_port());
    two_instances t(redis.port());
    REQUIRE(run_until(t.io, [&] { return t.both_up(); }, 5s));
    t.a.publish("lobby", "before");
    REQUIRE(run_until(t.io, [&] { return t.rb.messages.size() == 1; }, 3s));

    redis.kill();
    REQUIRE(run_until(t.io, [&] { return t.ra.downs() == 1 && t.rb.downs() == 1; }, 3s));
    CHECK_FALSE(t.a.up());
    CHECK_FALSE(t.b.up());
    INFO("A: " << t.ra.last_down() << " / B: " << t.rb.last_down());
    CHECK(t.ra.last_down().find("connection") != std::string::npos);
    // Several refused attempts later, still one report each.
    REQUIRE(run_until(t.io, [&] { return t.ra.attempts.size() >= 3 && t.rb.attempts.size() >= 3; }, 3s));
    CHECK(t.ra.downs() == 1);
    CHECK(t.rb.downs() == 1);
    const auto dropped = t.a.dropped();
    t.a.publish("lobby", "while down 1");
    t.a.publish("lobby", "while down 2");
    CHECK(t.a.dropped() == dropped + 2);

    redis.start(); // the same port
    REQUIRE(run_until(t.io, [&] { return t.both_up(2); }, 5s));
    CHECK(t.ra.downs() == 1);
    CHECK(t.rb.downs() == 1);
    t.a.publish("lobby", "after A");
    t.b.publish("lobby", "after B");
    REQUIRE(run_until(t.io, [&] { return t.rb.messages.size() == 2 && t.ra.messages.size() == 1; }, 3s));
    CHECK(t.rb.messages[1].second == "after A");
    CHECK(t.ra.messages[0].second == "after B");
    // The messages published while down were never delivered.
    for (const auto& m : t.rb.messages)
        CHECK(m.second.find("while down") == std::string::npos);

    // A second outage is reported again, once, and its attempts count from 1 again.
    const std::size_t attempts_before = t.ra.attempts.size();
    redis.kill();
    REQUIRE(run_until(t.io, [&] { return t.ra.downs() == 2 && t.rb.downs() == 2; }, 3s));
    REQUIRE(run_until(t.io, [&] { return t.ra.attempts.size() > attempts_before; }, 3s));
    CHECK(t.ra.attempts[attempts_before] == 1);
    CHECK(t.ra.delays[attempts_before] <= 60ms); // 50 ms +- 20 %
    t.a.stop();
    t.b.stop();
    const auto t0 = clock_type::now();
    t.io.restart();
    t.io.run();
    CHECK(clock_type::now() - t0 < 1s);
    CHECK(t.ra.downs() == 2);
}

TEST_CASE("Redis never reachable: growing delays, one down report, stop() ends run()") {
    asio::io_context io;
    auto o = fast_options();
    o.backoff.initial_delay = 20ms;
    o.backoff.multiplier = 2.0;
    o.backoff.max_delay = 2000ms;
    o.backoff.jitter = 0.0;
    chat::redis_relay relay(io.get_executor(), "127.0.0.1", free_port(), prefix, o);
    recorder r;
    r.attach(relay);
    relay.start();
    REQUIRE(run_until(io, [&] { return r.delays.size() >= 5; }, 3s));
    CHECK(r.delays[0] == 20ms);
    CHECK(r.delays[1] == 40ms);
    CHECK(r.delays[2] == 80ms);
    CHECK(r.delays[3] == 160ms);
    CHECK(r.delays[4] == 320ms);
    for (std::size_t i = 0; i < r.attempts.size(); ++i)
        CHECK(r.attempts[i] == i + 1);
    CHECK(r.downs() == 1);
    CHECK(r.ups() == 0);
    CHECK(r.last_down().find("refused") != std::string::npos);
    relay.publish("lobby", "nobody hears this");
    CHECK(relay.dropped() == 1);
    CHECK(relay.running());

    relay.stop(); // during the 320 ms delay
    CHECK_FALSE(relay.running());
    const auto t0 = clock_type::now();
    io.restart();
    io.run();
    CHECK(clock_type::now() - t0 < 100ms);
    CHECK(r.delays.size() == 5);
}

TEST_CASE("jittered delays stay within their bounds") {
    asio::io_context io;
    auto o = fast_options();
    o.backoff.initial_delay = 10ms;
    o.backoff.max_delay = 80ms;
    o.backoff.jitter = 0.5;
    chat::redis_relay relay(io.get_executor(), "127.0.0.1", free_port(), prefix, o);
    recorder r;
    r.attach(relay);
    relay.start();
    REQUIRE(run_until(io, [&] { return r.delays.size() >= 7; }, 3s));
    for (std::size_t i = 0; i < r.delays.size(); ++i) {
        const double base = std::min(10.0 * (1 << i), 80.0);
        INFO("delay " << i << ": " << r.delays[i].count() << " ms");
        CHECK(r.delays[i].count() >= static_cast<long>(base * 0.5) - 1);
        CHECK(r.delays[i].count() <= static_cast<long>(base * 1.5));
    }
    relay.stop();
    io.restart();
    io.run();
}

TEST_CASE("destroying a relay with operations pending is safe") {
    asio::io_context io;
    fake_redis silent(io, ""); // accepts, never answers
    {
        chat::redis_relay relay(io.get_executor(), "127.0.0.1", silent.port(), prefix, fast_options());
        relay.start(); // resolve pending, never run
    }
    {
        chat::redis_relay relay(io.get_executor(), "127.0.0.1", silent.port(), prefix, fast_options());
        relay.start();
        REQUIRE(run_until(io, [&] { return silent.connections() == 2; }, 3s));
        run_for(io, 20ms); // both connections wait for a reply
    }
    {
        auto relay = std::make_unique<chat::redis_relay>(io.get_executor(), "127.0.0.1", free_port(), prefix,
                                                         fast_options());
        bool stopped = false;
        relay->on_state = [&](bool, std::string_view) {
            relay->stop(); // stopping from inside a callback
            stopped = true;
        };
        relay->start();
        REQUIRE(run_until(io, [&] { return stopped; }, 3s));
        CHECK_FALSE(relay->running());
    }
    silent.close();
    const auto t0 = clock_type::now();
    io.restart();
    io.run();
    CHECK(clock_type::now() - t0 < 500ms);
}

TEST_CASE("a fake Redis with bad replies: reported, reconnected, never a crash") {
    struct scenario {
        const char* name;
        std::string reply;
        std::vector<const char*> expect; // one of these in the down report
    };
    const std::string big_bulk = "$100000000\r\n" + std::string(2 * 1024 * 1024, 'x');
    const std::vector<scenario> scenarios{
        {"garbage", "hello world\r\n", {"malformed reply", "Protocol error"}},
        {"a status line without its end", "+" + std::string(2 * 1024 * 1024, 'G'), {"over the limit"}},
        {"error reply", "-ERR unknown command\r\n", {"Redis error: ERR unknown command"}},
        {"unexpected status", "+OK\r\n", {"unexpected reply"}},
        {"oversized bulk string", big_bulk, {"over the limit"}},
        {"huge array", "*2147483647\r\n", {"over the limits", "out of range", "malformed"}},
        {"negative array", "*-5\r\n", {"over the limits", "out of range", "malformed"}},
        {"nested too deep", "*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", {"malformed", "nested"}},
        {"silent", "", {"timed out"}},
    };
    for (const auto& sc : scenarios) {
        INFO("scenario: " << sc.name);
        asio::io_context io;
        fake_redis fake(io, sc.reply);
        auto o = fast_options();
        o.backoff.initial_delay = 20ms;
        o.backoff.max_delay = 50ms;
        o.connect_timeout = 300ms;
        chat::redis_relay relay(io.get_executor(), "127.0.0.1", fake.port(), prefix, o);
        recorder r;
        r.attach(relay);
        relay.start();
        REQUIRE(run_until(io, [&] { return r.attempts.size() >= 2 && fake.connections() >= 4; }, 5s));
        CHECK(r.ups() == 0);
        CHECK(r.downs() == 1);
        const std::string why = r.last_down();
        INFO("reported: " << why);
        bool matched = false;
        for (const char* e : sc.expect)
            matched = matched || why.find(e) != std::string::npos;
        CHECK(matched);
        relay.publish("lobby", "x");
        CHECK(relay.dropped() == 1);
        relay.stop();
        fake.close();
        io.restart();
        io.run();
    }
}

TEST_CASE("a fake Redis that completes the handshake, then sends an oversized message") {
    asio::io_context io;
    // The pattern is "test-chat:*" (11 bytes); the message claims 100 MB and sends 2 MiB.
    fake_redis fake(io, "");
    fake.handshake = {
        {"PSUBSCRIBE", "*3\r\n$10\r\npsubscribe\r\n$11\r\ntest-chat:*\r\n:1\r\n"
                       "*4\r\n$8\r\npmessage\r\n$11\r\ntest-chat:*\r\n$14\r\ntest-chat:room\r\n$100000000\r\n" +
                           std::string(2 * 1024 * 1024, 'm')},
        {"PING", "+PONG\r\n"},
    };
    auto o = fast_options();
    o.ping_interval = 0ms;
    chat::redis_relay relay(io.get_executor(), "127.0.0.1", fake.port(), prefix, o);
    recorder r;
    r.attach(relay);
    relay.start();
    // Up once the PING is answered too (before or after the message fails the subscriber
    // connection), then down; again on every attempt.
    REQUIRE(run_until(io, [&] { return r.downs() >= 2 && r.ups() >= 1; }, 5s));
    for (const auto& s : r.states) {
        if (s.first)
            continue;
        INFO("reported: " << s.second);
        CHECK(s.second.find("subscriber connection: reply over the limit") != std::string::npos);
    }
    CHECK(r.messages.empty());
    relay.stop();
    fake.close();
    io.restart();
    io.run();
}

TEST_CASE("a fake Redis with a well-formed message in another format: ignored") {
    asio::io_context io;
    fake_redis fake(io, "");
    fake.handshake = {
        {"PSUBSCRIBE", "*3\r\n$10\r\npsubscribe\r\n$11\r\ntest-chat:*\r\n:1\r\n"
                       "*4\r\n$8\r\npmessage\r\n$11\r\ntest-chat:*\r\n$14\r\ntest-chat:room\r\n$5\r\nhello\r\n"
                       "*4\r\n$8\r\npmessage\r\n$11\r\ntest-chat:*\r\n$14\r\ntest-chat:room\r\n$21\r\n"
                       "0123456789abcdef hi\r\n\r\n"},
        {"PING", "+PONG\r\n"},
    };
    auto o = fast_options();
    o.ping_interval = 0ms;
    chat::redis_relay relay(io.get_executor(), "127.0.0.1", fake.port(), prefix, o);
    recorder r;
    r.attach(relay);
    relay.start();
    REQUIRE(run_until(io, [&] { return relay.ignored() == 1 && r.messages.size() == 1; }, 3s));
    CHECK(r.messages[0] == std::make_pair(std::string("room"), std::string("hi\r\n")));
    CHECK(r.downs() == 0);
    relay.stop();
    fake.close();
    io.restart();
    io.run();
}
