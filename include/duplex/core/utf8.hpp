// duplex — streaming, fail-fast UTF-8 validation (RFC 3629 §4, RFC 6455 §8.1).
// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace duplex {

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
    bool feed(const void* data, std::size_t size) noexcept {
        if (failed_)
            return false;
        const auto* p = static_cast<const unsigned char*>(data);
        const auto* const end = p + size;
        const auto* const start = p;
        while (p != end) {
            if (need_ == 0) {
                if (*p < 0x80) { // a run of ASCII (in text that is not, a lead byte comes next)
                    p = skip_ascii(p, end);
                    if (p == end)
                        break;
                }
                if (!lead(*p))
                    return fail(start, p);
                // Fast path: the whole sequence is here and valid. Otherwise the byte-at-a-time
                // path below finds the exact byte that fails (or keeps the state for next time).
                if (static_cast<std::size_t>(end - p) > need_ && whole_sequence(p)) {
                    p += need_ + 1;
                    need_ = 0;
                    lo_ = 0x80;
                    hi_ = 0xBF;
                    continue;
                }
            } else {
                if (*p < lo_ || *p > hi_)
                    return fail(start, p);
                lo_ = 0x80;
                hi_ = 0xBF;
                --need_;
            }
            ++p;
        }
        position_ += size;
        return true;
    }

    /// True if everything fed so far is valid and ends on a code point boundary: the test a
    /// receiver makes when the final fragment of a text message has arrived.
    bool complete() const noexcept { return !failed_ && need_ == 0; }

    /// True once feed() has seen an invalid byte.
    bool failed() const noexcept { return failed_; }

    /// Bytes accepted so far; after a failure, the offset of the first invalid byte.
    std::uint64_t position() const noexcept { return position_; }

    /// Forgets all input, for the next message.
    void reset() noexcept { *this = utf8_validator{}; }

private:
    static const unsigned char* skip_ascii(const unsigned char* p, const unsigned char* end) noexcept {
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

    // True if the need_ bytes after the lead at p complete a valid sequence.
    bool whole_sequence(const unsigned char* p) const noexcept {
        return p[1] >= lo_ && p[1] <= hi_ && (need_ < 2 || (p[2] & 0xC0) == 0x80) &&
               (need_ < 3 || (p[3] & 0xC0) == 0x80);
    }

    // Starts a multi-byte sequence at lead byte `b`; false if `b` cannot start one.
    // The second byte's range excludes overlongs (E0, F0), surrogates (ED) and > U+10FFFF (F4).
    bool lead(unsigned char b) noexcept {
        if (b < 0xC2)
            return false; // continuation byte without a lead, or overlong C0/C1
        if (b < 0xE0) {
            need_ = 1;
        } else if (b < 0xF0) {
            need_ = 2;
            lo_ = b == 0xE0 ? 0xA0 : 0x80;
            hi_ = b == 0xED ? 0x9F : 0xBF;
        } else if (b < 0xF5) {
            need_ = 3;
            lo_ = b == 0xF0 ? 0x90 : 0x80;
            hi_ = b == 0xF4 ? 0x8F : 0xBF;
        } else {
            return false; // F5-FF: beyond U+10FFFF or not UTF-8 at all
        }
        return true;
    }

    bool fail(const unsigned char* start, const unsigned char* at) noexcept {
        failed_ = true;
        position_ += static_cast<std::uint64_t>(at - start);
        return false;
    }

    std::uint64_t position_ = 0;
    std::uint8_t need_ = 0;  // continuation bytes still expected
    std::uint8_t lo_ = 0x80; // range allowed for the next continuation byte
    std::uint8_t hi_ = 0xBF;
    bool failed_ = false;
};

/// True if [data, data+size) is complete, valid UTF-8 (RFC 3629).
inline bool is_valid_utf8(const void* data, std::size_t size) noexcept {
    utf8_validator v;
    return v.feed(data, size) && v.complete();
}

} // namespace duplex
