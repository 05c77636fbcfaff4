// echo_client — sends each line of standard input as a text message and prints each reply.
//
//   echo_client ws://host:port/path      (or wss://; the server certificate is verified)
//
// At the end of input it closes the connection (1000) and exits 0; if the server closes first
// it says so and exits 0 too; errors exit 1. Standard input is read on its own thread, so a
// close from the server is seen at once, while the client waits for input.
#include <duplex/asio.hpp>
#include <duplex/asio/connect.hpp>

#include <asio/co_spawn.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/ssl.hpp>
#include <asio/use_awaitable.hpp>

#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

using asio::ip::tcp;

namespace {

// Prints replies until the connection ends; sends what the input thread posts.
template <class Stream>
asio::awaitable<void> converse(Stream& ws) {
    auto ex = co_await asio::this_coro::executor;
    std::thread input([&ws, ex] {
        std::string line;
        while (std::getline(std::cin, line)) {
            auto text = std::make_shared<std::string>(std::move(line));
            asio::post(ex, [&ws, text] { ws.async_write_text(*text, [text](std::error_code) {}); });
        }
        asio::post(ex, [&ws] {
            if (ws.state() == duplex::connection_state::open)
                ws.async_close(duplex::close_code::normal, "", [](std::error_code) {});
        });
    });
    input.detach(); // it may be blocked on input when the server closes; exiting ends it
    for (;;) {
        std::error_code ec;
        const duplex::message reply = co_await ws.async_read(asio::redirect_error(asio::use_awaitable, ec));
        if (ec == duplex::error::closed) {
            if (ws.state() == duplex::connection_state::closed &&
                ws.received_close_code() != duplex::close_code::normal)
                std::cerr << "echo_client: the server closed the connection ("
                          << static_cast<unsigned>(ws.received_close_code()) << ' '
                          << duplex::close_code_name(ws.received_close_code()) << ")\n";
            co_return;
        }
        if (ec)
            throw std::system_error(ec);
        std::cout << reply.data << std::endl;
    }
}

asio::awaitable<void> run(const duplex::ws_url& url) {
    auto ex = co_await asio::this_coro::executor;
    // async_connect resolves, connects and, for wss://, verifies the server's certificate and
    // host name (sending it as SNI) before the WebSocket handshake.
    if (!url.secure) {
        duplex::asio::stream<tcp::socket> ws(ex);
        co_await duplex::asio::async_connect(ws, url, asio::use_awaitable);
        co_await converse(ws);
        co_return;
    }
    asio::ssl::context tls = duplex::asio::make_tls_client_context();
    duplex::asio::stream<asio::ssl::stream<tcp::socket>> ws(ex, tls);
    co_await duplex::asio::async_connect(ws, url, asio::use_awaitable);
    co_await converse(ws);
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s ws://host:port/path | wss://host:port/path\n", argv[0]);
        return 2;
    }
    duplex::ws_url url;
    std::error_code ec;
    if (!duplex::parse_url(argv[1], url, ec)) {
        std::fprintf(stderr, "echo_client: %s: %s\n", argv[1], ec.message().c_str());
        return 2;
    }
    asio::io_context io;
    int status = 0;
    asio::co_spawn(io, run(url), [&](std::exception_ptr e) {
        if (!e)
            return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& x) {
            std::fprintf(stderr, "echo_client: %s\n", x.what());
            status = 1;
        }
    });
    io.run();
    std::fflush(stdout);
    std::_Exit(status); // do not wait for the input thread, which may be blocked in a read
}
