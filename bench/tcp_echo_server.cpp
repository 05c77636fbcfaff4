// tcp_echo_server — plain TCP echo over epoll: the floor no WebSocket echo server can beat.
//
//   tcp_echo_server [--address 127.0.0.1] [--port 8080] [--threads N]
//
// Same command line and "listening on ADDRESS:PORT" line as examples/echo_server (port 0 picks
// an ephemeral port and prints the real one). Each thread runs its own level-triggered epoll
// loop; the listening socket is shared (EPOLLEXCLUSIVE). Per readable event: one read of up to
// 64 KiB, then one write of what was read. If the write is short, the rest waits for EPOLLOUT
// and the connection is not read until it is sent. SIGINT or SIGTERM: exit 0.
#include "fd_limit.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

struct settings {
    std::string address = "127.0.0.1";
    unsigned short port = 8080;
    unsigned threads = 1;
};

void usage(const char* argv0) {
    std::fprintf(stderr, "usage: %s [--address 127.0.0.1] [--port 8080] [--threads N]\n", argv0);
}

bool parse_args(int argc, char** argv, settings& s) {
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
        if (arg == "--help" || arg == "-h")
            return false;
        if (!v) {
            std::fprintf(stderr, "tcp_echo_server: bad or incomplete argument: %s\n", arg.c_str());
            return false;
        }
        ++i;
        if (arg == "--address")
            s.address = v;
        else if (arg == "--port")
            s.port = static_cast<unsigned short>(std::strtoul(v, nullptr, 10));
        else if (arg == "--threads")
            s.threads = static_cast<unsigned>(std::strtoul(v, nullptr, 10));
        else {
            std::fprintf(stderr, "tcp_echo_server: bad or incomplete argument: %s\n", arg.c_str());
            return false;
        }
    }
    if (s.threads == 0) {
        std::fprintf(stderr, "tcp_echo_server: --threads must be positive\n");
        return false;
    }
    return true;
}

volatile sig_atomic_t g_stop = 0;
extern "C" void on_signal(int) { g_stop = 1; }

struct peer {
    std::vector<char> pending; // echo bytes not yet written
    std::size_t off = 0;
};

constexpr std::size_t read_size = 64 * 1024;

void serve(int listener) {
    const int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) {
        std::perror("tcp_echo_server: epoll_create1");
        return;
    }
    epoll_event lev{};
    lev.events = EPOLLIN | EPOLLEXCLUSIVE;
    lev.data.fd = listener;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, listener, &lev) < 0) {
        std::perror("tcp_echo_server: epoll_ctl");
        ::close(ep);
        return;
    }
    std::vector<peer> peers; // by fd
    std::vector<char> buf(read_size);
    std::vector<epoll_event> events(256);

    auto drop = [&](int fd) {
        ::close(fd);
        if (static_cast<std::size_t>(fd) < peers.size())
            peers[static_cast<std::size_t>(fd)] = peer{};
    };
    auto watch = [&](int fd, std::uint32_t what) {
        epoll_event ev{};
        ev.events = what;
        ev.data.fd = fd;
        return epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) == 0;
    };

    while (!g_stop) {
        const int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 200);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            std::perror("tcp_echo_server: epoll_wait");
            break;
        }
        for (int i = 0; i < n; ++i) {
            const int fd = events[static_cast<std::size_t>(i)].data.fd;
            const std::uint32_t what = events[static_cast<std::size_t>(i)].events;
            if (fd == listener) {
                for (int k = 0; k < 64; ++k) {
                    const int c = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (c < 0)
                        break; // EAGAIN, or out of descriptors: try again on the next event
                    const int one = 1;
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    if (static_cast<std::size_t>(c) >= peers.size())
                        peers.resize(static_cast<std::size_t>(c) * 2 + 1);
                    epoll_event ev{};
                    ev.events = EPOLLIN | EPOLLRDHUP;
                    ev.data.fd = c;
                    if (epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev) < 0)
                        ::close(c);
                }
                continue;
            }
            peer& p = peers[static_cast<std::size_t>(fd)];
            if (!p.pending.empty()) {
                // Waiting for EPOLLOUT to finish an echo.
                if (what & (EPOLLERR | EPOLLHUP)) {
                    drop(fd);
                    continue;
                }
                const ssize_t w = ::send(fd, p.pending.data() + p.off, p.pending.size() - p.off, MSG_NOSIGNAL);
                if (w < 0 && errno != EAGAIN && errno != EINTR) {
                    drop(fd);
                    continue;
                }
                if (w > 0)
                    p.off += static_cast<std::size_t>(w);
                if (p.off == p.pending.size()) {
                    p.pending.clear();
                    p.off = 0;
                    if (!watch(fd, EPOLLIN | EPOLLRDHUP))
                        drop(fd);
                }
                continue;
            }
            const ssize_t r = ::recv(fd, buf.data(), buf.size(), 0);
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
                drop(fd);
                continue;
            }
            if (r < 0)
                continue;
            const auto len = static_cast<std::size_t>(r);
            const ssize_t w = ::send(fd, buf.data(), len, MSG_NOSIGNAL);
            if (w < 0 && errno != EAGAIN && errno != EINTR) {
                drop(fd);
                continue;
            }
            const std::size_t sent = w > 0 ? static_cast<std::size_t>(w) : 0;
            if (sent < len) {
                p.pending.assign(buf.data() + sent, buf.data() + len);
                p.off = 0;
                if (!watch(fd, EPOLLOUT))
                    drop(fd);
            }
        }
    }
    ::close(ep); // connections are closed by exit
}

} // namespace

int main(int argc, char** argv) {
    settings s;
    if (!parse_args(argc, argv, s)) {
        usage(argv[0]);
        return 2;
    }
    raise_fd_limit();
    struct sigaction sa{};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    signal(SIGPIPE, SIG_IGN);

    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(s.port);
    const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const int one = 1;
    if (inet_pton(AF_INET, s.address.c_str(), &addr.sin_addr) != 1 || listener < 0 ||
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(listener, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) < 0 ||
        listen(listener, SOMAXCONN) < 0) {
        std::fprintf(stderr, "tcp_echo_server: cannot listen on %s:%u: %s\n", s.address.c_str(), s.port,
                     std::strerror(errno));
        return 1;
    }
    socklen_t alen = sizeof addr;
    getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &alen);
    std::printf("tcp_echo_server listening on %s:%u (tcp, %u thread%s)\n", s.address.c_str(),
                ntohs(addr.sin_port), s.threads, s.threads == 1 ? "" : "s");
    std::fflush(stdout);

    std::vector<std::thread> pool;
    for (unsigned i = 1; i < s.threads; ++i)
        pool.emplace_back([listener] { serve(listener); });
    serve(listener);
    for (auto& t : pool)
        t.join();
    ::close(listener);
    return 0;
}
