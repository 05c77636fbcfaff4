// Tests for include/duplex/core/sha1.hpp: incremental SHA-1 (FIPS 180-4 §6.1).
//
// Expected digests come from FIPS 180 / RFC 3174 test vectors, or were computed independently
// with Python's hashlib (the command is given next to each table), never from the code under test.
#include <duplex/core/sha1.hpp>

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

namespace {

std::string hex(const duplex::sha1::digest& d) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (std::uint8_t b : d) {
        out += digits[b >> 4];
        out += digits[b & 15];
    }
    return out;
}

std::string hash_hex(const std::string& s) { return hex(duplex::sha1::hash(s.data(), s.size())); }

// Bytes 0, 1, 2, ... (mod 256): Python's bytes(i & 0xFF for i in range(n)).
std::vector<unsigned char> counting_bytes(std::size_t n) {
    std::vector<unsigned char> v(n);
    for (std::size_t i = 0; i < n; ++i)
        v[i] = static_cast<unsigned char>(i & 0xFF);
    return v;
}

} // namespace

TEST_CASE("sha1: the digest is 20 bytes and hashing never throws") {
    STATIC_REQUIRE(std::is_same<duplex::sha1::digest, std::array<std::uint8_t, 20>>::value);
    duplex::sha1 s;
    STATIC_REQUIRE(noexcept(s.update(nullptr, 0)));
    STATIC_REQUIRE(noexcept(s.finish()));
    STATIC_REQUIRE(noexcept(duplex::sha1::hash(nullptr, 0)));
}

TEST_CASE("sha1: FIPS 180 / RFC 3174 test vectors give their published digests") {
    // FIPS 180-2 Appendix A / RFC 3174 §7.3 TEST1, TEST2, TEST3; the empty string's digest
    // is the well-known da39a3ee...; the 896-bit message is FIPS 180-4's second two-block example.
    CHECK(hash_hex("abc") == "a9993e364706816aba3e25717850c26c9cd0d89d");
    CHECK(hash_hex("") == "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    CHECK(hash_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
          "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    CHECK(hash_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmno"
                   "pqrlmnopqrsmnopqrstnopqrstu") == "a49b2446a02c645bf419f995b67091253a04a259");
    CHECK(hash_hex("The quick brown fox jumps over the lazy dog") ==
          "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12");
}

