// Tests for include/duplex/core/engine.hpp: a client engine and a server engine talking through
// an in-memory pipe, cut into reads every way that matters.
#include "engine_pipe.hpp"

#include <duplex/core/engine.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

using namespace engine_pipe;
using duplex::client_engine;
using duplex::close_code;
using duplex::connection_state;
using duplex::error;
using duplex::opcode;
using duplex::server_engine;

namespace {

std::string pattern(std::size_t n, unsigned seed = 1) {
    std::string s(n, '\0');
    std::mt19937 rng(seed);
    for (auto& c : s)
        c = static_cast<char>('a' + rng() % 26);
    return s;
}

std::string binary_pattern(std::size_t n, unsigned seed = 2) {
    std::string s(n, '\0');
    std::mt19937 rng(seed);
    for (auto& c : s)
        c = static_cast<char>(rng());
    return s;
}

} // namespace

TEST_CASE("engine: messages of every boundary size travel both ways intact") {
    const std::size_t sizes[] = {0, 1, 125, 126, 127, 65535, 65536, 65537, 1 << 20};
    for (std::size_t size : sizes) {
        INFO("size " << size);
        client_engine client;
        server_engine server;
        std::error_code ec;
        const std::string t = pattern(size), b = binary_pattern(size);
        client.send_text(t, ec);
        REQUIRE_FALSE(ec);
        client.send_binary(b.data(), b.size(), ec);
        REQUIRE_FALSE(ec);
        const bytes wire = take_output(client);
        for (std::size_t read_size : {std::size_t(0), std::size_t(1000), std::size_t(7)}) {
            if (read_size == 7 && size > 65537)
                continue; // 7-byte reads of a 1 MiB message add nothing the smaller sizes miss
            server_engine s;
            const auto r = feed(s, wire, read_size == 0 ? whole() : every(read_size));
            REQUIRE_FALSE(r.ec);
            REQUIRE(r.events.size() == 2);
            CHECK(r.events[0] == text(t));
            CHECK(r.events[1] == binary(b));
        }
        // And back: the server's frames are unmasked, the client accepts them.
        server.send_text(t, ec);
        server.send_binary(b.data(), b.size(), ec);
        const auto r = transfer(server, client, every(3000));
        REQUIRE_FALSE(r.ec);
        REQUIRE(r.events.size() == 2);
        CHECK(r.events[0] == text(t));
        CHECK(r.events[1] == binary(b));
    }
}

TEST_CASE("engine: a 16 MiB message, the default limit, arrives whole - one byte more is refused") {
    const std::size_t limit = 16 * 1024 * 1024;
    client_engine client;
    std::error_code ec;
    const std::string big(limit, 'x');
    client.send_binary(big.data(), big.size(), ec);
    REQUIRE_FALSE(ec);
    server_engine server;
    auto r = transfer(client, server, every(65536));
    REQUIRE_FALSE(r.ec);
    REQUIRE(r.events.size() == 1);
    CHECK(r.events[0].data.size() == limit);
    CHECK((r.events[0].data == big)); // a bool: Catch would print 16 MiB on failure

    duplex::engine_options small;
    small.max_message_size = 1000;
    client_engine c2;
    server_engine s2(small);
    c2.send_binary(big.data(), 1001, ec);
    r = transfer(c2, s2);
    CHECK(r.ec == error::message_too_big);
    CHECK(s2.sent_close_code() == close_code::message_too_big);
}

