// beast_echo_server — a Boost.Beast WebSocket echo server, the peer duplex's echo_server is
// compared with in bench/e2e.sh. Written the idiomatic way (as Beast's own async examples do):
// async_read into a flat_buffer, text(got_text()), async_write of the buffer, consume, repeat.
// Beast's defaults are kept (suggested server timeouts, auto-fragmentation at 4 KiB) except that
// permessage-deflate is explicitly off (duplex has none yet) and TCP_NODELAY is on (as in duplex).
//
//   beast_echo_server [--address 127.0.0.1] [--port 8080] [--threads N]
//
// Prints "beast_echo_server listening on ADDRESS:PORT" (port 0 = ephemeral). SIGINT/SIGTERM: exit 0.
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

class session : public std::enable_shared_from_this<session> {
public:
    explicit session(tcp::socket&& socket) : ws_(std::move(socket)) {}

    void run() {
        // Start on the connection's strand.
        net::dispatch(ws_.get_executor(), [self = shared_from_this()] { self->on_run(); });
    }

private:
    void on_run() {
        ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
        websocket::permessage_deflate pmd;
        pmd.server_enable = false;
        pmd.client_enable = false;
        ws_.set_option(pmd);
        ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
            res.set(beast::http::field::server, "beast-echo-bench");
        }));
        ws_.async_accept([self = shared_from_this()](beast::error_code ec) {
            if (!ec)
                self->do_read();
        });
    }

    void do_read() {
        ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
            if (ec)
                return; // closed, timed out or failed: the session ends
            self->ws_.text(self->ws_.got_text());
            self->ws_.async_write(self->buffer_.data(),
                                  [self](beast::error_code ec2, std::size_t bytes) {
                                      if (ec2)
                                          return;
                                      self->buffer_.consume(bytes);
                                      self->do_read();
                                  });
        });
    }

    websocket::stream<beast::tcp_stream> ws_;
    beast::flat_buffer buffer_;
};

class listener : public std::enable_shared_from_this<listener> {
public:
    listener(net::io_context& ioc, tcp::acceptor& acceptor) : ioc_(ioc), acceptor_(acceptor) {}

    void run() { do_accept(); }

private:
    void do_accept() {
        acceptor_.async_accept(net::make_strand(ioc_), [self = shared_from_this()](beast::error_code ec,
                                                                                   tcp::socket socket) {
            if (ec == net::error::operation_aborted)
                return;
            if (!ec) {
                socket.set_option(tcp::no_delay(true), ec);
                std::make_shared<session>(std::move(socket))->run();
            }
            self->do_accept();
        });
    }

    net::io_context& ioc_;
    tcp::acceptor& acceptor_;
};

} // namespace

int main(int argc, char** argv) {
    std::string address = "127.0.0.1";
    unsigned short port = 8080;
    int threads = 1;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (i + 1 < argc && arg == "--address")
            address = argv[++i];
        else if (i + 1 < argc && arg == "--port")
            port = static_cast<unsigned short>(std::strtoul(argv[++i], nullptr, 10));
        else if (i + 1 < argc && arg == "--threads")
            threads = std::max(1, std::atoi(argv[++i]));
        else {
            std::fprintf(stderr, "usage: %s [--address 127.0.0.1] [--port 8080] [--threads N]\n", argv[0]);
            return 2;
        }
    }

    net::io_context ioc(threads);
    tcp::acceptor acceptor(ioc);
    beast::error_code ec;
    const tcp::endpoint endpoint(net::ip::make_address(address, ec), port);
    if (!ec)
        acceptor.open(endpoint.protocol(), ec);
    if (!ec)
        acceptor.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec)
        acceptor.bind(endpoint, ec);
    if (!ec)
        acceptor.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
        std::fprintf(stderr, "beast_echo_server: cannot listen on %s:%u: %s\n", address.c_str(), port,
                     ec.message().c_str());
        return 1;
    }
    std::make_shared<listener>(ioc, acceptor)->run();

    net::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&](beast::error_code, int) { ioc.stop(); });

    std::printf("beast_echo_server listening on %s:%u (ws, %d thread%s, Boost %d.%d)\n", address.c_str(),
                acceptor.local_endpoint().port(), threads, threads == 1 ? "" : "s", BOOST_VERSION / 100000,
                BOOST_VERSION / 100 % 1000);
    std::fflush(stdout);

    std::vector<std::thread> pool;
    for (int i = 1; i < threads; ++i)
        pool.emplace_back([&ioc] { ioc.run(); });
    ioc.run();
    for (auto& t : pool)
        t.join();
    return 0;
}
