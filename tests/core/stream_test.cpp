// Tests for include/duplex/stream.hpp: the blocking stream over an in-memory pipe and over POSIX
// sockets, a server and a client each on its own thread. (The Asio socket is in tests/asio/.)
#include "memory_stream.hpp"

#include <duplex/stream.hpp>

#include <catch2/catch.hpp>

#include <cerrno>
#include <chrono>
#include <future>
#include <string>
#include <sys/socket.h>
#include <sys/time.h>
#include <thread>
#include <unistd.h>
#include <utility>

using duplex::close_code;
using duplex::error;
using memory_stream_test::make_pipe;
using memory_stream_test::memory_stream;

namespace {

// A POSIX stream socket as a duplex::stream next layer.
class posix_socket {
public:
    explicit posix_socket(int fd) : fd_(fd) {}
    posix_socket(posix_socket&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    ~posix_socket() {
        if (fd_ >= 0)
            ::close(fd_);
    }

    std::size_t read_some(void* data, std::size_t size, std::error_code& ec) {
        for (;;) {
            const ssize_t n = ::recv(fd_, data, size, 0);
            if (n >= 0)
                return static_cast<std::size_t>(n);
            if (errno == EINTR)
                continue;
            ec = std::error_code(errno, std::generic_category());
            return 0;
        }
    }

    std::size_t write_some(const void* data, std::size_t size, std::error_code& ec) {
        for (;;) {
            const ssize_t n = ::send(fd_, data, size, MSG_NOSIGNAL);
            if (n >= 0)
                return static_cast<std::size_t>(n);
            if (errno == EINTR)
                continue;
            ec = std::error_code(errno, std::generic_category());
            return 0;
        }
    }

    void set_read_timeout(std::chrono::milliseconds t) {
        timeval tv{};
        tv.tv_sec = static_cast<time_t>(t.count() / 1000);
        tv.tv_usec = static_cast<suseconds_t>((t.count() % 1000) * 1000);
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }

private:
    int fd_;
};

std::pair<posix_socket, posix_socket> make_socket_pair() {
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
    return {posix_socket(fds[0]), posix_socket(fds[1])};
}

// Server: accepts, echoes every message until the client closes; returns the close code seen.
template <class Next>
close_code echo_server(duplex::stream<Next>& s, std::error_code& last) {
    s.accept(last);
    if (last)
        return close_code::no_status;
    for (;;) {
        const duplex::message m = s.read(last);
        if (last)
            return s.received_close_code();
        if (m.is_text())
            s.write_text(m.data, last);
        else
            s.write_binary(m.data.data(), m.data.size(), last);
        if (last)
            return close_code::no_status;
    }
}

template <class Next>
void echo_conversation(Next server_end, Next client_end) {
    duplex::stream<Next> server(std::move(server_end));
    std::error_code server_ec;
    auto served = std::async(std::launch::async, [&] { return echo_server(server, server_ec); });

    duplex::stream<Next> client(std::move(client_end));
    duplex::engine_options options;
    options.fragment_size = 1000; // the 1 MiB message goes out in 1049 frames
    client.set_options(options);
    client.handshake("localhost", "/echo");

    const std::string big(1 << 20, 'm');
    const std::string messages[] = {"hello", "", "κόσμε", big};
    for (const auto& text : messages) {
        client.write_text(text);
        const duplex::message m = client.read();
        CHECK(m.is_text());
        CHECK((m.data == text));
    }
    const unsigned char blob[] = {0, 1, 2, 255};
    client.write_binary(blob, sizeof blob);
    const duplex::message b = client.read();
    CHECK_FALSE(b.is_text());
    CHECK(b.data == std::string_view(reinterpret_cast<const char*>(blob), sizeof blob));

    client.ping("are you there");
    client.write_text("after the ping");
    CHECK(client.read().data == "after the ping"); // the pong was taken in passing

    client.close(close_code::normal, "bye");
    CHECK(client.state() == duplex::connection_state::closed);
    CHECK(client.received_close_code() == close_code::normal);
    CHECK(served.get() == close_code::normal);
    CHECK(server_ec == error::closed);

    std::error_code ec;
    client.write_text("too late", ec);
    CHECK(ec == error::closed);
}

} // namespace

TEST_CASE("stream: echo over an in-memory pipe, one thread per side") {
    auto ends = make_pipe(); // (clang 14 cannot capture structured bindings)
    memory_stream& a = ends.first;
    memory_stream& b = ends.second;
    echo_conversation(std::move(a), std::move(b));
}

TEST_CASE("stream: echo over a POSIX socket pair") {
    auto ends = make_socket_pair();
    posix_socket& a = ends.first;
    posix_socket& b = ends.second;
    echo_conversation(std::move(a), std::move(b));
}

TEST_CASE("stream: a refused handshake reports its reason on both sides") {
    auto ends = make_pipe(); // (clang 14 cannot capture structured bindings)
    memory_stream& a = ends.first;
    memory_stream& b = ends.second;
    duplex::stream<memory_stream> server(std::move(a));
    std::error_code server_ec;
    auto served = std::async(std::launch::async, [&] {
        duplex::server_handshake_options options;
        options.accept = [](const duplex::upgrade_request& r, duplex::rejection& no) {
            no.status = 404;
            return r.path == "/exists";
        };
        server.accept(options, server_ec);
    });
    duplex::stream<memory_stream> client(std::move(b));
    std::error_code ec;
    client.handshake("localhost", "/missing", ec);
    served.get();
    CHECK(ec == error::handshake_status);
    CHECK(server_ec == error::upgrade_rejected);
    CHECK_THROWS_AS(client.read(), std::system_error);
}

TEST_CASE("stream: a protocol violation fails the read and sends the peer close 1002") {
    auto ends = make_pipe(); // (clang 14 cannot capture structured bindings)
    memory_stream& a = ends.first;
    memory_stream& b = ends.second;
    duplex::stream<memory_stream> server(std::move(a));
    std::error_code server_ec;
    auto served = std::async(std::launch::async, [&] {
        server.accept(server_ec);
        if (!server_ec)
            server.read(server_ec);
    });
    // A raw client: a valid handshake, then a text frame with RSV2 set.
    duplex::client_handshake hs;
    std::error_code ec;
    const std::string request(hs.start("localhost", "/", ec));
    b.write_some(request.data(), request.size(), ec);
    char buf[4096];
    std::size_t got = 0;
    while (!hs.done())
        got = b.read_some(buf, sizeof buf, ec), hs.feed(buf, got, ec);
    REQUIRE(hs.accepted());
    const unsigned char bad[] = {0xA1, 0x80, 0, 0, 0, 0};
    b.write_some(bad, sizeof bad, ec);
    served.get();
    CHECK(server_ec == error::reserved_bits);
    // What the server sent: a close frame (0x88), unmasked, code 1002.
    const std::size_t n = b.read_some(buf, sizeof buf, ec);
    REQUIRE(n >= 4);
    CHECK(static_cast<unsigned char>(buf[0]) == 0x88);
    CHECK(static_cast<unsigned char>(buf[2]) == 0x03);
    CHECK(static_cast<unsigned char>(buf[3]) == 0xEA);
}

TEST_CASE("stream: close gives up at the close timeout when the peer never answers") {
    auto ends = make_pipe(); // (clang 14 cannot capture structured bindings)
    memory_stream& a = ends.first;
    memory_stream& b = ends.second;
    // A raw server that answers the handshake and then reads forever without replying.
    auto served = std::async(std::launch::async, [&a] {
        duplex::server_handshake hs;
        std::error_code ec;
        char buf[4096];
        while (!hs.done()) {
            const std::size_t n = a.read_some(buf, sizeof buf, ec);
            hs.feed(buf, n, ec);
        }
        a.write_some(hs.response().data(), hs.response().size(), ec);
        while (a.read_some(buf, sizeof buf, ec) > 0) {
        }
    });
    duplex::stream<memory_stream> client(std::move(b));
    duplex::engine_options options;
    options.timeouts.close_timeout = std::chrono::milliseconds(200);
    client.set_options(options);
    client.handshake("localhost", "/");
    std::error_code ec;
    const auto start = std::chrono::steady_clock::now();
    client.close(close_code::normal, "", ec);
    const auto waited = std::chrono::steady_clock::now() - start;
    CHECK(ec == error::close_timeout);
    CHECK(waited >= std::chrono::milliseconds(150));
    CHECK(waited < std::chrono::seconds(10)); // a bound on "never hangs", not a speed claim
    client.next_layer().close();
    served.get();
}

TEST_CASE("stream: a peer that hangs up mid-conversation gives abnormal_closure (1006)") {
    auto ends = make_pipe(); // (clang 14 cannot capture structured bindings)
    memory_stream& a = ends.first;
    memory_stream& b = ends.second;
    duplex::stream<memory_stream> server(std::move(a));
    std::error_code server_ec;
    auto served = std::async(std::launch::async, [&] {
        server.accept(server_ec);
        server.read(server_ec);
    });
    {
        duplex::stream<memory_stream> client(std::move(b));
        client.handshake("localhost", "/");
    } // destroyed: the pipe is closed without a close frame
    served.get();
    CHECK(server_ec == error::abnormal_closure);
    CHECK(server.received_close_code() == close_code::abnormal);
}