TEST_CASE("engine: a mixed stream decodes identically however it is cut into reads") {
    duplex::engine_options fragmenting;
    fragmenting.fragment_size = 5;
    client_engine client(fragmenting);
    std::error_code ec;
    client.send_text("Hello, fragmented world", ec);           // 5 frames
    client.ping("are you there?", 14, ec);
    client.send_binary("\x00\x01\x02", 3, ec);
    client.begin_message(opcode::text, ec);
    client.send_part("\xce", 1, false, ec);                      // κ split inside its encoding
    client.ping("mid", 3, ec);                                   // a ping between fragments
    client.send_part("\xba and more", 10, false, ec);
    client.send_part("", 0, true, ec);                           // an empty final fragment
    client.pong("unsolicited", 11, ec);
    client.send_text("", ec);
    client.close(close_code::normal, "done", ec);
    REQUIRE_FALSE(ec);
    const bytes wire = take_output(client);
    const std::vector<received> expected = {
        text("Hello, fragmented world"), ping("are you there?"), binary(std::string("\x00\x01\x02", 3)),
        ping("mid"), text("\xce\xba and more"), pong("unsolicited"), text(""), closed(close_code::normal, "done")};

    SECTION("whole") {
        server_engine s;
        const auto r = feed(s, wire);
        CHECK_FALSE(r.ec);
        CHECK(r.events == expected);
    }
    SECTION("one byte at a time") {
        server_engine s;
        const auto r = feed(s, wire, every(1));
        CHECK_FALSE(r.ec);
        CHECK(r.events == expected);
    }
    SECTION("split in two at every position") {
        std::size_t mismatches = 0;
        for (std::size_t cut = 0; cut <= wire.size(); ++cut) {
            server_engine s;
            bool first = true;
            const auto r = feed(s, wire, [&](std::size_t left) {
                const std::size_t n = first ? std::min(cut, left) : left;
                first = false;
                return n == 0 ? left : n;
            });
            mismatches += r.ec || r.events != expected;
        }
        CHECK(mismatches == 0);
    }
}

TEST_CASE("engine: an unfragmented message is a view into the caller's buffer, unmasked in place") {
    client_engine client;
    std::error_code ec;
    client.send_text("zero copy", ec);
    bytes wire = take_output(client);
    server_engine server;
    duplex::event ev;
    const std::size_t used = server.read(wire.data(), wire.size(), ev, ec);
    CHECK(used == wire.size());
    REQUIRE(ev.type == duplex::event_type::message);
    CHECK(ev.data == "zero copy");
    const auto* p = reinterpret_cast<const unsigned char*>(ev.data.data());
    CHECK(p >= wire.data());
    CHECK(p + ev.data.size() == wire.data() + wire.size());
}

namespace {

// Feeds `wire` in reads cut by `cut` the way a glue that grows its buffer does with
// partial_frames::hold: unconsumed bytes stay buffered and the next read is appended to them.
// Counts message events that are not views into the buffer, and frames held with a
// frame_wanted() that does not exceed what is buffered (they were all there).
struct hold_result {
    read_result r;
    std::size_t copies = 0;     // messages delivered from the engine's own buffer
    std::size_t wrong_held = 0; // frames held though they were all there
};

template <class Engine>
hold_result feed_holding(Engine& e, const bytes& wire, const chunker& cut = whole()) {
    hold_result out;
    bytes buf;
    std::size_t pos = 0;
    for (;;) {
        std::size_t used = 0;
        while (used < buf.size()) {
            duplex::event ev;
            const std::size_t n = e.read(buf.data() + used, buf.size() - used, ev, out.r.ec, duplex::partial_frames::hold);
            if (ev) {
                out.r.events.push_back({ev.type, ev.op, std::string(ev.data), ev.code, ev.last});
                const auto* p = reinterpret_cast<const unsigned char*>(ev.data.data());
                if (ev.type == duplex::event_type::message && !ev.data.empty() &&
                    (p < buf.data() || p + ev.data.size() > buf.data() + buf.size()))
                    ++out.copies;
            }
            if (out.r.ec)
                return out;
            used += n;
            if (n == 0 && !ev) { // held: the frame must be more than what is buffered
                if (e.frame_wanted() <= buf.size() - used)
                    ++out.wrong_held;
                break;
            }
        }
        buf.erase(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(used));
        if (pos == wire.size())
            return out;
        const std::size_t n = cut(wire.size() - pos);
        buf.insert(buf.end(), wire.begin() + static_cast<std::ptrdiff_t>(pos),
                   wire.begin() + static_cast<std::ptrdiff_t>(pos + n));
        pos += n;
    }
}

} // namespace

