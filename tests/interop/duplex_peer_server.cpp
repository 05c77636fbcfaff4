// duplex_peer_server — duplex's server (duplex::asio::stream with C++20 coroutines) for
// another implementation's client, for tests/interop/run.sh.
//
//   duplex_peer_server [--address 127.0.0.1] [--port 0] [--subprotocols a,b] [--connections N]
//                      [--deflate[=PARAMS]]
//
// Prints "listening on ADDRESS:PORT" once it listens (the real port for --port 0). What each
// connection gets depends on its path:
//
//   /close/CODE   the server closes at once with CODE and the reason "server close CODE ✓",
//                 and checks that the client's close frame echoes CODE;
//   /ping         the server pings the client ("duplex-server-ping") and then echoes; at the
//                 end it checks that a pong with that payload came back;
//   anything else every message is echoed as it came (text or binary).
//
// The subprotocol is the first one the client offers among --subprotocols. Every connection
// logs a line when it opens ("conn N open path=... subprotocol=...") and one with the close
// code and reason it received ("conn N close-received CODE \"REASON\""), and checks print
// "ok - ..." or "FAIL - ...". It exits 0 after N connections have ended (--connections N) or
// on SIGTERM or SIGINT.
//
// --deflate accepts permessage-deflate (RFC 7692) offers as duplex's defaults answer them, or
// with PARAMS, a comma-separated list of the server's settings: server_no_context_takeover,
// client_no_context_takeover (answered whatever the offer), server_max_window_bits=N (our
// largest window), client_max_window_bits=N (asked of a client that offered the parameter).
// The open line then ends with extensions="..." (our answer, read off the wire), and at the end
// of each echoing connection a check says whether every message was compressed both ways (RSV1
// on its first frame) if the extension was agreed, or that none was if not.
#include "peer_args.hpp"
#include "wire_tap.hpp"

#include <duplex/asio.hpp>
#include <duplex/asio/deflate.hpp>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/redirect_error.hpp>
#include <asio/signal_set.hpp>
#include <asio/use_awaitable.hpp>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

using asio::ip::tcp;

namespace {

using ws_stream = duplex::asio::stream<interop::tap_socket>;
constexpr auto use_awaitable = asio::use_awaitable;

struct server {
    std::vector<std::string> subprotocols;
    std::optional<duplex::deflate_options> deflate;
    unsigned connections = 0; // exit after this many have ended; 0: run until a signal
    unsigned started = 0;
    unsigned ended = 0;
    tcp::acceptor* acceptor = nullptr;
    asio::signal_set* signals = nullptr;
};

void say(const std::string& line) {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
}

std::string quoted(std::string_view s) {
    std::string out = "\"";
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (u < 0x20 || u == 0x7f) {
            char hex[8];
            std::snprintf(hex, sizeof hex, "\\x%02x", u);
            out += hex;
        } else {
            out += c;
        }
    }
    return out + "\"";
}

void check(bool good, const std::string& what, const std::string& detail = {}) {
    say((good ? "ok - " : "FAIL - ") + what + (good || detail.empty() ? "" : ": " + detail));
}

// The close frame the client sent, as the wire tap saw it.
void log_received_close(ws_stream& ws, const std::string& conn) {
    const auto closes = ws.next_layer().in.find(interop::op_close);
    const auto api_code = static_cast<unsigned>(ws.received_close_code());
    if (closes.empty()) {
        say(conn + " no close frame received (received_close_code() " + std::to_string(api_code) + ")");
        return;
    }
    const auto* c = closes.front();
    say(conn + " close-received " + std::to_string(c->close_code()) + " " + quoted(c->close_reason()));
    check(api_code == c->close_code(),
          conn + ": received_close_code() agrees with the close frame (" + std::to_string(c->close_code()) + ")",
          "it says " + std::to_string(api_code));
    check(closes.size() == 1, conn + ": one close frame from the client", std::to_string(closes.size()) + " seen");
}

