// Tests for include/duplex/asio/stream.hpp: real TCP (and TLS) sockets on 127.0.0.1, with
// callbacks, C++20 coroutines (use_awaitable) and futures (use_future).
#include <duplex/asio.hpp>
#include <duplex/asio/connect.hpp>
#include <duplex/asio/tls.hpp>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/read_until.hpp>
#include <asio/streambuf.hpp>
#include <asio/redirect_error.hpp>
#include <asio/ssl.hpp>
#include <asio/strand.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/use_future.hpp>
#include <asio/write.hpp>
#include <catch2/catch.hpp>

#include "echo_fixture.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using asio::ip::tcp;
using duplex::close_code;
using duplex::error;
using namespace std::chrono_literals;
using namespace echo_fixture;


TEST_CASE("asio stream: text, binary, empty, fragmented and 16 MiB messages echo with use_awaitable") {
    echo_server server;
    run_coroutine([&](asio::io_context& io) -> asio::awaitable<void> {
        ws_stream ws(io);
        duplex::asio::stream_options options;
        options.engine.fragment_size = 4096; // 16 MiB goes out as 4096 frames
        ws.set_options(options);
        co_await connect(ws, server.port());
        const std::string big(16 * 1024 * 1024, 'B');
        const std::string payloads[] = {"hello", "", "κόσμε", std::string(70000, 't'), big};
        for (const auto& p : payloads) {
            co_await ws.async_write_text(p, asio::use_awaitable);
            const duplex::message m = co_await ws.async_read(asio::use_awaitable);
            CHECK(m.is_text());
            CHECK((m.data == p));
        }
        const unsigned char blob[] = {0, 255, 1, 254};
        co_await ws.async_write_binary(blob, sizeof blob, asio::use_awaitable);
        const duplex::message b = co_await ws.async_read(asio::use_awaitable);
        CHECK_FALSE(b.is_text());
        CHECK(b.data.size() == 4);
        co_await ws.async_ping("ping", asio::use_awaitable);
        co_await ws.async_close(close_code::normal, "done", asio::use_awaitable);
        CHECK(ws.state() == duplex::connection_state::closed);
        CHECK(ws.received_close_code() == close_code::normal);
    });
    server.stop();
    CHECK(server.closed_normally == 1);
}

TEST_CASE("asio stream: callbacks, and many writes queued at once go out whole and in order") {
    echo_server server;
    asio::io_context io;
    ws_stream ws(io);
    std::vector<std::string> received;
    std::error_code close_result = error::closed;
    constexpr int count = 200;
    std::function<void()> read_one = [&] {
        ws.async_read([&](std::error_code ec, duplex::message m) {
            REQUIRE_FALSE(ec);
            received.emplace_back(m.data);
            if (received.size() < count)
                return read_one();
            ws.async_close(close_code::normal, "", [&](std::error_code ec) { close_result = ec; });
        });
    };
    ws.next_layer().async_connect(loopback(server.port()), [&](std::error_code ec) {
        REQUIRE_FALSE(ec);
        ws.async_handshake("127.0.0.1", "/", [&](std::error_code ec) {
            REQUIRE_FALSE(ec);
            // No waiting between writes: the stream queues them (no "one write at a time").
            for (int i = 0; i < count; ++i) {
                auto text = std::make_shared<std::string>(std::to_string(i) + std::string(i * 50, 'q'));
                ws.async_write_text(*text, [text](std::error_code ec) { CHECK_FALSE(ec); });
            }
            read_one();
        });
    });
    io.run();
    REQUIRE(received.size() == count);
    for (int i = 0; i < count; ++i)
        CHECK(received[static_cast<std::size_t>(i)] == std::to_string(i) + std::string(i * 50, 'q'));
    CHECK_FALSE(close_result);
}

TEST_CASE("asio stream: use_future works from a thread outside the io_context") {
    echo_server server;
    asio::io_context io;
    auto work = asio::make_work_guard(io);
    std::thread runner([&] { io.run(); });
    ws_stream ws(asio::make_strand(io));
    ws.next_layer().async_connect(loopback(server.port()), asio::use_future).get();
    ws.async_handshake("127.0.0.1", "/", asio::use_future).get();
    ws.async_write_text("future", asio::use_future).get();
    const duplex::message m = ws.async_read(asio::use_future).get();
    CHECK(m.data == "future");
    ws.async_close(close_code::normal, "", asio::use_future).get();
    work.reset();
    runner.join();
    CHECK(ws.received_close_code() == close_code::normal);
}

