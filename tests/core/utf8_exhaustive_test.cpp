// Tests for include/duplex/core/utf8.hpp: streaming, fail-fast UTF-8 validation (RFC 3629,
// RFC 6455 §8.1). This file: the ASCII fast path, and exhaustive
// and random comparisons with the reference.
//
// Expected results come from hand-written expectations and from the independent reference
// decoder in utf8_reference.hpp, never from the code under test.
#include "utf8_reference.hpp"

#include <catch2/catch.hpp>

using namespace utf8_test;

namespace {

// ASCII run of length n whose bytes cycle through all of 00..7F, starting at `phase`.
bytes ascii_run(std::size_t n, unsigned phase = 0) {
    bytes out(n);
    for (std::size_t i = 0; i < n; ++i)
        out[i] = static_cast<unsigned char>((i + phase) % 0x80);
    return out;
}

} // namespace

TEST_CASE("utf8: ASCII runs of every length 0..100 and some long ones, including 00 and 7F, are valid") {
    std::size_t mismatches = 0;
    std::string first;
    for (std::size_t n = 0; n <= 100; ++n) {
        for (unsigned phase : {0u, 0x70u, 0x7Fu}) {
            const bytes run = ascii_run(n, phase);
            const outcome want{true, n, true, false};
            if (!(feed_whole(run) == want) && mismatches++ == 0)
                first = "length " + std::to_string(n) + " phase " + std::to_string(phase);
        }
    }
    for (std::size_t n : {1000u, 4096u, 4097u, 65535u, 65536u, 65537u, 1000003u}) {
        const bytes run = ascii_run(n);
        if (!(feed_whole(run) == outcome{true, n, true, false}) && mismatches++ == 0)
            first = "length " + std::to_string(n);
    }
    INFO("first mismatch: " << first);
    CHECK(mismatches == 0);
}

TEST_CASE("utf8: the ASCII fast path stops at a bad byte at every offset of runs 0..100 long") {
    // A non-ASCII byte that cannot start a character, at offset k of an otherwise ASCII input,
    // fails at exactly k: fed whole, split just before it, split just after it, and split at
    // every 16-byte block boundary.
    std::size_t tried = 0;
    std::size_t mismatches = 0;
    std::string first;
    for (unsigned bad : {0x80u, 0xBFu, 0xC0u, 0xC1u, 0xF5u, 0xF8u, 0xFEu, 0xFFu}) {
        for (std::size_t n = 1; n <= 100; ++n) {
            for (std::size_t k = 0; k < n; ++k) {
                bytes input = ascii_run(n, static_cast<unsigned>(n));
                input[k] = static_cast<unsigned char>(bad);
                const outcome want{false, k, false, true};
                ++tried;
                const bool ok = reference_outcome(input) == want && feed_whole(input) == want &&
                                feed_split(input, {k}) == want && feed_split(input, {k + 1}) == want &&
                                feed_split(input, {std::min<std::size_t>(16, n), std::min<std::size_t>(32, n),
                                                   std::min<std::size_t>(48, n), std::min<std::size_t>(64, n),
                                                   std::min<std::size_t>(80, n), std::min<std::size_t>(96, n)}) == want;
                if (!ok && mismatches++ == 0)
                    first = "byte " + std::to_string(bad) + " at " + std::to_string(k) + " of " + std::to_string(n);
            }
        }
    }
    INFO(tried << " inputs; first mismatch: " << first);
    CHECK(tried == 8 * 5050);
    CHECK(mismatches == 0);
}

