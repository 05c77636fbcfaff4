// Tests for include/duplex/core/frame.hpp: the frame header codec (RFC 6455 §5.2).
#include <duplex/core/frame.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

using duplex::decode_status;
using duplex::frame_header;
using duplex::opcode;
using duplex::role;
using bytes = std::vector<std::uint8_t>;

namespace {

duplex::header_rules receiving(role r, std::uint8_t allowed_rsv = 0) {
    duplex::header_rules rules;
    rules.receiver = r;
    rules.allowed_rsv = allowed_rsv;
    return rules;
}

// The role that accepts this header's mask bit: servers receive masked frames.
role receiver_for(const bytes& wire) {
    return wire.size() > 1 && (wire[1] & 0x80) ? role::server : role::client;
}

struct decoded {
    decode_status status;
    frame_header header;
    std::error_code ec;
};

decoded decode(const bytes& wire, duplex::header_rules rules) {
    decoded d{};
    d.status = duplex::decode_header(wire.data(), wire.size(), d.header, d.ec, rules);
    return d;
}

decoded decode(const bytes& wire) { return decode(wire, receiving(receiver_for(wire))); }

bytes encode(const frame_header& h) {
    bytes out(duplex::max_header_size + 3, 0xEE); // guard bytes past the header must stay untouched
    const std::size_t n = duplex::encode_header(h, out.data());
    for (std::size_t i = n; i < out.size(); ++i)
        REQUIRE(out[i] == 0xEE);
    out.resize(n);
    return out;
}

bytes cat(bytes a, const bytes& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

bytes text_bytes(const std::string& s) { return bytes(s.begin(), s.end()); }

std::string unmasked_payload(const bytes& wire, const frame_header& h) {
    bytes payload(wire.begin() + h.header_size, wire.begin() + h.header_size + h.payload_length);
    if (h.masked)
        duplex::apply_mask(payload.data(), payload.size(), h.key);
    return std::string(payload.begin(), payload.end());
}

// Reads frames out of a byte stream that arrives in pieces, the way a receiver must:
// buffer what has come, decode a header when enough is there, then skip its payload.
struct stream_reader {
    explicit stream_reader(duplex::header_rules r) : rules(r) {}

    duplex::header_rules rules;
    bytes buffer;
    std::vector<frame_header> frames;
    std::vector<std::string> payloads;
    std::error_code ec;

    void feed(const std::uint8_t* p, std::size_t n) {
        buffer.insert(buffer.end(), p, p + n);
        for (;;) {
            frame_header h;
            const auto status = duplex::decode_header(buffer.data(), buffer.size(), h, ec, rules);
            if (status != decode_status::complete)
                return;
            if (buffer.size() - h.header_size < h.payload_length)
                return;
            frames.push_back(h);
            payloads.push_back(unmasked_payload(buffer, h));
            buffer.erase(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(h.header_size + h.payload_length));
        }
    }
};

} // namespace

// RFC 6455 §5.7, byte for byte.
const bytes rfc_unmasked_hello = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
const bytes rfc_masked_hello = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
const bytes rfc_fragment_hel = {0x01, 0x03, 0x48, 0x65, 0x6c};
const bytes rfc_fragment_lo = {0x80, 0x02, 0x6c, 0x6f};
const bytes rfc_unmasked_ping = {0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
const bytes rfc_masked_pong = {0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};

TEST_CASE("frame: RFC 6455 5.7 example frames decode to their documented fields and payloads") {
    struct example {
        const char* name;
        bytes wire;
        opcode op;
        bool fin;
        bool masked;
        std::string payload;
    };
    const example examples[] = {
        {"single-frame unmasked text", rfc_unmasked_hello, opcode::text, true, false, "Hello"},
        {"single-frame masked text", rfc_masked_hello, opcode::text, true, true, "Hello"},
        {"first fragment", rfc_fragment_hel, opcode::text, false, false, "Hel"},
        {"last fragment", rfc_fragment_lo, opcode::continuation, true, false, "lo"},
        {"unmasked ping", rfc_unmasked_ping, opcode::ping, true, false, "Hello"},
        {"masked pong", rfc_masked_pong, opcode::pong, true, true, "Hello"},
    };
    for (const auto& ex : examples) {
        INFO(ex.name);
        const auto d = decode(ex.wire);
        REQUIRE(d.status == decode_status::complete);
        REQUIRE_FALSE(d.ec);
        CHECK(d.header.op == ex.op);
        CHECK(d.header.fin == ex.fin);
        CHECK(d.header.masked == ex.masked);
        CHECK_FALSE(d.header.rsv1);
        CHECK_FALSE(d.header.rsv2);
        CHECK_FALSE(d.header.rsv3);
        CHECK(d.header.payload_length == ex.payload.size());
        CHECK(d.header.header_size == (ex.masked ? 6 : 2));
        if (ex.masked)
            CHECK(d.header.key == duplex::mask_key{0x37, 0xfa, 0x21, 0x3d});
        CHECK(unmasked_payload(ex.wire, d.header) == ex.payload);
    }
}

TEST_CASE("frame: RFC 6455 5.7 example headers are produced byte for byte by encode_header") {
    frame_header h;
    h.op = opcode::text;
    h.payload_length = 5;
    CHECK(cat(encode(h), text_bytes("Hello")) == rfc_unmasked_hello);

    h.masked = true;
    h.key = {0x37, 0xfa, 0x21, 0x3d};
    bytes payload = text_bytes("Hello");
    duplex::apply_mask(payload.data(), payload.size(), h.key);
    CHECK(cat(encode(h), payload) == rfc_masked_hello);

    frame_header first;
    first.op = opcode::text;
    first.fin = false;
    first.payload_length = 3;
    CHECK(cat(encode(first), text_bytes("Hel")) == rfc_fragment_hel);
    frame_header last;
    last.op = opcode::continuation;
    last.payload_length = 2;
    CHECK(cat(encode(last), text_bytes("lo")) == rfc_fragment_lo);

    frame_header ping;
    ping.op = opcode::ping;
    ping.payload_length = 5;
    CHECK(cat(encode(ping), text_bytes("Hello")) == rfc_unmasked_ping);

    frame_header pong = h;
    pong.op = opcode::pong;
    CHECK(cat(encode(pong), payload) == rfc_masked_pong);

    // 256 bytes and 64 KiB of binary data in a single unmasked frame.
    frame_header bin;
    bin.op = opcode::binary;
    bin.payload_length = 256;
    CHECK(encode(bin) == bytes{0x82, 0x7E, 0x01, 0x00});
    bin.payload_length = 65536;
    CHECK(encode(bin) == bytes{0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00});
}

TEST_CASE("frame: every length boundary uses the minimal encoding and round-trips") {
    struct boundary {
        std::uint64_t length;
        bytes length_bytes; // the second byte's 7-bit length, then the extended length
    };
    const boundary boundaries[] = {
        {0, {0x00}},
        {1, {0x01}},
        {125, {0x7D}},
        {126, {0x7E, 0x00, 0x7E}},
        {127, {0x7E, 0x00, 0x7F}},
        {65535, {0x7E, 0xFF, 0xFF}},
        {65536, {0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00}},
        {0xFFFFFFFFull, {0x7F, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF}},
        {0x100000000ull, {0x7F, 0, 0, 0, 0x01, 0, 0, 0, 0}},
        {0x123456789ABCDEFull, {0x7F, 0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF}},
        {duplex::max_payload_length, {0x7F, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}},
    };
    for (const auto& b : boundaries) {
        for (bool masked : {false, true}) {
            INFO("length " << b.length << (masked ? " masked" : " unmasked"));
            frame_header h;
            h.op = opcode::binary;
            h.payload_length = b.length;
            h.masked = masked;
            h.key = {1, 2, 3, 4};

            bytes expected{0x82};
            expected.insert(expected.end(), b.length_bytes.begin(), b.length_bytes.end());
            if (masked) {
                expected[1] |= 0x80;
                expected.insert(expected.end(), {1, 2, 3, 4});
            }
            const bytes wire = encode(h);
            CHECK(wire == expected);
            CHECK(duplex::header_size(b.length, masked) == expected.size());

            const auto d = decode(wire);
            REQUIRE(d.status == decode_status::complete);
            CHECK(d.header.payload_length == b.length);
            CHECK(d.header.header_size == expected.size());
            CHECK(d.header.masked == masked);
        }
    }
}

TEST_CASE("frame: every proper prefix of a valid header needs more, never fails") {
    std::vector<bytes> headers = {rfc_masked_hello, rfc_unmasked_hello,
                                  {0x82, 0x7E, 0x01, 0x00},
                                  {0x82, 0xFE, 0x01, 0x00, 9, 8, 7, 6},
                                  {0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00},
                                  {0x02, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4}};
    for (const auto& wire : headers) {
        const auto full = decode(wire);
        REQUIRE(full.status == decode_status::complete);
        for (std::size_t n = 0; n < full.header.header_size; ++n) {
            INFO("prefix of " << n << " bytes");
            frame_header h;
            std::error_code ec = duplex::error::reserved_bits; // must be cleared
            CHECK(duplex::decode_header(wire.data(), n, h, ec, receiving(receiver_for(wire))) ==
                  decode_status::need_more);
            CHECK_FALSE(ec);
        }
    }
}

TEST_CASE("frame: a stream of frames decodes identically however it is split") {
    // Masked frames as a server receives them: text, a 300-byte binary, a ping between
    // fragments, a 70000-byte binary that needs the 64-bit length, and an empty close.
    bytes stream;
    std::vector<std::string> payloads;
    auto add = [&](opcode op, bool fin, const std::string& payload, duplex::mask_key key) {
        frame_header h;
        h.op = op;
        h.fin = fin;
        h.masked = true;
        h.key = key;
        h.payload_length = payload.size();
        bytes body = text_bytes(payload);
        duplex::apply_mask(body.data(), body.size(), key);
        stream = cat(cat(stream, encode(h)), body);
        payloads.push_back(payload);
    };
    add(opcode::text, true, "Hello", {0x37, 0xfa, 0x21, 0x3d});
    add(opcode::binary, true, std::string(300, 'b'), {0, 0, 0, 0});
    add(opcode::text, false, "frag", {9, 8, 7, 6});
    add(opcode::ping, true, "are you there", {0xff, 0, 0xff, 0});
    add(opcode::continuation, true, "ment", {1, 1, 1, 1});
    add(opcode::binary, true, std::string(70000, 'x'), {0xde, 0xad, 0xbe, 0xef});
    add(opcode::close, true, "", {5, 6, 7, 8});

    auto check = [&](const stream_reader& r) {
        REQUIRE_FALSE(r.ec);
        REQUIRE(r.buffer.empty());
        REQUIRE(r.payloads == payloads);
        CHECK(r.frames[2].fin == false);
        CHECK(r.frames[3].op == opcode::ping);
        CHECK(r.frames[4].op == opcode::continuation);
        CHECK(r.frames[6].op == opcode::close);
    };

    SECTION("one byte at a time") {
        stream_reader r{receiving(role::server)};
        for (std::size_t i = 0; i < stream.size(); ++i)
            r.feed(&stream[i], 1);
        check(r);
    }
    SECTION("split in two at every position around the headers") {
        // Every cut except those deep inside the 70000-byte payload, where one cut is like
        // another: all positions up to 64 bytes into it and from 64 bytes before its end.
        std::vector<std::size_t> cuts;
        const std::size_t big_start = stream.size() - 6 - 70000, big_end = big_start + 70000;
        for (std::size_t cut = 0; cut <= stream.size(); ++cut)
            if (cut < big_start + 64 || cut > big_end - 64)
                cuts.push_back(cut);
        REQUIRE(cuts.size() > 500);
        std::size_t mismatches = 0;
        for (std::size_t cut : cuts) {
            stream_reader r{receiving(role::server)};
            r.feed(stream.data(), cut);
            r.feed(stream.data() + cut, stream.size() - cut);
            if (r.ec || !r.buffer.empty() || r.payloads != payloads)
                ++mismatches;
        }
        CHECK(mismatches == 0);
    }
}

TEST_CASE("frame: reserved bits fail with reserved_bits unless an extension claims them") {
    for (std::uint8_t bit : {duplex::rsv1_bit, duplex::rsv2_bit, duplex::rsv3_bit}) {
        const bytes wire = {static_cast<std::uint8_t>(0x81 | bit), 0x00};
        INFO("bit " << int(bit));
        auto d = decode(wire, receiving(role::client));
        CHECK(d.status == decode_status::failed);
        CHECK(d.ec == duplex::error::reserved_bits);

        // Fails fast: the first byte alone is enough to know.
        d = decode(bytes{wire[0]}, receiving(role::client));
        CHECK(d.status == decode_status::failed);
        CHECK(d.ec == duplex::error::reserved_bits);

        d = decode(wire, receiving(role::client, bit));
        REQUIRE(d.status == decode_status::complete);
        CHECK(d.header.rsv1 == (bit == duplex::rsv1_bit));
        CHECK(d.header.rsv2 == (bit == duplex::rsv2_bit));
        CHECK(d.header.rsv3 == (bit == duplex::rsv3_bit));
        CHECK(encode(d.header) == wire);

        // Claiming one bit does not allow the others.
        const auto other = static_cast<std::uint8_t>(0x70 & ~bit);
        d = decode(wire, receiving(role::client, other));
        CHECK(d.ec == duplex::error::reserved_bits);
    }
}

TEST_CASE("frame: each of the 16 opcodes is accepted or rejected as RFC 6455 defines") {
    for (std::uint8_t op = 0; op < 16; ++op) {
        INFO("opcode " << int(op));
        const bytes wire = {static_cast<std::uint8_t>(0x80 | op), 0x00};
        const auto d = decode(wire, receiving(role::client));
        const bool defined = op == 0 || op == 1 || op == 2 || op == 8 || op == 9 || op == 10;
        CHECK(duplex::is_defined_opcode(op) == defined);
        if (defined) {
            REQUIRE(d.status == decode_status::complete);
            CHECK(static_cast<std::uint8_t>(d.header.op) == op);
            CHECK(duplex::is_control(d.header.op) == (op >= 8));
        } else {
            CHECK(d.status == decode_status::failed);
            CHECK(d.ec == duplex::error::reserved_opcode);
        }
    }
}

TEST_CASE("frame: control frames must have FIN and at most 125 bytes of payload") {
    for (std::uint8_t op : {0x8, 0x9, 0xA}) {
        INFO("opcode " << int(op));
        auto d = decode(bytes{op, 0x00}, receiving(role::client));
        CHECK(d.ec == duplex::error::fragmented_control);
        d = decode(bytes{op}, receiving(role::client)); // known from the first byte
        CHECK(d.ec == duplex::error::fragmented_control);

        const auto fin_op = static_cast<std::uint8_t>(0x80 | op);
        d = decode(bytes{fin_op, 125}, receiving(role::client));
        CHECK(d.status == decode_status::complete);
        CHECK(d.header.payload_length == 125);
        for (const bytes& wire : {bytes{fin_op, 126, 0x00, 0x7E}, bytes{fin_op, 126},
                                  bytes{fin_op, 127, 0, 0, 0, 0, 0, 1, 0, 0}}) {
            d = decode(wire, receiving(role::client));
            CHECK(d.status == decode_status::failed);
            CHECK(d.ec == duplex::error::control_too_long);
        }
    }
    // Data frames may be fragmented and long.
    auto d = decode(bytes{0x02, 126, 0x01, 0x00}, receiving(role::client));
    CHECK(d.status == decode_status::complete);
}

TEST_CASE("frame: lengths not in their shortest form fail with non_minimal_length") {
    const bytes cases[] = {
        {0x82, 126, 0x00, 0x00},
        {0x82, 126, 0x00, 0x7D},
        {0x82, 127, 0, 0, 0, 0, 0, 0, 0, 0x05},
        {0x82, 127, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF},
    };
    for (const auto& wire : cases) {
        const auto d = decode(wire, receiving(role::client));
        CHECK(d.status == decode_status::failed);
        CHECK(d.ec == duplex::error::non_minimal_length);
    }
    // The smallest values of each form are fine.
    CHECK(decode(bytes{0x82, 126, 0x00, 0x7E}, receiving(role::client)).status == decode_status::complete);
    CHECK(decode(bytes{0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0}, receiving(role::client)).status ==
          decode_status::complete);
}

TEST_CASE("frame: a 64-bit length with the top bit set fails at its first byte") {
    for (std::uint8_t top : {0x80, 0xFF, 0xC0}) {
        const bytes full = {0x82, 127, top, 0, 0, 0, 0, 0, 0, 0};
        auto d = decode(full, receiving(role::client));
        CHECK(d.status == decode_status::failed);
        CHECK(d.ec == duplex::error::length_high_bit);
        d = decode(bytes(full.begin(), full.begin() + 3), receiving(role::client));
        CHECK(d.ec == duplex::error::length_high_bit);
    }
}

TEST_CASE("frame: servers reject unmasked frames and clients reject masked ones") {
    auto d = decode(rfc_unmasked_hello, receiving(role::server));
    CHECK(d.status == decode_status::failed);
    CHECK(d.ec == duplex::error::unmasked_frame);
    d = decode(rfc_masked_hello, receiving(role::client));
    CHECK(d.status == decode_status::failed);
    CHECK(d.ec == duplex::error::masked_frame);
    // Two bytes are enough to know.
    CHECK(decode(bytes{0x81, 0x05}, receiving(role::server)).ec == duplex::error::unmasked_frame);
    CHECK(decode(bytes{0x81, 0x85}, receiving(role::client)).ec == duplex::error::masked_frame);
}

TEST_CASE("frame: the first broken rule is reported, however many bytes have arrived") {
    // RSV1 set, reserved opcode 0x3, no FIN: the reserved bit is the first rule checked,
    // so the error does not change as more bytes arrive.
    const bytes wire = {0x43, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4};
    for (std::size_t n = 1; n <= wire.size(); ++n) {
        frame_header h;
        std::error_code ec;
        CHECK(duplex::decode_header(wire.data(), n, h, ec, receiving(role::client)) == decode_status::failed);
        CHECK(ec == duplex::error::reserved_bits);
    }
}

TEST_CASE("frame: decoding ignores the payload bytes that follow the header") {
    const bytes wire = cat(rfc_masked_hello, rfc_unmasked_hello);
    const auto d = decode(wire, receiving(role::server));
    REQUIRE(d.status == decode_status::complete);
    CHECK(d.header.payload_length == 5);
    CHECK(d.header.header_size == 6);
}

TEST_CASE("frame: every first and second header byte round-trips through decode and encode") {
    std::size_t complete = 0, mismatches = 0;
    for (unsigned b0 = 0; b0 < 256; ++b0) {
        for (unsigned b1 = 0; b1 < 256; ++b1) {
            bytes wire = {static_cast<std::uint8_t>(b0), static_cast<std::uint8_t>(b1)};
            const unsigned len7 = b1 & 0x7F;
            if (len7 == 126)
                wire.insert(wire.end(), {0x12, 0x34});
            if (len7 == 127)
                wire.insert(wire.end(), {0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00});
            if (b1 & 0x80)
                wire.insert(wire.end(), {0xA1, 0xB2, 0xC3, 0xD4});
            const auto d = decode(wire, receiving(receiver_for(wire), 0x70));
            if (d.status != decode_status::complete)
                continue;
            ++complete;
            if (encode(d.header) != wire || d.header.header_size != wire.size())
                ++mismatches;
        }
    }
    // Of the 2^16 pairs, the defined opcodes (6 of 16) with any RSV bits and mask bit decode,
    // except fragmented control frames and control frames with a 7-bit length over 125.
    const std::size_t data = 3 * 2 * 8 * 256;    // opcode x FIN x RSV x second byte
    const std::size_t control = 3 * 1 * 8 * 252; // FIN only; lengths 0-125 with or without mask
    CHECK(complete == data + control);
    CHECK(mismatches == 0);
}

TEST_CASE("frame: a 64-bit length fails as soon as six zero bytes make it non-minimal") {
    const bytes wire = {0x82, 127, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    frame_header h;
    std::error_code ec;
    // Seven bytes: the next length byte may still be non-zero, making the length >= 2^16.
    CHECK(duplex::decode_header(wire.data(), 7, h, ec, receiving(role::client)) == decode_status::need_more);
    for (std::size_t n = 8; n <= wire.size(); ++n) {
        INFO(n << " bytes");
        CHECK(duplex::decode_header(wire.data(), n, h, ec, receiving(role::client)) == decode_status::failed);
        CHECK(ec == duplex::error::non_minimal_length);
    }
}
