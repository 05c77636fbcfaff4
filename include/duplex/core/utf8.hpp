// duplex — streaming, fail-fast UTF-8 validation (RFC 3629 §4, RFC 6455 §8.1).
// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

// x86-64 with GCC or Clang: a 256-bit (AVX2) validator, chosen at run time on CPUs that have it
// (the same conditions as mask.hpp). Define DUPLEX_NO_SIMD to build without it.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(DUPLEX_NO_SIMD)
#define DUPLEX_UTF8_AVX2 1
#include <immintrin.h>
#endif

namespace duplex {

class utf8_validator;

namespace detail {

// ---- Scalar validator: a shift-based DFA --------------------------------------------------------
//
// The automaton has nine states. Each state is a multiple of 6 (its "offset"), and for every
// byte value b, utf8_dfa_table[b] packs, at bits [offset, offset+6) of each state, the offset of
// the state that b leads to. One step is therefore `state = table[b] >> state` (keeping the low 6
// bits): the table load depends only on the input byte, so the chain that carries from byte to
// byte is a single shift. The error state is offset 0 and every entry's bits 0-5 are 0, so once
// entered it is never left; a loop can run many bytes and test for it once.
//
// The states after a lead byte say which range the next continuation byte must be in (RFC 3629
// §4): that is where overlongs (E0 80-9F, F0 80-8F), surrogates (ED A0-BF) and code points above
// U+10FFFF (F4 90-BF) are refused, at the byte that makes them so.
constexpr unsigned utf8_err = 0;     // the input can no longer be valid: absorbing
constexpr unsigned utf8_accept = 6;  // at a code point boundary
constexpr unsigned utf8_cont1 = 12;  // one more byte 80-BF to come
constexpr unsigned utf8_cont2 = 18;  // two more, the next 80-BF
constexpr unsigned utf8_cont3 = 24;  // three more, the next 80-BF
constexpr unsigned utf8_e0 = 30;     // after E0: next A0-BF, then one more
constexpr unsigned utf8_ed = 36;     // after ED: next 80-9F, then one more
constexpr unsigned utf8_f0 = 42;     // after F0: next 90-BF, then two more
constexpr unsigned utf8_f4 = 48;     // after F4: next 80-8F, then two more

struct utf8_dfa {
    std::uint64_t next[256];
};

constexpr utf8_dfa make_utf8_dfa() noexcept {
    utf8_dfa d{};
    for (unsigned b = 0; b < 256; ++b) {
        std::uint64_t row = 0;
        auto on = [&row](unsigned from, unsigned to) { row |= std::uint64_t{to} << from; };
        if (b < 0x80) {
            on(utf8_accept, utf8_accept);
        } else if (b < 0xC0) { // continuation byte: which states it may continue
            on(utf8_cont1, utf8_accept);
            on(utf8_cont2, utf8_cont1);
            on(utf8_cont3, utf8_cont2);
            on(b >= 0xA0 ? utf8_e0 : utf8_ed, utf8_cont1);
            on(b >= 0x90 ? utf8_f0 : utf8_f4, utf8_cont2);
        } else if (b >= 0xC2 && b < 0xE0) {
            on(utf8_accept, utf8_cont1);
        } else if (b >= 0xE0 && b < 0xF0) {
            on(utf8_accept, b == 0xE0 ? utf8_e0 : b == 0xED ? utf8_ed : utf8_cont2);
        } else if (b >= 0xF0 && b < 0xF5) {
            on(utf8_accept, b == 0xF0 ? utf8_f0 : b == 0xF4 ? utf8_f4 : utf8_cont3);
        } // C0, C1, F5-FF: no transition but to the error state
        d.next[b] = row;
    }
    return d;
}

inline constexpr utf8_dfa utf8_dfa_table = make_utf8_dfa();

inline unsigned utf8_step(unsigned state, unsigned char b) noexcept {
    return static_cast<unsigned>(utf8_dfa_table.next[b] >> state) & 63;
}

// A run of ASCII from p: returns the first byte >= 0x80, or end.
inline const unsigned char* utf8_skip_ascii(const unsigned char* p, const unsigned char* end) noexcept {
    // 32 bytes at a time as four words in registers (compilers pair them into SIMD ORs).
    constexpr std::uint64_t high_bits = 0x8080808080808080ull;
    while (end - p >= 32) {
        std::uint64_t a, b, c, d;
        std::memcpy(&a, p, 8);
        std::memcpy(&b, p + 8, 8);
        std::memcpy(&c, p + 16, 8);
        std::memcpy(&d, p + 24, 8);
        if ((a | b | c | d) & high_bits)
            break;
        p += 32;
    }
    if (end - p >= 8) {
        std::uint64_t a;
        std::memcpy(&a, p, 8);
        if ((a & high_bits) == 0)
            p += 8;
    }
    while (p != end && *p < 0x80)
        ++p;
    return p;
}

// Runs the DFA over [p, end) from `state`. Returns the byte at which it entered the error state
// (and leaves `state` at utf8_err), or end with `state` the state after the last byte.
// At a code point boundary, 16 ASCII bytes start a run that is skipped a word at a time (shorter
// runs, as in accented Latin text, go through the DFA: no branch per run). The DFA takes 16 bytes
// between tests for the error state, and on finding it the byte loop at the end finds the byte.
inline const unsigned char* utf8_run_dfa(const unsigned char* p, const unsigned char* end,
                                         unsigned& state) noexcept {
    constexpr std::uint64_t high_bits = 0x8080808080808080ull;
    unsigned s = state;
    while (end - p >= 16) {
        if (s == utf8_accept) {
            std::uint64_t a, b;
            std::memcpy(&a, p, 8);
            std::memcpy(&b, p + 8, 8);
            if (((a | b) & high_bits) == 0) {
                p = utf8_skip_ascii(p + 16, end);
                continue;
            }
        }
        std::uint64_t t = s;
        for (int k = 0; k < 16; ++k)
            t = utf8_dfa_table.next[p[k]] >> (t & 63);
        if ((t & 63) == utf8_err)
            break; // the byte-at-a-time loop below finds it within these 16
        s = static_cast<unsigned>(t & 63);
        p += 16;
    }
    for (; p != end; ++p) {
        s = utf8_step(s, *p);
        if (s == utf8_err)
            break;
    }
    state = s;
    return p;
}

// ---- AVX2 validator ---------------------------------------------------------------------------
//
// The lookup method of Keiser and Lemire ("Validating UTF-8 in less than one instruction per
// byte", 2021), written for this header. Every error in UTF-8 shows in a pair of adjacent bytes,
// or in a continuation byte's distance from its lead:
//  * Pairs. For each byte, three 16-entry tables, indexed by the previous byte's high nibble, its
//    low nibble and this byte's high nibble (VPSHUFB does 32 lookups at once), give a set of
//    error classes each; a class in all three sets is an error. Each class is a product of nibble
//    sets, e.g. "surrogate" = high nibble E x low nibble D x next high nibble A or B.
//  * Distance. A byte must be a continuation exactly when the byte two before it is a lead of a
//    3- or 4-byte sequence, or the byte three before is a 4-byte lead, and the one before it is
//    then a continuation too. The pair tables flag "continuation after continuation" in bit 7
//    instead of as an error; XOR with "must be a 3rd or 4th byte" leaves an error exactly where
//    the two disagree (a too-short sequence shows as a pair error as well).
// An error found at a byte depends only on that byte and the three before it, so a 64-byte block
// without errors proves everything up to it valid but for a sequence cut off at its end.
#ifdef DUPLEX_UTF8_AVX2

inline bool utf8_cpu_has_avx2() noexcept {
    static const bool yes = (__builtin_cpu_init(), __builtin_cpu_supports("avx2") != 0);
    return yes;
}

// Error classes, one bit each.
constexpr unsigned char utf8_too_short = 0x01;   // lead, then not a continuation
constexpr unsigned char utf8_too_long = 0x02;    // ASCII, then a continuation
constexpr unsigned char utf8_overlong3 = 0x04;   // E0 80-9F
constexpr unsigned char utf8_surrogate = 0x08;   // ED A0-BF
constexpr unsigned char utf8_overlong2 = 0x10;   // C0 or C1, then a continuation
constexpr unsigned char utf8_too_large = 0x20;   // F4-FF, then 90-BF
constexpr unsigned char utf8_f_then_8x = 0x40;   // F0 80-8F (overlong), F5-FF 80-8F (too large)
constexpr unsigned char utf8_two_conts = 0x80;   // continuation, then a continuation

// The previous byte's high nibble.
alignas(16) inline constexpr unsigned char utf8_by_prev_high[16] = {
    utf8_too_long, utf8_too_long, utf8_too_long, utf8_too_long, // 0-7: ASCII
    utf8_too_long, utf8_too_long, utf8_too_long, utf8_too_long,
    utf8_two_conts, utf8_two_conts, utf8_two_conts, utf8_two_conts, // 8-B: continuation
    utf8_too_short | utf8_overlong2,                                 // C
    utf8_too_short,                                                  // D
    utf8_too_short | utf8_overlong3 | utf8_surrogate,                // E
    utf8_too_short | utf8_too_large | utf8_f_then_8x,                // F
};

// The previous byte's low nibble (the classes that do not depend on it are in every entry).
constexpr unsigned char utf8_any_low = utf8_too_short | utf8_too_long | utf8_two_conts;
alignas(16) inline constexpr unsigned char utf8_by_prev_low[16] = {
    utf8_any_low | utf8_overlong3 | utf8_overlong2 | utf8_f_then_8x, // x0: E0, C0, F0
    utf8_any_low | utf8_overlong2,                                   // x1: C1
    utf8_any_low,
    utf8_any_low,
    utf8_any_low | utf8_too_large,                                   // x4: F4
    utf8_any_low | utf8_too_large | utf8_f_then_8x,                  // x5-xF: F5-FF
    utf8_any_low | utf8_too_large | utf8_f_then_8x,
    utf8_any_low | utf8_too_large | utf8_f_then_8x,
    utf8_any_low | utf8_too_large | utf8_f_then_8x,
    utf8_any_low | utf8_too_large | utf8_f_then_8x,
    utf8_any_low | utf8_too_large | utf8_f_then_8x,
    utf8_any_low | utf8_too_large | utf8_f_then_8x,
    utf8_any_low | utf8_too_large | utf8_f_then_8x,
    utf8_any_low | utf8_too_large | utf8_f_then_8x | utf8_surrogate, // xD: ED
    utf8_any_low | utf8_too_large | utf8_f_then_8x,
    utf8_any_low | utf8_too_large | utf8_f_then_8x,
};

// This byte's high nibble.
constexpr unsigned char utf8_any_cont = utf8_too_long | utf8_two_conts | utf8_overlong2;
alignas(16) inline constexpr unsigned char utf8_by_this_high[16] = {
    utf8_too_short, utf8_too_short, utf8_too_short, utf8_too_short, // 0-7
    utf8_too_short, utf8_too_short, utf8_too_short, utf8_too_short,
    utf8_any_cont | utf8_overlong3 | utf8_f_then_8x,                // 8
    utf8_any_cont | utf8_overlong3 | utf8_too_large,                // 9
    utf8_any_cont | utf8_surrogate | utf8_too_large,                // A
    utf8_any_cont | utf8_surrogate | utf8_too_large,                // B
    utf8_too_short, utf8_too_short, utf8_too_short, utf8_too_short, // C-F
};

// For the last three bytes of a block: nonzero (after a saturating subtract) where a lead byte
// there expects continuations beyond the block.
alignas(32) inline constexpr unsigned char utf8_tail_max[32] = {
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xEF, 0xDF, 0xBF,
};

__attribute__((target("avx2"))) inline __m256i utf8_table_avx2(const unsigned char (&table)[16]) noexcept {
    return _mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i*>(table)));
}