TEST_CASE("utf8: the ASCII fast path passes a multibyte character at every offset of runs 0..100 long") {
    const bytes chars[] = {hex("df bf"), hex("e0 a0 80"), hex("ed 9f bf"), hex("f0 90 80 80"), hex("f4 8f bf bf")};
    std::size_t mismatches = 0;
    std::string first;
    bytes good, cut, broken; // reused, to keep allocations out of the loop
    for (const auto& ch : chars) {
        for (std::size_t n = 0; n <= 100; ++n) {
            const bytes run = ascii_run(n, 0x11);
            for (std::size_t k = 0; k <= n; ++k) {
                const auto at = run.begin() + static_cast<std::ptrdiff_t>(k);
                // valid: the character at offset k of the run
                good.assign(run.begin(), at);
                good.insert(good.end(), ch.begin(), ch.end());
                good.insert(good.end(), at, run.end());
                // truncated at the end: the run up to k, then the character without its last byte
                cut.assign(run.begin(), at);
                cut.insert(cut.end(), ch.begin(), ch.end() - 1);
                // invalid: the character's last byte replaced by 'A', then the rest of the run
                broken.assign(cut.begin(), cut.end());
                broken.push_back('A');
                broken.insert(broken.end(), at, run.end());
                const outcome want_good{true, good.size(), true, false};
                const outcome want_cut{true, cut.size(), false, false};
                const outcome want_broken{false, k + ch.size() - 1, false, true};
                const bool ok = reference_outcome(good) == want_good && feed_whole(good) == want_good &&
                                feed_split(good, {k + 1}) == want_good &&
                                reference_outcome(cut) == want_cut && feed_whole(cut) == want_cut &&
                                reference_outcome(broken) == want_broken && feed_whole(broken) == want_broken &&
                                feed_split(broken, {k + 1}) == want_broken;
                if (!ok && mismatches++ == 0)
                    first = to_hex(ch) + " at " + std::to_string(k) + " of " + std::to_string(n);
            }
        }
    }
    INFO("first mismatch: " << first);
    CHECK(mismatches == 0);
}

TEST_CASE("utf8: the ASCII fast path finds a bad byte around every 16-byte block boundary of long runs, at any alignment") {
    std::size_t tried = 0;
    std::size_t mismatches = 0;
    std::string first;
    for (std::size_t n : {1000u, 4096u, 65539u}) {
        std::vector<std::size_t> offsets;
        for (std::size_t k = 0; k < n; ++k) {
            const std::size_t r = k % 16;
            const bool near_block_edge = r == 0 || r == 1 || r == 7 || r == 8 || r == 9 || r == 15;
            if (k < 64 || k + 64 >= n || (near_block_edge && k % (n < 5000 ? 1021 : 4099) < 48))
                offsets.push_back(k);
        }
        for (std::size_t k : offsets) {
            for (std::size_t align : {0u, 1u, 3u, 8u, 15u}) {
                // The input starts `align` bytes into its block and ends exactly at its end.
                bytes block(align + n, 'a');
                block[align + k] = 0x80;
                ++tried;
                if (!(feed_whole(block.data() + align, n) == outcome{false, k, false, true}) && mismatches++ == 0)
                    first = "0x80 at " + std::to_string(k) + " of " + std::to_string(n) + ", align " +
                            std::to_string(align);
            }
        }
    }
    // The fast path counts blocks from where the ASCII run starts, e.g. after a multibyte
    // character: a bad byte anywhere after "é" + ASCII.
    for (std::size_t k = 0; k < 80; ++k) {
        bytes input = cat({hex("c3 a9"), ascii_run(80, 0x20)});
        input[2 + k] = 0xFF;
        ++tried;
        if (!(feed_whole(input) == outcome{false, 2 + k, false, true}) && mismatches++ == 0)
            first = "FF at " + std::to_string(2 + k) + " after a 2-byte character";
    }
    INFO(tried << " inputs; first mismatch: " << first);
    CHECK(mismatches == 0);
}

