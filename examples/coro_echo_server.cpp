// coro_echo_server — the echo server written with C++20 coroutines, one coroutine per
// connection: the same protocol as echo_server, in the style where each connection reads top
// to bottom.
//
//   coro_echo_server [--address 127.0.0.1] [--port 8080]
#include <duplex/asio.hpp>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/redirect_error.hpp>
#include <asio/signal_set.hpp>
#include <asio/use_awaitable.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

using asio::ip::tcp;

namespace {

asio::awaitable<void> session(tcp::socket socket) {
    duplex::asio::stream<tcp::socket> ws(std::move(socket));
    std::error_code ec;
    co_await ws.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    while (!ec) {
        const duplex::message m = co_await ws.async_read(asio::redirect_error(asio::use_awaitable, ec));
        if (ec)
            break; // error::closed when the client closed; the close was answered already
        co_await ws.async_write(m.op, m.data.data(), m.data.size(), asio::redirect_error(asio::use_awaitable, ec));
    }
}

asio::awaitable<void> listen(tcp::acceptor& acceptor) {
    for (;;) {
        std::error_code ec;
        tcp::socket socket = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
        if (ec == asio::error::operation_aborted)
            co_return;
        if (!ec)
            asio::co_spawn(acceptor.get_executor(), session(std::move(socket)), asio::detached);
    }
}

} // namespace

int main(int argc, char** argv) {
    std::string address = "127.0.0.1";
    unsigned short port = 8080;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string arg = argv[i];
        if (arg == "--address")
            address = argv[i + 1];
        else if (arg == "--port")
            port = static_cast<unsigned short>(std::strtoul(argv[i + 1], nullptr, 10));
        else {
            std::fprintf(stderr, "usage: %s [--address 127.0.0.1] [--port 8080]\n", argv[0]);
            return 2;
        }
    }
    asio::io_context io;
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address(address), port));
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](std::error_code, int) { io.stop(); });
    asio::co_spawn(io, listen(acceptor), asio::detached);
    std::printf("coro_echo_server listening on %s:%u\n", address.c_str(), acceptor.local_endpoint().port());
    std::fflush(stdout);
    io.run();
    return 0;
}
