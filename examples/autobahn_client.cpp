// autobahn_client — duplex's client as a testee for an Autobahn|Testsuite fuzzing server.
//
//   autobahn_client ws://127.0.0.1:PORT [--agent NAME]
//                   [--deflate [--deflate-window BITS] [--no-context-takeover]]
//
// Follows the testee-client protocol: GET /getCaseCount (one text message: the count), then
// for each case N GET /runCase?case=N&agent=NAME, echoing every message back exactly as
// received until the server closes, then GET /updateReports?agent=NAME. Exits 0 when it has
// gone through every case (the fuzzing server, not this program, judges them).
//
// --deflate offers permessage-deflate (RFC 7692) on every connection: duplex's default offer,
// "permessage-deflate; client_max_window_bits". --deflate-window BITS (8..15) offers instead
// server_max_window_bits=BITS and client_max_window_bits=BITS; --no-context-takeover adds
// server_no_context_takeover and client_no_context_takeover to the offer.
#include <duplex/asio.hpp>
#include <duplex/asio/connect.hpp>
#include <duplex/asio/deflate.hpp>

#include <asio/co_spawn.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

using asio::ip::tcp;
using ws_stream = duplex::asio::stream<tcp::socket>;

namespace {

// What --deflate offers; empty without it.
std::optional<duplex::deflate_options> deflate_offer;

duplex::asio::stream_options options() {
    duplex::asio::stream_options o;
    o.engine.max_message_size = 64 * 1024 * 1024; // the suite's largest messages are 16 MiB
    o.engine.max_frame_size = 64 * 1024 * 1024;
    return o;
}

// Connects to base URL + `target`; throws on failure.
asio::awaitable<void> open(ws_stream& ws, const duplex::ws_url& base, const std::string& target) {
    duplex::ws_url url = base;
    url.target = target;
    ws.set_options(options());
    duplex::client_handshake_options handshake;
    if (deflate_offer)
        duplex::asio::enable_deflate(ws, handshake, *deflate_offer);
    co_await duplex::asio::async_connect(ws, url, std::move(handshake), asio::use_awaitable);
}

asio::awaitable<int> run(duplex::ws_url base, std::string agent) {
    auto ex = co_await asio::this_coro::executor;
    int cases = 0;
    {
        ws_stream ws(ex);
        co_await open(ws, base, "/getCaseCount");
        const duplex::message m = co_await ws.async_read(asio::use_awaitable);
        cases = std::atoi(std::string(m.data).c_str());
        std::error_code ec;
        co_await ws.async_read(asio::redirect_error(asio::use_awaitable, ec)); // the server closes
    }
    std::printf("autobahn_client: %d cases\n", cases);
    for (int n = 1; n <= cases; ++n) {
        ws_stream ws(ex);
        std::error_code ec;
        duplex::ws_url url = base;
        url.target = "/runCase?case=" + std::to_string(n) + "&agent=" + agent;
        ws.set_options(options());
        duplex::client_handshake_options handshake;
        if (deflate_offer)
            duplex::asio::enable_deflate(ws, handshake, *deflate_offer);
        co_await duplex::asio::async_connect(ws, url, std::move(handshake),
                                             asio::redirect_error(asio::use_awaitable, ec));
        while (!ec) {
            const duplex::message m = co_await ws.async_read(asio::redirect_error(asio::use_awaitable, ec));
            if (ec)
                break; // closed by the server, or failed by us for a protocol violation
            co_await ws.async_write(m.op, m.data.data(), m.data.size(),
                                    asio::redirect_error(asio::use_awaitable, ec));
        }
        if (ec != duplex::error::closed)
            std::printf("autobahn_client: case %d ended with: %s\n", n, ec.message().c_str());
    }
    {
        ws_stream ws(ex);
        co_await open(ws, base, "/updateReports?agent=" + agent);
        std::error_code ec;
        co_await ws.async_read(asio::redirect_error(asio::use_awaitable, ec));
    }
    std::printf("autobahn_client: reports updated for agent %s\n", agent.c_str());
    co_return 0;
}

} // namespace

int main(int argc, char** argv) {
    std::string agent = "duplex";
    const char* url_text = nullptr;
    bool deflate = false, no_context_takeover = false, bad = false;
    int window = 0;
    for (int i = 1; i < argc && !bad; ++i) {
        const std::string arg = argv[i];
        if (arg == "--agent" && i + 1 < argc)
            agent = argv[++i];
        else if (arg == "--deflate")
            deflate = true;
        else if (arg == "--deflate-window" && i + 1 < argc)
            bad = (window = static_cast<int>(std::strtol(argv[++i], nullptr, 10))) < 8 || window > 15;
        else if (arg == "--no-context-takeover")
            no_context_takeover = true;
        else if (!url_text && arg.rfind("ws", 0) == 0)
            url_text = argv[i];
        else
            bad = true;
    }
    duplex::ws_url base;
    std::error_code ec;
    if (bad || (!deflate && (window != 0 || no_context_takeover)) || !url_text ||
        !duplex::parse_url(url_text, base, ec) || base.secure) {
        std::fprintf(stderr,
                     "usage: %s ws://127.0.0.1:PORT [--agent NAME]\n"
                     "          [--deflate [--deflate-window BITS] [--no-context-takeover]]\n"
                     "  --deflate                offer permessage-deflate (RFC 7692)\n"
                     "  --deflate-window BITS    8..15: offer server_ and client_max_window_bits=BITS\n"
                     "  --no-context-takeover    offer server_ and client_no_context_takeover\n",
                     argv[0]);
        return 2;
    }
    if (deflate) {
        duplex::deflate_options d; // the default offer: client_max_window_bits, no value
        if (window != 0 || no_context_takeover) {
            duplex::deflate_parameters offer;
            offer.server_no_context_takeover = no_context_takeover;
            offer.client_no_context_takeover = no_context_takeover;
            offer.server_max_window_bits = window;
            offer.client_max_window_bits = window != 0 ? window : duplex::any_window_bits;
            d.offers = {offer};
        }
        deflate_offer = d;
    }
    asio::io_context io;
    int status = 1;
    asio::co_spawn(io, run(base, agent), [&](std::exception_ptr e, int result) {
        if (!e) {
            status = result;
            return;
        }
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& x) {
            std::fprintf(stderr, "autobahn_client: %s\n", x.what());
        }
    });
    io.run();
    return status;
}