TEST_CASE("utf8: every byte after an ASCII run, with various tails, matches the reference") {
    const bytes tails[] = {bytes{}, hex("80"), hex("a0 80"), hex("9f bf"), hex("bf bf bf"), hex("90 80 80"),
                           hex("8f bf bf"), hex("41"), hex("80 41")};
    std::size_t tried = 0;
    std::size_t mismatches = 0;
    std::string first;
    // Run lengths around the fast path's first two 16-byte blocks.
    for (std::size_t len : {0u, 1u, 2u, 7u, 8u, 9u, 14u, 15u, 16u, 17u, 18u, 23u, 24u, 30u, 31u, 32u, 33u, 47u, 48u, 49u}) {
        for (unsigned b = 0; b <= 0xFF; ++b) {
            for (const auto& tail : tails) {
                bytes input = ascii_run(len, 0x30);
                input.push_back(static_cast<unsigned char>(b));
                input.insert(input.end(), tail.begin(), tail.end());
                const outcome want = reference_outcome(input);
                ++tried;
                const bool ok = feed_whole(input) == want && feed_split(input, {len}) == want &&
                                feed_split(input, {len + 1}) == want;
                if (!ok && mismatches++ == 0)
                    first = to_hex(input);
            }
        }
    }
    INFO(tried << " inputs; first mismatch: " << first);
    CHECK(mismatches == 0);
}

// ---- Exhaustive comparisons with the reference --------------------------------------------------

TEST_CASE("utf8: all 65536 two-byte strings match the reference, fed whole and byte by byte") {
    std::size_t mismatches = 0;
    std::size_t valid_count = 0;
    std::string first;
    for (unsigned i = 0; i < 0x10000; ++i) {
        const unsigned char in[2] = {static_cast<unsigned char>(i >> 8), static_cast<unsigned char>(i)};
        const outcome want = reference_outcome(in, 2);
        duplex::utf8_validator v;
        const bool ok1 = v.feed(in, 1);
        const bool ok2 = v.feed(in + 1, 1);
        const bool same = feed_whole(in, 2) == want && state_of(v, ok1 && ok2) == want &&
                          duplex::is_valid_utf8(in, 2) == (want.accepted && want.complete);
        if (!same && mismatches++ == 0)
            first = to_hex(in, 2);
        if (want.accepted && want.complete)
            ++valid_count;
    }
    INFO("first mismatch: " << first);
    CHECK(mismatches == 0);
    // Independent count: 128*128 ASCII pairs + 1920 two-byte characters (U+0080..U+07FF).
    CHECK(valid_count == 128 * 128 + 1920);
}

TEST_CASE("utf8: all three-byte strings with a lead E0-F4 match the reference, fed whole and byte by byte") {
    std::size_t mismatches = 0;
    std::size_t valid_count = 0;
    std::string first;
    for (std::uint32_t i = 0xE00000; i <= 0xF4FFFF; ++i) {
        const unsigned char in[3] = {static_cast<unsigned char>(i >> 16), static_cast<unsigned char>(i >> 8),
                                     static_cast<unsigned char>(i)};
        const outcome want = reference_outcome(in, 3);
        // One byte per call crosses both call boundaries a 3-byte character can have.
        duplex::utf8_validator v;
        const bool ok1 = v.feed(in, 1);
        const bool ok2 = v.feed(in + 1, 1);
        const bool ok3 = v.feed(in + 2, 1);
        const bool same = feed_whole(in, 3) == want && state_of(v, ok1 && ok2 && ok3) == want;
        if (!same && mismatches++ == 0)
            first = to_hex(in, 3);
        if (want.accepted && want.complete)
            ++valid_count;
    }
    INFO("first mismatch: " << first);
    CHECK(mismatches == 0);
    // Independent count of the valid ones: U+0800..U+FFFF less the 2048 surrogates.
    CHECK(valid_count == 0x10000 - 0x800 - 0x800);
}

