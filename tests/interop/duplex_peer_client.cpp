// duplex_peer_client — duplex's client (duplex::asio::stream with C++20 coroutines) against
// another implementation's echo server, for tests/interop/run.sh.
//
//   duplex_peer_client URL [--protocols a,b] [--expect-protocol NAME] [--close CODE REASON]
//                      [--handshake-only] [--expect-server-close CODE REASON]
//                      [--expect-ping PAYLOAD] [--timeout SECONDS]
//                      [--deflate[=PARAMS]] [--expect-extensions TEXT]
//
// Connects to URL offering the subprotocols given (most preferred first) and checks that the
// server chose NAME (none by default). Then, unless --handshake-only, it runs a fixed script
// and checks every echo: a text message, a binary one, an empty text and an empty binary
// message, a text message sent in 3 frames whose boundaries fall inside UTF-8 characters, a
// binary one in 4 frames, a 16 MiB binary and a 16 MiB text message, and a ping whose pong must
// carry its payload. Finally it closes with CODE and REASON (1000 "done" by default) and checks
// that the server's close frame carries the same code.
//
// With --expect-server-close the server is the one to close (say URL is .../close/CODE): the
// client only reads, and checks the close code and reason it receives and that it echoed the
// code. --expect-ping checks that the server's ping arrived and that the client answered it
// with a pong carrying the same payload.
//
// --deflate offers permessage-deflate (RFC 7692): duplex's default offer, or one offer with
// PARAMS, a comma-separated list of server_no_context_takeover, client_no_context_takeover,
// server_max_window_bits=N, client_max_window_bits[=N]. The server's Sec-WebSocket-Extensions
// (read off the wire) must then name permessage-deflate (exactly TEXT with
// --expect-extensions), and the wire tap checks that every message went out and came back
// compressed (RSV1 on its first frame, nowhere else) and that the 16 MiB text message was
// under 1 MiB on the wire both ways. Without --deflate, no frame may carry RSV1. Either way the
// script also sends a ping while a 16 MiB message is being written and checks its pong.
//
// Each check prints "ok - ..." or "FAIL - ...". Exit status: 0 if every check passed, 1 if one
// failed, 2 for bad arguments.
#include "peer_args.hpp"
#include "wire_tap.hpp"

#include <duplex/asio.hpp>
#include <duplex/asio/connect.hpp>
#include <duplex/asio/deflate.hpp>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

using ws_stream = duplex::asio::stream<interop::tap_socket>;
constexpr auto use_awaitable = asio::use_awaitable;
constexpr std::size_t fragment_size = 64 * 1024;
constexpr std::size_t big_size = 16 * 1024 * 1024;

struct settings {
    std::string url;
    std::vector<std::string> protocols;
    std::string expect_protocol;
    unsigned close_code = 1000;
    std::string close_reason = "done";
    bool handshake_only = false;
    std::optional<std::pair<unsigned, std::string>> server_close;
    std::optional<std::string> expect_ping;
    unsigned timeout_seconds = 60;
    std::optional<duplex::deflate_options> deflate;
    std::optional<std::string> expect_extensions;
};

int failures = 0;

void ok(const std::string& what) {
    std::printf("ok - %s\n", what.c_str());
    std::fflush(stdout);
}

void fail(const std::string& what) {
    ++failures;
    std::printf("FAIL - %s\n", what.c_str());
    std::fflush(stdout);
}