// The error bytes of the 32 bytes `in`, given the 32 bytes before them.
__attribute__((target("avx2"))) inline __m256i utf8_errors_avx2(__m256i in, __m256i before) noexcept {
    // The bytes 1, 2 and 3 positions earlier: VPALIGNR works within 128-bit lanes, so each lane
    // of `in` is paired with the lane that precedes it.
    const __m256i preceding = _mm256_permute2x128_si256(before, in, 0x21);
    const __m256i prev1 = _mm256_alignr_epi8(in, preceding, 15);
    const __m256i prev2 = _mm256_alignr_epi8(in, preceding, 14);
    const __m256i prev3 = _mm256_alignr_epi8(in, preceding, 13);

    const __m256i nibble = _mm256_set1_epi8(0x0F);
    const __m256i prev_high = _mm256_and_si256(_mm256_srli_epi16(prev1, 4), nibble);
    const __m256i prev_low = _mm256_and_si256(prev1, nibble);
    const __m256i this_high = _mm256_and_si256(_mm256_srli_epi16(in, 4), nibble);
    const __m256i pair = _mm256_and_si256(
        _mm256_and_si256(_mm256_shuffle_epi8(utf8_table_avx2(utf8_by_prev_high), prev_high),
                         _mm256_shuffle_epi8(utf8_table_avx2(utf8_by_prev_low), prev_low)),
        _mm256_shuffle_epi8(utf8_table_avx2(utf8_by_this_high), this_high));

    // Bit 7 set where the byte two back is E0-FF or the byte three back is F0-FF.
    const __m256i third = _mm256_subs_epu8(prev2, _mm256_set1_epi8(0xE0 - 0x80));
    const __m256i fourth = _mm256_subs_epu8(prev3, _mm256_set1_epi8(0xF0 - 0x80));
    const __m256i must_continue =
        _mm256_and_si256(_mm256_or_si256(third, fourth), _mm256_set1_epi8(static_cast<char>(0x80)));
    return _mm256_xor_si256(pair, must_continue);
}