TEST_CASE("utf8: three-byte strings with any other non-ASCII lead and every second byte match the reference") {
    // Leads 80-DF and F5-FF, every second byte, and a third byte from each byte class.
    const unsigned char thirds[] = {0x41, 0x80, 0x9F, 0xA0, 0xBF, 0xC1, 0xC2, 0xE0, 0xF4, 0xF5, 0xFF};
    std::size_t mismatches = 0;
    std::size_t valid_count = 0;
    std::string first;
    for (unsigned lead = 0x80; lead <= 0xFF; ++lead) {
        if (lead >= 0xE0 && lead <= 0xF4)
            continue;
        for (unsigned second = 0; second <= 0xFF; ++second) {
            for (unsigned char third : thirds) {
                const unsigned char in[3] = {static_cast<unsigned char>(lead), static_cast<unsigned char>(second),
                                             third};
                const outcome want = reference_outcome(in, 3);
                if (!(feed_whole(in, 3) == want && feed_bytewise(in, 3) == want) &&
                    mismatches++ == 0)
                    first = to_hex(in, 3);
                if (want.accepted && want.complete)
                    ++valid_count;
            }
        }
    }
    INFO("first mismatch: " << first);
    CHECK(mismatches == 0);
    // Independent count: a 2-byte character (1920 of them) then the one ASCII third byte.
    CHECK(valid_count == 1920);
}

TEST_CASE("utf8: all four-byte strings over an alphabet holding every byte-class boundary match the reference") {
    // Each byte that starts or ends a range the rules distinguish, with neighbours.
    const unsigned char alphabet[] = {0x00, 0x41, 0x7F, 0x80, 0x81, 0x8F, 0x90, 0x9F, 0xA0, 0xAF, 0xB0, 0xBF,
                                      0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1,
                                      0xF3, 0xF4, 0xF5, 0xF7, 0xF8, 0xFB, 0xFC, 0xFD, 0xFE, 0xFF};
    std::size_t tried = 0;
    std::size_t mismatches = 0;
    std::size_t valid_4byte_chars = 0;
    std::string first;
    for (unsigned char a : alphabet)
        for (unsigned char b : alphabet)
            for (unsigned char c : alphabet)
                for (unsigned char d : alphabet) {
                    const unsigned char in[4] = {a, b, c, d};
                    const outcome want = reference_outcome(in, 4);
                    ++tried;
                    if (!(feed_whole(in, 4) == want) && mismatches++ == 0)
                        first = to_hex(in, 4);
                    if (want.accepted && want.complete && a >= 0xF0)
                        ++valid_4byte_chars;
                }
    INFO(tried << " inputs; first mismatch: " << first);
    CHECK(mismatches == 0);
    // Sanity check of the reference, counted by hand: second byte 90-BF (6 alphabet bytes) after
    // F0, 80-BF (9) after F1 and F3, 80-8F (3) after F4; third and fourth bytes any of the 9
    // continuation bytes: (6 + 9 + 9 + 3) * 9 * 9.
    CHECK(valid_4byte_chars == (6 + 9 + 9 + 3) * 9 * 9);
}

TEST_CASE("utf8: every Unicode scalar value encodes to valid UTF-8, alone and as one stream") {
    // 128*1 + 1920*2 + (3-byte characters less 2048 surrogates)*3 + (4-byte characters)*4.
    const std::size_t expected_size = 0x80 * 1 + (0x800 - 0x80) * 2 + (0x10000 - 0x800 - 0x800) * 3 +
                                      (0x110000 - 0x10000) * 4;
    bytes stream(expected_size + 4); // + 4: room for the last write
    std::size_t size = 0;
    std::size_t count = 0;
    std::size_t mismatches = 0;
    std::uint32_t first = 0;
    for (std::uint32_t cp = 0; cp <= 0x10FFFF; ++cp) {
        if (cp >= 0xD800 && cp <= 0xDFFF)
            continue;
        const encoded e = encode(cp);
        ++count;
        if (!(feed_whole(e) == outcome{true, e.size(), true, false}) && mismatches++ == 0)
            first = cp;
        if (size + e.size() <= stream.size())
            std::copy(e.begin(), e.end(), stream.begin() + static_cast<std::ptrdiff_t>(size));
        size += e.size();
    }
    INFO("first failing code point: " << first);
    CHECK(count == 0x110000 - 0x800);
    CHECK(mismatches == 0);
    REQUIRE(size == expected_size);
    stream.resize(size);
    CHECK(duplex::is_valid_utf8(stream.data(), stream.size()));
    for (std::size_t chunk : {7u, 4093u}) { // 7 cuts characters of every length at every point
        INFO("fed in chunks of " << chunk);
        duplex::utf8_validator v;
        bool ok = true;
        for (std::size_t at = 0; at < stream.size() && ok; at += chunk)
            ok = v.feed(stream.data() + at, std::min(chunk, stream.size() - at));
        CHECK(ok);
        CHECK(v.complete());
        CHECK(v.position() == stream.size());
    }
}

