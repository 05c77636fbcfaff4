// websocketpp_echo_server — a WebSocket++ echo server on standalone Asio, a peer in duplex's
// bench/e2e.sh. Echoes every message with its opcode (text stays text, binary stays binary).
// The stock websocketpp::config::asio has permessage-deflate disabled; logging is turned off
// (it would otherwise print every connection) and TCP_NODELAY is on (as in duplex).
//
//   websocketpp_echo_server [--address 127.0.0.1] [--port 8080]
//
// Prints "websocketpp_echo_server listening on ADDRESS:PORT" (port 0 = ephemeral).
// SIGINT/SIGTERM: exit 0.
#include <websocketpp/config/asio_no_tls.hpp>
#include <websocketpp/server.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

using server = websocketpp::server<websocketpp::config::asio>;

int main(int argc, char** argv) {
    std::string address = "127.0.0.1";
    std::string port = "8080";
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (i + 1 < argc && arg == "--address")
            address = argv[++i];
        else if (i + 1 < argc && arg == "--port")
            port = argv[++i];
        else if (i + 1 < argc && arg == "--threads")
            ++i; // one thread; accepted for symmetry
        else {
            std::fprintf(stderr, "usage: %s [--address 127.0.0.1] [--port 8080]\n", argv[0]);
            return 2;
        }
    }

    server s;
    s.clear_access_channels(websocketpp::log::alevel::all);
    s.clear_error_channels(websocketpp::log::elevel::all);
    s.init_asio();
    s.set_reuse_addr(true);
    s.set_listen_backlog(4096);
    s.set_socket_init_handler([](websocketpp::connection_hdl, asio::ip::tcp::socket& socket) {
        asio::error_code ec;
        socket.set_option(asio::ip::tcp::no_delay(true), ec);
    });
    s.set_message_handler([&s](websocketpp::connection_hdl hdl, server::message_ptr msg) {
        websocketpp::lib::error_code ec;
        s.send(hdl, msg->get_payload(), msg->get_opcode(), ec);
    });

    websocketpp::lib::error_code ec;
    s.listen(address, port, ec);
    if (!ec)
        s.start_accept(ec);
    if (ec) {
        std::fprintf(stderr, "websocketpp_echo_server: cannot listen on %s:%s: %s\n", address.c_str(),
                     port.c_str(), ec.message().c_str());
        return 1;
    }
    asio::signal_set signals(s.get_io_service(), SIGINT, SIGTERM);
    signals.async_wait([&s](const asio::error_code&, int) { s.stop(); });

    const auto local = s.get_local_endpoint(ec);
    std::printf("websocketpp_echo_server listening on %s:%u (ws, 1 thread, websocketpp %d.%d.%d)\n",
                address.c_str(), static_cast<unsigned>(local.port()), websocketpp::major_version,
                websocketpp::minor_version, websocketpp::patch_version);
    std::fflush(stdout);
    s.run();
    return 0;
}