// Where a scan that found [p, p+i) free of errors may resume: i, or the lead of a sequence
// that the end at i cuts off (a lead in the last byte, a 3-/4-byte lead in the second last, a
// 4-byte lead in the third last). [p, result) is then complete, valid UTF-8.
inline std::size_t utf8_resume_at(const unsigned char* p, std::size_t i) noexcept {
    if (i >= 1 && p[i - 1] >= 0xC0)
        return i - 1;
    if (i >= 2 && p[i - 2] >= 0xE0)
        return i - 2;
    if (i >= 3 && p[i - 3] >= 0xF0)
        return i - 3;
    return i;
}

// Validates [p, p+n), which starts at a code point boundary, 64 bytes at a time. Returns b such
// that [p, p+b) is complete and valid and b is at a code point boundary; the scalar DFA takes it
// from there: it finishes a sequence cut off at the end, or finds the exact byte of an error (in
// the block after b, or the few bytes before it). The last, partial block is copied into a
// buffer padded with ASCII; errors the padding causes (after a cut-off sequence) are ignored.
__attribute__((target("avx2"))) inline std::size_t utf8_valid_prefix_avx2(const unsigned char* p,
                                                                          std::size_t n) noexcept {
    const __m256i tail_max = _mm256_load_si256(reinterpret_cast<const __m256i*>(utf8_tail_max));
    __m256i before = _mm256_setzero_si256(); // what precedes p counts as ASCII
    __m256i cut_off = _mm256_setzero_si256(); // nonzero if the last block ends mid-sequence
    std::size_t i = 0;
    for (; n - i >= 64; i += 64) {
        const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i));
        const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 32));
        if (_mm256_movemask_epi8(_mm256_or_si256(a, b)) == 0) { // all ASCII
            if (!_mm256_testz_si256(cut_off, cut_off))
                return utf8_resume_at(p, i); // ASCII where a continuation was due
            before = b;
            continue;
        }
        const __m256i errors = _mm256_or_si256(utf8_errors_avx2(a, before), utf8_errors_avx2(b, a));
        if (!_mm256_testz_si256(errors, errors))
            return utf8_resume_at(p, i);
        before = b;
        cut_off = _mm256_subs_epu8(b, tail_max);
    }
    const std::size_t rest = n - i;
    if (rest == 0)
        return utf8_resume_at(p, i);
    alignas(32) unsigned char block[64] = {};
    std::memcpy(block, p + i, rest);
    const __m256i a = _mm256_load_si256(reinterpret_cast<const __m256i*>(block));
    const __m256i b = _mm256_load_si256(reinterpret_cast<const __m256i*>(block + 32));
    const __m256i zero = _mm256_setzero_si256();
    const std::uint64_t ok_a =
        static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(utf8_errors_avx2(a, before), zero)));
    const std::uint64_t ok_b =
        static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(utf8_errors_avx2(b, a), zero)));
    const std::uint64_t bad = ~(ok_a | ok_b << 32) & ((std::uint64_t{1} << rest) - 1);
    return utf8_resume_at(p, bad == 0 ? n : i);
}

