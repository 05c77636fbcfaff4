// Tests for include/duplex/deflate.hpp: the permessage-deflate extension on its own, against
// the bytes of RFC 7692 §7.2.3 and against zlib itself as the peer.
#include "zlib_peer.hpp"

#include <duplex/deflate.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

using duplex::deflate_agreement;
using duplex::error;
using duplex::opcode;
using duplex::permessage_deflate;
using duplex::role;
using zlib_peer::bytes;

namespace {

// Compresses one message as the engine would; rsv 0 means "sent as it is".
struct encoded {
    std::uint8_t rsv;
    bytes payload;
};

encoded encode(permessage_deflate& d, const std::string& text) {
    duplex::extension_buffer out;
    std::error_code ec;
    const std::uint8_t rsv =
        d.encode(opcode::text, reinterpret_cast<const unsigned char*>(text.data()), text.size(), out, ec);
    REQUIRE_FALSE(ec);
    return {rsv, bytes(out.begin(), out.end())};
}

// Decodes one message given as pieces (frames or reads), the last one ending it.
std::string decode(permessage_deflate& d, const std::vector<bytes>& pieces, std::error_code& ec,
                   std::size_t limit = SIZE_MAX) {
    duplex::extension_buffer out;
    for (std::size_t i = 0; i < pieces.size(); ++i) {
        ec = d.decode(duplex::rsv1_bit, pieces[i].data(), pieces[i].size(), i + 1 == pieces.size(), out, limit);
        if (ec)
            break;
    }
    return std::string(out.begin(), out.end());
}

std::string decode(permessage_deflate& d, const bytes& payload) {
    std::error_code ec;
    std::string s = decode(d, std::vector<bytes>{payload}, ec);
    REQUIRE_FALSE(ec);
    return s;
}

// Chat-like text, so that messages share words (and context takeover has something to use).
std::string chat_text(std::mt19937& rng, std::size_t size) {
    static const char* words[] = {"hello", "room", "user", "message", "typing", "\"id\":", "{\"text\":",
                                  "ok", "see you", "κόσμε", "lunch?", "42", "true", "}", ","};
    std::string s;
    while (s.size() < size) {
        s += words[rng() % (sizeof words / sizeof *words)];
        s += ' ';
    }
    s.resize(size);
    return s;
}

const bytes hello_rfc = {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};  // RFC 7692 §7.2.3.1
const bytes hello_again_rfc = {0xf2, 0x00, 0x11, 0x00, 0x00};         // §7.2.3.2

} // namespace

TEST_CASE("extension: \"Hello\" compresses to the bytes of RFC 7692 7.2.3.1") {
    permessage_deflate d(role::server, deflate_agreement{});
    const encoded e = encode(d, "Hello");
    CHECK(e.rsv == duplex::rsv1_bit);
    CHECK(e.payload == hello_rfc);
}

TEST_CASE("extension: with context takeover the second \"Hello\" is the RFC 7.2.3.2 bytes") {
    permessage_deflate d(role::client, deflate_agreement{});
    CHECK(encode(d, "Hello").payload == hello_rfc);
    CHECK(encode(d, "Hello").payload == hello_again_rfc);

    permessage_deflate receiver(role::server, deflate_agreement{});
    CHECK(decode(receiver, hello_rfc) == "Hello");
    CHECK(decode(receiver, hello_again_rfc) == "Hello"); // refers to the first message
}

TEST_CASE("extension: without context takeover each \"Hello\" compresses alone (RFC 7.2.3.2)") {
    deflate_agreement a;
    SECTION("the server's direction") {
        a.server_no_context_takeover = true;
        permessage_deflate d(role::server, a);
        CHECK(encode(d, "Hello").payload == hello_rfc);
        CHECK(encode(d, "Hello").payload == hello_rfc);
        // The client's direction keeps its context.
        permessage_deflate c(role::client, a);
        CHECK(encode(c, "Hello").payload == hello_rfc);
        CHECK(encode(c, "Hello").payload == hello_again_rfc);
    }
    SECTION("the client's direction") {
        a.client_no_context_takeover = true;
        permessage_deflate c(role::client, a);
        CHECK(encode(c, "Hello").payload == hello_rfc);
        CHECK(encode(c, "Hello").payload == hello_rfc);
    }
    SECTION("a receiver without context takeover cannot resolve a back-reference") {
        a.client_no_context_takeover = true;
        permessage_deflate server(role::server, a); // receives the client's messages
        CHECK(decode(server, hello_rfc) == "Hello");
        std::error_code ec;
        decode(server, {hello_again_rfc}, ec);
        CHECK(ec == error::extension_failed);
    }
}

