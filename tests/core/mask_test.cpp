// Tests for include/duplex/core/mask.hpp: payload masking (RFC 6455 §5.3).
#include <duplex/core/mask.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <vector>

namespace {

using bytes = std::vector<std::uint8_t>;

// RFC 6455 §5.3: octet i of the masked data is octet i of the original XOR octet (i mod 4) of
// the key, where i counts from the start of the frame's payload.
void reference_mask(std::uint8_t* p, std::size_t n, const duplex::mask_key& key, std::size_t phase) {
    for (std::size_t i = 0; i < n; ++i)
        p[i] = static_cast<std::uint8_t>(p[i] ^ key[(phase + i) % 4]);
}

bytes random_bytes(std::mt19937& rng, std::size_t n) {
    bytes out(n);
    for (auto& b : out)
        b = static_cast<std::uint8_t>(rng());
    return out;
}

duplex::mask_key random_key(std::mt19937& rng) {
    return {static_cast<std::uint8_t>(rng()), static_cast<std::uint8_t>(rng()),
            static_cast<std::uint8_t>(rng()), static_cast<std::uint8_t>(rng())};
}

// Masks `len` bytes at offset `align` inside a guarded buffer with both functions and compares
// them with the reference; also checks that no byte outside [align, align+len) is touched.
std::size_t mismatches_for(std::mt19937& rng, std::size_t len, std::size_t align, std::size_t phase) {
    constexpr std::size_t guard = 16;
    const auto key = random_key(rng);
    const bytes original = random_bytes(rng, align + len + guard);

    bytes expected = original;
    reference_mask(expected.data() + align, len, key, phase);

    std::size_t bad = 0;
    bytes in_place = original;
    if (duplex::apply_mask(in_place.data() + align, len, key, phase) != (phase + len) % 4)
        ++bad;
    bad += in_place != expected;

    bytes copied(original.size(), 0x5A);
    bytes copy_expected(original.size(), 0x5A);
    std::copy(expected.begin() + static_cast<std::ptrdiff_t>(align),
              expected.begin() + static_cast<std::ptrdiff_t>(align + len),
              copy_expected.begin() + static_cast<std::ptrdiff_t>(align));
    if (duplex::copy_masked(copied.data() + align, original.data() + align, len, key, phase) !=
        (phase + len) % 4)
        ++bad;
    bad += copied != copy_expected;
    return bad;
}

} // namespace

TEST_CASE("mask: the RFC 6455 5.7 key masks \"Hello\" to the documented bytes and back") {
    const duplex::mask_key key = {0x37, 0xfa, 0x21, 0x3d};
    bytes data = {'H', 'e', 'l', 'l', 'o'};
    CHECK(duplex::apply_mask(data.data(), data.size(), key) == 1);
    CHECK(data == bytes{0x7f, 0x9f, 0x4d, 0x51, 0x58});
    duplex::apply_mask(data.data(), data.size(), key);
    CHECK(data == bytes{'H', 'e', 'l', 'l', 'o'});
}

// Up to 600 bytes covers the vector path (from 256 bytes, after up to 31 bytes that reach a
// 32-byte boundary) with every head and tail; offsets 0-31 give every residue mod 32.
TEST_CASE("mask: every length 0-600 at every alignment and phase equals the byte-wise reference") {
    std::mt19937 rng(1);
    std::size_t bad = 0;
    for (std::size_t len = 0; len <= 600; ++len)
        for (std::size_t align = 0; align < 32; ++align)
            for (std::size_t phase = 0; phase < 4; ++phase)
                bad += mismatches_for(rng, len, align, phase);
    CHECK(bad == 0);
}

// On a CPU with AVX2 the tests above run the vector path; this one runs the portable loops,
// which other CPUs (and builds with DUPLEX_NO_SIMD) use.
TEST_CASE("mask: the portable path equals the reference at every length 0-600, alignment and phase") {
    std::mt19937 rng(5);
    std::size_t bad = 0;
    for (std::size_t len = 0; len <= 600; ++len)
        for (std::size_t align = 0; align < 32; ++align)
            for (std::size_t phase = 0; phase < 4; ++phase) {
                const auto key = random_key(rng);
                const bytes original = random_bytes(rng, align + len + 8);
                bytes expected = original;
                reference_mask(expected.data() + align, len, key, phase);
                bytes got = original;
                duplex::detail::mask_bytes(got.data() + align, got.data() + align, len, key, phase, false);
                bad += got != expected;
            }
    CHECK(bad == 0);
}

TEST_CASE("mask: random lengths up to 4096 at random alignments and phases equal the reference") {
    std::mt19937 rng(2);
    std::size_t bad = 0;
    for (int i = 0; i < 400; ++i) {
        const std::size_t len = rng() % 4097;
        bad += mismatches_for(rng, len, rng() % 64, rng() % 4);
    }
    CHECK(bad == 0);
}

TEST_CASE("mask: a payload masked in random chunks equals the payload masked in one pass") {
    std::mt19937 rng(3);
    for (int round = 0; round < 200; ++round) {
        const std::size_t len = rng() % 3000;
        const auto key = random_key(rng);
        const bytes original = random_bytes(rng, len);
        bytes whole = original;
        duplex::apply_mask(whole.data(), whole.size(), key);

        bytes chunked = original;
        bytes copied(len);
        std::size_t phase = 0, copy_phase = 0, pos = 0;
        while (pos < len) {
            const std::size_t n = std::min<std::size_t>(len - pos, rng() % 40);
            phase = duplex::apply_mask(chunked.data() + pos, n, key, phase);
            copy_phase = duplex::copy_masked(copied.data() + pos, original.data() + pos, n, key, copy_phase);
            pos += n;
        }
        INFO("length " << len);
        CHECK(chunked == whole);
        CHECK(copied == whole);
        CHECK(phase == len % 4);
    }
}

TEST_CASE("mask: only the phase's value mod 4 matters, so a running byte count can be passed") {
    const duplex::mask_key key = {1, 2, 3, 4};
    bytes a(37, 0), b(37, 0);
    CHECK(duplex::apply_mask(a.data(), a.size(), key, 2) == (2 + 37) % 4);
    CHECK(duplex::apply_mask(b.data(), b.size(), key, 1000002) == (2 + 37) % 4);
    CHECK(a == b);
    CHECK(a[0] == 3);
    CHECK(a[1] == 4);
    CHECK(a[2] == 1);
}

TEST_CASE("mask: copy_masked works in place when destination and source are the same buffer") {
    std::mt19937 rng(4);
    const auto key = random_key(rng);
    const bytes original = random_bytes(rng, 1000);
    bytes expected = original;
    reference_mask(expected.data(), expected.size(), key, 3);
    bytes data = original;
    duplex::copy_masked(data.data(), data.data(), data.size(), key, 3);
    CHECK(data == expected);
}

TEST_CASE("mask: a zero key leaves data unchanged and an empty range is a no-op") {
    bytes data = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    CHECK(duplex::apply_mask(data.data(), data.size(), duplex::mask_key{0, 0, 0, 0}) == 1);
    CHECK(data == bytes{1, 2, 3, 4, 5, 6, 7, 8, 9});
    CHECK(duplex::apply_mask(nullptr, 0, duplex::mask_key{1, 2, 3, 4}, 3) == 3);
    CHECK(duplex::copy_masked(nullptr, nullptr, 0, duplex::mask_key{1, 2, 3, 4}, 2) == 2);
}