#endif // DUPLEX_UTF8_AVX2

inline bool utf8_feed_portable(utf8_validator& v, const void* data, std::size_t size) noexcept;

} // namespace detail

/// Validates UTF-8 fed in any number of pieces (a message's frames, a frame's reads).
///
/// Accepts exactly RFC 3629 UTF-8: no overlong forms, no surrogates (U+D800-U+DFFF), nothing above
/// U+10FFFF. It fails at the first byte after which no continuation could be valid, so a peer
/// sending bad text is caught at that byte, not at the end of its message. Noncharacters such as
/// U+FFFE are valid UTF-8 and accepted. The state is 16 bytes and survives between calls.
class utf8_validator {
public:
    /// Feeds the next bytes. Returns false once the input so far can no longer be the start of
    /// valid UTF-8; position() then gives the offending byte's offset in the whole stream, and
    /// every later call returns false until reset().
    bool feed(const void* data, std::size_t size) noexcept { return feed_impl(data, size, true); }

    /// True if everything fed so far is valid and ends on a code point boundary: the test a
    /// receiver makes when the final fragment of a text message has arrived.
    bool complete() const noexcept { return state_ == detail::utf8_accept; }

    /// True once feed() has seen an invalid byte.
    bool failed() const noexcept { return state_ == detail::utf8_err; }