TEST_CASE("utf8: every proper prefix of every scalar value's encoding is incomplete, and fails at whatever non-continuation follows") {
    // The L-byte prefixes of the n-byte characters are the same for all code points in a block
    // of 2^(6(n-L)), so visiting one code point per block visits every distinct prefix.
    struct form {
        int length;
        std::uint32_t min, max;
    };
    const form forms[] = {{2, 0x80, 0x7FF}, {3, 0x800, 0xFFFF}, {4, 0x10000, 0x10FFFF}};
    std::size_t tried = 0;
    std::size_t mismatches = 0;
    std::string first;
    for (const auto& f : forms) {
        for (int len = 1; len < f.length; ++len) {
            const std::uint32_t block = std::uint32_t{1} << (6 * (f.length - len));
            for (std::uint32_t cp = f.min; cp <= f.max; cp = (cp | (block - 1)) + 1) {
                if (cp >= 0xD800 && cp <= 0xDFFF)
                    continue; // a surrogate's prefix (ED A0..BF) is no valid character's prefix
                const encoded e = encode(cp);
                const auto n = static_cast<std::size_t>(len);
                bytes then_ascii(e.begin(), e.begin() + n);
                then_ascii.push_back('A');
                bytes then_lead(e.begin(), e.begin() + n);
                then_lead.push_back(0xC3);
                then_lead.push_back(0xA9);
                const outcome incomplete{true, n, false, false};
                const outcome fails_next{false, n, false, true};
                ++tried;
                const bool ok = reference_outcome(e.data(), n) == incomplete && feed_whole(e.data(), n) == incomplete &&
                                feed_bytewise(e.data(), n) == incomplete && feed_whole(then_ascii) == fails_next &&
                                feed_split(then_ascii, {n}) == fails_next && feed_whole(then_lead) == fails_next;
                if (!ok && mismatches++ == 0)
                    first = to_hex(e.data(), n);
            }
        }
    }
    INFO(tried << " prefixes; first mismatch: " << first);
    // Distinct prefixes, counted by hand: 30 leads C2-DF; 16 leads E0-EF and 16*64 - 32 - 32
    // two-byte prefixes (less E0 80-9F, overlong, and ED A0-BF, surrogates); 5 leads F0-F4,
    // 48 + 3*64 + 16 two-byte prefixes (F0 90-BF, F1-F3 80-BF, F4 80-8F) and 16384 three-byte
    // prefixes (U+10000..U+10FFFF in blocks of 64).
    CHECK(tried == 30 + (16 + (16 * 64 - 32 - 32)) + (5 + (48 + 3 * 64 + 16) + 16384));
    CHECK(mismatches == 0);
}

TEST_CASE("utf8: every surrogate encoded in 3 bytes fails at its second byte") {
    std::size_t mismatches = 0;
    std::uint32_t first = 0;
    for (std::uint32_t cp = 0xD800; cp <= 0xDFFF; ++cp) {
        const bytes e = raw_encode(cp, 3).vec();
        const bool ok = e[0] == 0xED && feed_whole(e) == outcome{false, 1, false, true} &&
                        feed_whole(e.data(), 2) == outcome{false, 1, false, true} &&
                        feed_bytewise(e.data(), 3) == outcome{false, 1, false, true} &&
                        feed_whole(cat({ascii("ab"), e})) == outcome{false, 3, false, true} &&
                        // CESU-8 style pair: high surrogate then low surrogate
                        feed_whole(cat({e, raw_encode(0xDC00 | (cp & 0x3FF), 3).vec()})) ==
                            outcome{false, 1, false, true};
        if (!ok && mismatches++ == 0)
            first = cp;
    }
    INFO("first failing surrogate: " << first);
    CHECK(mismatches == 0);
}