TEST_CASE("engine: partial_frames::hold keeps an incomplete message frame in the caller's buffer") {
    client_engine client;
    std::error_code ec;
    duplex::event ev;
    const std::string text_1000 = pattern(1000);
    const auto frame_of = [&](const std::string& text) {
        client.send_text(text, ec);
        return take_output(client);
    };

    SECTION("held until whole, then a view") {
        bytes wire = frame_of(text_1000);
        REQUIRE(wire.size() == 8 + 1000); // 2 + 2 length bytes + 4 mask bytes
        server_engine server;
        CHECK(server.read(wire.data(), 500, ev, ec, duplex::partial_frames::hold) == 0);
        CHECK_FALSE(ev);
        CHECK_FALSE(ec);
        CHECK(server.frame_wanted() == wire.size());
        CHECK(server.read(wire.data(), 800, ev, ec, duplex::partial_frames::hold) == 0);
        CHECK(server.frame_wanted() == wire.size());
        CHECK(server.read(wire.data(), 500, ev, ec, duplex::partial_frames::hold) == 0); // nothing new
        CHECK(server.read(wire.data(), wire.size(), ev, ec, duplex::partial_frames::hold) == wire.size());
        REQUIRE(ev.type == duplex::event_type::message);
        CHECK(ev.data == text_1000);
        CHECK(reinterpret_cast<const unsigned char*>(ev.data.data()) == wire.data() + 8); // unmasked in place
        CHECK(server.frame_wanted() == 0);
    }
    SECTION("the held bytes may move, as a growing buffer moves them") {
        const bytes wire = frame_of(text_1000);
        server_engine server;
        bytes first(wire.begin(), wire.begin() + 600);
        CHECK(server.read(first.data(), first.size(), ev, ec, duplex::partial_frames::hold) == 0);
        bytes moved = first; // as checked so far: unmasked in place
        moved.insert(moved.end(), wire.begin() + 600, wire.end());
        first.assign(first.size(), 0xEE); // the old place is gone
        CHECK(server.read(moved.data(), moved.size(), ev, ec, duplex::partial_frames::hold) == moved.size());
        REQUIRE(ev.type == duplex::event_type::message);
        CHECK(ev.data == text_1000);
        CHECK(reinterpret_cast<const unsigned char*>(ev.data.data()) == moved.data() + 8);
    }
    SECTION("a header split across reads: the frame is taken and gathered") {
        bytes wire = frame_of(text_1000);
        server_engine server;
        CHECK(server.read(wire.data(), 7, ev, ec, duplex::partial_frames::hold) == 7);
        CHECK(server.frame_wanted() == 0);
        CHECK(server.read(wire.data() + 7, 500, ev, ec, duplex::partial_frames::hold) == 500);
        CHECK(server.read(wire.data() + 507, wire.size() - 507, ev, ec, duplex::partial_frames::hold) ==
              wire.size() - 507);
        REQUIRE(ev.type == duplex::event_type::message);
        CHECK(ev.data == text_1000);
    }
    SECTION("invalid UTF-8 fails as soon as it arrives, not when the frame is whole") {
        std::string bad = text_1000;
        bad[100] = '\xff';
        duplex::engine_options unchecked; // the client would refuse to send it
        unchecked.validate_outgoing_utf8 = false;
        client_engine sloppy(unchecked);
        sloppy.send_text(bad, ec);
        REQUIRE_FALSE(ec);
        bytes wire = take_output(sloppy);
        server_engine server;
        CHECK(server.read(wire.data(), 50, ev, ec, duplex::partial_frames::hold) == 0);
        CHECK_FALSE(ec);
        server.read(wire.data(), 300, ev, ec, duplex::partial_frames::hold);
        CHECK(ec == error::invalid_utf8);
        CHECK(server.sent_close_code() == close_code::invalid_payload);
        CHECK(server.frame_wanted() == 0);
    }
}

