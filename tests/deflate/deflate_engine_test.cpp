// permessage-deflate inside the engine, both roles: compressed messages on the wire, fragments,
// control frames between them, RSV1 rules, limits, per-message opt-out; and the blocking stream
// with enable_deflate end to end.
#include "../core/engine_pipe.hpp"
#include "../core/engine_wire.hpp"
#include "../core/memory_stream.hpp"
#include "zlib_peer.hpp"

#include <duplex/deflate.hpp>
#include <duplex/stream.hpp>

#include <catch2/catch.hpp>

#include <future>
#include <memory>
#include <random>
#include <string>
#include <vector>

using duplex::close_code;
using duplex::deflate_agreement;
using duplex::error;
using duplex::permessage_deflate;
using duplex::role;
using namespace engine_wire;

namespace {

template <class Engine>
void attach(Engine& e, role r, const deflate_agreement& a = {}, const duplex::deflate_options& o = {}) {
    e.set_extension(std::make_unique<permessage_deflate>(r, a, o));
}

bool has(const std::vector<std::string>& frames, const std::string& s) {
    return std::find(frames.begin(), frames.end(), s) != frames.end();
}

std::string json_line(std::mt19937& rng, int i) {
    return "{\"type\":\"chat\",\"room\":\"general\",\"user\":\"user" + std::to_string(rng() % 50) +
           "\",\"seq\":" + std::to_string(i) + ",\"text\":\"" + std::string(rng() % 60, 'a' + static_cast<char>(rng() % 26)) + "\"}";
}

} // namespace

TEST_CASE("engine: compressed messages both ways, RSV1 on the first frame only") {
    const bool takeover = GENERATE(true, false);
    const std::size_t fragment = GENERATE(0, 7);
    deflate_agreement a;
    a.server_no_context_takeover = !takeover;
    a.client_no_context_takeover = !takeover;
    duplex::engine_options o;
    o.fragment_size = fragment;
    duplex::server_engine server(o);
    duplex::client_engine client(o);
    attach(server, role::server, a);
    attach(client, role::client, a);

    std::mt19937 rng(5);
    std::error_code ec;
    for (int i = 0; i < 20; ++i) {
        const std::string text = json_line(rng, i);
        client.send_text(text, ec);
        REQUIRE_FALSE(ec);
        const bytes wire = engine_pipe::take_output(client);
        const auto frames = parse_frames(wire, true);
        REQUIRE_FALSE(frames.empty());
        CHECK(frames[0].find("RSV text:") != std::string::npos);
        for (std::size_t f = 1; f < frames.size(); ++f)
            CHECK(frames[f].find("RSV") == std::string::npos);
        CHECK(wire.size() < text.size() + 6 * frames.size()); // smaller than the text would be
        const auto got = engine_pipe::feed(server, wire, engine_pipe::every(3));
        REQUIRE_FALSE(got.ec);
        REQUIRE(got.events.size() == 1);
        CHECK(got.events[0] == engine_pipe::text(text));

        server.send_binary(text.data(), text.size(), ec);
        const auto back = engine_pipe::transfer(server, client);
        REQUIRE_FALSE(back.ec);
        REQUIRE(back.events.size() == 1);
        CHECK(back.events[0] == engine_pipe::binary(text));
    }
}

TEST_CASE("engine: a compressed message from zlib, fragmented, with control frames between fragments") {
    zlib_peer::compressor zlib;
    const std::string text = "fragmented and compressed, fragmented and compressed";
    const bytes payload = zlib.message(zlib_peer::b(text));
    REQUIRE(payload.size() > 6);
    const bytes one(payload.begin(), payload.begin() + 3);
    const bytes two(payload.begin() + 3, payload.begin() + 6);
    const bytes three(payload.begin() + 6, payload.end());
    duplex::server_engine server;
    attach(server, role::server);
    const bytes wire = stream_for(role::server, {frame(RSV1 | TEXT, one), frame(FIN | PING, "p1"),
                                                 frame(CONT, two), frame(FIN | PONG, "p2"), frame(FIN | CONT, three)});
    const auto got = engine_pipe::feed(server, wire, engine_pipe::every(5));
    REQUIRE_FALSE(got.ec);
    REQUIRE(got.events.size() == 3);
    CHECK(got.events[0] == engine_pipe::ping("p1"));
    CHECK(got.events[1] == engine_pipe::pong("p2"));
    CHECK(got.events[2] == engine_pipe::text(text));
    CHECK(has(parse_frames(take_output(server), false), "pong:p1")); // answered, uncompressed
}

TEST_CASE("engine: RSV1 where it does not belong fails the connection with 1002") {
    zlib_peer::compressor zlib;
    const bytes hello = zlib.message(zlib_peer::b("Hello"));
    duplex::server_engine server;
    std::vector<wire_frame> frames;
    SECTION("on a continuation frame") {
        attach(server, role::server);
        frames = {frame(RSV1 | TEXT, hello), frame(FIN | RSV1 | CONT, bytes{})};
    }
    SECTION("on a ping") {
        attach(server, role::server);
        frames = {frame(FIN | RSV1 | PING, "x")};
    }
    SECTION("on a close frame") {
        attach(server, role::server);
        frames = {frame(FIN | RSV1 | CLOSE, close_payload(1000))};
    }
    SECTION("when deflate was not negotiated") { frames = {frame(FIN | RSV1 | TEXT, hello)}; }
    SECTION("RSV2 with deflate negotiated") {
        attach(server, role::server);
        frames = {frame(FIN | RSV2 | TEXT, hello)};
    }
    const auto got = engine_pipe::feed(server, stream_for(role::server, frames));
    CHECK(got.ec == error::reserved_bits);
    CHECK(has(parse_frames(take_output(server), false), "close:1002"));
}