TEST_CASE("sha1: one million 'a' gives the FIPS 180 digest, whole and in uneven pieces") {
    // RFC 3174 §7.3 TEST3 (in RFC 3174 fed as 10^6 one-byte updates).
    const std::string a(1000000, 'a');
    CHECK(hash_hex(a) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f");

    for (std::size_t piece : {1u, 63u, 64u, 65u, 997u, 4096u}) {
        INFO("piece size " << piece);
        duplex::sha1 s;
        if (piece == 1) {
            for (char c : a)
                s.update(&c, 1);
        } else {
            for (std::size_t i = 0; i < a.size(); i += piece)
                s.update(a.data() + i, a.size() - i < piece ? a.size() - i : piece);
        }
        CHECK(hex(s.finish()) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    }
}

TEST_CASE("sha1: lengths around the 55/56/63/64-byte padding boundaries give independently computed digests") {
    // Input: bytes 0, 1, 2, ... of length n. Digests computed with
    //   /usr/bin/python3 -c 'import hashlib; n=...; print(hashlib.sha1(bytes(i & 0xFF for i in range(n))).hexdigest())'
    struct vector_t {
        std::size_t n;
        const char* digest;
    };
    const vector_t vectors[] = {
        {1, "5ba93c9db0cff93f52b521d7420e43f6eda2784f"},
        {54, "cfae6d86a767b9c700b5081a54265fb2fe0f6fd9"},
        {55, "8ae2d46729cfe68ff927af5eec9c7d1b66d65ac2"},
        {56, "636e2ec698dac903498e648bd2f3af641d3c88cb"},
        {57, "7cb1330f35244b57437539253304ea78a6b7c443"},
        {62, "cf8563896a3b0a0775985d8289444c4bbc478da7"},
        {63, "6d942da0c4392b123528f2905c713a3ce28364bd"},
        {64, "c6138d514ffa2135bfce0ed0b8fac65669917ec7"},
        {65, "69bd728ad6e13cd76ff19751fde427b00e395746"},
        {118, "2a81372da39c1df4251539a9922717b7cf5f0334"},
        {119, "41c89d06001bab4ab78736b44efe7ce18ce6ae08"},
        {120, "d3dbd653bd8597b7475321b60a36891278e6a04a"},
        {121, "3723f8ab857804f89f80970e9fc88cf8f890adc2"},
        {127, "89d7312a903f65cd2b3e34a975e55dbea9033353"},
        {128, "e6434bc401f98603d7eda504790c98c67385d535"},
        {129, "3352e41cc30b40ae80108970492b21014049e625"},
        {183, "48a9d63f99faea8f26c8f9b37ae8650419767808"},
        {184, "356301d2c18c60cbf761e8820e78b2670a54ba83"},
        {191, "453e806d74a27e554f2a3395ce7917919bf3bde6"},
        {192, "995b6f0c8f9eda20f3e5a2bd89df908747900008"},
        {200, "54d11e99127d159799dbce10f51a75e697780478"},
    };
    for (const auto& v : vectors) {
        INFO("length " << v.n);
        const auto data = counting_bytes(v.n);
        CHECK(hex(duplex::sha1::hash(data.data(), data.size())) == v.digest);

        // The same bytes fed one at a time cross every boundary inside update().
        duplex::sha1 s;
        for (unsigned char b : data)
            s.update(&b, 1);
        CHECK(hex(s.finish()) == v.digest);
    }
}

TEST_CASE("sha1: every length 0..200 gives the same digest whole, split in two anywhere, and byte by byte") {
    for (std::size_t n = 0; n <= 200; ++n) {
        // Vary the content with the length so that equal digests cannot come from equal inputs.
        std::vector<unsigned char> data(n);
        for (std::size_t i = 0; i < n; ++i)
            data[i] = static_cast<unsigned char>((i * 131 + n * 7 + 1) & 0xFF);
        const auto whole = duplex::sha1::hash(data.data(), n);

        duplex::sha1 bytewise;
        for (std::size_t i = 0; i < n; ++i)
            bytewise.update(&data[i], 1);
        const auto by_byte = bytewise.finish();

        std::size_t split_mismatch = 0, first_bad_split = n + 1;
        for (std::size_t k = 0; k <= n; ++k) {
            duplex::sha1 s;
            s.update(data.data(), k);
            s.update(data.data() + k, n - k);
            if (s.finish() != whole) {
                ++split_mismatch;
                if (first_bad_split > n)
                    first_bad_split = k;
            }
        }
        INFO("length " << n << ", first bad split at " << first_bad_split);
        CHECK(by_byte == whole);
        CHECK(split_mismatch == 0);
    }
}

TEST_CASE("sha1: distinct inputs of one length give distinct digests") {
    // A sanity check that every byte position reaches the state: flipping any one bit of a
    // 130-byte input changes the digest.
    auto data = counting_bytes(130);
    const auto base = duplex::sha1::hash(data.data(), data.size());
    std::size_t unchanged = 0;
    for (std::size_t i = 0; i < data.size(); ++i)
        for (int bit = 0; bit < 8; ++bit) {
            data[i] = static_cast<unsigned char>(data[i] ^ (1u << bit));
            unchanged += duplex::sha1::hash(data.data(), data.size()) == base;
            data[i] = static_cast<unsigned char>(data[i] ^ (1u << bit));
        }
    CHECK(unchanged == 0);
}

TEST_CASE("sha1: empty updates, including a null pointer with size 0, change nothing") {
    // update(v.data(), v.size()) on an empty vector passes a null pointer; that must be a
    // harmless no-op both with and without a partial block buffered.
    duplex::sha1 s;
    s.update(nullptr, 0);
    s.update("ab", 2);
    s.update(nullptr, 0);
    s.update("", 0);
    s.update("c", 1);
    s.update(nullptr, 0);
    CHECK(hex(s.finish()) == "a9993e364706816aba3e25717850c26c9cd0d89d");

    CHECK(hex(duplex::sha1::hash(nullptr, 0)) == "da39a3ee5e6b4b0d3255bfef95601890afd80709");
}

TEST_CASE("sha1: separate hashers do not share state") {
    duplex::sha1 a, b;
    a.update("ab", 2);
    b.update("xyz", 3);
    a.update("c", 1);
    CHECK(hex(a.finish()) == "a9993e364706816aba3e25717850c26c9cd0d89d");
    duplex::sha1 c = b; // a copy continues independently
    c.update("", 0);
    // sha1("xyz"), from: /usr/bin/python3 -c 'import hashlib; print(hashlib.sha1(b"xyz").hexdigest())'
    CHECK(hex(b.finish()) == "66b27417d37e024c46526c2f6d358a754fc552f3");
    CHECK(hex(c.finish()) == "66b27417d37e024c46526c2f6d358a754fc552f3");
}