TEST_CASE("engine: partial_frames::hold takes what it cannot hold, and checks limits first") {
    std::error_code ec;
    duplex::event ev;
    SECTION("a message's first fragment is taken as it comes") {
        client_engine client;
        client.begin_message(opcode::binary, ec);
        client.send_part(binary_pattern(300).data(), 300, false, ec);
        bytes wire = take_output(client);
        server_engine server;
        CHECK(server.read(wire.data(), 100, ev, ec, duplex::partial_frames::hold) == 100);
        CHECK(server.frame_wanted() == 0);
    }
    SECTION("a control frame is taken as it comes") {
        client_engine client;
        client.ping("are you there?", 14, ec);
        bytes wire = take_output(client);
        server_engine server;
        CHECK(server.read(wire.data(), 10, ev, ec, duplex::partial_frames::hold) == 10);
        CHECK(server.read(wire.data() + 10, wire.size() - 10, ev, ec, duplex::partial_frames::hold) == wire.size() - 10);
        CHECK(ev.type == duplex::event_type::ping);
    }
    SECTION("stream_messages delivers pieces, holding nothing") {
        client_engine client;
        client.send_text(pattern(2000), ec);
        bytes wire = take_output(client);
        duplex::engine_options streaming;
        streaming.stream_messages = true;
        server_engine server(streaming);
        CHECK(server.read(wire.data(), 1000, ev, ec, duplex::partial_frames::hold) == 1000);
        CHECK(ev.type == duplex::event_type::message_part);
        CHECK(server.frame_wanted() == 0);
    }
    SECTION("a frame over max_message_size fails at its header, nothing held") {
        client_engine client;
        client.send_binary(binary_pattern(1000).data(), 1000, ec);
        bytes wire = take_output(client);
        duplex::engine_options small;
        small.max_message_size = 999;
        server_engine server(small);
        server.read(wire.data(), 100, ev, ec, duplex::partial_frames::hold);
        CHECK(ec == error::message_too_big);
        CHECK(server.frame_wanted() == 0);
        CHECK(server.sent_close_code() == close_code::message_too_big);
    }
}

TEST_CASE("engine: partial_frames::hold decodes a mixed stream like copy does, however it is cut") {
    duplex::engine_options fragmenting;
    fragmenting.fragment_size = 700;
    client_engine client(fragmenting);
    std::error_code ec;
    const std::string big = pattern(2000, 7), small = pattern(300, 8), fragmented = pattern(1500, 9);
    client.send_text(small, ec);
    client.ping("p", 1, ec);
    client.send_binary(big.data(), 600, ec);
    client.send_text(fragmented, ec); // 3 frames of at most 700
    client.send_text("", ec);
    client.send_text(small, ec);
    client.close(close_code::normal, "bye", ec);
    REQUIRE_FALSE(ec);
    const bytes wire = take_output(client);
    const std::vector<received> expected = {text(small), ping("p"), binary(big.substr(0, 600)),
                                            text(fragmented), text(""), text(small),
                                            closed(close_code::normal, "bye")};
    std::size_t mismatches = 0, wrong_held = 0;
    for (std::size_t step = 1; step <= wire.size(); step += step < 20 ? 1 : 97) {
        server_engine s;
        const hold_result r = feed_holding(s, wire, every(step));
        mismatches += r.r.ec || r.r.events != expected;
        wrong_held += r.wrong_held;
    }
    CHECK(mismatches == 0);
    CHECK(wrong_held == 0);
    // Read at once, only the fragmented message is gathered; every other one is a view.
    server_engine at_once;
    CHECK(feed_holding(at_once, wire).copies == 1);
    // A byte at a time, every header arrives split, so the engine takes each frame as it
    // comes: the fragmented message and the three non-empty unfragmented ones are gathered.
    server_engine bytewise;
    CHECK(feed_holding(bytewise, wire, every(1)).copies == 4);
}