bool check(bool good, const std::string& what, const std::string& detail = {}) {
    if (good)
        ok(what);
    else
        fail(detail.empty() ? what : what + ": " + detail);
    return good;
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

using interop::split_list;

// What went wrong with a read, in words, including the peer's close code if it closed.
std::string read_error(ws_stream& ws, std::error_code ec) {
    std::string why = ec.message();
    if (ec == duplex::error::closed)
        why += " (the server closed with " + std::to_string(static_cast<unsigned>(ws.received_close_code())) + ")";
    return why;
}

std::string describe_difference(std::string_view got, std::string_view want) {
    if (got.size() != want.size())
        return "echo has " + std::to_string(got.size()) + " bytes, sent " + std::to_string(want.size());
    std::size_t i = 0;
    while (i < got.size() && got[i] == want[i])
        ++i;
    return "echo differs from what was sent at byte " + std::to_string(i);
}

// Sends one message and checks that the next message read is the same, with the same opcode.
asio::awaitable<bool> echo(ws_stream& ws, duplex::opcode op, std::string_view payload, const std::string& name) {
    std::error_code ec;
    co_await ws.async_write(op, payload.data(), payload.size(), asio::redirect_error(use_awaitable, ec));
    if (ec) {
        fail(name + ": write failed: " + ec.message());
        co_return false;
    }
    const duplex::message m = co_await ws.async_read(asio::redirect_error(use_awaitable, ec));
    if (ec) {
        fail(name + ": no echo: " + read_error(ws, ec));
        co_return false;
    }
    if (m.op != op) {
        fail(name + ": echo came back as " + (m.is_text() ? "text" : "binary"));
        co_return false;
    }
    if (m.data != payload) {
        fail(name + ": " + describe_difference(m.data, payload));
        co_return false;
    }
    ok(name + " echoed (" + std::to_string(payload.size()) + " bytes)");
    co_return true;
}

bool deflating = false; // permessage-deflate was offered (and must have been agreed)

// Checks how many frames the message just echoed went out in: echo() sends one message and
// reads one, so the last data message on the outgoing wire is that one. It is cut into frames
// of fragment_size bytes of its payload on the wire (compressed, with permessage-deflate).
void check_sent_frames(ws_stream& ws, const std::string& name) {
    const auto& sent = ws.next_layer().out.messages;
    if (sent.empty()) {
        fail(name + ": not seen on the wire");
        return;
    }
    const auto& m = sent.back();
    const std::size_t want = std::max<std::size_t>(1, static_cast<std::size_t>((m.size + fragment_size - 1) / fragment_size));
    check(m.frames == want,
          name + " went out in " + std::to_string(want) + " frames (" + std::to_string(m.size) + " bytes on the wire)",
          "it went out in " + std::to_string(m.frames));
}

// With permessage-deflate: the message just echoed went out compressed and its echo came back
// compressed (RSV1), each at most `max_wire` bytes on the wire if given. Without: neither was.
void check_compressed(ws_stream& ws, const std::string& name, std::uint64_t max_wire = 0) {
    const auto& sent = ws.next_layer().out.messages;
    const auto& got = ws.next_layer().in.messages;
    if (sent.empty() || got.empty()) {
        fail(name + ": not seen on the wire");
        return;
    }
    const auto& a = sent.back();
    const auto& b = got.back();
    if (!deflating) {
        check(!a.compressed && !b.compressed, name + ": no RSV1 either way (no extension)");
        return;
    }
    check(a.compressed && b.compressed, name + ": compressed both ways (RSV1)",
          std::string("sent ") + (a.compressed ? "compressed" : "uncompressed") + ", echo " +
              (b.compressed ? "compressed" : "uncompressed"));
    if (max_wire != 0)
        check(a.size <= max_wire && b.size <= max_wire,
              name + ": at most " + std::to_string(max_wire) + " bytes on the wire both ways",
              "sent " + std::to_string(a.size) + ", echo " + std::to_string(b.size));
}

std::string utf8_text(std::size_t units) {
    std::string s;
    s.reserve(units * 10);
    for (std::size_t i = 0; i < units; ++i)
        s += "\xc3\xbc\xe2\x82\xac\xf0\x9f\x98\x80 "; // ü € 😀 space: 10 bytes, 2+3+4+1
    return s;
}

std::string random_bytes(std::size_t n, std::uint64_t seed) {
    std::string s(n, '\0');
    std::uint64_t x = seed;
    for (std::size_t i = 0; i < n; i += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        for (std::size_t k = 0; k < 8 && i + k < n; ++k)
            s[i + k] = static_cast<char>(x >> (8 * k));
    }
    return s;
}

// A ping while a 16 MiB message is being written (writes queue; the ping may go out between
// its frames): the echo must come back whole, and the pong with the ping's payload.
asio::awaitable<void> ping_during_message(ws_stream& ws, const std::string& big_binary) {
    using duplex::opcode;
    const std::string during = "ping during a message";
    // The handlers may outlive this frame if the read fails first: they share their results.
    struct results {
        bool written = false;
        std::error_code write_ec, ping_ec;
    };
    const auto r = std::make_shared<results>();
    ws.async_write(opcode::binary, big_binary.data(), big_binary.size(), [r](std::error_code e) {
        r->write_ec = e;
        r->written = true;
    });
    ws.async_ping(during, [r](std::error_code e) { r->ping_ec = e; });
    std::error_code read_ec;
    const duplex::message m = co_await ws.async_read(asio::redirect_error(use_awaitable, read_ec));
    const bool whole = !read_ec && r->written && !r->write_ec && !r->ping_ec && m.op == opcode::binary &&
                       m.data == big_binary;
    check(whole, "16 MiB binary message with a ping during it echoed",
          read_ec       ? read_error(ws, read_ec)
          : !r->written ? "the write had not completed"
          : r->write_ec ? r->write_ec.message()
          : r->ping_ec  ? "ping: " + r->ping_ec.message()
                        : describe_difference(m.data, big_binary));
    if (whole) {
        check_compressed(ws, "16 MiB binary message with a ping during it");
        bool seen = ws.next_layer().in.saw(interop::op_pong, during);
        for (int round = 0; round < 3 && !seen; ++round) {
            if (!co_await echo(ws, opcode::text, "after the ping during a message", "message after that ping"))
                break;
            seen = ws.next_layer().in.saw(interop::op_pong, during);
        }
        check(seen, "pong for the ping sent during a message received (" +
                        std::to_string(ws.next_layer().out.controls_inside_messages) +
                        " control frames of ours went out between a message's frames)");
    }
}

asio::awaitable<void> big_messages(ws_stream& ws);

// The script: every kind of message, each echoed and checked.
asio::awaitable<void> script(ws_stream& ws) {
    using duplex::opcode;
    if (co_await echo(ws, opcode::text, "hello, interop \xe2\x9c\x93 \xc3\xbc \xf0\x9f\x98\x80", "text message"))
        check_compressed(ws, "text message");

    std::string all_bytes(256, '\0');
    for (int i = 0; i < 256; ++i)
        all_bytes[static_cast<std::size_t>(i)] = static_cast<char>(i);
    if (co_await echo(ws, opcode::binary, all_bytes, "binary message"))
        check_compressed(ws, "binary message");

    if (co_await echo(ws, opcode::text, "", "empty text message"))
        check_compressed(ws, "empty text message");
    if (co_await echo(ws, opcode::binary, "", "empty binary message"))
        check_compressed(ws, "empty binary message");

    // 150000 bytes in frames of 65536: both boundaries fall inside a 4-byte character (without
    // compression; compressed, it is a few hundred bytes in one frame).
    const std::string fragmented_text = utf8_text(15000);
    if (co_await echo(ws, opcode::text, fragmented_text, "fragmented text message")) {
        check_sent_frames(ws, "fragmented text message");
        check_compressed(ws, "fragmented text message");
    }

    // Random bytes do not compress: 4 frames either way.
    const std::string fragmented_binary = random_bytes(200000, 7);
    if (co_await echo(ws, opcode::binary, fragmented_binary, "fragmented binary message")) {
        check_sent_frames(ws, "fragmented binary message");
        check_compressed(ws, "fragmented binary message");
    }

    co_await big_messages(ws);
}

// The 16 MiB messages, a ping during one, and a ping between messages.
asio::awaitable<void> big_messages(ws_stream& ws) {
    using duplex::opcode;
    const std::string big_binary = random_bytes(big_size, 0x9e3779b97f4a7c15ull);
    if (co_await echo(ws, opcode::binary, big_binary, "16 MiB binary message"))
        check_compressed(ws, "16 MiB binary message");

    std::string big_text = utf8_text(big_size / 10);
    big_text.append(big_size - big_text.size(), 'x');
    if (co_await echo(ws, opcode::text, big_text, "16 MiB text message"))
        check_compressed(ws, "16 MiB text message", deflating ? 1024 * 1024 : 0);

    co_await ping_during_message(ws, big_binary);

    // A ping: its pong must carry the payload. duplex's stream answers pings but does not report
    // pongs, so the tap watches for it; it comes before the echo of the message sent after it.
    const std::string ping_payload = "duplex-client-ping \xe2\x9c\x93";
    std::error_code ec;
    co_await ws.async_ping(ping_payload, asio::redirect_error(use_awaitable, ec));
    if (ec) {
        fail("ping: " + ec.message());
    } else {
        bool seen = false;
        for (int round = 0; round < 3 && !seen; ++round) {
            if (!co_await echo(ws, opcode::text, "after the ping " + std::to_string(round), "message after the ping"))
                break;
            seen = ws.next_layer().in.saw(interop::op_pong, ping_payload);
        }
        check(seen, "pong with the ping's payload received", "no pong carried " + quoted(ping_payload));
    }
}

asio::awaitable<void> run(ws_stream& ws, const settings& s, const duplex::ws_url& url) {
    duplex::asio::stream_options options;
    options.engine.fragment_size = fragment_size;
    options.engine.max_message_size = big_size;
    // Compressed, 16 MiB of random bytes is a little more than 16 MiB on the wire, in one frame
    // from peers that do not fragment: the frame limit (on the wire) needs a margin.
    options.engine.max_frame_size = big_size + big_size / 16;
    // Room for a ping behind a queued 16 MiB message (see ping_during_message).
    options.engine.send_queue_limit = 2 * big_size;
    ws.set_options(options);
    duplex::client_handshake_options handshake;
    handshake.subprotocols = s.protocols;
    if (s.deflate)
        duplex::asio::enable_deflate(ws, handshake, *s.deflate);

    std::error_code ec;
    co_await duplex::asio::async_connect(ws, url, handshake, asio::redirect_error(use_awaitable, ec));
    if (ec) {
        fail("connect and handshake with " + s.url + ": " + ec.message());
        co_return;
    }
    ok("connected to " + s.url);
    std::string offered;
    for (const auto& p : s.protocols)
        offered += (offered.empty() ? "" : ",") + p;
    check(ws.subprotocol() == s.expect_protocol,
          "subprotocol " + quoted(s.expect_protocol) + " chosen from [" + offered + "]",
          "the server chose " + quoted(ws.subprotocol()));
    const std::string extensions = interop::header_value(ws.next_layer().in.head, "Sec-WebSocket-Extensions");
    if (s.expect_extensions)
        check(extensions == *s.expect_extensions, "the server answered Sec-WebSocket-Extensions: " + *s.expect_extensions,
              "it answered " + quoted(extensions));
    else if (s.deflate)
        check(extensions.rfind("permessage-deflate", 0) == 0,
              "the server agreed on permessage-deflate (" + extensions + ")", "it answered " + quoted(extensions));
    else
        check(extensions.empty(), "no extension agreed (none offered)", "the server answered " + quoted(extensions));

    if (s.server_close) {
        const auto& [code, reason] = *s.server_close;
        const duplex::message m = co_await ws.async_read(asio::redirect_error(use_awaitable, ec));
        if (!ec) {
            fail("expected the server's close, got a " + std::to_string(m.data.size()) + "-byte message");
            co_return;
        }
        check(ec == duplex::error::closed, "read ends with error::closed", ec.message());
        const auto got = static_cast<unsigned>(ws.received_close_code());
        check(got == code, "server's close code " + std::to_string(code) + " received",
              "received_close_code() is " + std::to_string(got));
        const auto closes = ws.next_layer().in.find(interop::op_close);
        if (check(closes.size() == 1, "one close frame from the server", std::to_string(closes.size()) + " seen"))
            check(closes[0]->close_code() == code && closes[0]->close_reason() == reason,
                  "server's close frame carries " + std::to_string(code) + " " + quoted(reason),
                  "it carries " + std::to_string(closes[0]->close_code()) + " " + quoted(closes[0]->close_reason()));
        co_return;
    }

    if (!s.handshake_only)
        co_await script(ws);

    co_await ws.async_close(static_cast<duplex::close_code>(s.close_code), s.close_reason,
                            asio::redirect_error(use_awaitable, ec));
    if (!check(!ec, "closed with " + std::to_string(s.close_code) + " " + quoted(s.close_reason), ec.message()))
        co_return;
    const auto got = static_cast<unsigned>(ws.received_close_code());
    check(got == s.close_code, "the server's close frame echoes code " + std::to_string(s.close_code),
          "it carries " + std::to_string(got));
}

// Checks made on the wire once everything is over: well-formed frames both ways, our pong to
// the server's ping, our echo of the server's close.
void wire_checks(ws_stream& ws, const settings& s) {
    const auto& in = ws.next_layer().in;
    const auto& out = ws.next_layer().out;
    check(in.error.empty(), "the server's frames are well-formed", in.error);
    check(out.error.empty(), "our frames are well-formed", out.error);
    if (!s.deflate)
        check(in.compressed_count() == 0 && out.compressed_count() == 0, "no message had RSV1 (no extension)");
    else if (!s.handshake_only && !s.server_close)
        check(in.compressed_count() == in.messages.size() && out.compressed_count() == out.messages.size(),
              "every message was compressed both ways (" + std::to_string(out.messages.size()) + " sent, " +
                  std::to_string(in.messages.size()) + " received)",
              std::to_string(out.compressed_count()) + " of " + std::to_string(out.messages.size()) + " sent, " +
                  std::to_string(in.compressed_count()) + " of " + std::to_string(in.messages.size()) +
                  " received");
    if (s.expect_ping) {
        check(in.saw(interop::op_ping, *s.expect_ping), "the server's ping " + quoted(*s.expect_ping) + " arrived");
        check(out.saw(interop::op_pong, *s.expect_ping), "we answered it with a pong carrying its payload");
    }
    if (s.server_close) {
        const auto closes = out.find(interop::op_close);
        check(closes.size() == 1 && closes[0]->close_code() == s.server_close->first,
              "we echoed the server's close code " + std::to_string(s.server_close->first),
              closes.empty() ? "no close frame sent" : "sent " + std::to_string(closes[0]->close_code()));
    }
}

void usage(const char* argv0) {
    std::fprintf(stderr,
                 "usage: %s URL [--protocols a,b] [--expect-protocol NAME] [--close CODE REASON]\n"
                 "          [--handshake-only] [--expect-server-close CODE REASON]\n"
                 "          [--expect-ping PAYLOAD] [--timeout SECONDS]\n"
                 "          [--deflate[=PARAMS]] [--expect-extensions TEXT]\n"
                 "  PARAMS: comma-separated server_no_context_takeover, client_no_context_takeover,\n"
                 "          server_max_window_bits=N, client_max_window_bits[=N] (one offer)\n",
                 argv0);
}

// "server_max_window_bits=9,client_no_context_takeover" -> one offer; false if malformed.
bool parse_deflate_offer(std::string_view text, duplex::deflate_options& o) {
    duplex::deflate_parameters p;
    if (!interop::parse_deflate_params(text, true, p))
        return false;
    o.offers = {p};
    return true;
}

bool parse_args(int argc, char** argv, settings& s) {
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        const bool one = i + 1 < argc, two = i + 2 < argc;
        if (arg == "--deflate")
            s.deflate.emplace();
        else if (arg.rfind("--deflate=", 0) == 0) {
            if (!parse_deflate_offer(std::string_view(arg).substr(10), s.deflate.emplace()))
                return false;
        } else if (arg == "--expect-extensions" && one)
            s.expect_extensions = argv[++i];
        else if (arg == "--protocols" && one)
            s.protocols = split_list(argv[++i]);
        else if (arg == "--expect-protocol" && one)
            s.expect_protocol = argv[++i];
        else if (arg == "--close" && two) {
            s.close_code = static_cast<unsigned>(std::strtoul(argv[++i], nullptr, 10));
            s.close_reason = argv[++i];
        } else if (arg == "--handshake-only")
            s.handshake_only = true;
        else if (arg == "--expect-server-close" && two) {
            const auto code = static_cast<unsigned>(std::strtoul(argv[++i], nullptr, 10));
            s.server_close.emplace(code, argv[++i]);
        } else if (arg == "--expect-ping" && one)
            s.expect_ping = argv[++i];
        else if (arg == "--timeout" && one)
            s.timeout_seconds = static_cast<unsigned>(std::strtoul(argv[++i], nullptr, 10));
        else if (arg.rfind("--", 0) != 0 && s.url.empty())
            s.url = arg;
        else
            return false;
    }
    return !s.url.empty();
}

} // namespace

int main(int argc, char** argv) {
    settings s;
    if (!parse_args(argc, argv, s)) {
        usage(argv[0]);
        return 2;
    }
    duplex::ws_url url;
    std::error_code ec;
    if (!duplex::parse_url(s.url, url, ec) || url.secure) {
        std::fprintf(stderr, "duplex_peer_client: %s: %s\n", s.url.c_str(),
                     ec ? ec.message().c_str() : "only ws:// URLs");
        return 2;
    }

    deflating = s.deflate.has_value();
    asio::io_context io;
    ws_stream ws(io.get_executor());
    asio::steady_timer deadline(io, std::chrono::seconds(s.timeout_seconds));
    deadline.async_wait([&](std::error_code e) {
        if (e)
            return;
        fail("still running after " + std::to_string(s.timeout_seconds) + " s: giving up");
        std::_Exit(1);
    });
    asio::co_spawn(io, run(ws, s, url), [&](std::exception_ptr e) {
        if (e) {
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& x) {
                fail(std::string("exception: ") + x.what());
            }
        }
        deadline.cancel();
    });
    io.run();
    wire_checks(ws, s);
    return failures == 0 ? 0 : 1;
}