TEST_CASE("asio stream: 1000 concurrent connections each echo, on a server run by 4 threads") {
    echo_server server(4);
    constexpr int clients = 1000;
    std::atomic<int> ok{0};
    asio::io_context io;
    for (int i = 0; i < clients; ++i) {
        asio::co_spawn(
            io,
            [&, i]() -> asio::awaitable<void> {
                ws_stream ws(co_await asio::this_coro::executor);
                co_await connect(ws, server.port());
                const std::string text = "client " + std::to_string(i);
                co_await ws.async_write_text(text, asio::use_awaitable);
                const duplex::message m = co_await ws.async_read(asio::use_awaitable);
                if (m.data == text)
                    ++ok;
                co_await ws.async_close(close_code::normal, "", asio::use_awaitable);
            },
            asio::detached);
    }
    io.run();
    server.stop();
    CHECK(ok == clients);
    CHECK(server.accepted == clients);
    CHECK(server.closed_normally == clients);
}

TEST_CASE("asio stream: a server shutting down closes its clients with 1001") {
    echo_server server(2);
    asio::io_context io;
    std::vector<std::unique_ptr<ws_stream>> streams;
    std::atomic<int> going_away{0};
    for (int i = 0; i < 20; ++i) {
        streams.push_back(std::make_unique<ws_stream>(io));
        asio::co_spawn(
            io,
            [&server, &going_away, ws = streams.back().get()]() -> asio::awaitable<void> {
                co_await connect(*ws, server.port());
                std::error_code ec;
                co_await ws->async_read(asio::redirect_error(asio::use_awaitable, ec));
                if (ec == error::closed && ws->received_close_code() == close_code::going_away)
                    ++going_away;
            },
            asio::detached);
    }
    // Let every client connect, then stop the server while they wait in async_read.
    io.run_for(1s);
    CHECK(server.accepted == 20);
    std::thread stopper([&] { server.stop(); });
    io.run();
    stopper.join();
    CHECK(going_away == 20);
}

TEST_CASE("asio stream: async_close_all closes open streams, cuts off handshakes, waits for all") {
    // The server side, on one io_context: two streams that finish the handshake (one whose peer
    // answers the close, one whose peer never reads), one waiting for a request that never
    // comes, and one accepted stream that never starts its handshake.
    asio::io_context io;
    tcp::acceptor acceptor(io, loopback());
    duplex::asio::stream_options o;
    o.engine.timeouts.close_timeout = 300ms;
    std::vector<std::unique_ptr<ws_stream>> server;
    std::vector<std::error_code> accepted(4, make_error_code(asio::error::would_block));
    for (int i = 0; i < 4; ++i) {
        server.push_back(std::make_unique<ws_stream>(io));
        server.back()->set_options(o);
    }
    int next = 0;
    std::function<void()> accept_one = [&] {
        acceptor.async_accept(server[next]->next_layer(), [&, i = next](std::error_code ec) {
            REQUIRE_FALSE(ec);
            if (i < 3)
                server[i]->async_accept([&, i](std::error_code ec) { accepted[i] = ec; });
            if (++next < 4)
                accept_one();
        });
    };
    accept_one();

    // The peers, on raw sockets, connected in that order.
    std::vector<tcp::socket> peers;
    auto handshake = [&](tcp::socket& s) {
        duplex::client_handshake hs;
        std::error_code ec;
        asio::write(s, asio::buffer(std::string(hs.start("127.0.0.1", "/", ec))));
    };
    for (int i = 0; i < 4; ++i) {
        peers.emplace_back(io);
        peers.back().connect(acceptor.local_endpoint());
        if (i < 2)
            handshake(peers.back());
        io.run_for(100ms);
    }
    REQUIRE(next == 4);
    CHECK_FALSE(accepted[0]);
    CHECK_FALSE(accepted[1]);
    CHECK(accepted[2] == asio::error::would_block); // still waiting for its request

    // Peer 0 answers the close (a duplex client engine on its socket); peer 1 reads nothing.
    duplex::client_engine answering;
    std::vector<unsigned char> buf(4096);
    std::function<void()> read_peer0 = [&] {
        peers[0].async_read_some(asio::buffer(buf), [&](std::error_code ec, std::size_t n) {
            if (ec)
                return;
            duplex::event ev;
            std::error_code pe;
            for (std::size_t used = 0; used < n;)
                used += answering.read(buf.data() + used, n - used, ev, pe);
            duplex::const_buffer out[4];
            const std::size_t k = answering.output(out, 4);
            for (std::size_t j = 0; j < k; ++j)
                asio::write(peers[0], asio::buffer(out[j].data, out[j].size));
            answering.consume(answering.buffered_amount());
            read_peer0();
        });
    };
    // The handshake answer went to peer 0 already: skip it before reading frames.
    asio::streambuf head;
    asio::read_until(peers[0], head, "\r\n\r\n");
    read_peer0();

    bool done = false;
    const auto start = std::chrono::steady_clock::now();
    std::chrono::steady_clock::duration took{};
    duplex::asio::async_close_all(io.get_executor(), close_code::going_away, "bye", [&] {
        done = true;
        took = std::chrono::steady_clock::now() - start;
    });
    CHECK_FALSE(done); // never inside the call
    io.run_for(3s);
    REQUIRE(done);
    // Peer 1 never answered: the close timeout ended it, so the whole took at least that long.
    CHECK(took >= 300ms);
    CHECK(server[0]->received_close_code() == close_code::going_away); // peer 0 echoed the code
    CHECK(server[0]->state() == duplex::connection_state::closed);
    CHECK(server[1]->state() == duplex::connection_state::closed);
    CHECK(accepted[2] == asio::error::operation_aborted);
    CHECK_FALSE(server[3]->next_layer().is_open());
    CHECK(answering.state() == duplex::connection_state::closed);

    // With nothing left to close it completes at once, but still not inside the call.
    io.restart(); // run_for returned when the work ran out
    bool again = false;
    duplex::asio::async_close_all(io.get_executor(), close_code::going_away, "", [&] { again = true; });
    CHECK_FALSE(again);
    io.run_for(200ms);
    CHECK(again);
}