void connection_ended(server& srv) {
    ++srv.ended;
    if (srv.connections != 0 && srv.ended >= srv.connections) {
        say("served " + std::to_string(srv.ended) + " connections");
        std::error_code ignored;
        srv.acceptor->close(ignored);
        srv.signals->cancel(ignored); // io.run() returns once the last close handshakes are done
    }
}

asio::awaitable<void> session(tcp::socket socket, unsigned id, server& srv) {
    const std::string conn = "conn " + std::to_string(id);
    ws_stream ws(std::move(socket));
    std::string path;
    duplex::server_handshake_options options;
    options.subprotocols = srv.subprotocols;
    options.accept = [&path](const duplex::upgrade_request& r, duplex::rejection&) {
        path = std::string(r.path);
        return true;
    };
    if (srv.deflate) {
        // Compressed, 16 MiB of random bytes is a little more than 16 MiB on the wire, in one
        // frame from peers that do not fragment: the frame limit (on the wire) needs a margin.
        // Messages stay limited to 16 MiB (decompressed).
        duplex::asio::stream_options limits;
        limits.engine.max_frame_size += limits.engine.max_frame_size / 16;
        ws.set_options(limits);
        duplex::asio::enable_deflate(ws, options, *srv.deflate);
    }
    std::error_code ec;
    co_await ws.async_accept(std::move(options), asio::redirect_error(use_awaitable, ec));
    if (ec) {
        say(conn + " handshake failed: " + ec.message());
        connection_ended(srv);
        co_return;
    }
    const std::string extensions = interop::header_value(ws.next_layer().out.head, "Sec-WebSocket-Extensions");
    say(conn + " open path=" + path + " subprotocol=" + quoted(ws.subprotocol()) +
        (srv.deflate ? " extensions=" + quoted(extensions) : ""));

    if (path.rfind("/close/", 0) == 0) {
        const unsigned code = static_cast<unsigned>(std::strtoul(path.c_str() + 7, nullptr, 10));
        const std::string reason = "server close " + std::to_string(code) + " \xe2\x9c\x93";
        co_await ws.async_close(static_cast<duplex::close_code>(code), reason, asio::redirect_error(use_awaitable, ec));
        say(conn + " sent close " + std::to_string(code) + " " + quoted(reason) + ": " +
            (ec ? ec.message() : "the close handshake completed"));
        check(!ec && static_cast<unsigned>(ws.received_close_code()) == code,
              conn + ": the client echoed close code " + std::to_string(code),
              ec ? ec.message() : "it answered " + std::to_string(static_cast<unsigned>(ws.received_close_code())));
        log_received_close(ws, conn);
        connection_ended(srv);
        co_return;
    }

    const std::string ping_payload = "duplex-server-ping";
    if (path == "/ping") {
        co_await ws.async_ping(ping_payload, asio::redirect_error(use_awaitable, ec));
        check(!ec, conn + ": ping sent", ec.message());
    }
    std::size_t messages = 0;
    for (;;) {
        const duplex::message m = co_await ws.async_read(asio::redirect_error(use_awaitable, ec));
        if (ec)
            break;
        ++messages;
        co_await ws.async_write(m.op, m.data.data(), m.data.size(), asio::redirect_error(use_awaitable, ec));
        if (ec)
            break;
    }
    // How it ended is logged, not judged: a client may drop a connection on purpose (ws does when
    // no subprotocol was chosen). run.sh checks the close lines it expects.
    say(conn + " ended after " + std::to_string(messages) + " messages: " + ec.message());
    log_received_close(ws, conn);
    if (path == "/ping")
        check(ws.next_layer().in.saw(interop::op_pong, ping_payload),
              conn + ": the client answered our ping with its payload");
    const auto& in = ws.next_layer().in;
    const auto& out = ws.next_layer().out;
    check(in.error.empty(), conn + ": the client's frames are well-formed", in.error);
    check(out.error.empty(), conn + ": our frames are well-formed", out.error);
    const std::string counts = std::to_string(in.compressed_count()) + " of " + std::to_string(in.messages.size()) +
                               " received, " + std::to_string(out.compressed_count()) + " of " +
                               std::to_string(out.messages.size()) + " sent";
    if (extensions.rfind("permessage-deflate", 0) == 0 && in.messages.empty())
        say(conn + " no messages to compress");
    else if (extensions.rfind("permessage-deflate", 0) == 0)
        check(in.compressed_count() == in.messages.size() && out.compressed_count() == out.messages.size(),
              conn + ": every message was compressed both ways (" + counts + ")", counts);
    else
        check(in.compressed_count() == 0 && out.compressed_count() == 0, conn + ": no message had RSV1 (no extension)",
              counts);
    connection_ended(srv);
}

