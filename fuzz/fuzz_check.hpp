// duplex fuzzing — what every harness shares: the property check and a reference UTF-8 decoder.
// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace duplex_fuzz {

[[noreturn]] inline void property_violated(const char* what, const char* file, int line) {
    std::fprintf(stderr, "%s:%d: property violated: %s\n", file, line, what);
    std::fflush(stderr);
    std::abort(); // libFuzzer, AFL++ and the standalone runner all report this input as a crash
}

// Checks a property of the code under test. Unlike assert it stays on under NDEBUG.
#define FUZZ_CHECK(cond)                                                                          \
    ((cond) ? static_cast<void>(0) : ::duplex_fuzz::property_violated(#cond, __FILE__, __LINE__))

// What RFC 3629 says about a byte string, worked out independently of duplex::utf8_validator:
// it decodes code points and, at each byte, asks whether any continuation of the bytes read so
// far could still be a valid code point of the length the lead byte announced.
struct utf8_verdict {
    bool invalid = false;       // some prefix can no longer be the start of valid UTF-8
    std::size_t fail_at = 0;    // if invalid: offset of the first byte that makes it so
    std::vector<bool> boundary; // boundary[k]: the first k bytes end between code points
                                // (filled for k up to fail_at, or up to the size if valid)
};

namespace detail {

// Could a code point whose high bits are `prefix`, with `remaining` 6-bit groups still to come,
// be a valid scalar value that needs exactly `length` bytes?
inline bool can_complete(std::uint32_t prefix, int remaining, int length) {
    static const std::uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
    static const std::uint32_t most[] = {0, 0x7F, 0x7FF, 0xFFFF, 0x10FFFF};
    const std::uint32_t lo = prefix << (6 * remaining);
    const std::uint32_t hi = lo | ((std::uint32_t{1} << (6 * remaining)) - 1);
    const std::uint32_t a = lo > least[length] ? lo : least[length];
    const std::uint32_t b = hi < most[length] ? hi : most[length];
    if (a > b)
        return false; // every completion is overlong or beyond U+10FFFF
    if (a >= 0xD800 && b <= 0xDFFF)
        return false; // every completion is a UTF-16 surrogate
    return true;
}

} // namespace detail

inline utf8_verdict reference_utf8(const std::uint8_t* s, std::size_t n) {
    utf8_verdict v;
    v.boundary.assign(n + 1, false);
    v.boundary[0] = true;
    auto fail = [&](std::size_t at) {
        v.invalid = true;
        v.fail_at = at;
        return v;
    };
    std::size_t i = 0;
    while (i < n) {
        const std::uint8_t b = s[i];
        int length;
        std::uint32_t cp;
        if (b < 0x80) {
            length = 1;
            cp = b;
        } else if ((b & 0xE0) == 0xC0) {
            length = 2;
            cp = b & 0x1Fu;
        } else if ((b & 0xF0) == 0xE0) {
            length = 3;
            cp = b & 0x0Fu;
        } else if ((b & 0xF8) == 0xF0) {
            length = 4;
            cp = b & 0x07u;
        } else {
            return fail(i); // a continuation byte where a code point should start, or F8-FF
        }
        if (!detail::can_complete(cp, length - 1, length))
            return fail(i);
        for (int j = 1; j < length; ++j) {
            if (i + j >= n)
                return v; // the input ends inside this code point: valid so far, not complete
            const std::uint8_t c = s[i + j];
            if ((c & 0xC0) != 0x80)
                return fail(i + j);
            cp = (cp << 6) | (c & 0x3Fu);
            if (!detail::can_complete(cp, length - 1 - j, length))
                return fail(i + j);
        }
        i += static_cast<std::size_t>(length);
        v.boundary[i] = true;
    }
    return v;
}

inline bool reference_valid_utf8(const std::uint8_t* s, std::size_t n) {
    const utf8_verdict v = reference_utf8(s, n);
    return !v.invalid && v.boundary[n];
}

} // namespace duplex_fuzz
