// echo_server — echoes every WebSocket message back exactly as received.
//
//   echo_server [--address 127.0.0.1] [--port 8080] [--threads N]
//               [--tls-cert FILE --tls-key FILE] [--max-message BYTES]
//               [--deflate [--deflate-window BITS] [--no-context-takeover]]
//
// --deflate accepts a client's permessage-deflate offer (RFC 7692) as duplex's defaults answer
// it: the client's first acceptable offer, honouring what it asks of the server. With
// --deflate-window BITS (8..15) the server compresses with at most a 2^BITS window and asks a
// client that offered client_max_window_bits for the same; --no-context-takeover answers with
// server_no_context_takeover and client_no_context_takeover. --max-message also bounds a
// message's decompressed size.
//
// Prints one line when it is listening. On SIGINT or SIGTERM it closes every connection with
// 1001 (going away), waits for the close handshakes (at most the close timeout) and exits 0.
// With --threads N > 1 each connection runs on its own strand, so any number of threads may
// run the io_context. Messages are echoed from inside the read loop (async_read_each + send):
// the answers to everything one read brought go out in one write.
#include <duplex/asio.hpp>
#include <duplex/asio/deflate.hpp>

#include <asio/ip/tcp.hpp>
#include <asio/signal_set.hpp>
#include <asio/ssl.hpp>
#include <asio/strand.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
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
    bool deflate = false;
    int deflate_window = 15;
    bool no_context_takeover = false;
    // What accept() offers each connection: set by parse_args; empty without --deflate.
    std::optional<duplex::deflate_options> deflate_answer;
};

void usage(const char* argv0) {
    std::fprintf(stderr,
                 "usage: %s [--address 127.0.0.1] [--port 8080] [--threads N]\n"
                 "          [--tls-cert FILE --tls-key FILE] [--max-message BYTES]\n"
                 "          [--deflate [--deflate-window BITS] [--no-context-takeover]]\n"
                 "  --deflate                accept permessage-deflate (RFC 7692) offers\n"
                 "  --deflate-window BITS    8..15: the largest window used, and asked of clients\n"
                 "  --no-context-takeover    reset the compression context after each message, both ways\n",
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
        else if (arg == "--deflate")
            s.deflate = true;
        else if (arg == "--deflate-window" && (v = value()))
            s.deflate_window = static_cast<int>(std::strtol(v, nullptr, 10));
        else if (arg == "--no-context-takeover")
            s.no_context_takeover = true;
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
    const bool deflate_tuned = s.deflate_window != 15 || s.no_context_takeover;
    if (s.deflate_window < 8 || s.deflate_window > 15 || (deflate_tuned && !s.deflate)) {
        std::fprintf(stderr, "echo_server: --deflate-window takes 8..15, and it and --no-context-takeover "
                             "need --deflate\n");
        return false;
    }
    if (s.deflate) {
        duplex::deflate_options d;
        d.server_max_window_bits = s.deflate_window;
        d.client_max_window_bits = s.deflate_window;
        d.server_no_context_takeover = s.no_context_takeover;
        d.client_no_context_takeover = s.no_context_takeover;
        s.deflate_answer = d;
    }
    return true;
}

// Answers the upgrade request on `ws`, then echoes every message from inside the read loop with
// a copy queued by send(): no allocation or handler per message, and the echoes of all the
// frames that came in one read go out in one write. The loop stops reading while the send
// queue is over its limit (a peer that does not read its echoes), and ends with the
// connection; the stream lives as long as the loop's completion handler, which owns it (a
// unique_ptr: a shared_ptr's control block and a second pointer would cost 32 bytes more per
// connection).
template <class Stream>
void serve(std::unique_ptr<Stream> ws, const std::optional<duplex::deflate_options>& deflate) {
    duplex::server_handshake_options handshake;
    if (deflate) // per connection: it negotiates into this stream's engine
        duplex::asio::enable_deflate(*ws, handshake, *deflate);
    Stream* w = ws.get();
    w->async_accept(std::move(handshake), [ws = std::move(ws)](std::error_code ec) mutable {
        if (ec)
            return;
        Stream* w = ws.get();
        w->async_read_each(
            [w](const duplex::message& m) {
                std::error_code ignored; // fails only once the connection is closing: the loop ends then
                w->send(m.op, m.data.data(), m.data.size(), ignored);
            },
            [ws = std::move(ws)](std::error_code) {});
    });
}

// A new TCP connection: over TLS, its TLS handshake first. `Socket` has a concrete executor
// type (the io_context's, or a strand of it): a socket with asio::any_io_executor would be
// 48 bytes larger, on every connection.
template <class Socket>
void start(Socket socket, asio::ssl::context* tls, const duplex::asio::stream_options& options,
           const settings& s) {
    if (!tls) {
        auto ws = std::make_unique<duplex::asio::stream<Socket>>(std::move(socket));
        ws->set_options(options);
        return serve(std::move(ws), s.deflate_answer);
    }
    using tls_stream = duplex::asio::stream<asio::ssl::stream<tcp::socket>>; // one type for both
    auto ws = std::make_unique<tls_stream>(asio::ssl::stream<tcp::socket>(tcp::socket(std::move(socket)), *tls));
    ws->set_options(options);
    tls_stream* w = ws.get();
    w->next_layer().async_handshake(asio::ssl::stream_base::server,
                                    [ws = std::move(ws), &s](std::error_code ec) mutable {
                                        if (!ec)
                                            serve(std::move(ws), s.deflate_answer);
                                    });
}

// Accepts connections until the acceptor is closed, each on an executor from `make`.
template <class MakeExecutor>
void accept_each(tcp::acceptor& acceptor, MakeExecutor make, asio::ssl::context* tls,
                 const duplex::asio::stream_options& options, const settings& s) {
    acceptor.async_accept(make(), [&acceptor, make, tls, &options, &s](std::error_code ec, auto socket) {
        if (ec == asio::error::operation_aborted)
            return;
        if (!ec) {
            socket.set_option(tcp::no_delay(true), ec);
            start(std::move(socket), tls, options, s);
        }
        accept_each(acceptor, make, tls, options, s);
    });
}

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

    // A strand per connection when several threads run the io_context; with one thread,
    // handlers never run concurrently and the plain executor does.
    asio::ssl::context* tls_context = tls ? &*tls : nullptr;
    if (s.threads > 1)
        accept_each(acceptor, [&io] { return asio::make_strand(io); }, tls_context, options, s);
    else
        accept_each(acceptor, [&io] { return io.get_executor(); }, tls_context, options, s);

    asio::signal_set signals(io, SIGINT, SIGTERM);
    asio::steady_timer deadline(io);
    signals.async_wait([&](std::error_code, int) {
        acceptor.close();
        duplex::asio::async_close_all(io.get_executor(), duplex::close_code::going_away, "server shutting down",
                                      [&] { io.stop(); });
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