TEST_CASE("engine: stream_messages delivers pieces as they arrive, views of the input") {
    duplex::engine_options streaming;
    streaming.stream_messages = true;
    duplex::engine_options fragmenting;
    fragmenting.fragment_size = 100;
    client_engine client(fragmenting);
    std::error_code ec;
    const std::string msg = pattern(1000);
    client.send_text(msg, ec);
    const bytes wire = take_output(client);

    server_engine server(streaming);
    const auto r = feed(server, wire, every(37));
    REQUIRE_FALSE(r.ec);
    std::string joined;
    std::size_t lasts = 0;
    for (const auto& e : r.events) {
        CHECK(e.type == duplex::event_type::message_part);
        CHECK(e.op == opcode::text);
        joined += e.data;
        lasts += e.last;
    }
    CHECK(joined == msg);
    CHECK(lasts == 1);
    CHECK(r.events.back().last);
    CHECK(r.events.size() > 10); // pieces, not one message

    // Text is still checked as it streams: invalid UTF-8 fails mid-message.
    client_engine c2;
    c2.begin_message(opcode::binary, ec); // binary, so the sender does not refuse the bytes
    c2.send_part("ok \xff", 4, true, ec);
    bytes bad = take_output(c2);
    bad[0] = static_cast<unsigned char>((bad[0] & 0xF0) | 0x1); // relabel it as text
    server_engine s2(streaming);
    const auto r2 = feed(s2, bad);
    CHECK(r2.ec == error::invalid_utf8);
}

TEST_CASE("engine: fragment_size splits outgoing messages into frames of at most that payload") {
    duplex::engine_options options;
    options.fragment_size = 10;
    server_engine server(options);
    std::error_code ec;
    server.send_binary(binary_pattern(35).data(), 35, ec);
    const bytes wire = take_output(server);
    // 4 frames: 10, 10, 10, 5 bytes, each with a 2-byte header; opcodes 2, 0, 0, 0; FIN on the last.
    REQUIRE(wire.size() == 35 + 4 * 2);
    CHECK(wire[0] == 0x02);
    CHECK(wire[1] == 10);
    CHECK(wire[12] == 0x00);
    CHECK(wire[24] == 0x00);
    CHECK(wire[36] == 0x80);
    CHECK(wire[37] == 5);
    client_engine client;
    const auto r = feed(client, wire);
    REQUIRE(r.events.size() == 1);
    CHECK(r.events[0] == binary(binary_pattern(35)));
}

TEST_CASE("engine: every ping is answered with its payload unless auto_pong is off") {
    client_engine client;
    server_engine server;
    std::error_code ec;
    for (int i = 0; i < 10; ++i)
        client.ping(std::to_string(i).data(), std::to_string(i).size(), ec);
    auto r = transfer(client, server);
    REQUIRE(r.events.size() == 10);
    r = transfer(server, client);
    REQUIRE(r.events.size() == 10); // Autobahn 2.10: all ten pongs, in order
    for (int i = 0; i < 10; ++i)
        CHECK(r.events[static_cast<std::size_t>(i)] == pong(std::to_string(i)));

    duplex::engine_options quiet;
    quiet.auto_pong = false;
    server_engine silent(quiet);
    client.ping("x", 1, ec);
    r = transfer(client, silent);
    CHECK(r.events.size() == 1);
    CHECK_FALSE(silent.wants_write());
}

TEST_CASE("engine: outgoing text must be UTF-8, checked across parts - binary is not checked") {
    client_engine client;
    std::error_code ec;
    client.send_text("bad \xc0\xaf", ec);
    CHECK(ec == error::invalid_utf8);
    CHECK_FALSE(client.wants_write());
    client.send_binary("\xc0\xaf", 2, ec);
    CHECK_FALSE(ec);

    client.begin_message(opcode::text, ec);
    client.send_part("\xe2\x82", 2, false, ec); // € split
    CHECK_FALSE(ec);
    client.send_part("\xac", 1, false, ec);
    CHECK_FALSE(ec);
    client.send_part("\xe2", 1, true, ec); // ends mid-character
    CHECK(ec == error::invalid_utf8);

    duplex::engine_options lax;
    lax.validate_outgoing_utf8 = false;
    client_engine trusting(lax);
    trusting.send_text("\xff", ec);
    CHECK_FALSE(ec);
}

