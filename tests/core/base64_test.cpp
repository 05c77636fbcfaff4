// Tests for include/duplex/core/base64.hpp: base64 with the standard alphabet and padding,
// strict (canonical) decoding (RFC 4648 §4, §3.5).
//
// Expected values come from RFC 4648 §10, RFC 6455 §1.3, hand computation, or the small
// independent reference encoder/decoder below, never from the code under test.
#include <duplex/core/base64.hpp>

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace {

const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Reference encoder: a plain bit accumulator, written from RFC 4648 §4.
std::string ref_encode(std::string_view in) {
    std::string out;
    std::uint32_t acc = 0;
    int bits = 0;
    for (unsigned char c : in) {
        acc = (acc << 8) | c;
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out += alphabet[(acc >> bits) & 63];
        }
    }
    if (bits > 0)
        out += alphabet[(acc << (6 - bits)) & 63];
    while (out.size() % 4 != 0)
        out += '=';
    return out;
}

// Reference strict decoder: loosely decode (alphabet characters, then at most two '=' at the
// very end), then accept only if re-encoding reproduces the input exactly. That makes the
// canonical-encoding rule (RFC 4648 §3.5: zero pad bits, exact padding) a consequence rather
// than a list of special cases.
bool ref_decode(std::string_view in, std::string& out) {
    out.clear();
    if (in.size() % 4 != 0)
        return false;
    std::size_t end = in.size();
    for (int i = 0; i < 2 && end > 0 && in[end - 1] == '='; ++i)
        --end;
    std::uint32_t acc = 0;
    int bits = 0;
    for (std::size_t i = 0; i < end; ++i) {
        const std::size_t v = alphabet.find(in[i]);
        if (v == std::string::npos)
            return false;
        acc = (acc << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xFF);
        }
    }
    return ref_encode(out) == in;
}

std::string encode(std::string_view in) { return duplex::base64_encode(in); }

// Decodes with base64_decode into a buffer guarded by canary bytes on both sides and checks
// that nothing is written outside [0, base64_decoded_max(size)).
bool decode(std::string_view text, std::string& out) {
    const std::size_t max = duplex::base64_decoded_max(text.size());
    std::vector<unsigned char> buf(max + 16, 0xA5);
    std::size_t size = 12345;
    const bool ok = duplex::base64_decode(text, buf.data() + 8, size);
    for (std::size_t i = 0; i < 8; ++i) {
        if (buf[i] != 0xA5 || buf[8 + max + i] != 0xA5)
            FAIL("base64_decode wrote outside its buffer for \"" << std::string(text) << "\"");
    }
    out.clear();
    if (ok) {
        if (size > max)
            FAIL("base64_decode reported " << size << " bytes, more than base64_decoded_max");
        out.assign(reinterpret_cast<const char*>(buf.data() + 8), size);
    }
    return ok;
}

bool accepts(std::string_view text) {
    std::string ignored;
    return decode(text, ignored);
}

} // namespace

TEST_CASE("base64: size helpers give the padded encoded size and the largest decoded size") {
    STATIC_REQUIRE(duplex::base64_encoded_size(0) == 0);
    STATIC_REQUIRE(duplex::base64_encoded_size(1) == 4);
    STATIC_REQUIRE(duplex::base64_encoded_size(2) == 4);
    STATIC_REQUIRE(duplex::base64_encoded_size(3) == 4);
    STATIC_REQUIRE(duplex::base64_encoded_size(4) == 8);
    STATIC_REQUIRE(duplex::base64_encoded_size(16) == 24); // a Sec-WebSocket-Key
    STATIC_REQUIRE(duplex::base64_encoded_size(20) == 28); // a Sec-WebSocket-Accept (SHA-1)
    STATIC_REQUIRE(duplex::base64_decoded_max(0) == 0);
    STATIC_REQUIRE(duplex::base64_decoded_max(4) == 3);
    STATIC_REQUIRE(duplex::base64_decoded_max(8) == 6);
    STATIC_REQUIRE(duplex::base64_decoded_max(24) == 18);
    STATIC_REQUIRE(noexcept(duplex::base64_decode(std::string_view{}, nullptr, std::declval<std::size_t&>())));
}

