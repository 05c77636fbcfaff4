// Shared by the UTF-8 tests (utf8_test.cpp, utf8_exhaustive_test.cpp): a reference decoder and
// helpers that feed the validator whole, byte by byte and in pieces.
//
// Expected results come from two sources, never from the code under test:
//  * hand-written expectations for the named cases (Markus Kuhn's UTF-8 decoder stress test, as
//    Autobahn's case 6 uses it), each also checked against the reference below;
//  * an independent reference decoder written from RFC 3629's definition: it assembles the code
//    point's value from the payload bits and rejects a sequence whose value is overlong for its
//    length, a surrogate, or above U+10FFFF. It works by value, not with a table of allowed
//    second-byte ranges as the implementation does.
#pragma once

#include <duplex/core/utf8.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <ostream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace utf8_test {

using bytes = std::vector<unsigned char>;

// ---- Small helpers -----------------------------------------------------------------------------

// "ce ba e1" -> {0xCE, 0xBA, 0xE1}; anything but hex digits separates.
inline bytes hex(const char* text) {
    bytes out;
    int nibbles = 0;
    unsigned value = 0;
    for (const char* p = text; *p != '\0'; ++p) {
        const char c = *p;
        unsigned digit;
        if (c >= '0' && c <= '9')
            digit = static_cast<unsigned>(c - '0');
        else if (c >= 'a' && c <= 'f')
            digit = static_cast<unsigned>(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            digit = static_cast<unsigned>(c - 'A' + 10);
        else
            continue;
        value = value * 16 + digit;
        if (++nibbles == 2) {
            out.push_back(static_cast<unsigned char>(value));
            value = 0;
            nibbles = 0;
        }
    }
    if (nibbles != 0)
        throw std::logic_error(std::string("odd number of hex digits in test data: ") + text);
    return out;
}

inline bytes ascii(const std::string& s) { return bytes(s.begin(), s.end()); }

inline bytes cat(std::initializer_list<bytes> parts) {
    bytes out;
    for (const auto& part : parts)
        out.insert(out.end(), part.begin(), part.end());
    return out;
}

inline std::string to_hex(const unsigned char* p, std::size_t n) {
    static const char digits[] = "0123456789ABCDEF";
    std::string out;
    const std::size_t shown = std::min<std::size_t>(n, 48);
    for (std::size_t i = 0; i < shown; ++i) {
        if (i != 0)
            out += ' ';
        out += digits[p[i] >> 4];
        out += digits[p[i] & 0xF];
    }
    if (shown < n)
        out += " ... (" + std::to_string(n) + " bytes)";
    if (n == 0)
        out = "(empty)";
    return out;
}

inline std::string to_hex(const bytes& b) { return to_hex(b.data(), b.size()); }

// ---- Reference decoder (RFC 3629) ---------------------------------------------------------------
//
// RFC 3629 §3: the lead byte's high bits give the length (0xxxxxxx 1, 110xxxxx 2, 1110xxxx 3,
// 11110xxx 4), continuation bytes are 10xxxxxx, and the payload bits concatenated give the code
// point. A sequence of length n is valid only if its value is in n's range (shortest form:
// 0-7F, 80-7FF, 800-FFFF, 10000-10FFFF) and is not a surrogate (D800-DFFF).
//
// Fail-fast offset: after taking byte k of an n-byte sequence, the values the sequence can still
// reach are exactly [bits << 6r, (bits << 6r) + 2^6r - 1] with r = n-1-k continuation bytes to
// come. The input is dead at the first byte after which that interval holds no allowed value
// (or at a byte that cannot be a lead / continuation where one is needed).

struct ref_result {
    bool alive;          // no byte made the input impossible to extend into valid UTF-8
    std::size_t fail_at; // when !alive: offset of the first such byte
    bool complete;       // alive and ending on a code point boundary
};

// True if some value in [lo, hi] is a scalar value that an n-byte sequence may encode.
inline bool ref_may_encode(std::uint32_t lo, std::uint32_t hi, int length) {
    static const std::uint32_t min_value[] = {0, 0x0, 0x80, 0x800, 0x10000};
    static const std::uint32_t max_value[] = {0, 0x7F, 0x7FF, 0xFFFF, 0x10FFFF};
    if (lo < min_value[length])
        lo = min_value[length];
    if (hi > max_value[length])
        hi = max_value[length];
    if (lo > hi)
        return false;
    return !(lo >= 0xD800 && hi <= 0xDFFF); // not every value left is a surrogate
}

inline ref_result reference(const unsigned char* s, std::size_t n) {
    std::size_t i = 0;
    while (i < n) {
        const unsigned b = s[i];
        int length;
        std::uint32_t bits;
        if (b < 0x80) {
            length = 1;
            bits = b;
        } else if ((b & 0xE0) == 0xC0) {
            length = 2;
            bits = b & 0x1F;
        } else if ((b & 0xF0) == 0xE0) {
            length = 3;
            bits = b & 0x0F;
        } else if ((b & 0xF8) == 0xF0) {
            length = 4;
            bits = b & 0x07;
        } else {
            return {false, i, false}; // 10xxxxxx without a lead, or 11111xxx
        }
        for (int k = 0;; ++k) { // k: index in the sequence of the byte just taken
            const int rest = length - 1 - k;
            const std::uint32_t lo = bits << (6 * rest);
            const std::uint32_t hi = lo | ((std::uint32_t{1} << (6 * rest)) - 1);
            if (!ref_may_encode(lo, hi, length))
                return {false, i + static_cast<std::size_t>(k), false};
            if (rest == 0)
                break;
            const std::size_t next = i + static_cast<std::size_t>(k) + 1;
            if (next == n)
                return {true, 0, false}; // truncated at the end of the input
            const unsigned c = s[next];
            if ((c & 0xC0) != 0x80)
                return {false, next, false};
            bits = (bits << 6) | (c & 0x3F);
        }
        i += static_cast<std::size_t>(length);
    }
    return {true, 0, true};
}

// An encoded character, kept off the heap so the exhaustive loops stay fast under ASan.
struct encoded {
    unsigned char b[6];
    std::size_t n;
    const unsigned char* data() const { return b; }
    std::size_t size() const { return n; }
    const unsigned char* begin() const { return b; }
    const unsigned char* end() const { return b + n; }
    bytes vec() const { return bytes(begin(), end()); }
};

// Writes `value` in the `length`-byte form (1-6) whether or not that is legal UTF-8: the tool
// for building overlongs, surrogates and the obsolete 5- and 6-byte forms.
inline encoded raw_encode(std::uint32_t value, int length) {
    encoded out{};
    out.n = static_cast<std::size_t>(length);
    if (length == 1) {
        out.b[0] = static_cast<unsigned char>(value);
        return out;
    }
    const unsigned lead_marker = (0xFF00u >> length) & 0xFFu; // C0, E0, F0, F8, FC
    out.b[0] = static_cast<unsigned char>(lead_marker | (value >> (6 * (length - 1))));
    for (int j = 1; j < length; ++j)
        out.b[j] = static_cast<unsigned char>(0x80 | ((value >> (6 * (length - 1 - j))) & 0x3F));
    return out;
}

// The shortest form, RFC 3629 §3's table.
inline encoded encode(std::uint32_t cp) {
    return raw_encode(cp, cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4);
}

// ---- Driving the validator ----------------------------------------------------------------------

struct outcome {
    bool accepted;          // every feed() returned true
    std::uint64_t position; // position() after the last feed
    bool complete;          // complete() after the last feed
    bool failed;            // failed() after the last feed
};

inline bool operator==(const outcome& a, const outcome& b) {
    return a.accepted == b.accepted && a.position == b.position && a.complete == b.complete &&
           a.failed == b.failed;
}

inline std::ostream& operator<<(std::ostream& os, const outcome& o) {
    return os << "{accepted=" << o.accepted << " position=" << o.position
              << " complete=" << o.complete << " failed=" << o.failed << "}";
}

inline outcome expected_from(const ref_result& r, std::size_t size) {
    if (!r.alive)
        return {false, r.fail_at, false, true};
    return {true, size, r.complete, false};
}

inline outcome reference_outcome(const unsigned char* p, std::size_t n) {
    return expected_from(reference(p, n), n);
}

inline outcome reference_outcome(const bytes& b) { return reference_outcome(b.data(), b.size()); }

inline outcome state_of(const duplex::utf8_validator& v, bool accepted) {
    return {accepted, v.position(), v.complete(), v.failed()};
}

// One feed() of the whole input.
inline outcome feed_whole(const unsigned char* p, std::size_t n) {
    duplex::utf8_validator v;
    const bool ok = v.feed(p, n);
    return state_of(v, ok);
}

inline outcome feed_whole(const bytes& b) { return feed_whole(b.data(), b.size()); }
inline outcome feed_whole(const encoded& e) { return feed_whole(e.data(), e.size()); }

// Feeds [p, p+n) in the pieces given by the sorted cut offsets, straight from the one buffer:
// the cheap variant for the big loops.
inline outcome feed_split(const unsigned char* p, std::size_t n, std::initializer_list<std::size_t> cuts) {
    duplex::utf8_validator v;
    bool ok = true;
    std::size_t begin = 0;
    for (std::size_t cut : cuts) {
        ok = v.feed(p + begin, cut - begin) && ok;
        begin = cut;
    }
    ok = v.feed(p + begin, n - begin) && ok;
    return state_of(v, ok);
}

inline outcome feed_split(const bytes& b, std::initializer_list<std::size_t> cuts) {
    return feed_split(b.data(), b.size(), cuts);
}

// One byte per feed(), straight from the buffer.
inline outcome feed_bytewise(const unsigned char* p, std::size_t n) {
    duplex::utf8_validator v;
    bool ok = true;
    for (std::size_t i = 0; i < n; ++i)
        ok = v.feed(p + i, 1) && ok;
    return state_of(v, ok);
}

// Feeds `input` in the pieces [0,c1), [c1,c2), ..., [ck,n) for the sorted cut offsets `cuts`
// (repeated cuts give empty pieces, fed as a null pointer). Each piece is copied into its own
// exactly-sized heap block, so AddressSanitizer reports any read past a piece. Checks each
// call's contract and appends any breach to `problems`:
//  * once a feed has returned false, every later feed returns false and nothing changes;
//  * a feed returning true leaves failed() false and position() = bytes fed so far;
//  * a feed returning false leaves failed() true, complete() false and position() inside the
//    piece just fed.
// `feed` replaces utf8_validator::feed (say, to force one of its code paths).
using feed_function = bool (*)(duplex::utf8_validator&, const void*, std::size_t);
inline outcome feed_pieces(const bytes& input, const std::vector<std::size_t>& cuts, std::string& problems,
                           feed_function feed = nullptr) {
    duplex::utf8_validator v;
    bool all_ok = true;
    std::size_t begin = 0;
    std::uint64_t fed = 0;
    for (std::size_t i = 0; i <= cuts.size(); ++i) {
        const std::size_t end = i < cuts.size() ? cuts[i] : input.size();
        const std::size_t len = end - begin;
        std::unique_ptr<unsigned char[]> piece;
        if (len != 0) {
            piece.reset(new unsigned char[len]);
            std::copy(input.begin() + static_cast<std::ptrdiff_t>(begin),
                      input.begin() + static_cast<std::ptrdiff_t>(end), piece.get());
        }
        const std::uint64_t before = v.position();
        const bool was_failed = v.failed();
        const bool ok = feed ? feed(v, piece.get(), len) : v.feed(piece.get(), len);
        std::ostringstream where;
        where << "piece " << i << " [" << begin << "," << end << "): ";
        if (was_failed) {
            if (ok || !v.failed() || v.position() != before || v.complete())
                problems += where.str() + "state changed or feed accepted after a failure; ";
        } else if (ok) {
            if (v.failed() || v.position() != fed + len)
                problems += where.str() + "accepted but failed() set or position() != bytes fed; ";
        } else {
            if (!v.failed() || v.complete() || v.position() < before || v.position() >= before + len)
                problems += where.str() + "refused but failed()/complete()/position() inconsistent; ";
        }
        all_ok = all_ok && ok;
        fed += len;
        begin = end;
    }
    return state_of(v, all_ok);
}

inline std::vector<std::size_t> every_byte_cuts(std::size_t n) {
    std::vector<std::size_t> cuts;
    for (std::size_t i = 1; i < n; ++i)
        cuts.push_back(i);
    return cuts;
}

// ---- Named cases ---------------------------------------------------------------------------------

enum class kind { valid, truncated, invalid };

struct named_case {
    std::string name;
    bytes input;
    kind expect;
    std::size_t fail_at; // for kind::invalid
};

inline named_case valid(std::string name, bytes input) { return {std::move(name), std::move(input), kind::valid, 0}; }
inline named_case truncated(std::string name, bytes input) {
    return {std::move(name), std::move(input), kind::truncated, 0};
}
inline named_case invalid_at(std::size_t at, std::string name, bytes input) {
    return {std::move(name), std::move(input), kind::invalid, at};
}

inline outcome expected_of(const named_case& c) {
    switch (c.expect) {
    case kind::valid:
        return {true, c.input.size(), true, false};
    case kind::truncated:
        return {true, c.input.size(), false, false};
    case kind::invalid:
        break;
    }
    return {false, c.fail_at, false, true};
}

// Checks one named case: the reference agrees with the hand-written expectation, and the
// validator gives that same result fed whole, one byte at a time, with empty feeds between
// every byte, split in two at every offset, and split in three (at every pair of offsets for
// inputs up to 40 bytes, at every pair at most 4 apart beyond that).
inline void check_case(const named_case& c) {
    INFO(c.name << ": " << to_hex(c.input));
    const outcome want = expected_of(c);
    const std::size_t n = c.input.size();
    std::string problems;

    CHECK(reference_outcome(c.input) == want);
    CHECK(duplex::is_valid_utf8(c.input.data(), n) == (c.expect == kind::valid));

    {
        INFO("fed whole");
        CHECK(feed_pieces(c.input, {}, problems) == want);
    }
    {
        INFO("fed one byte at a time");
        CHECK(feed_pieces(c.input, every_byte_cuts(n), problems) == want);
    }
    {
        INFO("fed one byte at a time with empty feeds before, between and after");
        std::vector<std::size_t> cuts{0};
        for (std::size_t i = 1; i <= n; ++i) {
            cuts.push_back(i);
            cuts.push_back(i);
        }
        CHECK(feed_pieces(c.input, cuts, problems) == want);
    }
    for (std::size_t cut = 0; cut <= n; ++cut) {
        INFO("split in two at " << cut);
        CHECK(feed_pieces(c.input, {cut}, problems) == want);
    }
    // Every pair of cuts for short inputs; for long ones, every pair at most 4 apart, which still
    // cuts each character into three pieces in every possible way.
    std::size_t mismatches = 0;
    std::string first;
    for (std::size_t a = 0; a <= n; ++a) {
        for (std::size_t b = a; b <= (n <= 40 ? n : std::min(n, a + 4)); ++b) {
            const outcome got = feed_pieces(c.input, {a, b}, problems);
            if (!(got == want) && mismatches++ == 0) {
                std::ostringstream os;
                os << "split in three at " << a << "," << b << ": got " << got;
                first = os.str();
            }
        }
    }
    INFO("three-piece splits: " << first);
    CHECK(mismatches == 0);
    INFO("contract breaches: " << problems);
    CHECK(problems.empty());
}

inline void check_cases(const std::vector<named_case>& cases) {
    for (const auto& c : cases)
        check_case(c);
}

inline const bytes kosme = hex("ce ba e1 bd b9 cf 83 ce bc ce b5"); // "κόσμε", Kuhn §1

} // namespace utf8_test