TEST_CASE("asio stream: a client that sends half a handshake is dropped at the handshake timeout") {
    asio::io_context io;
    tcp::acceptor acceptor(io, loopback());
    ws_stream server(io);
    std::error_code accept_result;
    duplex::asio::stream_options options;
    options.handshake_timeout = 300ms;
    server.set_options(options);
    acceptor.async_accept(server.next_layer(), [&](std::error_code ec) {
        REQUIRE_FALSE(ec);
        server.async_accept([&](std::error_code ec) { accept_result = ec; });
    });
    tcp::socket slow(io);
    slow.connect(acceptor.local_endpoint());
    asio::write(slow, asio::buffer(std::string("GET / HTTP/1.1\r\nHost: x\r\n")));
    const auto start = std::chrono::steady_clock::now();
    io.run();
    const auto waited = std::chrono::steady_clock::now() - start;
    CHECK(accept_result == error::handshake_timeout);
    CHECK(waited >= 250ms);
    CHECK(waited < 10s); // a bound on "dropped", not a speed claim
    // The server closed the socket: the slow client sees EOF.
    char c;
    std::error_code ec;
    slow.read_some(asio::buffer(&c, 1), ec);
    CHECK(ec == asio::error::eof);
}

TEST_CASE("asio stream: a peer that stops answering pings is dropped at the pong timeout") {
    asio::io_context io;
    tcp::acceptor acceptor(io, loopback());
    ws_stream server(io);
    duplex::asio::stream_options options;
    options.engine.timeouts.ping_interval = 100ms;
    options.engine.timeouts.pong_timeout = 200ms;
    server.set_options(options);
    std::error_code read_result;
    acceptor.async_accept(server.next_layer(), [&](std::error_code ec) {
        REQUIRE_FALSE(ec);
        server.async_accept([&](std::error_code ec) {
            REQUIRE_FALSE(ec);
            server.async_read([&](std::error_code ec, duplex::message) { read_result = ec; });
        });
    });
    // A raw client: a valid handshake, then silence (it never reads its pings).
    tcp::socket raw(io);
    raw.connect(acceptor.local_endpoint());
    duplex::client_handshake hs;
    std::error_code ec;
    const std::string request(hs.start("127.0.0.1", "/", ec));
    asio::write(raw, asio::buffer(request));
    io.run();
    CHECK(read_result == error::peer_timeout);
    CHECK(server.state() == duplex::connection_state::closed);
}

TEST_CASE("asio stream: a client that never reads meets the send queue limit, not unbounded memory") {
    asio::io_context io;
    tcp::acceptor acceptor(io, loopback());
    ws_stream server(io);
    duplex::asio::stream_options options;
    options.engine.send_queue_limit = 1 << 20;
    options.engine.send_queue_resume = 1 << 19;
    server.set_options(options);
    const std::string chunk(64 * 1024, 'c');
    std::size_t accepted = 0, peak = 0;
    std::error_code refused;
    auto failed = std::make_shared<std::error_code>();
    // Queue a message, then come back (posted) for the next: a refused write's handler runs
    // before the next step, which then stops.
    std::function<void()> write_more = [&] {
        if (*failed) {
            refused = *failed;
            return;
        }
        server.async_write_text(chunk, [failed](std::error_code e) {
            if (e && !*failed)
                *failed = e;
        });
        peak = std::max(peak, server.buffered_amount());
        if (++accepted > 10000)
            return; // would mean no backpressure at all
        asio::post(io, write_more);
    };
    acceptor.async_accept(server.next_layer(), [&](std::error_code ec) {
        REQUIRE_FALSE(ec);
        server.async_accept([&](std::error_code ec) {
            REQUIRE_FALSE(ec);
            write_more();
        });
    });
    tcp::socket lazy(io);
    lazy.connect(acceptor.local_endpoint());
    duplex::client_handshake hs;
    std::error_code ec;
    const std::string request(hs.start("127.0.0.1", "/", ec));
    asio::write(lazy, asio::buffer(request));
    io.run_for(3s);
    CHECK(refused == error::send_queue_full);
    CHECK(accepted < 10000);
    // The queue never held more than the limit plus one message.
    CHECK(peak <= options.engine.send_queue_limit + chunk.size() + 16);
}