TEST_CASE("engine: send calls check their arguments and the message in progress") {
    server_engine server;
    std::error_code ec;
    server.send(opcode::ping, "x", 1, ec);
    CHECK(ec == error::bad_opcode);
    server.send(opcode::continuation, "x", 1, ec);
    CHECK(ec == error::bad_opcode);
    const std::string long_ping(126, 'p');
    server.ping(long_ping.data(), long_ping.size(), ec);
    CHECK(ec == error::control_too_long);
    server.ping(long_ping.data(), 125, ec);
    CHECK_FALSE(ec);
    server.send_part("x", 1, true, ec);
    CHECK(ec == error::no_message_in_progress);
    server.begin_message(opcode::binary, ec);
    server.send_text("in between", ec);
    CHECK(ec == error::message_in_progress);
    server.begin_message(opcode::text, ec);
    CHECK(ec == error::message_in_progress);
    server.send_part("x", 1, true, ec);
    CHECK_FALSE(ec);
    server.send_text("now fine", ec);
    CHECK_FALSE(ec);
    server.close(close_code::no_status, "", ec); // a close frame without a code
    CHECK_FALSE(ec);
    server.close(static_cast<close_code>(1005), "", ec);
    CHECK(ec == error::close_sent);
    server_engine s2;
    s2.close(close_code::abnormal, "", ec);
    CHECK(ec == error::invalid_close_code);
    s2.close(close_code::normal, std::string(124, 'r'), ec);
    CHECK(ec == error::close_reason_too_long);
}

TEST_CASE("engine: a client masks every frame with a fresh key from its key source") {
    duplex::engine_options options;
    std::uint8_t next = 1;
    options.mask_source = [&] {
        const duplex::mask_key k = {next, static_cast<std::uint8_t>(next + 1), 0, 0};
        next = static_cast<std::uint8_t>(next + 2);
        return k;
    };
    client_engine client(options);
    std::error_code ec;
    client.send_text("ab", ec);
    client.send_text("cd", ec);
    const bytes wire = take_output(client);
    // 0x81, 0x82 (mask bit, length 2), key 01 02 00 00, payload 'a'^1 'b'^2; then key 03 04 00 00.
    const bytes expected = {0x81, 0x82, 1, 2, 0, 0, 'a' ^ 1, 'b' ^ 2, 0x81, 0x82, 3, 4, 0, 0, 'c' ^ 3, 'd' ^ 4};
    CHECK(wire == expected);

    // The default generator gives distinct keys.
    client_engine random_keys;
    for (int i = 0; i < 50; ++i)
        random_keys.send_text("", ec);
    const bytes frames = take_output(random_keys);
    std::vector<std::uint32_t> keys;
    for (std::size_t at = 0; at + 6 <= frames.size(); at += 6)
        keys.push_back(std::uint32_t(frames[at + 2]) << 24 | std::uint32_t(frames[at + 3]) << 16 |
                       std::uint32_t(frames[at + 4]) << 8 | frames[at + 5]);
    std::sort(keys.begin(), keys.end());
    CHECK(std::unique(keys.begin(), keys.end()) == keys.end());
    CHECK(keys.size() == 50);
}

TEST_CASE("engine: a borrowed payload is referenced by the server's output, not copied") {
    server_engine server;
    std::error_code ec;
    const std::string big(4096, 'b');
    server.send_binary(big.data(), big.size(), ec, duplex::payload_mode::borrow);
    const std::uint64_t end = server.queued_total();
    duplex::const_buffer out[4];
    REQUIRE(server.output(out, 4) == 2); // the header, then the caller's bytes
    CHECK(out[0].size == 4);
    CHECK(out[1].data == big.data());
    CHECK(out[1].size == big.size());
    server.consume(4 + 100);
    CHECK(server.written_total() < end);
    server.consume(big.size() - 100);
    CHECK(server.written_total() == end);
    // A small payload is copied even when borrowed: one buffer.
    server.send_binary(big.data(), 10, ec, duplex::payload_mode::borrow);
    CHECK(server.output(out, 4) == 1);
}

