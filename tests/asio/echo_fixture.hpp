// Test fixture shared by the Asio tests: an echo server on its own threads, and helpers to
// connect a client and to run a coroutine.
#pragma once

#include <duplex/asio.hpp>

#include <asio/co_spawn.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/strand.hpp>
#include <asio/use_awaitable.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace echo_fixture {

using asio::ip::tcp;
using duplex::close_code;
using duplex::error;

using ws_stream = duplex::asio::stream<tcp::socket>;

inline tcp::endpoint loopback(unsigned short port = 0) { return {asio::ip::make_address("127.0.0.1"), port}; }

// A self-signed certificate for "localhost", made with the openssl command at test time, in a
// temporary directory removed afterwards.
struct test_certificate {
    std::string dir, cert, key;
    test_certificate() {
        char tmpl[] = "/tmp/duplex-tls-XXXXXX";
        REQUIRE(mkdtemp(tmpl) != nullptr);
        dir = tmpl;
        cert = dir + "/cert.pem";
        key = dir + "/key.pem";
        const std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
                                "-addext subjectAltName=DNS:localhost -keyout " + key + " -out " + cert +
                                " >/dev/null 2>&1";
        REQUIRE(std::system(cmd.c_str()) == 0);
    }
    ~test_certificate() { std::system(("rm -rf " + dir).c_str()); }
    test_certificate(const test_certificate&) = delete;
    test_certificate& operator=(const test_certificate&) = delete;
};

// Stops a test server run by `threads`: closes its acceptor, closes every live stream on `io`
// with 1001 (duplex::asio::async_close_all) and joins the threads, which return once every
// close handshake is over.
inline void stop_server(asio::io_context& io, tcp::acceptor& acceptor, std::vector<std::thread>& threads) {
    if (threads.empty())
        return;
    asio::post(acceptor.get_executor(), [&] {
        acceptor.close();
        duplex::asio::async_close_all(io.get_executor(), close_code::going_away, "bye", [] {});
    });
    for (auto& t : threads)
        t.join();
    threads.clear();
}

// An echo server on its own io_context and threads, written with callbacks; it counts the close
// codes its sessions saw.
class echo_server {
public:
    explicit echo_server(unsigned threads = 1, duplex::asio::stream_options options = {})
        : acceptor_(asio::make_strand(io_), loopback()), options_(std::move(options)) {
        accept();
        for (unsigned i = 0; i < threads; ++i)
            threads_.emplace_back([this] { io_.run(); });
    }
    ~echo_server() { stop(); }

    unsigned short port() const { return acceptor_.local_endpoint().port(); }

    // Closes every live session with 1001 and waits for the threads.
    void stop() { stop_server(io_, acceptor_, threads_); }

    std::atomic<int> accepted{0};
    std::atomic<int> closed_normally{0};

private:
    struct session : std::enable_shared_from_this<session> {
        session(tcp::socket s, const duplex::asio::stream_options& o, echo_server& owner)
            : ws(std::move(s)), server(owner) {
            ws.set_options(o);
        }
        void read() {
            ws.async_read([self = shared_from_this()](std::error_code ec, duplex::message m) {
                if (ec) {
                    if (ec == error::closed && self->ws.received_close_code() == close_code::normal)
                        ++self->server.closed_normally;
                    return;
                }
                self->ws.async_write(m.op, m.data.data(), m.data.size(), [self](std::error_code ec) {
                    if (!ec)
                        self->read();
                });
            });
        }
        ws_stream ws;
        echo_server& server;
    };

    void accept() {
        acceptor_.async_accept(asio::make_strand(io_), [this](std::error_code ec, tcp::socket socket) {
            if (ec)
                return;
            auto s = std::make_shared<session>(std::move(socket), options_, *this);
            s->ws.async_accept([this, s](std::error_code ec) {
                if (ec)
                    return;
                ++accepted;
                s->read();
            });
            accept();
        });
    }

    asio::io_context io_;
    tcp::acceptor acceptor_;
    duplex::asio::stream_options options_;
    std::vector<std::thread> threads_;
};

// Connects and completes the opening handshake, as a coroutine.
inline asio::awaitable<void> connect(ws_stream& ws, unsigned short port, std::string target = "/") {
    co_await ws.next_layer().async_connect(loopback(port), asio::use_awaitable);
    co_await ws.async_handshake("127.0.0.1:" + std::to_string(port), target, asio::use_awaitable);
}

// Runs a coroutine to completion on a fresh io_context; rethrows its exception.
template <class F>
void run_coroutine(F&& f) {
    asio::io_context io;
    std::exception_ptr failure;
    asio::co_spawn(io, f(io), [&](std::exception_ptr e) { failure = e; });
    io.run();
    if (failure)
        std::rethrow_exception(failure);
}

} // namespace echo_fixture