asio::awaitable<void> listen(tcp::acceptor& acceptor, server& srv) {
    for (;;) {
        std::error_code ec;
        tcp::socket socket = co_await acceptor.async_accept(asio::redirect_error(use_awaitable, ec));
        if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor)
            co_return;
        if (ec)
            continue;
        socket.set_option(tcp::no_delay(true), ec);
        asio::co_spawn(acceptor.get_executor(), session(std::move(socket), ++srv.started, srv), asio::detached);
    }
}

using interop::split_list;

// "server_max_window_bits=9,client_no_context_takeover" -> the server's settings; false if
// malformed.
bool parse_deflate_settings(std::string_view text, duplex::deflate_options& o) {
    duplex::deflate_parameters p;
    if (!interop::parse_deflate_params(text, false, p))
        return false;
    o.server_no_context_takeover = p.server_no_context_takeover;
    o.client_no_context_takeover = p.client_no_context_takeover;
    if (p.server_max_window_bits != 0)
        o.server_max_window_bits = p.server_max_window_bits;
    if (p.client_max_window_bits != 0)
        o.client_max_window_bits = p.client_max_window_bits;
    return true;
}

} // namespace

int main(int argc, char** argv) {
    std::string address = "127.0.0.1";
    unsigned short port = 0;
    server srv;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--deflate" || arg.rfind("--deflate=", 0) == 0) {
            if (!parse_deflate_settings(arg.size() > 9 ? std::string_view(arg).substr(10) : std::string_view{},
                                        srv.deflate.emplace())) {
                std::fprintf(stderr, "duplex_peer_server: bad %s\n", arg.c_str());
                return 2;
            }
            continue;
        }
        if (i + 1 >= argc) {
            std::fprintf(stderr,
                         "usage: %s [--address 127.0.0.1] [--port 0] [--subprotocols a,b] [--connections N]\n"
                         "          [--deflate[=PARAMS]]\n",
                         argv[0]);
            return 2;
        }
        const char* v = argv[++i];
        if (arg == "--address")
            address = v;
        else if (arg == "--port")
            port = static_cast<unsigned short>(std::strtoul(v, nullptr, 10));
        else if (arg == "--subprotocols")
            srv.subprotocols = split_list(v);
        else if (arg == "--connections")
            srv.connections = static_cast<unsigned>(std::strtoul(v, nullptr, 10));
        else {
            std::fprintf(stderr, "duplex_peer_server: unknown argument %s\n", arg.c_str());
            return 2;
        }
    }

    asio::io_context io;
    std::error_code ec;
    tcp::acceptor acceptor(io);
    const tcp::endpoint endpoint(asio::ip::make_address(address, ec), port);
    if (!ec)
        acceptor.open(endpoint.protocol(), ec);
    if (!ec)
        acceptor.bind(endpoint, ec);
    if (!ec)
        acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        std::fprintf(stderr, "duplex_peer_server: cannot listen on %s:%u: %s\n", address.c_str(), port,
                     ec.message().c_str());
        return 1;
    }
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](std::error_code e, int) {
        if (e)
            return;
        say("stopping on a signal after " + std::to_string(srv.ended) + " connections");
        io.stop();
    });
    srv.acceptor = &acceptor;
    srv.signals = &signals;
    asio::co_spawn(io, listen(acceptor, srv), asio::detached);
    say("listening on " + address + ":" + std::to_string(acceptor.local_endpoint().port()));
    io.run();
    return 0;
}
