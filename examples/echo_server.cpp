// echo_server — echoes every WebSocket message back exactly as received.
//
//   echo_server [--address 127.0.0.1] [--port 8080] [--threads N]
//               [--tls-cert FILE --tls-key FILE] [--max-message BYTES]
//
// Prints one line when it is listening. On SIGINT or SIGTERM it closes every connection with
// 1001 (going away), waits for the close handshakes (at most the close timeout) and exits 0.
// Each connection runs on its own strand, so any number of threads may run the io_context.
#include <duplex/asio.hpp>

#include <asio/ip/tcp.hpp>
#include <asio/signal_set.hpp>
#include <asio/ssl.hpp>
#include <asio/strand.hpp>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using tcp = asio::ip::tcp;

namespace {

struct settings {
    std::string address = "127.0.0.1";
    unsigned short port = 8080;
    unsigned threads = 1;
    std::string tls_cert, tls_key;
    std::size_t max_message = 16 * 1024 * 1024;
};

void usage(const char* argv0) {
    std::fprintf(stderr,
                 "usage: %s [--address 127.0.0.1] [--port 8080] [--threads N]\n"
                 "          [--tls-cert FILE --tls-key FILE] [--max-message BYTES]\n",
                 argv0);
}

bool parse_args(int argc, char** argv, settings& s) {
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
        const char* v = nullptr;
        if (arg == "--help" || arg == "-h")
            return false;
        if (arg == "--address" && (v = value()))
            s.address = v;
        else if (arg == "--port" && (v = value()))
            s.port = static_cast<unsigned short>(std::strtoul(v, nullptr, 10));
        else if (arg == "--threads" && (v = value()))
            s.threads = static_cast<unsigned>(std::strtoul(v, nullptr, 10));
        else if (arg == "--tls-cert" && (v = value()))
            s.tls_cert = v;
        else if (arg == "--tls-key" && (v = value()))
            s.tls_key = v;
        else if (arg == "--max-message" && (v = value()))
            s.max_message = static_cast<std::size_t>(std::strtoull(v, nullptr, 10));
        else {
            std::fprintf(stderr, "echo_server: bad or incomplete argument: %s\n", arg.c_str());
            return false;
        }
    }
    if (s.threads == 0 || s.max_message == 0 || s.tls_cert.empty() != s.tls_key.empty()) {
        std::fprintf(stderr, "echo_server: --threads and --max-message must be positive, and "
                             "--tls-cert and --tls-key go together\n");
        return false;
    }
    return true;
}

// Every live connection, so that a signal can close them all.
class registry {
public:
    void add(const std::shared_ptr<void>& s, std::function<void()> close) {
        std::lock_guard<std::mutex> lock(m_);
        live_[s.get()] = std::move(close);
    }
    void remove(const void* s) {
        std::function<void()> done;
        {
            std::lock_guard<std::mutex> lock(m_);
            live_.erase(s);
            if (live_.empty())
                done = std::exchange(on_empty_, nullptr);
        }
        if (done)
            done();
    }
    // Closes every connection; calls `done` once none is left.
    void close_all(std::function<void()> done) {
        std::vector<std::function<void()>> closers;
        {
            std::lock_guard<std::mutex> lock(m_);
            if (live_.empty())
                return done();
            on_empty_ = std::move(done);
            for (auto& [_, c] : live_)
                closers.push_back(c);
        }
        for (auto& c : closers)
            c();
    }

private:
    std::mutex m_;
    std::map<const void*, std::function<void()>> live_;
    std::function<void()> on_empty_;
};

template <class Socket>
class session : public std::enable_shared_from_this<session<Socket>> {
public:
    session(Socket socket, const duplex::asio::stream_options& options, registry& r)
        : ws_(std::move(socket)), registry_(r) {
        ws_.set_options(options);
    }

    void start() {
        auto self = this->shared_from_this();
        registry_.add(self, [weak = std::weak_ptr<session>(self)] {
            if (auto s = weak.lock())
                asio::post(s->ws_.get_executor(), [s] { s->going_away(); });
        });
        handshake();
    }

private:
    void handshake() {
        if constexpr (std::is_same_v<Socket, tcp::socket>) {
            accept();
        } else {
            ws_.next_layer().async_handshake(asio::ssl::stream_base::server,
                                             [self = this->shared_from_this()](std::error_code ec) {
                                                 if (ec)
                                                     return self->finish();
                                                 self->accept();
                                             });
        }
    }

