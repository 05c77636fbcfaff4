// duplex — base64 (RFC 4648 §4), strict, for Sec-WebSocket-Key and -Accept (RFC 6455 §4).
// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace duplex {

/// Characters base64_encode writes for `size` input bytes (always padded).
constexpr std::size_t base64_encoded_size(std::size_t size) noexcept { return (size + 2) / 3 * 4; }

/// The most bytes base64_decode can write for `size` input characters.
constexpr std::size_t base64_decoded_max(std::size_t size) noexcept { return size / 4 * 3; }

/// Encodes `size` bytes into `out` (room for base64_encoded_size(size) characters, no NUL
/// added) with the standard alphabet and '=' padding. Returns the characters written.
inline std::size_t base64_encode(const void* data, std::size_t size, char* out) noexcept {
    static constexpr char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const auto* p = static_cast<const unsigned char*>(data);
    char* o = out;
    for (; size >= 3; p += 3, size -= 3) {
        const std::uint32_t v = (std::uint32_t{p[0]} << 16) | (std::uint32_t{p[1]} << 8) | p[2];
        *o++ = alphabet[v >> 18];
        *o++ = alphabet[(v >> 12) & 63];
        *o++ = alphabet[(v >> 6) & 63];
        *o++ = alphabet[v & 63];
    }
    if (size > 0) {
        const std::uint32_t v = (std::uint32_t{p[0]} << 16) | (size == 2 ? std::uint32_t{p[1]} << 8 : 0);
        *o++ = alphabet[v >> 18];
        *o++ = alphabet[(v >> 12) & 63];
        *o++ = size == 2 ? alphabet[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    return static_cast<std::size_t>(o - out);
}

inline std::string base64_encode(std::string_view data) {
    std::string out(base64_encoded_size(data.size()), '\0');
    base64_encode(data.data(), data.size(), out.data());
    return out;
}

/// Decodes canonical base64 into `out` (room for base64_decoded_max(text.size()) bytes) and
/// stores the byte count in `size`. Strict: the length must be a multiple of 4, only the
/// standard alphabet, at most two '=' and only at the end, no whitespace, and the unused bits
/// before the padding must be zero (so each byte string has exactly one accepted encoding).
/// Returns false, with `size` unspecified, on anything else.
inline bool base64_decode(std::string_view text, void* out, std::size_t& size) noexcept {
    auto value = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '+') return 62;
        if (c == '/') return 63;
        return -1;
    };
    if (text.size() % 4 != 0)
        return false;
    auto* o = static_cast<unsigned char*>(out);
    size = 0;
    for (std::size_t i = 0; i < text.size(); i += 4) {
        const bool last = i + 4 == text.size();
        const int pad = last ? (text[i + 3] == '=') + (text[i + 2] == '=') : 0;
        if (pad == 1 && text[i + 2] == '=')
            return false; // "x=y=" style: '=' must only trail
        int v[4] = {0, 0, 0, 0};
        for (int j = 0; j < 4 - pad; ++j) {
            v[j] = value(text[i + static_cast<std::size_t>(j)]);
            if (v[j] < 0)
                return false;
        }
        const std::uint32_t group = (std::uint32_t(v[0]) << 18) | (std::uint32_t(v[1]) << 12) |
                                    (std::uint32_t(v[2]) << 6) | std::uint32_t(v[3]);
        if ((pad == 1 && (group & 0xFF) != 0) || (pad == 2 && (group & 0xFFFF) != 0))
            return false; // non-zero bits under the padding
        o[size++] = static_cast<unsigned char>(group >> 16);
        if (pad < 2)
            o[size++] = static_cast<unsigned char>(group >> 8);
        if (pad < 1)
            o[size++] = static_cast<unsigned char>(group);
    }
    return true;
}

} // namespace duplex
