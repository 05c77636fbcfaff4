// Test helpers for the engine's failure tests: frames built and masked by hand, and a
// hand-written parser for what the engine queues. Nothing here uses duplex's own codec.
#pragma once

#include <duplex/core/engine.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace engine_wire {


using bytes = std::vector<std::uint8_t>;
using duplex::error;

// First header byte (RFC 6455 §5.2).
inline constexpr std::uint8_t FIN = 0x80;
inline constexpr std::uint8_t RSV1 = 0x40;
inline constexpr std::uint8_t RSV2 = 0x20;
inline constexpr std::uint8_t RSV3 = 0x10;
inline constexpr std::uint8_t CONT = 0x0;
inline constexpr std::uint8_t TEXT = 0x1;
inline constexpr std::uint8_t BINARY = 0x2;
inline constexpr std::uint8_t CLOSE = 0x8;
inline constexpr std::uint8_t PING = 0x9;
inline constexpr std::uint8_t PONG = 0xA;

inline bytes b(std::string_view s) {
    bytes out;
    out.reserve(s.size());
    for (char c : s)
        out.push_back(static_cast<std::uint8_t>(c));
    return out;
}

inline bytes repeat(std::uint8_t c, std::size_t n) { return bytes(n, c); }

inline bytes cat_bytes(bytes a, const bytes& tail) {
    a.insert(a.end(), tail.begin(), tail.end());
    return a;
}

inline bytes close_payload(std::uint16_t code, std::string_view reason = {}) {
    bytes p;
    p.push_back(static_cast<std::uint8_t>(code >> 8));
    p.push_back(static_cast<std::uint8_t>(code & 0xFF));
    for (char c : reason)
        p.push_back(static_cast<std::uint8_t>(c));
    return p;
}

// Printable form of payload bytes: ASCII as is, anything else as \xNN.
inline std::string show(const std::uint8_t* p, std::size_t n) {
    std::string s;
    for (std::size_t i = 0; i < n; ++i) {
        if (p[i] >= 0x20 && p[i] < 0x7F && p[i] != '\\') {
            s += static_cast<char>(p[i]);
        } else {
            char hex[8];
            std::snprintf(hex, sizeof hex, "\\x%02x", p[i]);
            s += hex;
        }
    }
    return s;
}

inline std::string show(std::string_view v) {
    return show(reinterpret_cast<const std::uint8_t*>(v.data()), v.size());
}

inline std::string show(const bytes& v) { return show(v.data(), v.size()); }

// ---- Input frames, built by hand ---------------------------------------------------------------

enum class len_form { minimal, force16, force64 };

// One frame as it goes on the wire. Masked when sent to a server, unless wrong_mask.
struct wire_frame {
    std::uint8_t b0 = FIN | TEXT;
    bytes payload;
    len_form form = len_form::minimal;
    std::optional<std::uint64_t> declared; // the length the header claims, if not payload.size()
    std::size_t sent = SIZE_MAX;           // payload bytes actually put on the wire
    bool wrong_mask = false;               // unmasked to a server, masked to a client
};

inline wire_frame frame(std::uint8_t b0, bytes payload = {}) {
    wire_frame f;
    f.b0 = b0;
    f.payload = std::move(payload);
    return f;
}

inline wire_frame frame(std::uint8_t b0, std::string_view payload) { return frame(b0, b(payload)); }

// Only the header of a frame claiming `length` bytes: the payload never arrives.
inline wire_frame header_only(std::uint8_t b0, std::uint64_t length, len_form form = len_form::minimal) {
    wire_frame f = frame(b0);
    f.declared = length;
    f.form = form;
    f.sent = 0;
    return f;
}

// A frame whose first `sent` payload bytes arrive, and no more.
inline wire_frame truncated(std::uint8_t b0, bytes payload, std::size_t sent) {
    wire_frame f = frame(b0, std::move(payload));
    f.sent = sent;
    return f;
}

inline wire_frame with_form(wire_frame f, len_form form) {
    f.form = form;
    return f;
}

inline wire_frame wrong_mask(wire_frame f) {
    f.wrong_mask = true;
    return f;
}

const std::uint8_t mask_keys[4][4] = {
    {0x37, 0xfa, 0x21, 0x3d}, // RFC 6455 §5.7's example key
    {0x01, 0x02, 0x03, 0x04},
    {0xff, 0x00, 0x80, 0x7f},
    {0xa5, 0x5a, 0xc3, 0x3c},
};

// RFC 6455 §5.3: octet i of the payload is XORed with octet i MOD 4 of the key.
inline void xor_mask(std::uint8_t* p, std::size_t n, const std::uint8_t* key) {
    for (std::size_t i = 0; i < n; ++i)
        p[i] = static_cast<std::uint8_t>(p[i] ^ key[i % 4]);
}

// The bytes of `f`, masked with key `key_index` if `masked` (RFC 6455 §5.2).
inline bytes encode(const wire_frame& f, bool masked, std::size_t key_index) {
    bytes out{f.b0};
    const std::uint64_t len = f.declared.value_or(f.payload.size());
    len_form form = f.form;
    const std::uint8_t mask_bit = masked ? 0x80 : 0x00;
    if (form == len_form::minimal && len < 126) {
        out.push_back(static_cast<std::uint8_t>(mask_bit | len));
    } else {
        if (form == len_form::minimal)
            form = len <= 0xFFFF ? len_form::force16 : len_form::force64;
        if (form == len_form::force16) {
            out.push_back(mask_bit | 126);
            out.push_back(static_cast<std::uint8_t>(len >> 8));
            out.push_back(static_cast<std::uint8_t>(len));
        } else {
            out.push_back(mask_bit | 127);
            for (int shift = 56; shift >= 0; shift -= 8)
                out.push_back(static_cast<std::uint8_t>(len >> shift));
        }
    }
    const std::uint8_t* key = mask_keys[key_index % 4];
    if (masked)
        out.insert(out.end(), key, key + 4);
    const std::size_t n = std::min(f.sent, f.payload.size());
    const std::size_t at = out.size();
    out.insert(out.end(), f.payload.begin(), f.payload.begin() + static_cast<std::ptrdiff_t>(n));
    if (masked)
        xor_mask(out.data() + at, n, key);
    return out;
}

