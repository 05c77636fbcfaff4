// reconnecting_client — stays connected to a WebSocket server, and shows its backoff when the
// server goes down (try it against echo_server, stopped and restarted on the same port).
//
//   reconnecting_client ws://HOST:PORT[/path] [--initial-delay-ms N] [--max-delay-ms N]
//                       [--jitter F] [--count N] [--interval-ms N] [--max-attempts N] [--drop]
//
// On every connection it prints "connected" and sends "hello". Every --interval-ms (1000) it
// sends "message 1", "message 2"...; those sent while disconnected are queued and go out after
// the next hello (--drop: discarded instead). It prints each message received as
// "received: TEXT", each lost connection as "disconnected: ...", and each scheduled retry as
// "reconnecting in 1.93 s (attempt 3): REASON". The delays start at --initial-delay-ms (1000),
// double up to --max-delay-ms (30000), and vary by +-F (--jitter, 0.2) of themselves.
//
// With --count N it sends N numbered messages and exits 0 once "message N" comes back (from an
// echo server); without, it runs until SIGINT or SIGTERM, which close the connection (1000) and
// exit 0. --max-attempts N gives up after N failed attempts in a row and exits 1. Bad
// arguments exit 2. wss:// URLs work too (the server certificate is verified).
#include <duplex/asio/reconnecting_client.hpp>
#include <duplex/asio/tls.hpp>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/signal_set.hpp>
#include <asio/ssl.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <stdexcept>
#include <string>

using tcp = asio::ip::tcp;

namespace {

struct settings {
    long initial_delay_ms = 1000;
    long max_delay_ms = 30000;
    double jitter = 0.2;
    long count = 0;
    long interval_ms = 1000;
    long max_attempts = 0;
    bool drop = false;
};

void usage(std::FILE* out, const char* argv0) {
    std::fprintf(out,
                 "usage: %s ws://HOST:PORT[/path] [--initial-delay-ms N] [--max-delay-ms N]\n"
                 "          [--jitter F] [--count N] [--interval-ms N] [--max-attempts N] [--drop]\n"
                 "  --initial-delay-ms N  first delay before reconnecting (1000)\n"
                 "  --max-delay-ms N      the delays double up to this (30000)\n"
                 "  --jitter F            each delay varies by up to +-F of itself, 0..1 (0.2)\n"
                 "  --count N             send N numbered messages; exit once the last is echoed\n"
                 "  --interval-ms N       one numbered message every N ms (1000)\n"
                 "  --max-attempts N      give up (exit 1) after N failed attempts in a row\n"
                 "  --drop                discard messages sent while disconnected (default: queue)\n",
                 argv0);
}

// One line on standard output, flushed at once (the output may be a pipe or a file).
#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
void say(const char* format, ...) {
    va_list args;
    va_start(args, format);
    std::vprintf(format, args);
    va_end(args);
    std::putchar('\n');
    std::fflush(stdout);
}

bool parse_number(const char* text, long min, long& out) {
    char* end = nullptr;
    const long v = std::strtol(text, &end, 10);
    if (end == text || *end != '\0' || v < min)
        return false;
    out = v;
    return true;
}

// 0: parsed; 1: --help; 2: bad arguments.
int parse_args(int argc, char** argv, std::string& url, settings& s) {
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
        bool ok = v != nullptr;
        if (arg == "--help" || arg == "-h")
            return 1;
        if (arg == "--drop") {
            s.drop = true;
            continue;
        }
        if (arg == "--initial-delay-ms")
            ok = ok && parse_number(v, 1, s.initial_delay_ms);
        else if (arg == "--max-delay-ms")
            ok = ok && parse_number(v, 1, s.max_delay_ms);
        else if (arg == "--count")
            ok = ok && parse_number(v, 0, s.count);
        else if (arg == "--interval-ms")
            ok = ok && parse_number(v, 1, s.interval_ms);
        else if (arg == "--max-attempts")
            ok = ok && parse_number(v, 0, s.max_attempts);
        else if (arg == "--jitter") {
            char* end = nullptr;
            ok = ok && ((s.jitter = std::strtod(v, &end)), end != v && *end == '\0');
        } else if (url.empty() && arg.rfind("--", 0) != 0) {
            url = arg;
            continue;
        } else {
            ok = false;
        }
        if (!ok) {
            std::fprintf(stderr, "reconnecting_client: bad or incomplete argument: %s\n", arg.c_str());
            return 2;
        }
        ++i;
    }
    if (url.empty()) {
        std::fprintf(stderr, "reconnecting_client: no URL\n");
        return 2;
    }
    return 0;
}

