// Tests for include/duplex/core/engine.hpp: what the engine does around a failure or a close
// (the state after it, the echo, limits, fail-fast UTF-8), with frames built by hand.
#include "engine_wire.hpp"

using namespace engine_wire;

TEST_CASE("engine violations: an unfragmented message cut across two reads is delivered whole") {
    // RFC 6455 §5.6: the message is the frame's whole payload. A minimal case of what the table
    // checks at every cut: "Hello" in one frame, its payload split 2 + 3 over two reads.
    duplex::client_engine client;
    bytes in = {0x81, 0x05, 'H', 'e', 'l', 'l', 'o'};
    duplex::event ev;
    std::error_code ec;
    CHECK(client.read(in.data(), 4, ev, ec) == 4);
    CHECK_FALSE(ev);
    CHECK_FALSE(ec);
    CHECK(client.read(in.data() + 4, 3, ev, ec) == 3);
    CHECK(ev.type == duplex::event_type::message);
    CHECK(ev.data == "Hello");

    duplex::server_engine server;
    bytes masked = encode(frame(FIN | BINARY, "abcdef"), true, 1);
    CHECK(server.read(masked.data(), 7, ev, ec) == 7); // header and 1 payload byte
    CHECK_FALSE(ev);
    CHECK(server.read(masked.data() + 7, masked.size() - 7, ev, ec) == masked.size() - 7);
    CHECK(ev.type == duplex::event_type::message);
    CHECK(ev.data == "abcdef");
}

TEST_CASE("engine violations: after a violation the engine is closed, ignores input and refuses to send") {
    duplex::server_engine e;
    bytes in = stream_for(duplex::role::server, {frame(FIN | TEXT, "Hello"), frame(FIN | RSV1 | TEXT, "x")});
    duplex::event ev;
    std::error_code ec;
    std::size_t n = e.read(in.data(), in.size(), ev, ec);
    REQUIRE(ev.type == duplex::event_type::message);
    CHECK(ev.data == "Hello");
    CHECK_FALSE(ec);
    CHECK(e.state() == duplex::connection_state::open);
    e.read(in.data() + n, in.size() - n, ev, ec);
    CHECK_FALSE(ev);
    CHECK(ec == error::reserved_bits);
    CHECK(e.error() == error::reserved_bits);
    CHECK(e.state() == duplex::connection_state::closed);
    CHECK(e.sent_close_code() == duplex::close_code::protocol_error);
    CHECK(parse_frames(take_output(e), false) == std::vector<std::string>{"close:1002"});

    bytes more = stream_for(duplex::role::server, {frame(FIN | TEXT, "more"), frame(FIN | PING, "p")});
    CHECK(e.read(more.data(), more.size(), ev, ec) == more.size());
    CHECK_FALSE(ev);
    CHECK_FALSE(ec);
    e.send_text("x", ec);
    CHECK(ec == error::closed);
    e.send_binary("x", 1, ec);
    CHECK(ec == error::closed);
    e.pong(nullptr, 0, ec);
    CHECK(ec == error::closed);
    CHECK_FALSE(e.wants_write());
}