TEST_CASE("extension: the other RFC 7692 7.2.3 examples decode to \"Hello\"") {
    permessage_deflate d(role::client, deflate_agreement{});
    std::error_code ec;
    SECTION("7.2.3.1 in two fragments of 3 and 4 bytes") {
        CHECK(decode(d, {{0xf2, 0x48, 0xcd}, {0xc9, 0xc9, 0x07, 0x00}}, ec) == "Hello");
        CHECK_FALSE(ec);
    }
    SECTION("7.2.3.3 a block with no compression") {
        CHECK(decode(d, {0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00}) == "Hello");
    }
    SECTION("7.2.3.4 a block with BFINAL set, then more messages that share its window") {
        CHECK(decode(d, {0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00}) == "Hello");
        CHECK(decode(d, hello_again_rfc) == "Hello"); // a back-reference across the final block
        CHECK(decode(d, hello_rfc) == "Hello");
    }
    SECTION("7.2.3.4 without the extra octet: the message ends with its final block") {
        CHECK(decode(d, {0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}) == "Hello");
        CHECK(decode(d, hello_again_rfc) == "Hello");
    }
    SECTION("7.2.3.5 two DEFLATE blocks in one message") {
        CHECK(decode(d, {0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00}) == "Hello");
    }
    SECTION("an empty message: one empty stored block, or no bytes at all") {
        CHECK(decode(d, {0x00}) == "");
        CHECK(decode(d, bytes{}) == "");
        CHECK(decode(d, hello_rfc) == "Hello");
        CHECK(decode(d, bytes{}) == "");
        CHECK(decode(d, hello_again_rfc) == "Hello"); // the context went on untouched
    }
    SECTION("an empty message compressed by duplex decodes") {
        permessage_deflate sender(role::server, deflate_agreement{});
        const encoded e = encode(sender, "");
        CHECK(e.rsv == duplex::rsv1_bit);
        CHECK(decode(d, e.payload) == "");
    }
}

TEST_CASE("extension: zlib decodes what duplex compresses, and the reverse, with and without context takeover") {
    const bool takeover = GENERATE(true, false);
    const int bits = GENERATE(9, 12, 15);
    deflate_agreement a;
    a.server_no_context_takeover = !takeover;
    a.server_max_window_bits = bits;
    a.client_max_window_bits = bits;
    permessage_deflate server(role::server, a);
    permessage_deflate client(role::client, a);
    zlib_peer::decompressor zlib_in(bits);
    zlib_peer::compressor zlib_out(bits);

    std::mt19937 rng(7);
    const std::size_t sizes[] = {0, 1, 17, 300, 5000, 70000, 300000, 40, 40, 1000};
    for (std::size_t size : sizes) {
        const std::string text = chat_text(rng, size);
        const encoded e = encode(server, text);
        if (e.rsv == 0) { // only without context takeover, when compressing did not pay
            CHECK_FALSE(takeover);
            CHECK(e.payload.empty());
        } else {
            CHECK(zlib_peer::s(zlib_in.message(e.payload)) == text);
        }
        const bytes from_zlib = zlib_out.message(zlib_peer::b(text));
        if (!takeover)
            zlib_out.reset(); // the server promised not to refer to earlier messages
        CHECK(decode(client, from_zlib) == text);
    }
}