TEST_CASE("engine: backpressure policies apply once the send queue is over its limit") {
    duplex::engine_options options;
    options.send_queue_limit = 100;
    options.send_queue_resume = 40;
    const std::string chunk(60, 'x');
    std::error_code ec;

    SECTION("fail_send refuses until the queue drains below the resume mark") {
        server_engine server(options);
        server.send_text(chunk, ec);
        CHECK_FALSE(ec);
        server.send_text(chunk, ec); // the queue was under the limit: accepted, now over it
        CHECK_FALSE(ec);
        CHECK(server.backpressured());
        const std::size_t before = server.buffered_amount();
        server.send_text(chunk, ec);
        CHECK(ec == error::send_queue_full);
        CHECK(server.buffered_amount() == before);
        server.consume(62); // one frame written: 62 bytes left, above the resume mark
        CHECK(server.backpressured());
        server.consume(30);
        CHECK_FALSE(server.backpressured());
        server.send_text(chunk, ec);
        CHECK_FALSE(ec);
    }
    SECTION("drop discards and counts") {
        options.on_backpressure = duplex::backpressure_policy::drop;
        server_engine server(options);
        server.send_text(chunk, ec);
        server.send_text(chunk, ec);
        server.send_text(chunk, ec);
        CHECK_FALSE(ec);
        CHECK(server.dropped_messages() == 1);
    }
    SECTION("parts and pings are refused, never dropped, and can be retried") {
        options.on_backpressure = duplex::backpressure_policy::drop;
        server_engine server(options);
        server.begin_message(opcode::text, ec);
        server.send_part(chunk.data(), chunk.size(), false, ec);
        server.send_part(chunk.data(), chunk.size(), false, ec); // now over the limit
        CHECK_FALSE(ec);
        server.send_part("\xce", 1, false, ec); // the first byte of κ
        CHECK(ec == error::send_queue_full);
        server.ping("p", 1, ec);
        CHECK(ec == error::send_queue_full);
        CHECK(server.dropped_messages() == 0);
        bytes wire = take_output(server); // the peer reads: the queue drains
        server.send_part("\xce", 1, false, ec); // retried once the queue drained
        CHECK_FALSE(ec);
        server.send_part("\xff", 1, false, ec); // invalid: refused, the message state kept
        CHECK(ec == error::invalid_utf8);
        server.send_part("\xba", 1, true, ec); // κ completed
        CHECK_FALSE(ec);
        const bytes rest = take_output(server);
        wire.insert(wire.end(), rest.begin(), rest.end());
        client_engine client;
        const auto r = feed(client, wire);
        REQUIRE_FALSE(r.ec);
        REQUIRE(r.events.size() == 1);
        CHECK(r.events[0] == text(chunk + chunk + "\xce\xba"));
    }
    SECTION("close fails the connection with 1013") {
        options.on_backpressure = duplex::backpressure_policy::close;
        server_engine server(options);
        server.send_text(chunk, ec);
        server.send_text(chunk, ec);
        server.send_text(chunk, ec);
        CHECK(ec == error::send_queue_full);
        CHECK(server.state() == connection_state::closing);
        CHECK(server.sent_close_code() == close_code::try_again_later);
        client_engine client;
        const auto r = transfer(server, client);
        REQUIRE(r.events.size() == 3);
        CHECK(r.events[2] == closed(close_code::try_again_later, "send queue full"));
    }
}