TEST_CASE("base64: RFC 4648 section 10 test vectors encode to their published text") {
    CHECK(encode("") == "");
    CHECK(encode("f") == "Zg==");
    CHECK(encode("fo") == "Zm8=");
    CHECK(encode("foo") == "Zm9v");
    CHECK(encode("foob") == "Zm9vYg==");
    CHECK(encode("fooba") == "Zm9vYmE=");
    CHECK(encode("foobar") == "Zm9vYmFy");
}

TEST_CASE("base64: RFC 4648 section 10 test vectors decode to their published bytes") {
    const std::pair<const char*, const char*> vectors[] = {
        {"", ""},         {"Zg==", "f"},         {"Zm8=", "fo"},         {"Zm9v", "foo"},
        {"Zm9vYg==", "foob"}, {"Zm9vYmE=", "fooba"}, {"Zm9vYmFy", "foobar"},
    };
    for (const auto& v : vectors) {
        INFO(v.first);
        std::string out;
        REQUIRE(decode(v.first, out));
        CHECK(out == v.second);
    }
}

TEST_CASE("base64: the pointer encoder writes exactly base64_encoded_size characters and returns that count") {
    const unsigned char bytes[] = {0xFB, 0xFF, 0x00, 0x10, 0x83};
    for (std::size_t n = 0; n <= sizeof bytes; ++n) {
        char buf[16];
        std::fill(std::begin(buf), std::end(buf), '#');
        const std::size_t written = duplex::base64_encode(bytes, n, buf);
        INFO("n = " << n);
        CHECK(written == duplex::base64_encoded_size(n));
        CHECK(buf[written] == '#');
    }
    // Every alphabet character at the top and bottom of the 6-bit range, by hand:
    // FB FF 00 -> 111110 111111 111100 000000 -> "+/8A"; 10 83 -> 000100 001000 001100 -> "EIM="
    char out[8];
    CHECK(std::string(out, duplex::base64_encode(bytes, 5, out)) == "+/8AEIM=");
}

TEST_CASE("base64: the RFC 6455 sample Sec-WebSocket-Key decodes to the 16 bytes 'the sample nonce'") {
    std::string out;
    REQUIRE(decode("dGhlIHNhbXBsZSBub25jZQ==", out));
    CHECK(out.size() == 16);
    CHECK(out == "the sample nonce");
    CHECK(encode("the sample nonce") == "dGhlIHNhbXBsZSBub25jZQ==");
}

TEST_CASE("base64: random byte strings of every length 0..300 match the reference encoder and round-trip") {
    std::mt19937 rng(20240601u); // fixed seed: the test is deterministic
    std::size_t mismatched = 0, not_round_tripped = 0;
    for (std::size_t n = 0; n <= 300; ++n) {
        for (int rep = 0; rep < 3; ++rep) {
            std::string data(n, '\0');
            for (auto& c : data)
                c = static_cast<char>(rng() & 0xFF);
            const std::string text = encode(data);
            if (text != ref_encode(data)) {
                ++mismatched;
                UNSCOPED_INFO("encode mismatch at length " << n);
            }
            std::string back;
            if (!decode(text, back) || back != data) {
                ++not_round_tripped;
                UNSCOPED_INFO("round trip failed at length " << n);
            }
        }
    }
    CHECK(mismatched == 0);
    CHECK(not_round_tripped == 0);
}

TEST_CASE("base64: strict decoding rejects lengths that are not a multiple of 4") {
    for (const char* text : {"Z", "Zg", "Zg=", "Zm9", "Zm9vY", "Zm9vYg", "Zm9vYg=", "Zg===", "Zm9vYmFy="}) {
        INFO(text);
        CHECK_FALSE(accepts(text));
    }
    // The unpadded forms RFC 4648 §3.2 allows other specifications to use are refused here.
    CHECK_FALSE(accepts("dGhlIHNhbXBsZSBub25jZQ"));
}

TEST_CASE("base64: strict decoding rejects characters outside the standard alphabet") {
    // URL-safe alphabet (RFC 4648 §5), whitespace, NUL, other punctuation and non-ASCII.
    const std::string bad[] = {
        "Zm9-",   "Zm9_",  "-_-_",       "Zm 9",     "Zm9v\n", "Zm9\n",
        " Zm9v",  "Zm9v ", "Zm9v\r\nYmFy", "Zm\t9",  std::string("Zm9\0", 4),
        std::string("\0\0\0\0", 4),      "Zm.v",     "Zm9v!AAA", "Zm9v*AAA", "Zm9\x80",
        "Zm9\xff", "Z\xc3\xa9v",
    };
    for (const auto& text : bad) {
        INFO(text);
        CHECK_FALSE(accepts(text));
    }
}