TEST_CASE("extension: empty messages between others are compressed, as 0x00, and keep the context") {
    // zlib emits nothing for a second sync flush without input (Z_BUF_ERROR): an empty message
    // after another one used to go out uncompressed and reset the compressor.
    const bool takeover = GENERATE(true, false);
    deflate_agreement a;
    a.server_no_context_takeover = !takeover;
    permessage_deflate server(role::server, a);
    permessage_deflate client(role::client, a);
    zlib_peer::decompressor zlib_in(15);
    const std::string hello = "a message that repeats: a message that repeats";
    const std::string sequence[] = {hello, "", "", hello, "", hello};
    std::size_t last_hello = 0;
    for (const std::string& text : sequence) {
        const encoded e = encode(server, text);
        REQUIRE(e.rsv == duplex::rsv1_bit);
        if (text.empty())
            CHECK(e.payload == bytes{0x00});
        else
            last_hello = e.payload.size();
        CHECK(zlib_peer::s(zlib_in.message(e.payload)) == text);
        CHECK(decode(client, e.payload) == text);
    }
    if (takeover) // the last hello refers to the earlier ones: a few bytes
        CHECK(last_hello < hello.size() / 4);
}

TEST_CASE("extension: a window of 8 bits is honoured although zlib compresses with 9") {
    // The client agreed to client_max_window_bits=8; zlib's raw deflate needs 9, whose matches
    // reach back at most 250 bytes. zlib inflating with an 8-bit window must accept all of it.
    deflate_agreement a;
    a.client_max_window_bits = 8;
    permessage_deflate client(role::client, a, duplex::deflate_options{});
    zlib_peer::decompressor zlib_in(8);
    std::mt19937 rng(3);
    std::size_t compressed = 0, plain = 0;
    for (int i = 0; i < 50; ++i) {
        const std::string text = chat_text(rng, 2000 + static_cast<std::size_t>(i) * 37);
        const encoded e = encode(client, text);
        REQUIRE(e.rsv == duplex::rsv1_bit);
        std::string inflated;
        REQUIRE_NOTHROW(inflated = zlib_peer::s(zlib_in.message(e.payload)));
        CHECK(inflated == text);
        compressed += e.payload.size();
        plain += text.size();
    }
    CHECK(compressed < plain / 2); // it did compress
}

TEST_CASE("extension: messages under the threshold go out as they are") {
    duplex::deflate_options o;
    o.compress_threshold = 10;
    permessage_deflate keep(role::server, deflate_agreement{}, o);
    CHECK(encode(keep, "short").rsv == 0);
    CHECK(encode(keep, "long enough to compress").rsv == duplex::rsv1_bit);
}

TEST_CASE("extension: a corrupt stream is extension_failed") {
    permessage_deflate d(role::server, deflate_agreement{});
    std::error_code ec;
    SECTION("a reserved block type") { decode(d, {{0xff, 0xff, 0xff, 0xff}}, ec); }
    SECTION("a distance before the start of the stream") { decode(d, {hello_again_rfc}, ec); }
    SECTION("a stored block whose length check fails") { decode(d, {{0x00, 0x05, 0x00, 0x00, 0x00, 'H'}}, ec); }
    CHECK(ec == error::extension_failed);
}

TEST_CASE("extension: decompression stops at the limit: a 1 GiB bomb inflates at most 1 MiB") {
    const bytes& bomb = zlib_peer::bomb();
    REQUIRE(bomb.size() < (2u << 20));
    const std::size_t limit = 1 << 20;
    permessage_deflate d(role::server, deflate_agreement{});
    duplex::extension_buffer out;
    // In pieces, as frames arrive.
    std::error_code ec;
    for (std::size_t at = 0; at < bomb.size() && !ec; at += 65536) {
        const std::size_t n = std::min<std::size_t>(65536, bomb.size() - at);
        ec = d.decode(duplex::rsv1_bit, bomb.data() + at, n, at + n == bomb.size(), out, limit);
    }
    CHECK(ec == error::message_too_big);
    CHECK(out.size() <= limit);
    CHECK(out.capacity() <= limit);
    CHECK(d.inflated_total() <= limit + 1); // at most one byte past, into a probe, to know
}

TEST_CASE("extension: a message that inflates to exactly the limit is accepted") {
    zlib_peer::compressor zlib_out;
    const std::string text(100000, 'x');
    const bytes payload = zlib_out.message(zlib_peer::b(text));
    permessage_deflate d(role::server, deflate_agreement{});
    std::error_code ec;
    CHECK(decode(d, {payload}, ec, text.size()) == text);
    CHECK_FALSE(ec);
    permessage_deflate d2(role::server, deflate_agreement{});
    decode(d2, {payload}, ec, text.size() - 1);
    CHECK(ec == error::message_too_big);
}
