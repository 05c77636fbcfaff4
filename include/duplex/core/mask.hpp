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

// The key as a 64-bit pattern, rotated so that its first byte masks a byte at `phase`.
inline std::uint64_t mask_pattern(const mask_key& key, std::size_t phase) noexcept {
    unsigned char k[8];
    for (std::size_t i = 0; i < 8; ++i)
        k[i] = key[(phase + i) & 3];
    std::uint64_t pattern;
    std::memcpy(&pattern, k, 8);
    return pattern;
}

// x86-64 with GCC or Clang: a 256-bit (AVX2) loop, chosen at run time on CPUs that have it.
// Define DUPLEX_NO_SIMD to build without it.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(DUPLEX_NO_SIMD)
#define DUPLEX_MASK_AVX2 1

// XORs whole 32-byte blocks of src into dst; returns the bytes done. Loads and stores go
// through memcpy (unaligned-safe; compiled to vmovdqu), and compilers unroll the loop.
__attribute__((target("avx2"))) inline std::size_t mask_blocks_avx2(unsigned char* dst,
                                                                    const unsigned char* src,
                                                                    std::size_t n,
                                                                    std::uint64_t pattern) noexcept {
    typedef std::uint64_t u64x4 __attribute__((vector_size(32)));
    const u64x4 k = {pattern, pattern, pattern, pattern};
    std::size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        u64x4 v;
        std::memcpy(&v, src + i, 32);
        v ^= k;
        std::memcpy(dst + i, &v, 32);
    }
    return i;
}

inline bool cpu_has_avx2() noexcept {
    static const bool yes = (__builtin_cpu_init(), __builtin_cpu_supports("avx2") != 0);
    return yes;
}
#endif

// XORs n bytes of src into dst with the key rotated by `phase`. dst may equal src.
// Large inputs first mask the few bytes up to a 32-byte boundary of dst, so the bulk loop
// stores aligned, then go 128 bytes at a time with AVX2 where the CPU has it. Otherwise (and
// for what is left) 32-byte blocks as four unaligned 8-byte words, each in its own variable:
// compilers keep them in registers and pair them into SIMD XORs (an array here made GCC bounce
// the block through the stack, at a third of the speed); a byte loop handles the tail.
// bench/run.sh measures it against memcpy.
// `simd` false keeps to the portable loops (the tests check both paths on one machine).
inline std::size_t mask_bytes(unsigned char* dst, const unsigned char* src, std::size_t n,
                              const mask_key& key, std::size_t phase, bool simd = true) noexcept {
    std::size_t i = 0;
    if (n >= 256) {
        const std::size_t misalign = reinterpret_cast<std::uintptr_t>(dst) & 31;
        const std::size_t head = misalign == 0 ? 0 : 32 - misalign;
        const std::uint64_t first = mask_pattern(key, phase);
        for (; i + 8 <= head; i += 8) {
            std::uint64_t w;
            std::memcpy(&w, src + i, 8);
            w ^= first;
            std::memcpy(dst + i, &w, 8);
        }
        for (; i < head; ++i)
            dst[i] = static_cast<unsigned char>(src[i] ^ key[(phase + i) & 3]);
    }
    const std::uint64_t pattern = mask_pattern(key, phase + i);
#ifndef DUPLEX_MASK_AVX2
    (void)simd;
#else
    if (simd && n - i >= 256 && cpu_has_avx2())
        i += mask_blocks_avx2(dst + i, src + i, n - i, pattern);
#endif
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
        dst[i] = static_cast<unsigned char>(src[i] ^ key[(phase + i) & 3]);
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
