// Tests for include/duplex/core/engine.hpp: how the receive path treats protocol violations
// (RFC 6455 §5, §7), as raw byte streams a peer might send, for both roles.
//
// Every input frame is written here byte by byte and masked with the test's own XOR loop; the
// engine's output is read back with the test's own frame parser. Expected events, errors and
// close codes come from the RFC, not from the code under test.
#include "engine_wire.hpp"

using namespace engine_wire;

namespace {

// ---- The table ---------------------------------------------------------------------------------

enum class roles { both, server_only, client_only };

struct violation_case {
    std::string name;
    std::vector<wire_frame> frames;
    std::vector<std::string> events; // delivered before the failure, in order
    std::error_code error;           // {}: the stream is valid
    std::vector<std::string> output; // frames the engine queues, as parse_frames spells them
    std::size_t max_frame = 0;       // engine_options limits; 0 keeps the default
    std::size_t max_message = 0;
    roles who = roles::both;
};

std::vector<violation_case> make_cases() {
    std::vector<violation_case> cases;
    const auto add = [&](std::string name, std::vector<wire_frame> frames, std::vector<std::string> events,
                         std::error_code ec, std::vector<std::string> output) -> violation_case& {
        violation_case c;
        c.name = std::move(name);
        c.frames = std::move(frames);
        c.events = std::move(events);
        c.error = ec;
        c.output = std::move(output);
        cases.push_back(std::move(c));
        return cases.back();
    };
    const std::vector<std::string> fail_1002 = {"close:1002"};
    const std::vector<std::string> fail_1007 = {"close:1007"};
    const std::vector<std::string> fail_1009 = {"close:1009"};
    const wire_frame hello = frame(FIN | TEXT, "Hello");

    // RFC 6455 §5.2: RSV1-3 MUST be 0 unless an extension defines them; "If a nonzero value is
    // received and none of the negotiated extensions defines the meaning of such a nonzero
    // value, the receiving endpoint MUST _Fail the WebSocket Connection_." The message before
    // it is still delivered first (Autobahn 3.x, strict ordering).
    add("valid text then RSV1 on text", {hello, frame(FIN | RSV1 | TEXT, "x")}, {"text:Hello"},
        error::reserved_bits, fail_1002);
    add("valid text then RSV2 on binary", {hello, frame(FIN | RSV2 | BINARY, "x")}, {"text:Hello"},
        error::reserved_bits, fail_1002);
    add("valid text then RSV3 on text", {hello, frame(FIN | RSV3 | TEXT, "x")}, {"text:Hello"},
        error::reserved_bits, fail_1002);
    add("RSV1+2+3 on a text frame", {frame(FIN | RSV1 | RSV2 | RSV3 | TEXT, "x")}, {},
        error::reserved_bits, fail_1002);
    add("RSV on an empty frame", {frame(FIN | RSV2 | TEXT)}, {}, error::reserved_bits, fail_1002);
    add("valid text then RSV1 on a ping", {hello, frame(FIN | RSV1 | PING, "p")}, {"text:Hello"},
        error::reserved_bits, fail_1002);
    add("RSV2 on a pong", {frame(FIN | RSV2 | PONG, "p")}, {}, error::reserved_bits, fail_1002);
    add("RSV3 on a close", {frame(FIN | RSV3 | CLOSE, close_payload(1000))}, {}, error::reserved_bits,
        fail_1002);
    add("RSV1 on a continuation", {frame(TEXT, "Hel"), frame(FIN | RSV1 | CONT, "lo")}, {},
        error::reserved_bits, fail_1002);

    // §5.2: opcodes 0x3-0x7 and 0xB-0xF are reserved; "If an unknown opcode is received, the
    // receiving endpoint MUST _Fail the WebSocket Connection_."
    for (std::uint8_t op : {0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF}) {
        add("valid text then reserved opcode " + std::to_string(op),
            {hello, frame(static_cast<std::uint8_t>(FIN | op), "reserved")}, {"text:Hello"},
            error::reserved_opcode, fail_1002);
        add("reserved opcode " + std::to_string(op) + ", empty, without FIN",
            {frame(op)}, {}, error::reserved_opcode, fail_1002);
    }
    add("reserved opcode inside a fragmented message",
        {frame(TEXT, "Hel"), frame(FIN | 0x5, "x"), frame(FIN | CONT, "lo")}, {}, error::reserved_opcode,
        fail_1002);

    // §5.5: "All control frames MUST have a payload length of 125 bytes or less and MUST NOT be
    // fragmented."
    add("ping without FIN", {frame(PING, "p")}, {}, error::fragmented_control, fail_1002);
    add("pong without FIN", {frame(PONG, "p")}, {}, error::fragmented_control, fail_1002);
    add("close without FIN", {frame(CLOSE, close_payload(1000))}, {}, error::fragmented_control, fail_1002);
    add("valid text then empty ping without FIN", {hello, frame(PING)}, {"text:Hello"},
        error::fragmented_control, fail_1002);
    add("ping without FIN inside a fragmented message",
        {frame(TEXT, "Hel"), frame(PING, "p"), frame(FIN | CONT, "lo")}, {}, error::fragmented_control,
        fail_1002);
    add("ping with 126 payload bytes", {frame(FIN | PING, repeat('a', 126))}, {}, error::control_too_long,
        fail_1002);
    add("pong with 126 payload bytes", {frame(FIN | PONG, repeat('a', 126))}, {}, error::control_too_long,
        fail_1002);
    add("close with 126 payload bytes (Autobahn 7.3.6)",
        {frame(FIN | CLOSE, close_payload(1000, std::string(124, '*')))}, {}, error::control_too_long,
        fail_1002);
    add("valid text then a ping claiming 2^16 bytes", {hello, header_only(FIN | PING, 0x10000)},
        {"text:Hello"}, error::control_too_long, fail_1002);
    add("ping with 125 payload bytes is fine", {frame(FIN | PING, repeat('a', 125))},
        {"ping:" + std::string(125, 'a')}, {}, {"pong:" + std::string(125, 'a')});

    // §5.4: a continuation needs a message to continue, and a message's fragments may not be
    // interleaved with another message's; control frames MAY be injected between fragments.
    add("continuation without a start", {frame(FIN | CONT, "x")}, {}, error::unexpected_continuation,
        fail_1002);
    add("continuation without FIN and without a start", {frame(CONT, "x")}, {},
        error::unexpected_continuation, fail_1002);
    add("valid text then a continuation", {hello, frame(FIN | CONT, "x")}, {"text:Hello"},
        error::unexpected_continuation, fail_1002);
    add("finished fragmented message then a continuation",
        {frame(TEXT, "Hel"), frame(FIN | CONT, "lo"), frame(CONT, "again")}, {"text:Hello"},
        error::unexpected_continuation, fail_1002);
    add("new text frame inside a fragmented text message", {frame(TEXT, "Hel"), frame(FIN | TEXT, "lo")},
        {}, error::expected_continuation, fail_1002);
    add("new binary frame inside a fragmented text message", {frame(TEXT, "Hel"), frame(BINARY, "lo")},
        {}, error::expected_continuation, fail_1002);
    add("new text frame inside a fragmented binary message",
        {frame(BINARY, "ab"), frame(CONT, "cd"), frame(FIN | TEXT, "ef")}, {}, error::expected_continuation,
        fail_1002);
    add("ping between fragments is fine",
        {frame(TEXT, "Hel"), frame(FIN | PING, "ping"), frame(FIN | CONT, "lo")},
        {"ping:ping", "text:Hello"}, {}, {"pong:ping"});
    add("pong between fragments is fine",
        {frame(BINARY, "Hel"), frame(FIN | PONG, "pong"), frame(CONT, ""), frame(FIN | CONT, "lo")},
        {"pong:pong", "binary:Hello"}, {}, {});
    add("empty fragments are fine", {frame(TEXT), frame(CONT), frame(FIN | CONT, "ok")}, {"text:ok"}, {}, {});

    // §5.5.1: a close payload is empty or starts with a 2-byte code; §7.4.1/7.4.2 say which
    // codes may be sent; §7.1.6 the reason is UTF-8, and §8.1 bad UTF-8 fails with 1007.
    add("close with a 1-byte payload", {frame(FIN | CLOSE, bytes{0x03})}, {}, error::close_payload_one_byte,
        fail_1002);
    for (unsigned code : {0u, 999u, 1004u, 1005u, 1006u, 1015u, 1016u, 1100u, 2000u, 2999u, 5000u, 65535u})
        add("close with invalid code " + std::to_string(code),
            {frame(FIN | CLOSE, close_payload(static_cast<std::uint16_t>(code), "x"))}, {},
            error::invalid_close_code, fail_1002);
    add("valid text then close with code 1005", {hello, frame(FIN | CLOSE, close_payload(1005))},
        {"text:Hello"}, error::invalid_close_code, fail_1002);
    // Autobahn 7.5.1: "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited" (a surrogate).
    add("close with an invalid UTF-8 reason (Autobahn 7.5.1)",
        {frame(FIN | CLOSE, close_payload(1000, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"
                                                "edited"))},
        {}, error::close_reason_utf8, fail_1007);
    add("close whose reason ends mid-character", {frame(FIN | CLOSE, close_payload(1001, "ok\xe2\x82"))}, {},
        error::close_reason_utf8, fail_1007);
    for (unsigned code : {1000u, 1001u, 1002u, 1003u, 1007u, 1008u, 1009u, 1010u, 1011u, 1012u, 1013u,
                          1014u, 3000u, 3999u, 4000u, 4999u})
        add("close with valid code " + std::to_string(code),
            {frame(FIN | CLOSE, close_payload(static_cast<std::uint16_t>(code)))},
            {"close:" + std::to_string(code) + ":"}, {}, {"close:" + std::to_string(code)});
    add("close 1000 \"bye\", then data that must be ignored",
        {frame(FIN | CLOSE, close_payload(1000, "bye")), frame(FIN | TEXT, "after"), frame(FIN | PING, "p")},
        {"close:1000:bye"}, {}, {"close:1000"});
    add("empty close gives 1005 and an empty echo", {frame(FIN | CLOSE), frame(FIN | PING, "p")},
        {"close:1005:"}, {}, {"close:"});
    add("close with a 123-byte reason", {frame(FIN | CLOSE, close_payload(1000, std::string(123, 'r')))},
        {"close:1000:" + std::string(123, 'r')}, {}, {"close:1000"});
    add("close with a bad code after a ping", {frame(FIN | PING, "p"), frame(FIN | CLOSE, close_payload(999))},
        {"ping:p"}, error::invalid_close_code, {"pong:p", "close:1002"});

    // §8.1: text must be UTF-8; "When an endpoint is to interpret a byte stream as UTF-8 but
    // finds that the byte stream is not, in fact, a valid UTF-8 stream, that endpoint MUST
    // _Fail the WebSocket Connection_" (close 1007, §7.4.1).
    add("text with a surrogate (Autobahn 6.3.1)",
        {frame(FIN | TEXT, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80" "edited")}, {},
        error::invalid_utf8, fail_1007);
    add("text with 0xff", {frame(FIN | TEXT, "ab\xff")}, {}, error::invalid_utf8, fail_1007);
    add("text with an overlong NUL", {frame(FIN | TEXT, "\xc0\x80")}, {}, error::invalid_utf8, fail_1007);
    add("text above U+10FFFF", {frame(FIN | TEXT, "\xf4\x90\x80\x80")}, {}, error::invalid_utf8, fail_1007);
    add("valid text then invalid text", {hello, frame(FIN | TEXT, "\x80")}, {"text:Hello"},
        error::invalid_utf8, fail_1007);
    add("invalid UTF-8 split across two fragments (overlong E0 80 80)",
        {frame(TEXT, "abc\xe0"), frame(FIN | CONT, "\x80\x80")}, {}, error::invalid_utf8, fail_1007);
    add("invalid UTF-8 split across two fragments (surrogate ED A0 80)",
        {frame(TEXT, "\xed"), frame(CONT, "\xa0"), frame(FIN | CONT, "\x80")}, {}, error::invalid_utf8,
        fail_1007);
    add("final fragment ends mid-character", {frame(TEXT, "abc"), frame(FIN | CONT, "\xe2\x82")}, {},
        error::invalid_utf8, fail_1007);
    add("empty final fragment after a cut character", {frame(TEXT, "\xe2\x82"), frame(FIN | CONT)}, {},
        error::invalid_utf8, fail_1007);
    add("unfragmented text ends mid-character", {frame(FIN | TEXT, "\xf0\x9f\x98")}, {}, error::invalid_utf8,
        fail_1007);
    add("a character split across fragments is fine",
        {frame(TEXT, "\xf0\x9f"), frame(CONT, "\x98"), frame(FIN | CONT, "\x80")}, {"text:\\xf0\\x9f\\x98\\x80"},
        {}, {});
    add("binary is not UTF-8 checked", {frame(FIN | BINARY, "\xff\xfe\xc0\x80")},
        {"binary:\\xff\\xfe\\xc0\\x80"}, {}, {});
    // Fail fast (Autobahn 6.4.x): the invalid byte fails the connection before the rest arrives.
    add("fail fast: text frame cut just past an invalid byte in its first half",
        {truncated(FIN | TEXT,
                   b("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80" "edited edited edited"), 13)},
        {}, error::invalid_utf8, fail_1007);
    add("fail fast: 0xff first in a 64-byte text frame, nothing after it",
        {truncated(FIN | TEXT, cat_bytes(bytes{0xff}, repeat('a', 63)), 1)}, {}, error::invalid_utf8, fail_1007);
    add("fail fast: second fragment cut just past an invalid byte (Autobahn 6.4.1)",
        {frame(TEXT, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"),
         truncated(CONT, b("\xf4\x90\x80\x80" "edited"), 2)},
        {}, error::invalid_utf8, fail_1007);

    // §5.1: "a client MUST mask all frames that it sends to the server ... The server MUST
    // close the connection upon receiving a frame that is not masked" and "A client MUST close
    // a connection if it detects a masked frame." §7.4.1 gives 1002 for protocol errors.
    add("unmasked text to a server", {wrong_mask(hello)}, {}, error::unmasked_frame, fail_1002).who =
        roles::server_only;
    add("valid text then an unmasked ping to a server", {hello, wrong_mask(frame(FIN | PING, "p"))},
        {"text:Hello"}, error::unmasked_frame, fail_1002)
        .who = roles::server_only;
    add("masked text to a client", {wrong_mask(hello)}, {}, error::masked_frame, fail_1002).who =
        roles::client_only;
    add("valid text then a masked close to a client", {hello, wrong_mask(frame(FIN | CLOSE, close_payload(1000)))},
        {"text:Hello"}, error::masked_frame, fail_1002)
        .who = roles::client_only;

    // §5.2: "the most significant bit MUST be 0" in the 64-bit length; "the minimal number of
    // bytes MUST be used to encode the length".
    add("64-bit length with the top bit set", {header_only(FIN | BINARY, 0x8000000000000000ull)}, {},
        error::length_high_bit, fail_1002);
    add("valid text then a 64-bit length of all ones", {hello, header_only(FIN | TEXT, ~0ull)},
        {"text:Hello"}, error::length_high_bit, fail_1002);
    add("16-bit length encoding 5", {with_form(hello, len_form::force16)}, {}, error::non_minimal_length,
        fail_1002);
    add("16-bit length encoding 0", {with_form(frame(FIN | BINARY), len_form::force16)}, {},
        error::non_minimal_length, fail_1002);
    add("16-bit length encoding 125", {with_form(frame(FIN | BINARY, repeat('z', 125)), len_form::force16)}, {},
        error::non_minimal_length, fail_1002);
    add("64-bit length encoding 125", {with_form(frame(FIN | BINARY, repeat('z', 125)), len_form::force64)}, {},
        error::non_minimal_length, fail_1002);
    add("64-bit length encoding 0xffff", {header_only(FIN | BINARY, 0xFFFF, len_form::force64)}, {},
        error::non_minimal_length, fail_1002);
    add("valid text then a 64-bit length encoding 0", {hello, with_form(frame(FIN | TEXT), len_form::force64)},
        {"text:Hello"}, error::non_minimal_length, fail_1002);
    add("16-bit length 126 is minimal", {frame(FIN | BINARY, repeat('z', 126))},
        {"binary:" + std::string(126, 'z')}, {}, {});

    // Limits (engine_options): §7.4.1 1009, "a message that is too big for it to process".
    // Only the header arrives: the engine must decide from the header alone.
    add("frame over max_frame_size (16): header only", {header_only(FIN | TEXT, 17)}, {}, error::frame_too_big,
        fail_1009)
        .max_frame = 16;
    add("valid text then a frame over max_frame_size: header only", {hello, header_only(FIN | BINARY, 17)},
        {"text:Hello"}, error::frame_too_big, fail_1009)
        .max_frame = 16;
    add("continuation over max_frame_size: header only", {frame(TEXT, "12345678"), header_only(FIN | CONT, 17)},
        {}, error::frame_too_big, fail_1009)
        .max_frame = 16;
    add("16-bit length over max_frame_size (1000): header only", {header_only(FIN | BINARY, 1001)}, {},
        error::frame_too_big, fail_1009)
        .max_frame = 1000;
    add("64-bit length over max_frame_size (1000): header only", {header_only(FIN | BINARY, 0x10000)}, {},
        error::frame_too_big, fail_1009)
        .max_frame = 1000;
    add("largest 64-bit length, default limits: header only", {header_only(FIN | BINARY, 0x7FFFFFFFFFFFFFFFull)},
        {}, error::frame_too_big, fail_1009);
    add("frame of exactly max_frame_size (16) is fine", {frame(FIN | TEXT, repeat('f', 16))},
        {"text:" + std::string(16, 'f')}, {}, {})
        .max_frame = 16;
    add("message over max_message_size (20) in three fragments: last header only",
        {frame(TEXT, repeat('a', 8)), frame(CONT, repeat('b', 8)), header_only(FIN | CONT, 5)}, {},
        error::message_too_big, fail_1009)
        .max_message = 20;
    add("message over max_message_size (20), ping between fragments",
        {frame(BINARY, repeat('a', 10)), frame(FIN | PING, "p"), header_only(CONT, 11)}, {"ping:p"},
        error::message_too_big, {"pong:p", "close:1009"})
        .max_message = 20;
    add("unfragmented message over max_message_size (20): header only", {header_only(FIN | TEXT, 21)}, {},
        error::message_too_big, fail_1009)
        .max_message = 20;
    add("message of exactly max_message_size (20) in three fragments is fine",
        {frame(TEXT, repeat('a', 8)), frame(CONT, repeat('b', 8)), frame(FIN | CONT, "cccc")},
        {"text:aaaaaaaabbbbbbbbcccc"}, {}, {})
        .max_message = 20;
    add("two messages of max_message_size (20) each are fine",
        {frame(TEXT, repeat('a', 10)), frame(FIN | CONT, repeat('b', 10)), frame(FIN | BINARY, repeat('c', 20))},
        {"text:aaaaaaaaaabbbbbbbbbb", "binary:cccccccccccccccccccc"}, {}, {})
        .max_message = 20;

    // Plain valid streams, so every split of a message is exercised too.
    add("two text messages", {hello, frame(FIN | TEXT, "World")}, {"text:Hello", "text:World"}, {}, {});
    add("an empty text and an empty binary message", {frame(FIN | TEXT), frame(FIN | BINARY)},
        {"text:", "binary:"}, {}, {});
    return cases;
}

// What one pass over a stream gave.
struct outcome {
    std::vector<std::string> events;
    std::error_code ec;
    std::vector<std::string> output;
    std::vector<std::string> problems; // breaches of read()'s contract and of the closed state
};

// The close code the last expected output frame carries: 0 if the case sends no close.
unsigned expected_sent_code(const violation_case& c) {
    if (c.output.empty() || c.output.back().rfind("close:", 0) != 0)
        return 0;
    const std::string digits = c.output.back().substr(6);
    return digits.empty() ? 1005u : static_cast<unsigned>(std::stoul(digits));
}

template <duplex::role R>
outcome run(const violation_case& c, const bytes& stream, const std::vector<std::size_t>& cuts) {
    duplex::engine_options options;
    if (c.max_frame)
        options.max_frame_size = c.max_frame;
    if (c.max_message)
        options.max_message_size = c.max_message;
    duplex::engine<R> e(options);
    outcome o;

    std::size_t start = 0;
    for (std::size_t k = 0; k <= cuts.size(); ++k) {
        const std::size_t stop = k < cuts.size() ? cuts[k] : stream.size();
        bytes piece(stream.begin() + static_cast<std::ptrdiff_t>(start),
                    stream.begin() + static_cast<std::ptrdiff_t>(stop));
        start = stop;
        std::size_t off = 0;
        for (int guard = 0; off < piece.size(); ++guard) {
            if (guard > 10000) {
                o.problems.push_back("read() loops without finishing a piece");
                break;
            }
            duplex::event ev;
            std::error_code ec;
            const std::size_t n = e.read(piece.data() + off, piece.size() - off, ev, ec);
            if (n > piece.size() - off) {
                o.problems.push_back("read() returned more than it was given");
                break;
            }
            if (ev && ec)
                o.problems.push_back("one read() gave both an event and an error");
            if (ev)
                o.events.push_back((o.ec ? "AFTER ERROR " : "") + describe(ev));
            if (ec) {
                if (o.ec)
                    o.problems.push_back("a second error: " + describe(ec));
                else
                    o.ec = ec;
            }
            if (n == 0 && !ev && !ec) {
                o.problems.push_back("read() used nothing and reported nothing");
                break;
            }
            off += n;
        }
    }
    o.output = parse_frames(take_output(e), R == duplex::role::client);

    const bool peer_closed = !c.events.empty() && c.events.back().rfind("close:", 0) == 0;
    if (!c.error && !peer_closed) {
        if (e.state() != duplex::connection_state::open)
            o.problems.push_back("a valid stream left the engine not open");
        return o;
    }

    // Closed, whether failed or closed by the peer: §7.1.7 "MUST NOT continue to attempt to
    // process data (including a responding Close frame) from the remote endpoint", and §5.5.1
    // "after sending a Close frame, the endpoint MUST NOT send any more data frames".
    if (e.state() != duplex::connection_state::closed)
        o.problems.push_back("not closed after the stream");
    if (c.error && e.error() != c.error)
        o.problems.push_back("error() is " + describe(e.error()));
    if (static_cast<unsigned>(e.sent_close_code()) != expected_sent_code(c))
        o.problems.push_back("sent_close_code() is " + std::to_string(static_cast<unsigned>(e.sent_close_code())));
    bytes late = stream_for(R, {frame(FIN | TEXT, "late"), frame(FIN | PING, "late"), frame(FIN | CLOSE)});
    duplex::event ev;
    std::error_code ec;
    const std::size_t n = e.read(late.data(), late.size(), ev, ec);
    if (n != late.size() || ev || ec)
        o.problems.push_back("input after closing was not ignored");
    e.send_text("x", ec);
    if (ec != error::closed)
        o.problems.push_back("send_text after closing: " + describe(ec));
    const std::uint8_t bin[2] = {1, 2};
    e.send_binary(bin, 2, ec);
    if (ec != error::closed)
        o.problems.push_back("send_binary after closing: " + describe(ec));
    e.ping(bin, 2, ec);
    if (ec != error::closed)
        o.problems.push_back("ping after closing: " + describe(ec));
    e.close(duplex::close_code::normal, "", ec);
    if (ec != error::closed)
        o.problems.push_back("close after closing: " + describe(ec));
    if (e.wants_write())
        o.problems.push_back("something was queued after closing: " + show(take_output(e)));
    if (e.state() != duplex::connection_state::closed)
        o.problems.push_back("not closed after the late calls");
    return o;
}

bool same(const violation_case& c, const outcome& o) {
    return o.events == c.events && o.ec == c.error && o.output == c.output && o.problems.empty();
}

void check(const violation_case& c, const outcome& o) {
    CHECK(o.events == c.events);
    CHECK(describe(o.ec) == describe(c.error));
    CHECK(o.output == c.output);
    CHECK(o.problems == std::vector<std::string>{});
}

// Feeds the case's stream whole, a byte at a time, and cut in two at every position. Reports
// the first failing cut of each kind only, to keep the output readable.
template <duplex::role R>
void run_table() {
    const bool server = R == duplex::role::server;
    for (const violation_case& c : make_cases()) {
        if ((c.who == roles::server_only && !server) || (c.who == roles::client_only && server))
            continue;
        const bytes stream = stream_for(R, c.frames);
        INFO("case: " << c.name << " (" << (server ? "server" : "client") << " engine, stream "
                      << show(stream) << ")");
        {
            INFO("fed whole");
            check(c, run<R>(c, stream, {}));
        }
        {
            std::vector<std::size_t> cuts;
            for (std::size_t i = 1; i < stream.size(); ++i)
                cuts.push_back(i);
            INFO("fed one byte at a time");
            check(c, run<R>(c, stream, cuts));
        }
        std::size_t bad = 0;
        for (std::size_t i = 1; i < stream.size(); ++i) {
            const outcome o = run<R>(c, stream, {i});
            if (!same(c, o) && bad++ == 0) {
                INFO("cut into two reads at byte " << i);
                check(c, o);
            }
        }
        INFO("cuts (of " << (stream.size() > 0 ? stream.size() - 1 : 0) << ") that gave another outcome");
        CHECK(bad == 0);
    }
}

} // namespace

TEST_CASE("engine violations: the test's frame encoder reproduces RFC 6455 5.7's examples") {
    // "A single-frame unmasked text message": 0x81 0x05 0x48 0x65 0x6c 0x6c 0x6f.
    CHECK(encode(frame(FIN | TEXT, "Hello"), false, 0) == bytes{0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f});
    // "A single-frame masked text message": 0x81 0x85 0x37 0xfa 0x21 0x3d 0x7f 0x9f 0x4d 0x51 0x58.
    CHECK(encode(frame(FIN | TEXT, "Hello"), true, 0) ==
          bytes{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58});
    // "A fragmented unmasked text message": 0x01 0x03 0x48 0x65 0x6c, 0x80 0x02 0x6c 0x6f.
    CHECK(stream_for(duplex::role::client, {frame(TEXT, "Hel"), frame(FIN | CONT, "lo")}) ==
          bytes{0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f});
    // "Unmasked Ping request": 0x89 0x05 0x48 0x65 0x6c 0x6c 0x6f.
    CHECK(encode(frame(FIN | PING, "Hello"), false, 0) == bytes{0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f});
    // "256 bytes binary message in a single unmasked frame": 0x82 0x7E 0x0100 [256 bytes].
    const bytes b256 = encode(frame(FIN | BINARY, repeat(7, 256)), false, 0);
    CHECK(b256.size() == 4 + 256);
    CHECK(bytes(b256.begin(), b256.begin() + 4) == bytes{0x82, 0x7e, 0x01, 0x00});
    // "64KiB binary message in a single unmasked frame": 0x82 0x7F 0x0000000000010000.
    CHECK(encode(header_only(FIN | BINARY, 65536), false, 0) ==
          bytes{0x82, 0x7f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00});
    // And the parser reads them back, unmasking.
    CHECK(parse_frames(encode(frame(FIN | TEXT, "Hello"), true, 0), true) == std::vector<std::string>{"text:Hello"});
    CHECK(parse_frames(encode(frame(FIN | CLOSE, close_payload(1002, "x")), false, 1), false) ==
          std::vector<std::string>{"close:1002"});
    CHECK(parse_frames(encode(frame(FIN | CLOSE), true, 2), false) == std::vector<std::string>{"MASKED close:"});
}

TEST_CASE("engine violations: a server_engine fails each bad client stream the same way however it is cut") {
    run_table<duplex::role::server>();
}

TEST_CASE("engine violations: a client_engine fails each bad server stream the same way however it is cut") {
    run_table<duplex::role::client>();
}