template <class NextLayer, class... Tls>
int run(asio::io_context& io, const duplex::ws_url& url, const settings& s, Tls&... tls) {
    duplex::asio::reconnect_options options;
    options.backoff.initial_delay = std::chrono::milliseconds(s.initial_delay_ms);
    options.backoff.max_delay = std::chrono::milliseconds(s.max_delay_ms);
    options.backoff.jitter = s.jitter;
    options.max_attempts = static_cast<unsigned>(s.max_attempts);
    options.offline = s.drop ? duplex::asio::offline_policy::drop : duplex::asio::offline_policy::queue;
    // Throws std::invalid_argument for inconsistent settings (e.g. max below initial).
    duplex::asio::reconnecting_client<NextLayer> client(io.get_executor(), tls..., url, options);

    asio::steady_timer ticker(io);
    asio::signal_set signals(io, SIGINT, SIGTERM);
    const std::string last = "message " + std::to_string(s.count);
    long sent = 0;
    int status = 0;
    bool done = false;
    // Ends the program: with nothing left pending, io.run() returns.
    auto finish = [&](int code) {
        if (done)
            return;
        done = true;
        status = code;
        ticker.cancel();
        signals.cancel();
        client.stop(); // an open connection is closed with 1000
    };

    client.on_open([&] {
        say("connected");
        client.send_text("hello");
    });
    client.on_message([&](const duplex::message& m) {
        say("received: %.*s", static_cast<int>(m.data.size()), m.data.data());
        if (s.count > 0 && m.data == last)
            finish(0);
    });
    client.on_disconnect([&](std::error_code ec, duplex::close_code code) {
        const auto c = static_cast<unsigned>(code);
        say("disconnected: %s (close code %u %s)", ec.message().c_str(), c,
            std::string(duplex::close_code_name(code)).c_str());
    });
    client.on_retry([&](const duplex::asio::retry_info& r) {
        say("reconnecting in %.2f s (attempt %u): %s", static_cast<double>(r.delay.count()) / 1e6, r.attempt,
            r.error.message().c_str());
    });
    client.on_give_up([&](std::error_code ec) {
        say("giving up: %s", ec.message().c_str());
        finish(1);
    });

    std::function<void()> tick = [&] {
        if (s.count > 0 && sent >= s.count)
            return;
        ticker.expires_after(std::chrono::milliseconds(s.interval_ms));
        ticker.async_wait([&](std::error_code ec) {
            if (ec || done)
                return;
            const std::string text = "message " + std::to_string(++sent);
            switch (client.send_text(text)) {
            case duplex::asio::send_status::queued:
                say("queued: %s", text.c_str());
                break;
            case duplex::asio::send_status::dropped:
                say("dropped: %s", text.c_str());
                break;
            case duplex::asio::send_status::sent:
                break;
            }
            tick();
        });
    };
    signals.async_wait([&](std::error_code ec, int) {
        if (!ec)
            finish(0);
    });

    say("connecting to %s", client.url().host_field().c_str());
    client.start();
    tick();
    io.run();
    return status;
}

} // namespace

int main(int argc, char** argv) {
    std::string text;
    settings s;
    const int parsed = parse_args(argc, argv, text, s);
    if (parsed != 0) {
        usage(parsed == 1 ? stdout : stderr, argv[0]);
        return parsed == 1 ? 0 : 2;
    }
    duplex::ws_url url;
    std::error_code ec;
    if (!duplex::parse_url(text, url, ec)) {
        std::fprintf(stderr, "reconnecting_client: %s: %s\n", text.c_str(), ec.message().c_str());
        return 2;
    }
    asio::io_context io;
    try {
        if (!url.secure)
            return run<tcp::socket>(io, url, s);
        asio::ssl::context tls = duplex::asio::make_tls_client_context();
        return run<asio::ssl::stream<tcp::socket>>(io, url, s, tls);
    } catch (const std::invalid_argument& e) {
        std::fprintf(stderr, "reconnecting_client: %s\n", e.what());
        return 2;
    }
}