TEST_CASE("engine: a corrupt DEFLATE stream, or invalid UTF-8 inside one, fails with 1007") {
    duplex::client_engine client;
    attach(client, role::client);
    SECTION("corrupt") {
        const auto got = engine_pipe::feed(client, stream_for(role::client, {frame(FIN | RSV1 | TEXT, bytes{0xff, 0xff, 0xff})}));
        CHECK(got.ec == error::extension_failed);
    }
    SECTION("invalid UTF-8 once inflated") {
        zlib_peer::compressor zlib;
        const bytes bad = zlib.message(bytes{'o', 'k', 0xc0, 0xaf});
        const auto got = engine_pipe::feed(client, stream_for(role::client, {frame(FIN | RSV1 | TEXT, bad)}));
        CHECK(got.ec == error::invalid_utf8);
    }
    CHECK(has(parse_frames(take_output(client), true), "close:1007"));
}

TEST_CASE("engine: a 1 GiB bomb is cut off at max_message_size with 1009") {
    duplex::engine_options o;
    o.max_message_size = 1 << 20;
    duplex::server_engine server(o);
    auto ext = std::make_unique<permessage_deflate>(role::server, deflate_agreement{});
    const permessage_deflate& d = *ext;
    server.set_extension(std::move(ext));
    const bytes& bomb = zlib_peer::bomb();
    const std::size_t half = bomb.size() / 2;
    const bytes first(bomb.begin(), bomb.begin() + static_cast<std::ptrdiff_t>(half));
    const bytes second(bomb.begin() + static_cast<std::ptrdiff_t>(half), bomb.end());
    const auto got = engine_pipe::feed(
        server, stream_for(role::server, {frame(RSV1 | BINARY, first), frame(FIN | CONT, second)}),
        engine_pipe::every(16384));
    CHECK(got.ec == error::message_too_big);
    CHECK(got.events.empty());
    CHECK(d.inflated_total() <= o.max_message_size + 1);
    CHECK(has(parse_frames(take_output(server), false), "close:1009"));
}

TEST_CASE("engine: compress::no, the threshold and messages sent in parts go out uncompressed") {
    duplex::deflate_options opts;
    opts.compress_threshold = 16;
    duplex::server_engine server;
    attach(server, role::server, {}, opts);
    std::error_code ec;
    const std::string text = "already compressed, say a JPEG";
    server.send(duplex::opcode::binary, text.data(), text.size(), ec, duplex::payload_mode::copy, duplex::compress::no);
    server.send_text("tiny", ec);
    server.send_text(text, ec);
    server.begin_message(duplex::opcode::text, ec);
    server.send_part("in ", 3, false, ec);
    server.send_part("parts", 5, true, ec);
    const auto frames = parse_frames(take_output(server), false);
    REQUIRE(frames.size() == 5);
    CHECK(frames[0] == "binary:" + text);
    CHECK(frames[1] == "text:tiny");
    CHECK(frames[2].rfind("RSV text:", 0) == 0);
    CHECK(frames[3] == "NO-FIN text:in ");
    CHECK(frames[4] == "cont:parts");
}

TEST_CASE("engine: stream_messages delivers a compressed message in pieces") {
    duplex::engine_options o;
    o.stream_messages = true;
    duplex::client_engine client(o);
    attach(client, role::client);
    duplex::server_engine server;
    attach(server, role::server);
    std::string big;
    std::mt19937 rng(9);
    for (int i = 0; big.size() < 500000; ++i)
        big += json_line(rng, i);
    std::error_code ec;
    server.send_text(big, ec);
    const auto got = engine_pipe::transfer(server, client, engine_pipe::every(1000));
    REQUIRE_FALSE(got.ec);
    std::string joined;
    for (const auto& e : got.events) {
        CHECK(e.type == duplex::event_type::message_part);
        joined += e.data;
    }
    CHECK(got.events.size() > 2);
    CHECK(got.events.back().last);
    CHECK(joined == big);
}

TEST_CASE("engine: the blocking stream with enable_deflate in both roles") {
    auto ends = memory_stream_test::make_pipe();
    duplex::stream<memory_stream_test::memory_stream> server_ws(std::move(ends.first));
    duplex::stream<memory_stream_test::memory_stream> client_ws(std::move(ends.second));

    duplex::server_handshake_options shs;
    duplex::deflate_options sopts;
    sopts.server_no_context_takeover = true;
    duplex::enable_deflate(server_ws, shs, sopts);
    auto served = std::async(std::launch::async, [&] {
        std::error_code ec;
        server_ws.accept(shs, ec);
        if (ec)
            return ec;
        for (;;) {
            duplex::message m = server_ws.read(ec);
            if (ec)
                return ec;
            server_ws.write(m.op, m.data.data(), m.data.size(), duplex::compress::allowed, ec);
        }
    });

    duplex::client_handshake_options chs;
    duplex::enable_deflate(client_ws, chs);
    client_ws.handshake("localhost", "/", chs);
    std::mt19937 rng(1);
    for (int i = 0; i < 50; ++i) {
        const std::string text = json_line(rng, i);
        client_ws.write_text(text);
        CHECK(client_ws.read().data == text);
    }
    const std::string big(3 << 20, 'z');
    client_ws.write_text(big);
    CHECK(client_ws.read().data == big);
    client_ws.close(close_code::normal, "bye");
    CHECK(served.get() == error::closed);
}