// The stream a peer of an endpoint with role `receiver` sends: masked to a server (§5.3).
inline bytes stream_for(duplex::role receiver, const std::vector<wire_frame>& frames) {
    bytes out;
    for (std::size_t i = 0; i < frames.size(); ++i) {
        const bool masked = (receiver == duplex::role::server) != frames[i].wrong_mask;
        const bytes f = encode(frames[i], masked, i);
        out.insert(out.end(), f.begin(), f.end());
    }
    return out;
}

// ---- The engine's output, parsed by hand ---------------------------------------------------------

// A tiny RFC 6455 §5.2 parser. Each frame becomes "op:payload"; a close frame "close:CODE" (or
// "close:" when empty). Anything wrong with the framing is spelled out in the string.
inline std::vector<std::string> parse_frames(const bytes& out, bool expect_masked) {
    std::vector<std::string> frames;
    std::size_t pos = 0;
    const auto need = [&](std::size_t n) { return out.size() - pos >= n; };
    while (pos < out.size()) {
        if (!need(2)) {
            frames.push_back("TRUNCATED HEADER");
            break;
        }
        const std::uint8_t b0 = out[pos];
        const std::uint8_t b1 = out[pos + 1];
        pos += 2;
        std::uint64_t len = b1 & 0x7F;
        if (len == 126) {
            if (!need(2)) {
                frames.push_back("TRUNCATED LENGTH");
                break;
            }
            len = (std::uint64_t{out[pos]} << 8) | out[pos + 1];
            pos += 2;
        } else if (len == 127) {
            if (!need(8)) {
                frames.push_back("TRUNCATED LENGTH");
                break;
            }
            len = 0;
            for (int i = 0; i < 8; ++i)
                len = (len << 8) | out[pos + static_cast<std::size_t>(i)];
            pos += 8;
        }
        const bool masked = (b1 & 0x80) != 0;
        std::uint8_t key[4] = {0, 0, 0, 0};
        if (masked) {
            if (!need(4)) {
                frames.push_back("TRUNCATED KEY");
                break;
            }
            std::copy(out.begin() + static_cast<std::ptrdiff_t>(pos),
                      out.begin() + static_cast<std::ptrdiff_t>(pos + 4), key);
            pos += 4;
        }
        if (!need(len)) {
            frames.push_back("TRUNCATED PAYLOAD");
            break;
        }
        bytes payload(out.begin() + static_cast<std::ptrdiff_t>(pos),
                      out.begin() + static_cast<std::ptrdiff_t>(pos + len));
        pos += len;
        if (masked)
            xor_mask(payload.data(), payload.size(), key);

        std::string s;
        if (!(b0 & FIN))
            s += "NO-FIN ";
        if (b0 & 0x70)
            s += "RSV ";
        if (masked != expect_masked)
            s += masked ? "MASKED " : "UNMASKED ";
        switch (b0 & 0x0F) {
        case CLOSE:
            if (payload.empty()) {
                s += "close:";
            } else if (payload.size() == 1) {
                s += "close-with-1-byte";
            } else {
                s += "close:" + std::to_string((payload[0] << 8) | payload[1]);
                const std::size_t reason = payload.size() - 2;
                if (reason > 123 || !duplex::is_valid_utf8(payload.data() + 2, reason))
                    s += " BAD-REASON";
            }
            break;
        case PING: s += "ping:" + show(payload); break;
        case PONG: s += "pong:" + show(payload); break;
        case TEXT: s += "text:" + show(payload); break;
        case BINARY: s += "binary:" + show(payload); break;
        case CONT: s += "cont:" + show(payload); break;
        default: s += "opcode-" + std::to_string(b0 & 0x0F); break;
        }
        frames.push_back(s);
    }
    return frames;
}

template <class Engine>
inline bytes take_output(Engine& e) {
    bytes all;
    while (e.wants_write()) {
        duplex::const_buffer bufs[8];
        const std::size_t n = e.output(bufs, 8);
        std::size_t total = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const auto* p = static_cast<const std::uint8_t*>(bufs[i].data);
            all.insert(all.end(), p, p + bufs[i].size);
            total += bufs[i].size;
        }
        if (total == 0)
            break;
        e.consume(total);
    }
    return all;
}

inline std::string describe(const duplex::event& ev) {
    switch (ev.type) {
    case duplex::event_type::message: return (ev.is_text() ? "text:" : "binary:") + show(ev.data);
    case duplex::event_type::message_part:
        return std::string("part:") + (ev.last ? "last:" : "") + show(ev.data);
    case duplex::event_type::ping: return "ping:" + show(ev.data);
    case duplex::event_type::pong: return "pong:" + show(ev.data);
    case duplex::event_type::close:
        return "close:" + std::to_string(static_cast<unsigned>(ev.code)) + ":" + show(ev.data);
    case duplex::event_type::none: break;
    }
    return "none";
}

inline std::string describe(std::error_code ec) {
    if (!ec)
        return "no error";
    return std::string(ec.category().name()) + " " + std::to_string(ec.value()) + ": " + ec.message();
}

} // namespace engine_wire