namespace {

using tls_stream = duplex::asio::stream<asio::ssl::stream<tcp::socket>>;

// One TLS echo on a fresh io_context: returns the client's error (from TLS or WebSocket).
std::error_code tls_echo(const test_certificate& c, const std::string& client_host, bool trust) {
    asio::io_context io;
    asio::ssl::context server_ctx(asio::ssl::context::tls_server);
    server_ctx.use_certificate_chain_file(c.cert);
    server_ctx.use_private_key_file(c.key, asio::ssl::context::pem);
    asio::ssl::context client_ctx = duplex::asio::make_tls_client_context();
    if (trust)
        client_ctx.load_verify_file(c.cert);

    tcp::acceptor acceptor(io, loopback());
    tls_stream server(tcp::socket(io), server_ctx);
    acceptor.async_accept(server.next_layer().next_layer(), [&](std::error_code ec) {
        if (ec)
            return;
        server.next_layer().async_handshake(asio::ssl::stream_base::server, [&](std::error_code ec) {
            if (ec)
                return;
            server.async_accept([&](std::error_code ec) {
                if (ec)
                    return;
                // Echo until the client closes (the read after the echo takes its close).
                auto echo = std::make_shared<std::function<void()>>();
                *echo = [&server, echo] {
                    server.async_read([&server, echo](std::error_code ec, duplex::message m) {
                        if (!ec)
                            server.async_write(m.op, m.data.data(), m.data.size(),
                                               [echo](std::error_code ec) { if (!ec) (*echo)(); });
                        else
                            *echo = nullptr; // break the cycle
                    });
                };
                (*echo)();
            });
        });
    });

    std::error_code result;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            tls_stream ws(tcp::socket(io), client_ctx);
            // async_connect resolves, connects, and verifies the certificate for the URL's host.
            duplex::ws_url url;
            std::error_code ec;
            REQUIRE(duplex::parse_url("wss://" + client_host + ":" +
                                          std::to_string(acceptor.local_endpoint().port()) + "/",
                                      url, ec));
            co_await duplex::asio::async_connect(ws, url, asio::redirect_error(asio::use_awaitable, ec));
            if (ec) {
                result = ec;
                acceptor.close();
                server.next_layer().next_layer().close();
                co_return;
            }
            co_await ws.async_write_text("over tls", asio::use_awaitable);
            const duplex::message m = co_await ws.async_read(asio::use_awaitable);
            CHECK(m.data == "over tls");
            co_await ws.async_close(close_code::normal, "", asio::redirect_error(asio::use_awaitable, result));
        },
        asio::detached);
    io.run_for(10s);
    return result;
}

} // namespace

TEST_CASE("asio stream: async_connect for ws:// resolves, connects and shakes hands") {
    echo_server server;
    run_coroutine([&](asio::io_context& io) -> asio::awaitable<void> {
        ws_stream ws(io);
        duplex::ws_url url;
        std::error_code ec;
        REQUIRE(duplex::parse_url("ws://127.0.0.1:" + std::to_string(server.port()) + "/path?q=1", url, ec));
        co_await duplex::asio::async_connect(ws, url, asio::use_awaitable);
        co_await ws.async_write_text("connected", asio::use_awaitable);
        const duplex::message echoed = co_await ws.async_read(asio::use_awaitable);
        CHECK(echoed.data == "connected"); // (no co_await inside Catch's macros)
        co_await ws.async_close(close_code::normal, "", asio::use_awaitable);
        // A wss:// URL on a plain TCP stream is refused before anything is sent.
        ws_stream other(io);
        REQUIRE(duplex::parse_url("wss://localhost:1/", url, ec));
        co_await duplex::asio::async_connect(other, url, asio::redirect_error(asio::use_awaitable, ec));
        CHECK(ec == error::url_bad_scheme);
    });
}

TEST_CASE("asio stream: wss with a certificate made by openssl - wrong host and untrusted CA refused") {
    test_certificate cert;
    CHECK_FALSE(tls_echo(cert, "localhost", true));
    const std::error_code wrong_host = tls_echo(cert, "127.0.0.1", true); // the cert names localhost
    CHECK(wrong_host);
    CHECK(wrong_host.category() == asio::error::get_ssl_category());
    const std::error_code untrusted = tls_echo(cert, "localhost", false);
    CHECK(untrusted);
    CHECK(untrusted.category() == asio::error::get_ssl_category());
}