TEST_CASE("engine violations: the peer's close is reported and echoed with its code") {
    SECTION("server: close 1000 \"bye\", then data that is ignored") {
        duplex::server_engine e;
        bytes in = stream_for(duplex::role::server,
                              {frame(FIN | CLOSE, close_payload(1000, "bye")), frame(FIN | TEXT, "late")});
        duplex::event ev;
        std::error_code ec;
        const std::size_t n = e.read(in.data(), in.size(), ev, ec);
        CHECK_FALSE(ec);
        REQUIRE(ev.type == duplex::event_type::close);
        CHECK(ev.code == duplex::close_code::normal);
        CHECK(ev.data == "bye");
        CHECK(e.received_close_code() == duplex::close_code::normal);
        CHECK(e.state() == duplex::connection_state::closed);
        // §5.5.1: the reply "typically echos the status code it received".
        CHECK(parse_frames(take_output(e), false) == std::vector<std::string>{"close:1000"});
        CHECK(e.read(in.data() + n, in.size() - n, ev, ec) == in.size() - n);
        CHECK_FALSE(ev);
        CHECK_FALSE(ec);
        e.send_text("x", ec);
        CHECK(ec == error::closed);
        CHECK_FALSE(e.wants_write());
    }
    SECTION("client: close 1000 \"bye\"; the echo is masked") {
        duplex::client_engine e;
        bytes in = stream_for(duplex::role::client, {frame(FIN | CLOSE, close_payload(1000, "bye"))});
        duplex::event ev;
        std::error_code ec;
        CHECK(e.read(in.data(), in.size(), ev, ec) == in.size());
        REQUIRE(ev.type == duplex::event_type::close);
        CHECK(ev.code == duplex::close_code::normal);
        CHECK(ev.data == "bye");
        CHECK(parse_frames(take_output(e), true) == std::vector<std::string>{"close:1000"});
    }
    SECTION("an empty close gives 1005, and the echo is empty too") {
        duplex::server_engine e;
        bytes in = {0x88, 0x80, 0x11, 0x22, 0x33, 0x44}; // masked close, no payload
        duplex::event ev;
        std::error_code ec;
        CHECK(e.read(in.data(), in.size(), ev, ec) == in.size());
        REQUIRE(ev.type == duplex::event_type::close);
        CHECK(ev.code == duplex::close_code::no_status);
        CHECK(ev.data.empty());
        CHECK(e.received_close_code() == duplex::close_code::no_status);
        CHECK(take_output(e) == bytes{0x88, 0x00}); // §5.5.1: an unmasked close, no body
    }
}

TEST_CASE("engine violations: after our own close, a violation or the peer's close queues no second close") {
    // §5.5.1: once an endpoint has sent a close frame it sends no further close frame.
    duplex::server_engine e;
    std::error_code ec;
    e.close(duplex::close_code::going_away, "bye", ec);
    REQUIRE_FALSE(ec);
    CHECK(parse_frames(take_output(e), false) == std::vector<std::string>{"close:1001"});
    CHECK(e.state() == duplex::connection_state::closing);

    SECTION("a violation") {
        bytes in = stream_for(duplex::role::server, {frame(FIN | 0x3, "x")});
        duplex::event ev;
        e.read(in.data(), in.size(), ev, ec);
        CHECK(ec == error::reserved_opcode);
        CHECK(e.state() == duplex::connection_state::closed);
        CHECK_FALSE(e.wants_write());
    }
    SECTION("the peer's close") {
        bytes in = stream_for(duplex::role::server, {frame(FIN | CLOSE, close_payload(1001))});
        duplex::event ev;
        CHECK(e.read(in.data(), in.size(), ev, ec) == in.size());
        CHECK_FALSE(ec);
        CHECK(ev.type == duplex::event_type::close);
        CHECK(ev.code == duplex::close_code::going_away);
        CHECK(e.state() == duplex::connection_state::closed);
        CHECK_FALSE(e.wants_write());
    }
}

TEST_CASE("engine violations: invalid UTF-8 fails as soon as the bad byte arrives (Autobahn 6.4.x)") {
    // §8.1 and Autobahn 6.4.1-6.4.4: the rest of the frame never comes; the engine must not wait
    // for it. "κόσμε" (11 bytes), then F4 90 (above U+10FFFF: fails at 0x90), then 20 more bytes.
    const bytes payload =
        b("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80" "edited edited edited");
    REQUIRE(payload.size() == 35);
    for (const duplex::role r : {duplex::role::server, duplex::role::client}) {
        const bool server = r == duplex::role::server;
        INFO((server ? "server" : "client"));
        bytes in = stream_for(r, {frame(FIN | TEXT, payload)});
        const std::size_t header = server ? 6 : 2;
        const std::size_t upto = header + 13; // through the 0x90
        duplex::event ev;
        std::error_code ec;
        std::size_t used;
        if (server) {
            duplex::server_engine e;
            used = e.read(in.data(), upto - 1, ev, ec); // up to the F4: still fine
            CHECK(used == upto - 1);
            CHECK_FALSE(ec);
            CHECK_FALSE(ev);
            e.read(in.data() + used, 1, ev, ec); // the 0x90
            CHECK(ec == error::invalid_utf8);
            CHECK_FALSE(ev);
            CHECK(e.state() == duplex::connection_state::closed);
            CHECK(parse_frames(take_output(e), false) == std::vector<std::string>{"close:1007"});
        } else {
            duplex::client_engine e;
            used = e.read(in.data(), upto - 1, ev, ec);
            CHECK(used == upto - 1);
            CHECK_FALSE(ec);
            CHECK_FALSE(ev);
            e.read(in.data() + used, 1, ev, ec);
            CHECK(ec == error::invalid_utf8);
            CHECK_FALSE(ev);
            CHECK(e.state() == duplex::connection_state::closed);
            CHECK(parse_frames(take_output(e), true) == std::vector<std::string>{"close:1007"});
        }
    }
}

