// duplex — SHA-1 (FIPS 180-4 §6.1), for Sec-WebSocket-Accept (RFC 6455 §4.2.2).
// SPDX-License-Identifier: MIT
//
// SHA-1 is broken for collision resistance; the WebSocket handshake uses it only to prove that
// the server read the client's key, which needs no collision resistance. Do not use it elsewhere.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace duplex {

/// Incremental SHA-1: update() with any pieces, then finish() once. No allocation.
class sha1 {
public:
    using digest = std::array<std::uint8_t, 20>;

    void update(const void* data, std::size_t size) noexcept {
        if (size == 0)
            return; // data may be null (an empty vector's data()); memcpy must not see it
        const auto* p = static_cast<const unsigned char*>(data);
        total_ += size;
        if (used_ > 0) {
            const std::size_t take = size < 64 - used_ ? size : 64 - used_;
            std::memcpy(block_ + used_, p, take);
            used_ += take;
            p += take;
            size -= take;
            if (used_ < 64)
                return;
            compress(block_);
            used_ = 0;
        }
        for (; size >= 64; p += 64, size -= 64)
            compress(p);
        if (size > 0)
            std::memcpy(block_, p, size);
        used_ = size;
    }

    /// Pads, processes the last block and returns the digest. Call once per hash.
    digest finish() noexcept {
        const std::uint64_t bits = total_ * 8;
        block_[used_++] = 0x80;
        if (used_ > 56) {
            std::memset(block_ + used_, 0, 64 - used_);
            compress(block_);
            used_ = 0;
        }
        std::memset(block_ + used_, 0, 56 - used_);
        for (int i = 0; i < 8; ++i)
            block_[56 + i] = static_cast<unsigned char>(bits >> (56 - 8 * i));
        compress(block_);
        digest out;
        for (std::size_t i = 0; i < 5; ++i)
            for (std::size_t j = 0; j < 4; ++j)
                out[4 * i + j] = static_cast<std::uint8_t>(h_[i] >> (24 - 8 * j));
        return out;
    }

    /// The digest of one contiguous input.
    static digest hash(const void* data, std::size_t size) noexcept {
        sha1 s;
        s.update(data, size);
        return s.finish();
    }

private:
    static std::uint32_t rotl(std::uint32_t x, int n) noexcept { return (x << n) | (x >> (32 - n)); }

    void compress(const unsigned char* block) noexcept {
        std::uint32_t w[80];
        for (int t = 0; t < 16; ++t)
            w[t] = (std::uint32_t{block[4 * t]} << 24) | (std::uint32_t{block[4 * t + 1]} << 16) |
                   (std::uint32_t{block[4 * t + 2]} << 8) | std::uint32_t{block[4 * t + 3]};
        for (int t = 16; t < 80; ++t)
            w[t] = rotl(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);

        std::uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3], e = h_[4];
        for (int t = 0; t < 80; ++t) {
            std::uint32_t f, k;
            if (t < 20) {
                f = (b & c) | (~b & d);
                k = 0x5A827999;
            } else if (t < 40) {
                f = b ^ c ^ d;
                k = 0x6ED9EBA1;
            } else if (t < 60) {
                f = (b & c) | (b & d) | (c & d);
                k = 0x8F1BBCDC;
            } else {
                f = b ^ c ^ d;
                k = 0xCA62C1D6;
            }
            const std::uint32_t temp = rotl(a, 5) + f + e + k + w[t];
            e = d;
            d = c;
            c = rotl(b, 30);
            b = a;
            a = temp;
        }
        h_[0] += a;
        h_[1] += b;
        h_[2] += c;
        h_[3] += d;
        h_[4] += e;
    }

    std::uint32_t h_[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    std::uint64_t total_ = 0;
    std::size_t used_ = 0;
    unsigned char block_[64] = {};
};

} // namespace duplex