    /// Bytes accepted so far; after a failure, the offset of the first invalid byte.
    std::uint64_t position() const noexcept { return position_; }

    /// Forgets all input, for the next message.
    void reset() noexcept { *this = utf8_validator{}; }

private:
    friend bool detail::utf8_feed_portable(utf8_validator&, const void*, std::size_t) noexcept;

    // `simd` false keeps to the portable DFA (the tests check both paths on one machine).
    bool feed_impl(const void* data, std::size_t size, bool simd) noexcept {
        if (state_ == detail::utf8_err)
            return false;
        const auto* const start = static_cast<const unsigned char*>(data);
        const auto* p = start;
        const auto* const end = start + size;
        unsigned s = state_;
        if (s == detail::utf8_accept)
            p = detail::utf8_skip_ascii(p, end); // leading ASCII (all of it, in much real text)
#ifndef DUPLEX_UTF8_AVX2
        (void)simd;
#else
        if (simd && end - p >= 64 && detail::utf8_cpu_has_avx2()) {
            // The vector scan starts at a code point boundary: first finish a sequence that an
            // earlier feed began (at most 3 bytes).
            while (s != detail::utf8_accept && p != end) {
                s = detail::utf8_step(s, *p);
                if (s == detail::utf8_err)
                    return fail(start, p);
                ++p;
            }
            p += detail::utf8_valid_prefix_avx2(p, static_cast<std::size_t>(end - p));
        }
#endif
        p = detail::utf8_run_dfa(p, end, s);
        state_ = static_cast<std::uint8_t>(s);
        if (s == detail::utf8_err)
            return fail(start, p);
        position_ += size;
        return true;
    }

    bool fail(const unsigned char* start, const unsigned char* at) noexcept {
        state_ = detail::utf8_err;
        position_ += static_cast<std::uint64_t>(at - start);
        return false;
    }

    std::uint64_t position_ = 0;
    std::uint8_t state_ = detail::utf8_accept; // the DFA state; utf8_err once failed
};

namespace detail {
// feed() without the vector path, whatever the CPU: for the tests and benchmarks.
inline bool utf8_feed_portable(utf8_validator& v, const void* data, std::size_t size) noexcept {
    return v.feed_impl(data, size, false);
}
} // namespace detail

/// True if [data, data+size) is complete, valid UTF-8 (RFC 3629).
inline bool is_valid_utf8(const void* data, std::size_t size) noexcept {
    utf8_validator v;
    return v.feed(data, size) && v.complete();
}

} // namespace duplex