    void accept() {
        ws_.async_accept([self = this->shared_from_this()](std::error_code ec) {
            if (ec)
                return self->finish();
            self->read();
        });
    }

    // Read a message, write it back (the write borrows the read buffer), then read the next.
    void read() {
        ws_.async_read([self = this->shared_from_this()](std::error_code ec, duplex::message m) {
            if (ec)
                return self->finish();
            self->ws_.async_write(m.op, m.data.data(), m.data.size(), [self](std::error_code ec) {
                if (ec)
                    return self->finish();
                self->read();
            });
        });
    }

    void going_away() {
        if (ws_.state() != duplex::connection_state::open)
            return;
        ws_.async_close(duplex::close_code::going_away, "server shutting down",
                        [self = this->shared_from_this()](std::error_code) { self->finish(); });
    }

    void finish() {
        if (!finished_.exchange(true))
            registry_.remove(this);
    }

    duplex::asio::stream<Socket> ws_;
    registry& registry_;
    std::atomic<bool> finished_{false};
};

} // namespace

int main(int argc, char** argv) {
    settings s;
    if (!parse_args(argc, argv, s)) {
        usage(argv[0]);
        return 2;
    }
    duplex::asio::stream_options options;
    options.engine.max_message_size = s.max_message;
    options.engine.max_frame_size = s.max_message;

    asio::io_context io(static_cast<int>(s.threads));
    std::optional<asio::ssl::context> tls;
    if (!s.tls_cert.empty()) {
        tls.emplace(asio::ssl::context::tls_server);
        std::error_code ec;
        tls->use_certificate_chain_file(s.tls_cert, ec);
        if (!ec)
            tls->use_private_key_file(s.tls_key, asio::ssl::context::pem, ec);
        if (ec) {
            std::fprintf(stderr, "echo_server: cannot load TLS certificate or key: %s\n", ec.message().c_str());
            return 1;
        }
    }

    tcp::acceptor acceptor(io);
    std::error_code ec;
    const tcp::endpoint endpoint(asio::ip::make_address(s.address, ec), s.port);
    if (!ec)
        acceptor.open(endpoint.protocol(), ec);
    if (!ec)
        acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec)
        acceptor.bind(endpoint, ec);
    if (!ec)
        acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        std::fprintf(stderr, "echo_server: cannot listen on %s:%u: %s\n", s.address.c_str(), s.port,
                     ec.message().c_str());
        return 1;
    }

    registry sessions;
    std::function<void()> accept_next = [&] {
        acceptor.async_accept(asio::make_strand(io), [&](std::error_code ec, tcp::socket socket) {
            if (ec == asio::error::operation_aborted)
                return;
            if (!ec) {
                socket.set_option(tcp::no_delay(true), ec);
                if (tls)
                    std::make_shared<session<asio::ssl::stream<tcp::socket>>>(
                        asio::ssl::stream<tcp::socket>(std::move(socket), *tls), options, sessions)
                        ->start();
                else
                    std::make_shared<session<tcp::socket>>(std::move(socket), options, sessions)->start();
            }
            accept_next();
        });
    };
    accept_next();

    asio::signal_set signals(io, SIGINT, SIGTERM);
    asio::steady_timer deadline(io);
    signals.async_wait([&](std::error_code, int) {
        acceptor.close();
        sessions.close_all([&] { asio::post(io, [&] { io.stop(); }); });
        // Peers that never answer are cut off at the close timeout, plus a margin.
        deadline.expires_after(options.engine.timeouts.close_timeout + std::chrono::seconds(1));
        deadline.async_wait([&](std::error_code e) {
            if (!e)
                io.stop();
        });
    });

    std::printf("echo_server listening on %s:%u (%s, %u thread%s, max message %zu bytes)\n",
                s.address.c_str(), acceptor.local_endpoint().port(), tls ? "wss" : "ws", s.threads,
                s.threads == 1 ? "" : "s", s.max_message);
    std::fflush(stdout);

    std::vector<std::thread> pool;
    for (unsigned i = 1; i < s.threads; ++i)
        pool.emplace_back([&] { io.run(); });
    io.run();
    for (auto& t : pool)
        t.join();
    return 0;
}
