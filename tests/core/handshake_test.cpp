// Tests for include/duplex/core/handshake.hpp: Key/Accept and extension lists (RFC 6455 §4, §9.1).
#include <duplex/core/handshake.hpp>

#include <catch2/catch.hpp>

#include <random>
#include <set>
#include <string>
#include <vector>

TEST_CASE("handshake: accept_key gives the RFC 6455 example's Sec-WebSocket-Accept") {
    // RFC 6455 §1.3 and §4.2.2.
    CHECK(duplex::accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    char out[duplex::accept_size];
    duplex::accept_key("dGhlIHNhbXBsZSBub25jZQ==", out);
    CHECK(std::string(out, sizeof out) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST_CASE("handshake: accept_key matches values computed with Python's hashlib and base64") {
    // python3 -c 'import base64,hashlib; k=b"x3JJHMbDL1EzLkh9GBhXDw==";
    //   print(base64.b64encode(hashlib.sha1(k+b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest()))'
    CHECK(duplex::accept_key("x3JJHMbDL1EzLkh9GBhXDw==") == "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
    CHECK(duplex::accept_key("AQIDBAUGBwgJCgsMDQ4PEA==") == "C/0nmHhBztSRGR1CwL6Tf4ZjwpY=");
}

TEST_CASE("handshake: is_valid_key accepts exactly canonical base64 of 16 bytes") {
    CHECK(duplex::is_valid_key("dGhlIHNhbXBsZSBub25jZQ=="));
    CHECK(duplex::is_valid_key("AAAAAAAAAAAAAAAAAAAAAA=="));
    CHECK_FALSE(duplex::is_valid_key(""));
    CHECK_FALSE(duplex::is_valid_key("dGhlIHNhbXBsZSBub25jZQ"));      // padding missing
    CHECK_FALSE(duplex::is_valid_key("dGhlIHNhbXBsZSBub25jZR=="));    // bits under the padding
    CHECK_FALSE(duplex::is_valid_key("dGhlIHNhbXBsZSBub25jZQ== "));   // trailing space
    CHECK_FALSE(duplex::is_valid_key("dGhlIHNhbXBsZSBub25jZQ=A"));    // '=' not at the end
    CHECK_FALSE(duplex::is_valid_key("dGhlIHNhbXBsZSBub25jZSE="));    // 17 bytes
    CHECK_FALSE(duplex::is_valid_key("dGhlIHNhbXBsZSBub25j"));        // 15 bytes
    CHECK_FALSE(duplex::is_valid_key("dGhlIHNhbXBsZSBub25jZQ-_"));    // URL-safe alphabet
}

TEST_CASE("handshake: generate_key gives valid, distinct keys") {
    std::set<std::string> keys;
    for (int i = 0; i < 100; ++i) {
        const std::string k = duplex::generate_key();
        CHECK(duplex::is_valid_key(k));
        keys.insert(k);
    }
    CHECK(keys.size() == 100);

    // With a seeded generator the key is reproducible, and still valid.
    std::mt19937 a(7), b(7);
    CHECK(duplex::generate_key(a) == duplex::generate_key(b));
}

TEST_CASE("handshake: parse_extensions reads names, bare parameters, values and quoted values") {
    std::vector<duplex::extension_offer> exts;
    REQUIRE(duplex::parse_extensions(
        "permessage-deflate; client_max_window_bits; server_max_window_bits=10, "
        "permessage-deflate ;client_max_window_bits = \"15\" , x-foo",
        exts));
    REQUIRE(exts.size() == 3);
    CHECK(exts[0].name == "permessage-deflate");
    REQUIRE(exts[0].params.size() == 2);
    CHECK(exts[0].params[0].name == "client_max_window_bits");
    CHECK_FALSE(exts[0].params[0].has_value);
    CHECK(exts[0].params[1].name == "server_max_window_bits");
    CHECK(exts[0].params[1].has_value);
    CHECK(exts[0].params[1].value == "10");
    REQUIRE(exts[1].params.size() == 1);
    CHECK(exts[1].params[0].value == "15");
    CHECK(exts[1].find("CLIENT_MAX_WINDOW_BITS") == &exts[1].params[0]);
    CHECK(exts[1].find("server_max_window_bits") == nullptr);
    CHECK(exts[2].name == "x-foo");
    CHECK(exts[2].params.empty());

    // A second field line appends to the same list.
    REQUIRE(duplex::parse_extensions("y-bar; a=b", exts));
    CHECK(exts.size() == 4);
    CHECK(exts[3].name == "y-bar");
}

TEST_CASE("handshake: parse_extensions unescapes quoted values, which must then be tokens") {
    std::vector<duplex::extension_offer> exts;
    REQUIRE(duplex::parse_extensions(R"(x; a="1\5"; b="q")", exts));
    CHECK(exts[0].params[0].value == "15");
    CHECK(exts[0].params[1].value == "q");
    // Commas and semicolons inside quotes do not split, but the value is then not a token.
    CHECK_FALSE(duplex::parse_extensions(R"(x; a="1,2")", exts));
    CHECK_FALSE(duplex::parse_extensions(R"(x; a="1;2")", exts));
}

TEST_CASE("handshake: malformed extension lists are rejected and leave the output unchanged") {
    const char* bad[] = {
        "; a",              // no extension name
        "x; ",              // empty parameter
        "x; =1",            // parameter without a name
        "x; a=",            // empty value
        "x; a=1 2",         // value not a token
        "x y",              // name not a token
        "x; a=\"unterminated",
        "x; a=\"\"",        // empty quoted value is not a token
        "x; a=\"b\"c",      // junk after the quotes
        "ok, x; a=(",
        "x; a=\"b\\",      // a quoted string ending in a lone backslash (found by fuzzing)
        "x, y; a=\"\\",
    };
    for (const char* value : bad) {
        INFO(value);
        std::vector<duplex::extension_offer> exts(1);
        exts[0].name = "kept";
        CHECK_FALSE(duplex::parse_extensions(value, exts));
        REQUIRE(exts.size() == 1);
        CHECK(exts[0].name == "kept");
    }
}

TEST_CASE("handshake: format_extensions writes a list that parses back to the same extensions") {
    std::vector<duplex::extension_offer> exts(2);
    exts[0].name = "permessage-deflate";
    exts[0].params.push_back({"client_max_window_bits", "", false});
    exts[0].params.push_back({"server_max_window_bits", "12", true});
    exts[1].name = "x-other";
    const std::string text = duplex::format_extensions(exts);
    CHECK(text == "permessage-deflate; client_max_window_bits; server_max_window_bits=12, x-other");
    std::vector<duplex::extension_offer> back;
    REQUIRE(duplex::parse_extensions(text, back));
    REQUIRE(back.size() == 2);
    CHECK(back[0].params[1].value == "12");
    CHECK(back[1].name == "x-other");
}