namespace {

// A toy extension on RSV1: it "compresses" a message by reversing its bytes.
class reverse_extension final : public duplex::extension {
public:
    std::uint8_t rsv_bits() const noexcept override { return duplex::rsv1_bit; }
    std::error_code decode(std::uint8_t rsv, const unsigned char* data, std::size_t size, bool last,
                           duplex::extension_buffer& out, std::size_t limit) override {
        CHECK(rsv == duplex::rsv1_bit);
        pending_.insert(pending_.end(), data, data + size);
        if (!last)
            return {};
        if (pending_.size() > limit)
            return duplex::error::message_too_big;
        out.insert(out.end(), pending_.rbegin(), pending_.rend());
        pending_.clear();
        return {};
    }
    std::uint8_t encode(duplex::opcode, const unsigned char* data, std::size_t size,
                        duplex::extension_buffer& out, std::error_code&) override {
        if (size < 3)
            return 0; // too small to bother: sent as is
        out.assign(data, data + size);
        std::reverse(out.begin(), out.end());
        return duplex::rsv1_bit;
    }

private:
    std::vector<unsigned char> pending_;
};

} // namespace

TEST_CASE("engine: an extension transforms payloads and owns its RSV bit on first frames only") {
    client_engine client;
    server_engine server;
    client.set_extension(std::make_unique<reverse_extension>());
    server.set_extension(std::make_unique<reverse_extension>());
    std::error_code ec;
    client.send_text("hello extension", ec);
    client.send_text("hi", ec);
    bytes wire = take_output(client);
    CHECK((wire[0] & 0x40) != 0); // RSV1 on the transformed message
    auto r = feed(server, wire, every(3));
    REQUIRE_FALSE(r.ec);
    REQUIRE(r.events.size() == 2);
    CHECK(r.events[0] == text("hello extension"));
    CHECK(r.events[1] == text("hi"));

    // Fragmented: RSV1 only on the first frame.
    duplex::engine_options fragmenting;
    fragmenting.fragment_size = 4;
    server_engine s2(fragmenting);
    client_engine c2;
    s2.set_extension(std::make_unique<reverse_extension>());
    c2.set_extension(std::make_unique<reverse_extension>());
    s2.send_binary("0123456789", 10, ec);
    r = transfer(s2, c2, every(1));
    REQUIRE(r.events.size() == 1);
    CHECK(r.events[0] == binary("0123456789"));

    // Without the extension, RSV1 is a protocol error.
    server_engine plain;
    r = feed(plain, wire);
    CHECK(r.ec == error::reserved_bits);
    CHECK(plain.sent_close_code() == close_code::protocol_error);
}

TEST_CASE("mask_generator: the ChaCha20 block function matches RFC 8439 2.3.2") {
    // Key 00 01 .. 1f, nonce 00 00 00 09 00 00 00 4a 00 00 00 00, block counter 1, as
    // little-endian words. The serialized block begins 10 f1 e7 e4 d1 3b 59 15 50 0f dd 1f.
    const std::uint32_t key[8] = {0x03020100, 0x07060504, 0x0b0a0908, 0x0f0e0d0c,
                                  0x13121110, 0x17161514, 0x1b1a1918, 0x1f1e1d1c};
    const std::uint32_t nonce[3] = {0x09000000, 0x4a000000, 0x00000000};
    duplex::mask_generator g(key, nonce, 1);
    CHECK(g.next() == duplex::mask_key{0x10, 0xf1, 0xe7, 0xe4});
    CHECK(g.next() == duplex::mask_key{0xd1, 0x3b, 0x59, 0x15});
    CHECK(g.next() == duplex::mask_key{0x50, 0x0f, 0xdd, 0x1f});
    // The block's last four bytes: a2 50 3c 4e (checked with `openssl enc -chacha20` too).
    for (int i = 0; i < 12; ++i)
        g.next();
    CHECK(g.next() == duplex::mask_key{0xa2, 0x50, 0x3c, 0x4e});
    // The next key comes from block 2: the keystream continues.
    CHECK(g.next() != duplex::mask_key{0x10, 0xf1, 0xe7, 0xe4});
}