TEST_CASE("base64: strict decoding rejects misplaced or excess padding") {
    const char* bad[] = {
        "====", "Z===",     // three or four '='
        "Zg=a",             // '=' followed by data
        "Z=g=",             // '=' between data characters
        "=Zg=", "==Zg",     // '=' at the start
        "Zg==Zg==",         // '=' in a group that is not the last
        "Zm8=Zm9v",         // a full group after a padded one
        "Zm9vZg=a",
        "Zm9v====",
    };
    for (const char* text : bad) {
        INFO(text);
        CHECK_FALSE(accepts(text));
    }
}

TEST_CASE("base64: strict decoding rejects non-zero bits under the padding and accepts the canonical form") {
    // 'g' = 32 = 100000 leaves the 4 pad bits zero; 'h' = 33 sets the lowest one.
    CHECK(accepts("Zg=="));
    CHECK_FALSE(accepts("Zh=="));
    CHECK_FALSE(accepts("Zv=="));
    // '8' = 60 = 111100 leaves the 2 pad bits zero; '9' = 61 sets one.
    CHECK(accepts("Zm8="));
    CHECK_FALSE(accepts("Zm9="));
    CHECK_FALSE(accepts("Zm/="));
    // The same in a multi-group input.
    CHECK(accepts("Zm9vYg=="));
    CHECK_FALSE(accepts("Zm9vYh=="));
}

TEST_CASE("base64: every 4-character string over a boundary alphabet decodes iff the reference accepts it, with equal output") {
    // Each class boundary of the alphabet ('A' 'Z' 'a' 'z' '0' '9' '+' '/'), the padding
    // character, and the invalid ASCII neighbours of each class: '@' before 'A', '[' after 'Z',
    // '`' before 'a', '{' after 'z', ':' after '9', ',' after '+', '.' before '/' ('/' + 1 is
    // '0', valid); the URL-safe '-' and '_'; space. 'g' and 'Q' have zero low bits, so padded
    // strings have accepted members.
    const std::string chars = "AZaz09+/=-_ @[`{:,.gQ";
    const std::size_t k = chars.size();
    std::size_t accepted = 0, disagreements = 0;
    std::string text(4, ' '), got, want;
    for (std::size_t a = 0; a < k; ++a)
        for (std::size_t b = 0; b < k; ++b)
            for (std::size_t c = 0; c < k; ++c)
                for (std::size_t d = 0; d < k; ++d) {
                    text[0] = chars[a];
                    text[1] = chars[b];
                    text[2] = chars[c];
                    text[3] = chars[d];
                    const bool ours = decode(text, got);
                    const bool ref = ref_decode(text, want);
                    if (ours != ref || (ours && got != want)) {
                        if (++disagreements <= 10)
                            UNSCOPED_INFO("disagreement on \"" << text << "\": duplex " << ours
                                                               << ", reference " << ref);
                    }
                    accepted += ref;
                }
    CHECK(disagreements == 0);
    // Counted by hand: 10 valid data characters (A Z a z 0 9 + / g Q). Unpadded: 10^4.
    // "xxx=": the third character's two low bits must be zero: A=0, 0=52, g=32, Q=16 -> 10*10*4.
    // "xx==": the second character's four low bits must be zero: A=0, g=32, Q=16 -> 10*3.
    CHECK(accepted == 10000u + 400u + 30u);
}

TEST_CASE("base64: eight-character strings with padding in either group match the reference") {
    // Two groups over a smaller alphabet: catches '=' accepted in a non-final group.
    // 'g' has zero low bits, '/' has all ones, '-' is invalid.
    const std::string chars = "g/=-";
    std::size_t disagreements = 0;
    std::string text(8, 'A'), got, want;
    std::size_t idx[8] = {};
    for (;;) {
        for (int i = 0; i < 8; ++i)
            text[static_cast<std::size_t>(i)] = chars[idx[i]];
        const bool ours = decode(text, got);
        const bool ref = ref_decode(text, want);
        if (ours != ref || (ours && got != want)) {
            if (++disagreements <= 10)
                UNSCOPED_INFO("disagreement on \"" << text << "\"");
        }
        int i = 7;
        while (i >= 0 && ++idx[i] == chars.size())
            idx[i--] = 0;
        if (i < 0)
            break;
    }
    CHECK(disagreements == 0);
}