TEST_CASE("engine violations: size limits fail on the header's last byte, not before, not after") {
    // §7.4.1 1009. The engine knows the length once the header is complete (for a server, once
    // the masking key has arrived) and must not wait for the payload.
    struct limit_case {
        const char* name;
        std::vector<wire_frame> frames;
        std::size_t max_frame, max_message;
        error expected;
    };
    const std::vector<limit_case> cases = {
        {"frame 17 > 16", {header_only(FIN | TEXT, 17)}, 16, 1000, error::frame_too_big},
        {"frame 300 > 200 (16-bit length)", {header_only(FIN | BINARY, 300)}, 200, 1000, error::frame_too_big},
        {"frame 2^32 > 2^20 (64-bit length)", {header_only(FIN | BINARY, 1ull << 32)}, 1u << 20, 1u << 20,
         error::frame_too_big},
        {"message 8 + 8 + 5 > 20",
         {frame(TEXT, repeat('a', 8)), frame(CONT, repeat('b', 8)), header_only(FIN | CONT, 5)}, 100, 20,
         error::message_too_big},
        {"message 100 + 200 > 250 (16-bit length)", {frame(BINARY, repeat('a', 100)), header_only(FIN | CONT, 200)},
         1000, 250, error::message_too_big},
    };
    for (const limit_case& c : cases) {
        for (const duplex::role r : {duplex::role::server, duplex::role::client}) {
            const bool server = r == duplex::role::server;
            INFO(c.name << (server ? " (server)" : " (client)"));
            bytes in = stream_for(r, c.frames);
            duplex::engine_options options;
            options.max_frame_size = c.max_frame;
            options.max_message_size = c.max_message;
            std::vector<std::string> out;
            std::error_code before, at;
            const auto feed = [&](auto& e) {
                duplex::event ev;
                std::size_t off = 0;
                while (off < in.size() - 1 && !before) { // all but the header's last byte
                    off += e.read(in.data() + off, in.size() - 1 - off, ev, before);
                }
                CHECK(e.state() == duplex::connection_state::open);
                CHECK_FALSE(e.wants_write());
                e.read(in.data() + in.size() - 1, 1, ev, at);
                out = parse_frames(take_output(e), !server);
            };
            if (server) {
                duplex::server_engine e(options);
                feed(e);
            } else {
                duplex::client_engine e(options);
                feed(e);
            }
            CHECK_FALSE(before);
            CHECK(at == c.expected);
            CHECK(out == std::vector<std::string>{"close:1009"});
        }
    }
}

TEST_CASE("engine violations: a failed connection whose transport then ends reports 1006, not 1005") {
    // RFC 6455 §7.1.5: "If _The WebSocket Connection is Closed_ and no Close control frame was
    // received by the endpoint (such as could occur if the underlying transport connection is
    // lost), _The WebSocket Connection Close Code_ is considered to be 1006." 1005 (§7.4.1) means
    // a close frame arrived without a code; here none arrived at all. engine.hpp documents
    // received_close_code() the same way: abnormal (1006) "if the transport ended without one".
    duplex::server_engine e;
    bytes in = stream_for(duplex::role::server, {frame(FIN | 0xB, "x")});
    duplex::event ev;
    std::error_code ec;
    e.read(in.data(), in.size(), ev, ec);
    REQUIRE(ec == error::reserved_opcode);
    take_output(e);
    e.transport_closed();
    CHECK(e.state() == duplex::connection_state::closed);
    CHECK(e.received_close_code() == duplex::close_code::abnormal);
}
