// Tests for include/duplex/core/prepared_message.hpp and engine::send(const prepared_message&):
// the frame's bytes (RFC 6455 §5.2, written out here by hand), a server queuing the one shared
// frame by reference, a client masking it as an ordinary message, and backpressure.
#include "engine_pipe.hpp"

#include <duplex/core/engine.hpp>
#include <duplex/core/prepared_message.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace engine_pipe;
using duplex::client_engine;
using duplex::error;
using duplex::opcode;
using duplex::prepared_message;
using duplex::server_engine;

namespace {

bytes frame_bytes(const prepared_message& m) {
    const auto f = m.frame();
    const auto* p = static_cast<const unsigned char*>(f.data);
    return bytes(p, p + f.size);
}

// The header RFC 6455 §5.2 gives an unmasked final frame of `op` with `size` payload bytes.
bytes expected_header(unsigned char op, std::size_t size) {
    bytes h{static_cast<unsigned char>(0x80 | op)};
    if (size < 126) {
        h.push_back(static_cast<unsigned char>(size));
    } else if (size <= 0xFFFF) {
        h.push_back(126);
        h.push_back(static_cast<unsigned char>(size >> 8));
        h.push_back(static_cast<unsigned char>(size));
    } else {
        h.push_back(127);
        for (int shift = 56; shift >= 0; shift -= 8)
            h.push_back(static_cast<unsigned char>(static_cast<std::uint64_t>(size) >> shift));
    }
    return h;
}

} // namespace

TEST_CASE("prepared_message: one unmasked final frame, with the minimal length encoding") {
    for (std::size_t size : {std::size_t(0), std::size_t(5), std::size_t(125), std::size_t(126),
                             std::size_t(65535), std::size_t(65536)}) {
        INFO("size " << size);
        const std::string payload(size, 'x');
        std::error_code ec;
        prepared_message text(payload, ec);
        REQUIRE_FALSE(ec);
        bytes want = expected_header(0x1, size);
        want.insert(want.end(), payload.begin(), payload.end());
        CHECK(frame_bytes(text) == want);
        CHECK(text.op() == opcode::text);
        CHECK(text.payload().size == size);

        prepared_message bin(opcode::binary, payload.data(), payload.size(), ec);
        REQUIRE_FALSE(ec);
        CHECK(frame_bytes(bin)[0] == 0x82);
    }
}

TEST_CASE("prepared_message: refuses text that is not UTF-8 and opcodes other than text and binary") {
    std::error_code ec;
    prepared_message bad_text(std::string("\xC0\xAF"), ec); // an overlong '/'
    CHECK(ec == error::invalid_utf8);
    CHECK_FALSE(bad_text);
    prepared_message truncated(std::string("\xE2\x82"), ec); // a sequence cut short
    CHECK(ec == error::invalid_utf8);
    prepared_message ping(opcode::ping, "x", 1, ec);
    CHECK(ec == error::bad_opcode);
    CHECK_FALSE(ping);
    prepared_message invalid_binary_is_fine(opcode::binary, "\xC0\xAF", 2, ec);
    CHECK_FALSE(ec);

    server_engine s;
    s.send(prepared_message{}, ec); // an empty message
    CHECK(ec == error::bad_opcode);
    CHECK_FALSE(s.wants_write());
}

TEST_CASE("prepared_message: servers queue the same bytes by reference, held until written") {
    std::error_code ec;
    const std::string payload(4096, 'p');
    prepared_message m(opcode::binary, payload.data(), payload.size(), ec);
    REQUIRE_FALSE(ec);
    const long refs_alone = m.owner().use_count() - 1; // minus the temporary owner() returned

    server_engine a, b;
    a.send(m, ec);
    REQUIRE_FALSE(ec);
    b.send(m, ec);
    REQUIRE_FALSE(ec);
    CHECK(m.owner().use_count() - 1 == refs_alone + 2); // each queue holds the frame

    // The queued buffer is the prepared frame itself, not a copy.
    duplex::const_buffer out[4];
    REQUIRE(a.output(out, 4) == 1);
    CHECK(out[0].data == m.frame().data);
    CHECK(out[0].size == m.frame().size);

    // Written in two steps: the reference goes only when the last byte is.
    a.consume(100);
    CHECK(m.owner().use_count() - 1 == refs_alone + 2);
    a.consume(m.frame().size - 100);
    CHECK(m.owner().use_count() - 1 == refs_alone + 1);

    // What b sends decodes as the message, between two ordinary ones.
    b.send_text("after", ec);
    REQUIRE_FALSE(ec);
    client_engine c;
    const auto r = transfer(b, c);
    REQUIRE_FALSE(r.ec);
    REQUIRE(r.events.size() == 2);
    CHECK(r.events[0] == binary(payload));
    CHECK(r.events[1] == text("after"));
    CHECK(m.owner().use_count() - 1 == refs_alone);
}

TEST_CASE("prepared_message: a client sends the payload masked, as an ordinary message") {
    std::error_code ec;
    prepared_message m(std::string("κόσμε from a client"), ec);
    REQUIRE_FALSE(ec);
    client_engine c;
    c.send(m, ec);
    REQUIRE_FALSE(ec);
    const bytes wire = take_output(c);
    REQUIRE(wire.size() == m.frame().size + 4); // the same frame plus a masking key
    CHECK((wire[1] & 0x80) != 0);
    server_engine s;
    const auto r = feed(s, wire);
    REQUIRE_FALSE(r.ec);
    REQUIRE(r.events.size() == 1);
    CHECK(r.events[0] == text("κόσμε from a client"));
}

TEST_CASE("prepared_message: backpressure applies as to any message") {
    std::error_code ec;
    const std::string payload(1000, 'q');
    prepared_message m(opcode::binary, payload.data(), payload.size(), ec);
    REQUIRE_FALSE(ec);

    duplex::engine_options o;
    o.send_queue_limit = 2500;
    o.send_queue_resume = 1000;
    server_engine refuse(o);
    for (int i = 0; i < 3; ++i) {
        refuse.send(m, ec);
        REQUIRE_FALSE(ec);
    }
    refuse.send(m, ec); // 3012 bytes queued, over the limit
    CHECK(ec == error::send_queue_full);
    CHECK(refuse.buffered_amount() == 3 * m.frame().size);

    o.on_backpressure = duplex::backpressure_policy::drop;
    server_engine drop(o);
    for (int i = 0; i < 5; ++i) {
        drop.send(m, ec);
        CHECK_FALSE(ec);
    }
    CHECK(drop.dropped_messages() == 2);
    CHECK(drop.buffered_amount() == 3 * m.frame().size);
}
