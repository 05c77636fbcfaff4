// duplex — frame header codec (RFC 6455 §5.2).
// SPDX-License-Identifier: MIT
#pragma once

#include <duplex/core/error.hpp>
#include <duplex/core/mask.hpp>

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <system_error>

namespace duplex {

/// Frame opcodes (RFC 6455 §5.2, §11.8). Values 0x3-0x7 and 0xB-0xF are reserved.
enum class opcode : std::uint8_t {
    continuation = 0x0,
    text = 0x1,
    binary = 0x2,
    close = 0x8,
    ping = 0x9,
    pong = 0xA,
};

/// True for close, ping and pong (RFC 6455 §5.5): the opcodes with the high bit set.
constexpr bool is_control(opcode op) noexcept {
    return (static_cast<std::uint8_t>(op) & 0x8) != 0;
}

/// True for the six opcodes RFC 6455 defines.
constexpr bool is_defined_opcode(std::uint8_t value) noexcept {
    return value <= 0x2 || (value >= 0x8 && value <= 0xA);
}

/// Which end of the connection an endpoint is. Clients mask what they send; servers do not.
enum class role : std::uint8_t { client, server };

/// The largest frame header: 2 bytes, an 8-byte extended length and a 4-byte mask key.
inline constexpr std::size_t max_header_size = 14;
/// The largest control frame payload (RFC 6455 §5.5).
inline constexpr std::size_t max_control_payload = 125;
/// The largest payload length a header can carry: the 64-bit length's top bit must be 0.
inline constexpr std::uint64_t max_payload_length = 0x7FFF'FFFF'FFFF'FFFFull;

/// RSV bits as they sit in the first header byte, for header_rules::allowed_rsv.
inline constexpr std::uint8_t rsv1_bit = 0x40;
inline constexpr std::uint8_t rsv2_bit = 0x20;
inline constexpr std::uint8_t rsv3_bit = 0x10;

/// One decoded (or to-be-encoded) frame header.
struct frame_header {
    std::uint64_t payload_length = 0;
    mask_key key{};            // meaningful only when `masked`
    opcode op = opcode::text;
    bool fin = true;
    bool rsv1 = false;
    bool rsv2 = false;
    bool rsv3 = false;
    bool masked = false;
    std::uint8_t header_size = 0; // bytes the header occupies on the wire (2-14); set by decode_header
};

/// What a receiving endpoint accepts in a frame header.
struct header_rules {
    role receiver = role::server; // a server requires masked frames, a client unmasked ones
    std::uint8_t allowed_rsv = 0; // RSV bits that negotiated extensions claim (rsv1_bit | ...)
};

/// Outcome of decode_header.
enum class decode_status : std::uint8_t {
    complete,  // the header is in `out`; its payload starts header_size bytes in
    need_more, // every byte so far is valid; feed more to finish the header
    failed,    // the header breaks RFC 6455; the error says how (close with 1002)
};

/// Number of bytes a header takes on the wire, in its minimal length encoding.
constexpr std::size_t header_size(std::uint64_t payload_length, bool masked) noexcept {
    return 2 + (payload_length < 126 ? 0 : payload_length <= 0xFFFF ? 2 : 8) + (masked ? 4 : 0);
}

/// Decodes the frame header at the start of [data, data+size) (RFC 6455 §5.2).
/// Each rule is checked as soon as the byte carrying it arrives, so a bad header fails on its
/// first bad byte: reserved bits, reserved opcodes, fragmented or over-long control frames, a
/// non-minimal or 2^63-and-up length, and a mask bit wrong for the receiver's role.
inline decode_status decode_header(const void* data, std::size_t size, frame_header& out,
                                   std::error_code& ec, const header_rules& rules = {}) noexcept {
    ec.clear();
    const auto* p = static_cast<const unsigned char*>(data);
    if (size < 1)
        return decode_status::need_more;

    const unsigned char b0 = p[0];
    if ((b0 & 0x70 & ~rules.allowed_rsv) != 0) {
        ec = error::reserved_bits;
        return decode_status::failed;
    }
    const std::uint8_t op = b0 & 0x0F;
    if (!is_defined_opcode(op)) {
        ec = error::reserved_opcode;
        return decode_status::failed;
    }
    const bool fin = (b0 & 0x80) != 0;
    const bool control = (op & 0x8) != 0;
    if (control && !fin) {
        ec = error::fragmented_control;
        return decode_status::failed;
    }
    if (size < 2)
        return decode_status::need_more;

    const unsigned char b1 = p[1];
    const bool masked = (b1 & 0x80) != 0;
    if (masked != (rules.receiver == role::server)) {
        ec = masked ? error::masked_frame : error::unmasked_frame;
        return decode_status::failed;
    }
    const std::uint8_t len7 = b1 & 0x7F;
    if (control && len7 > max_control_payload) {
        ec = error::control_too_long;
        return decode_status::failed;
    }

    std::size_t pos = 2;
    std::uint64_t length = len7;
    if (len7 == 126) {
        if (size < 4)
            return decode_status::need_more;
        length = (std::uint64_t{p[2]} << 8) | p[3];
        if (length < 126) {
            ec = error::non_minimal_length;
            return decode_status::failed;
        }
        pos = 4;
    } else if (len7 == 127) {
        if (size < 3)
            return decode_status::need_more;
        if (p[2] & 0x80) {
            ec = error::length_high_bit;
            return decode_status::failed;
        }
        // Six zero bytes leave at most 0xFFFF, which needed the 16-bit form: fail at the sixth.
        if (size >= 8 && (p[2] | p[3] | p[4] | p[5] | p[6] | p[7]) == 0) {
            ec = error::non_minimal_length;
            return decode_status::failed;
        }
        if (size < 10)
            return decode_status::need_more;
        length = 0;
        for (std::size_t i = 2; i < 10; ++i)
            length = (length << 8) | p[i];
        if (length <= 0xFFFF) {
            ec = error::non_minimal_length;
            return decode_status::failed;
        }
        pos = 10;
    }

    if (masked) {
        if (size < pos + 4)
            return decode_status::need_more;
        out.key = {p[pos], p[pos + 1], p[pos + 2], p[pos + 3]};
        pos += 4;
    } else {
        out.key = {};
    }

    out.payload_length = length;
    out.op = static_cast<opcode>(op);
    out.fin = fin;
    out.rsv1 = (b0 & rsv1_bit) != 0;
    out.rsv2 = (b0 & rsv2_bit) != 0;
    out.rsv3 = (b0 & rsv3_bit) != 0;
    out.masked = masked;
    out.header_size = static_cast<std::uint8_t>(pos);
    return decode_status::complete;
}

/// Encodes `h` into `out`, which must have room for max_header_size bytes, using the minimal
/// length encoding (RFC 6455 §5.2). Returns the number of bytes written. `h.header_size` is
/// ignored; `h.payload_length` must not exceed max_payload_length.
inline std::size_t encode_header(const frame_header& h, void* out) noexcept {
    assert(h.payload_length <= max_payload_length);
    auto* p = static_cast<unsigned char*>(out);
    p[0] = static_cast<unsigned char>((h.fin ? 0x80 : 0) | (h.rsv1 ? rsv1_bit : 0) |
                                      (h.rsv2 ? rsv2_bit : 0) | (h.rsv3 ? rsv3_bit : 0) |
                                      (static_cast<std::uint8_t>(h.op) & 0x0F));
    const unsigned char mask_bit = h.masked ? 0x80 : 0;
    std::size_t pos = 2;
    if (h.payload_length < 126) {
        p[1] = static_cast<unsigned char>(mask_bit | h.payload_length);
    } else if (h.payload_length <= 0xFFFF) {
        p[1] = static_cast<unsigned char>(mask_bit | 126);
        p[2] = static_cast<unsigned char>(h.payload_length >> 8);
        p[3] = static_cast<unsigned char>(h.payload_length);
        pos = 4;
    } else {
        p[1] = static_cast<unsigned char>(mask_bit | 127);
        for (std::size_t i = 0; i < 8; ++i)
            p[2 + i] = static_cast<unsigned char>(h.payload_length >> (56 - 8 * i));
        pos = 10;
    }
    if (h.masked) {
        for (std::size_t i = 0; i < 4; ++i)
            p[pos + i] = h.key[i];
        pos += 4;
    }
    return pos;
}

} // namespace duplex
