// duplex fuzzing — frame header decode/encode (RFC 6455 §5.2).
// SPDX-License-Identifier: MIT
//
// Input: byte 0 picks the RSV bits the receiver allows (its bits 0x70); the rest is wire bytes,
// decoded once as a server and once as a client. Properties checked:
//   - complete: the fields obey RFC 6455 and the rules; encode_header gives back exactly the
//     header's bytes; header_size matches duplex::header_size; every proper prefix of the header
//     is need_more, and the header alone decodes to the same fields.
//   - need_more: every prefix is need_more too, and the bytes can still be completed into a
//     valid header (fail-fast: decode_header never waits on a header that is already bad).
//   - failed: a duplex error; shorter prefixes are need_more up to the byte that carries the
//     broken rule, and every longer input with that prefix fails with the same error.
// The same bytes are also read as header fields, encoded, and decoded back.

#include "fuzz_check.hpp"

#include <duplex/core/error.hpp>
#include <duplex/core/frame.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <system_error>

namespace {

using duplex::decode_status;

bool same_fields(const duplex::frame_header& a, const duplex::frame_header& b) {
    return a.payload_length == b.payload_length && a.op == b.op && a.fin == b.fin &&
           a.rsv1 == b.rsv1 && a.rsv2 == b.rsv2 && a.rsv3 == b.rsv3 && a.masked == b.masked &&
           (!a.masked || a.key == b.key);
}

// The prefix length at which a header breaking `e` must fail: the byte that carries the rule.
std::size_t failing_prefix(duplex::error e, const std::uint8_t* h, std::size_t size) {
    const std::uint8_t len7 = size > 1 ? h[1] & 0x7F : 0;
    switch (e) {
    case duplex::error::reserved_bits:
    case duplex::error::reserved_opcode:
    case duplex::error::fragmented_control:
        return 1;
    case duplex::error::masked_frame:
    case duplex::error::unmasked_frame:
    case duplex::error::control_too_long:
        return 2;
    case duplex::error::length_high_bit:
        return 3;
    case duplex::error::non_minimal_length:
        // 16-bit: known at its second byte. 64-bit: six zero bytes already cap it at 0xFFFF.
        if (len7 == 126)
            return 4;
        return size >= 8 && (h[2] | h[3] | h[4] | h[5] | h[6] | h[7]) == 0 ? 8 : 10;
    default:
        return 0; // not a header error: never expected
    }
}

// Fills `buf` (max_header_size bytes, starting with the `n` given bytes) so that it is a valid
// header if any completion of those bytes is one. The two bytes that carry rules are present
// already (need_more past byte 0 means byte 0 is fine; byte 1 likewise); after them, 0xFF
// makes a 16- or 64-bit length as long as it can be, except the 64-bit length's top byte, whose
// high bit must be clear.
void complete_header(unsigned char* buf, std::size_t n, const duplex::header_rules& rules) {
    if (n < 1)
        buf[0] = 0x82; // FIN, binary
    if (n < 2)
        buf[1] = rules.receiver == duplex::role::server ? 0x80 : 0x00;
    for (std::size_t i = n < 2 ? 2 : n; i < duplex::max_header_size; ++i)
        buf[i] = ((buf[1] & 0x7F) == 127 && i == 2) ? 0x7F : 0xFF;
}

void check_decode(const std::uint8_t* data, std::size_t size, const duplex::header_rules& rules) {
    duplex::frame_header h;
    std::error_code ec;
    const decode_status st = duplex::decode_header(data, size, h, ec, rules);

    if (st == decode_status::complete) {
        FUZZ_CHECK(!ec);
        const std::size_t hs = h.header_size;
        FUZZ_CHECK(hs >= 2 && hs <= duplex::max_header_size && hs <= size);
        FUZZ_CHECK(hs == duplex::header_size(h.payload_length, h.masked));

        // The fields obey RFC 6455 and the receiver's rules, and come from the right bits.
        FUZZ_CHECK(h.masked == (rules.receiver == duplex::role::server));
        FUZZ_CHECK(h.payload_length <= duplex::max_payload_length);
        FUZZ_CHECK(duplex::is_defined_opcode(static_cast<std::uint8_t>(h.op)));
        if (duplex::is_control(h.op))
            FUZZ_CHECK(h.fin && h.payload_length <= duplex::max_control_payload);
        const std::uint8_t rsv = static_cast<std::uint8_t>(
            (h.rsv1 ? duplex::rsv1_bit : 0) | (h.rsv2 ? duplex::rsv2_bit : 0) |
            (h.rsv3 ? duplex::rsv3_bit : 0));
        FUZZ_CHECK((rsv & ~rules.allowed_rsv) == 0);
        FUZZ_CHECK(h.fin == ((data[0] & 0x80) != 0));
        FUZZ_CHECK(static_cast<std::uint8_t>(h.op) == (data[0] & 0x0F));
        FUZZ_CHECK(rsv == (data[0] & 0x70));
        if (h.masked)
            FUZZ_CHECK(std::memcmp(h.key.data(), data + hs - 4, 4) == 0);

        // Re-encoding gives back the exact bytes (the decoder accepts minimal lengths only).
        unsigned char out[duplex::max_header_size];
        FUZZ_CHECK(duplex::encode_header(h, out) == hs);
        FUZZ_CHECK(std::memcmp(out, data, hs) == 0);

        // Fail-fast and no early answer: each proper prefix is need_more, without an error.
        for (std::size_t k = 0; k < hs; ++k) {
            duplex::frame_header part;
            FUZZ_CHECK(duplex::decode_header(data, k, part, ec, rules) == decode_status::need_more);
            FUZZ_CHECK(!ec);
        }
        // The header alone decodes the same: bytes after it are never looked at.
        duplex::frame_header alone;
        FUZZ_CHECK(duplex::decode_header(data, hs, alone, ec, rules) == decode_status::complete);
        FUZZ_CHECK(!ec && alone.header_size == hs && same_fields(alone, h));
        return;
    }

    if (st == decode_status::need_more) {
        FUZZ_CHECK(!ec);
        FUZZ_CHECK(size < duplex::max_header_size);
        for (std::size_t k = 0; k < size; ++k) {
            duplex::frame_header part;
            FUZZ_CHECK(duplex::decode_header(data, k, part, ec, rules) == decode_status::need_more);
            FUZZ_CHECK(!ec);
        }
        unsigned char full[duplex::max_header_size];
        std::memcpy(full, data, size);
        complete_header(full, size, rules);
        duplex::frame_header done;
        const decode_status end = duplex::decode_header(full, sizeof full, done, ec, rules);
        FUZZ_CHECK(end == decode_status::complete);
        return;
    }

    FUZZ_CHECK(st == decode_status::failed);
    FUZZ_CHECK(ec && ec.category() == duplex::error_category());
    const std::error_code error = ec;

    // The error is reported at the byte that carries the broken rule, and only there.
    const std::size_t at =
        failing_prefix(static_cast<duplex::error>(error.value()), data, size);
    FUZZ_CHECK(at != 0 && at <= size);
    for (std::size_t k = 0; k <= size; ++k) {
        duplex::frame_header part;
        const decode_status s = duplex::decode_header(data, k, part, ec, rules);
        if (k < at) {
            FUZZ_CHECK(s == decode_status::need_more && !ec);
        } else {
            FUZZ_CHECK(s == decode_status::failed && ec == error);
        }
    }
    // Any longer input with the same prefix fails the same way, whatever follows.
    for (const unsigned char fill : {0x00, 0x7F, 0x80, 0xFF}) {
        unsigned char longer[2 * duplex::max_header_size];
        std::memset(longer, fill, sizeof longer);
        std::memcpy(longer, data, at);
        duplex::frame_header part;
        FUZZ_CHECK(duplex::decode_header(longer, sizeof longer, part, ec, rules) ==
                   decode_status::failed);
        FUZZ_CHECK(ec == error);
    }
}

// Reads header fields from the input, encodes them and decodes the result.
void check_encode(const std::uint8_t* data, std::size_t size) {
    if (size < 10)
        return;
    duplex::frame_header h;
    h.fin = (data[0] & 0x80) != 0;
    h.rsv1 = (data[0] & duplex::rsv1_bit) != 0;
    h.rsv2 = (data[0] & duplex::rsv2_bit) != 0;
    h.rsv3 = (data[0] & duplex::rsv3_bit) != 0;
    h.op = static_cast<duplex::opcode>(data[0] & 0x0F);
    std::uint64_t raw = 0;
    for (std::size_t i = 1; i < 9; ++i)
        raw = (raw << 8) | data[i];
    switch (data[9] & 3) { // steer the length into each of the three encodings
    case 0: h.payload_length = raw % 126; break;
    case 1: h.payload_length = 126 + raw % (0x10000 - 126); break;
    case 2: h.payload_length = 0x10000 + raw % (duplex::max_payload_length - 0xFFFF); break;
    default: h.payload_length = raw & duplex::max_payload_length; break;
    }
    h.masked = (data[9] & 4) != 0;
    if (h.masked && size >= 14)
        std::memcpy(h.key.data(), data + 10, 4);
    else if (h.masked)
        h.key = {0x37, 0xfa, 0x21, 0x3d};

    unsigned char wire[duplex::max_header_size + 1];
    wire[duplex::max_header_size] = 0xA5; // must stay untouched: the header is at most 14 bytes
    const std::size_t n = duplex::encode_header(h, wire);
    FUZZ_CHECK(wire[duplex::max_header_size] == 0xA5);
    FUZZ_CHECK(n == duplex::header_size(h.payload_length, h.masked));

    const duplex::header_rules rules{h.masked ? duplex::role::server : duplex::role::client,
                                     duplex::rsv1_bit | duplex::rsv2_bit | duplex::rsv3_bit};
    duplex::frame_header back;
    std::error_code ec;
    const decode_status st = duplex::decode_header(wire, n, back, ec, rules);
    const bool valid = duplex::is_defined_opcode(static_cast<std::uint8_t>(h.op)) &&
                       (!duplex::is_control(h.op) ||
                        (h.fin && h.payload_length <= duplex::max_control_payload));
    if (valid) {
        FUZZ_CHECK(st == decode_status::complete && !ec);
        FUZZ_CHECK(back.header_size == n && same_fields(back, h));
    } else {
        FUZZ_CHECK(st == decode_status::failed && ec);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1)
        return 0;
    const std::uint8_t allowed_rsv = data[0] & (duplex::rsv1_bit | duplex::rsv2_bit | duplex::rsv3_bit);
    for (const duplex::role receiver : {duplex::role::server, duplex::role::client})
        check_decode(data + 1, size - 1, duplex::header_rules{receiver, allowed_rsv});
    check_encode(data + 1, size - 1);
    return 0;
}
