// duplex — payload masking (RFC 6455 §5.3).
// SPDX-License-Identifier: MIT
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace duplex {

/// The 4-byte masking key a client puts in every frame header (RFC 6455 §5.3).
using mask_key = std::array<std::uint8_t, 4>;

namespace detail {

// XORs n bytes of src into dst with the key rotated by `phase`. dst may equal src.
// Works a 32-byte block at a time as four unaligned 8-byte words (memcpy), each in its own
// variable: compilers keep them in registers and pair them into SIMD XORs (an array here made
// GCC bounce the block through the stack, at a third of the speed); the byte loop only handles
// the tail. bench/run.sh measures it against memcpy.
inline std::size_t mask_bytes(unsigned char* dst, const unsigned char* src, std::size_t n,
                              const mask_key& key, std::size_t phase) noexcept {
    unsigned char k[8];
    for (std::size_t i = 0; i < 8; ++i)
        k[i] = key[(phase + i) & 3];
    std::uint64_t pattern;
    std::memcpy(&pattern, k, 8);

    std::size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        std::uint64_t a, b, c, d;
        std::memcpy(&a, src + i, 8);
        std::memcpy(&b, src + i + 8, 8);
        std::memcpy(&c, src + i + 16, 8);
        std::memcpy(&d, src + i + 24, 8);
        a ^= pattern;
        b ^= pattern;
        c ^= pattern;
        d ^= pattern;
        std::memcpy(dst + i, &a, 8);
        std::memcpy(dst + i + 8, &b, 8);
        std::memcpy(dst + i + 16, &c, 8);
        std::memcpy(dst + i + 24, &d, 8);
    }
    for (; i + 8 <= n; i += 8) {
        std::uint64_t w;
        std::memcpy(&w, src + i, 8);
        w ^= pattern;
        std::memcpy(dst + i, &w, 8);
    }
    for (; i < n; ++i)
        dst[i] = static_cast<unsigned char>(src[i] ^ k[i & 3]);
    return (phase + n) & 3;
}

} // namespace detail

/// XORs `size` bytes at `data` with `key`, in place (RFC 6455 §5.3). `phase` is the number of
/// payload bytes of this frame already processed (only its value mod 4 matters), so a payload can be
/// (un)masked chunk by chunk. Returns the phase for the next chunk. Masking twice restores the data.
inline std::size_t apply_mask(void* data, std::size_t size, const mask_key& key,
                              std::size_t phase = 0) noexcept {
    auto* p = static_cast<unsigned char*>(data);
    return detail::mask_bytes(p, p, size, key, phase & 3);
}

/// Writes the masked bytes of `src` to `dst` in one pass (the copy a client makes into its send
/// buffer). `dst` and `src` must be equal or not overlap. Returns the phase for the next chunk.
inline std::size_t copy_masked(void* dst, const void* src, std::size_t size, const mask_key& key,
                               std::size_t phase = 0) noexcept {
    return detail::mask_bytes(static_cast<unsigned char*>(dst),
                              static_cast<const unsigned char*>(src), size, key, phase & 3);
}

} // namespace duplex