TEST_CASE("utf8: every overlong encoding and every 4-byte form above U+10FFFF fails at the byte that rules it out") {
    // Hand-written rules: a 2-byte overlong has lead C0 or C1, overlong from its first byte; a
    // 3-byte overlong is E0 80..9F, a 4-byte overlong is F0 80..8F, overlong from the second
    // byte; a 4-byte form above U+10FFFF is F4 90..BF (second byte) or F5..F7 (first byte);
    // 5- and 6-byte forms start with F8..FD, never a lead.
    struct family {
        const char* what;
        std::uint32_t first, last;
        int length;
        std::uint32_t step;
    };
    const family families[] = {
        {"2-byte overlongs of U+0000..U+007F", 0x0, 0x7F, 2, 1},
        {"3-byte overlongs of U+0000..U+07FF", 0x0, 0x7FF, 3, 1},
        {"4-byte overlongs of U+0000..U+FFFF", 0x0, 0xFFFF, 4, 1},
        {"4-byte forms of U+110000..U+13FFFF (lead F4)", 0x110000, 0x13FFFF, 4, 1},
        {"4-byte forms of U+140000..U+1FFFFF (leads F5-F7), every 7th", 0x140000, 0x1FFFFF, 4, 7},
        {"5-byte forms of U+0000..U+10FFFF, every 997th", 0x0, 0x10FFFF, 5, 997},
        {"6-byte forms of U+0000..U+10FFFF, every 997th", 0x0, 0x10FFFF, 6, 997},
        {"5-byte forms of U+110000..U+3FFFFFF, every 997th", 0x110000, 0x3FFFFFF, 5, 997},
        {"6-byte forms of U+4000000..U+7FFFFFFF, every 99991st", 0x4000000, 0x7FFFFFFF, 6, 99991},
    };
    for (const auto& f : families) {
        INFO(f.what);
        std::size_t tried = 0;
        std::size_t mismatches = 0;
        std::uint32_t first = 0;
        for (std::uint64_t value = f.first; value <= f.last; value += f.step) {
            const auto cp = static_cast<std::uint32_t>(value);
            const encoded e = raw_encode(cp, f.length);
            std::size_t at;
            if (f.length == 2 || f.length >= 5)
                at = 0;
            else if (f.length == 4 && e.b[0] >= 0xF5)
                at = 0;
            else
                at = 1;
            ++tried;
            const outcome want{false, at, false, true};
            if (!(feed_whole(e) == want && reference_outcome(e.data(), e.size()) == want) && mismatches++ == 0)
                first = cp;
        }
        INFO(tried << " values; first failing value: " << first);
        CHECK(tried > 0);
        CHECK(mismatches == 0);
    }
}

// ---- Random differential test -------------------------------------------------------------------

namespace {

// Appends a random piece of UTF-8-ish input: mostly valid characters and ASCII runs, with
// continuation bytes, lone leads, truncated characters, surrogates, overlongs and arbitrary bytes.
void append_random_piece(std::mt19937& rng, bytes& out) {
    const auto pick = [&rng](std::uint32_t n) { return static_cast<std::uint32_t>(rng() % n); };
    const std::uint32_t ranges[][2] = {{0x80, 0x7FF},     {0x800, 0xFFF},     {0x1000, 0xD7FF},
                                       {0xE000, 0xFFFF},  {0x10000, 0x3FFFF}, {0x40000, 0xFFFFF},
                                       {0x100000, 0x10FFFF}};
    const auto random_scalar = [&]() {
        const auto& r = ranges[pick(7)];
        return r[0] + pick(r[1] - r[0] + 1);
    };
    const std::uint32_t roll = pick(100);
    if (roll < 25) { // ASCII run
        const std::uint32_t n = 1 + pick(24);
        for (std::uint32_t i = 0; i < n; ++i)
            out.push_back(static_cast<unsigned char>(pick(0x80)));
    } else if (roll < 55) { // a valid character
        const encoded e = encode(random_scalar());
        out.insert(out.end(), e.begin(), e.end());
    } else if (roll < 63) { // a truncated valid character
        const encoded e = encode(random_scalar());
        out.insert(out.end(), e.begin(), e.begin() + static_cast<std::ptrdiff_t>(1 + pick(static_cast<std::uint32_t>(e.size() - 1))));
    } else if (roll < 71) { // a continuation byte
        out.push_back(static_cast<unsigned char>(0x80 + pick(0x40)));
    } else if (roll < 79) { // a lead byte, legal or not
        out.push_back(static_cast<unsigned char>(0xC0 + pick(0x40)));
    } else if (roll < 85) { // a surrogate
        const encoded e = raw_encode(0xD800 + pick(0x800), 3);
        out.insert(out.end(), e.begin(), e.end());
    } else if (roll < 91) { // an overlong or too-large form
        const std::uint32_t kind = pick(4);
        const encoded e = kind == 0 ? raw_encode(pick(0x80), 2)
                        : kind == 1 ? raw_encode(pick(0x800), 3)
                        : kind == 2 ? raw_encode(pick(0x10000), 4)
                                    : raw_encode(0x110000 + pick(0xF0000), 4);
        out.insert(out.end(), e.begin(), e.end());
    } else { // any byte
        out.push_back(static_cast<unsigned char>(pick(0x100)));
    }
}

} // namespace

TEST_CASE("utf8: random UTF-8-like byte strings fed in random chunkings match the reference") {
    std::mt19937 rng(6455);
    std::size_t tried = 0;
    std::size_t mismatches = 0;
    std::size_t accepted = 0;
    std::size_t rejected = 0;
    std::size_t incomplete = 0;
    std::string first;
    std::string problems;
    for (int iteration = 0; iteration < 12000; ++iteration) {
        bytes input;
        // Mostly short inputs of a few pieces; every tenth of 40-79 pieces, so that failures
        // also land deep in the input, after ASCII runs the fast path skips.
        const std::uint32_t pieces = iteration % 10 == 0 ? 40 + rng() % 40 : 1 + rng() % 8;
        for (std::uint32_t p = 0; p < pieces; ++p)
            append_random_piece(rng, input);
        const outcome want = reference_outcome(input);
        if (!want.accepted)
            ++rejected;
        else if (want.complete)
            ++accepted;
        else
            ++incomplete;

        std::vector<std::size_t> cuts;
        const std::size_t ncuts = rng() % 6;
        for (std::size_t c = 0; c < ncuts; ++c)
            cuts.push_back(rng() % (input.size() + 1));
        std::sort(cuts.begin(), cuts.end());

        ++tried;
        bool ok = feed_whole(input) == want && feed_pieces(input, cuts, problems) == want &&
                  duplex::is_valid_utf8(input.data(), input.size()) == (want.accepted && want.complete);
        ok = ok && feed_bytewise(input.data(), input.size()) == want;
        if (!ok && mismatches++ == 0)
            first = to_hex(input);
    }
    INFO(tried << " inputs (" << accepted << " valid, " << incomplete << " incomplete, " << rejected
               << " invalid); first mismatch: " << first << "; " << problems);
    CHECK(mismatches == 0);
    CHECK(problems.empty());
    // The generator really exercises all three outcomes.
    CHECK(accepted > 1200);
    CHECK(incomplete > 400);
    CHECK(rejected > 1200);
}
