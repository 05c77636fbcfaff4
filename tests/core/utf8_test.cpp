// Tests for include/duplex/core/utf8.hpp: streaming, fail-fast UTF-8 validation (RFC 3629,
// RFC 6455 §8.1). This file: the named stress-test cases and
// the validator's state across calls; utf8_exhaustive_test.cpp: the ASCII fast path and the
// exhaustive and random comparisons.
//
// Expected results come from hand-written expectations and from the independent reference
// decoder in utf8_reference.hpp, never from the code under test.
#include "utf8_reference.hpp"

#include <catch2/catch.hpp>

using namespace utf8_test;


// ---- Basics --------------------------------------------------------------------------------------

TEST_CASE("utf8: the validator's operations are noexcept and it is an ordinary copyable value") {
    duplex::utf8_validator v;
    STATIC_REQUIRE(noexcept(v.feed(nullptr, 0)));
    STATIC_REQUIRE(noexcept(v.complete()));
    STATIC_REQUIRE(noexcept(v.failed()));
    STATIC_REQUIRE(noexcept(v.position()));
    STATIC_REQUIRE(noexcept(v.reset()));
    STATIC_REQUIRE(noexcept(duplex::is_valid_utf8(nullptr, 0)));
    STATIC_REQUIRE(std::is_same<decltype(v.position()), std::uint64_t>::value);
    STATIC_REQUIRE(std::is_nothrow_copy_constructible<duplex::utf8_validator>::value);
    STATIC_REQUIRE(std::is_nothrow_default_constructible<duplex::utf8_validator>::value);
}

TEST_CASE("utf8: a fresh validator is complete, not failed, at position 0, and empty input is valid") {
    duplex::utf8_validator v;
    CHECK(v.complete());
    CHECK_FALSE(v.failed());
    CHECK(v.position() == 0);

    CHECK(v.feed(nullptr, 0));
    CHECK(v.complete());
    CHECK_FALSE(v.failed());
    CHECK(v.position() == 0);

    const bytes none;
    CHECK(v.feed(none.data(), 0));
    CHECK(v.complete());
    CHECK(v.position() == 0);

    CHECK(duplex::is_valid_utf8(nullptr, 0));
    check_case(valid("Kuhn/Autobahn 6.1: empty", {}));
}

TEST_CASE("utf8: is_valid_utf8 accepts exactly complete, valid input") {
    const std::string text = "h\xC3\xA9llo w\xC3\xB6rld \xF0\x9F\x98\x80";
    CHECK(duplex::is_valid_utf8(text.data(), text.size()));
    CHECK(duplex::is_valid_utf8(kosme.data(), kosme.size()));
    for (std::size_t n = 0; n < kosme.size(); ++n) {
        INFO("κόσμε truncated to " << n << " bytes");
        const bool boundary = n == 0 || n == 2 || n == 5 || n == 7 || n == 9;
        CHECK(duplex::is_valid_utf8(kosme.data(), n) == boundary);
    }
    const bytes bad = hex("41 42 80 43");
    CHECK_FALSE(duplex::is_valid_utf8(bad.data(), bad.size()));
    CHECK(duplex::is_valid_utf8(bad.data(), 2));
    const bytes truncated_4 = hex("41 f0 9f 98");
    CHECK_FALSE(duplex::is_valid_utf8(truncated_4.data(), truncated_4.size()));
}

// ---- Kuhn's stress test, by category ------------------------------------------------------------

TEST_CASE("utf8: valid text, boundary code points and first/last sequences of each length are accepted") {
    check_cases({
        valid("Kuhn 1: κόσμε", kosme),
        valid("Autobahn 6.2.2: κόσμε twice plus ASCII", cat({kosme, ascii("-"), kosme, ascii("edited")})),
        valid("ASCII text", ascii("Hello, world!")),
        valid("Kuhn 2.1.1: first 1-byte sequence U+0000", hex("00")),
        valid("Kuhn 2.1.2: first 2-byte sequence U+0080", hex("c2 80")),
        valid("Kuhn 2.1.3: first 3-byte sequence U+0800", hex("e0 a0 80")),
        valid("Kuhn 2.1.4: first 4-byte sequence U+10000", hex("f0 90 80 80")),
        valid("Kuhn 2.2.1: last 1-byte sequence U+007F", hex("7f")),
        valid("Kuhn 2.2.2: last 2-byte sequence U+07FF", hex("df bf")),
        valid("Kuhn 2.2.3: last 3-byte sequence U+FFFF", hex("ef bf bf")),
        valid("Kuhn 2.3.1: U+D7FF, just below the surrogates", hex("ed 9f bf")),
        valid("Kuhn 2.3.2: U+E000, just above the surrogates", hex("ee 80 80")),
        valid("Kuhn 2.3.3: U+FFFD", hex("ef bf bd")),
        valid("Kuhn 2.3.4: U+10FFFF, the last code point", hex("f4 8f bf bf")),
        valid("all first and last sequences in one string",
              hex("00 c2 80 e0 a0 80 f0 90 80 80 7f df bf ef bf bf f4 8f bf bf")),
        valid("U+00E9 U+4E2D U+1F600 U+0041", hex("c3 a9 e4 b8 ad f0 9f 98 80 41")),
        valid("lead bytes E1-EC, EE, EF, F1-F3 with their full second-byte range",
              hex("e1 80 80 ec bf bf ee 80 80 ef bf bf f1 80 80 80 f3 bf bf bf")),
    });
}

TEST_CASE("utf8: noncharacters U+FFFE, U+FFFF, U+FDD0-U+FDEF and U+nFFFE/U+nFFFF are valid") {
    std::vector<named_case> cases{
        valid("Kuhn 5.3.1: U+FFFE", hex("ef bf be")),
        valid("Kuhn 5.3.2: U+FFFF", hex("ef bf bf")),
        valid("U+1FFFE", hex("f0 9f bf be")),
        valid("U+10FFFE", hex("f4 8f bf be")),
    };
    // U+FDD0..U+FDEF is EF B7 90 .. EF B7 AF.
    bytes all_fdd0;
    for (unsigned i = 0; i < 32; ++i) {
        const bytes one{0xEF, 0xB7, static_cast<unsigned char>(0x90 + i)};
        cases.push_back(valid("Kuhn 5.3.3: U+FDD0 + " + std::to_string(i), one));
        all_fdd0.insert(all_fdd0.end(), one.begin(), one.end());
    }
    cases.push_back(valid("Kuhn 5.3.3: U+FDD0..U+FDEF in one string", all_fdd0));
    // U+nFFFE and U+nFFFF for planes n = 1..16: F0+(n>>2), 80+((n&3)<<4)+F, BF, BE/BF.
    bytes all_planes;
    for (unsigned plane = 1; plane <= 16; ++plane) {
        for (unsigned last : {0xBEu, 0xBFu}) {
            const bytes one{static_cast<unsigned char>(0xF0 + (plane >> 2)),
                            static_cast<unsigned char>(0x80 + ((plane & 3) << 4) + 0xF), 0xBF,
                            static_cast<unsigned char>(last)};
            cases.push_back(valid("Kuhn 5.3.4: U+" + std::to_string(plane) + "FFF" + (last == 0xBE ? "E" : "F") +
                                      " (plane in decimal)",
                                  one));
            all_planes.insert(all_planes.end(), one.begin(), one.end());
        }
    }
    cases.push_back(valid("Kuhn 5.3.4: all 32 plane-end noncharacters in one string", all_planes));
    check_cases(cases);
}

TEST_CASE("utf8: 5- and 6-byte forms and code points above U+10FFFF fail at the first byte that rules them out") {
    check_cases({
        invalid_at(0, "Kuhn 2.1.5: first 5-byte sequence U+200000", hex("f8 88 80 80 80")),
        invalid_at(0, "Kuhn 2.1.6: first 6-byte sequence U+4000000", hex("fc 84 80 80 80 80")),
        invalid_at(0, "Kuhn 2.2.4: last 4-byte sequence U+1FFFFF", hex("f7 bf bf bf")),
        invalid_at(0, "Kuhn 2.2.5: last 5-byte sequence U+3FFFFFF", hex("fb bf bf bf bf")),
        invalid_at(0, "Kuhn 2.2.6: last 6-byte sequence U+7FFFFFFF", hex("fd bf bf bf bf bf")),
        invalid_at(1, "Kuhn 2.3.5: U+110000, one past the last code point", hex("f4 90 80 80")),
        invalid_at(1, "U+13FFFF: F4 BF", hex("f4 bf bf bf")),
        invalid_at(0, "U+140000: F5 can only start values above U+10FFFF", hex("f5 80 80 80")),
        invalid_at(0, "F6", hex("f6 80 80 80")),
        invalid_at(4, "U+110000 after ASCII", hex("41 42 43 f4 90 80 80")),
        invalid_at(5, "U+110000 after U+10FFFF, split where F4 repeats", hex("f4 8f bf bf f4 90")),
        truncated("F4 8F: still could be U+10FFxx", hex("f4 8f")),
        truncated("F4 alone: could still start U+100000..U+10FFFF", hex("f4")),
    });
}

TEST_CASE("utf8: unexpected continuation bytes fail at the first one") {
    bytes all64;
    for (unsigned b = 0x80; b <= 0xBF; ++b)
        all64.push_back(static_cast<unsigned char>(b));
    std::vector<named_case> cases{
        invalid_at(0, "Kuhn 3.1.1: first continuation byte 80", hex("80")),
        invalid_at(0, "Kuhn 3.1.2: last continuation byte BF", hex("bf")),
        invalid_at(0, "Kuhn 3.1.3: 2 continuation bytes", hex("80 bf")),
        invalid_at(0, "Kuhn 3.1.4: 3 continuation bytes", hex("80 bf 80")),
        invalid_at(0, "Kuhn 3.1.5: 4 continuation bytes", hex("80 bf 80 bf")),
        invalid_at(0, "Kuhn 3.1.6: 5 continuation bytes", hex("80 bf 80 bf 80")),
        invalid_at(0, "Kuhn 3.1.7: 6 continuation bytes", hex("80 bf 80 bf 80 bf")),
        invalid_at(0, "Kuhn 3.1.8: 7 continuation bytes", hex("80 bf 80 bf 80 bf 80")),
        invalid_at(0, "Kuhn 3.1.9: all 64 continuation bytes 80..BF", all64),
        invalid_at(6, "all 64 continuation bytes after ASCII", cat({ascii("abcdef"), all64})),
        invalid_at(2, "one continuation byte too many after a 2-byte character", hex("c2 80 80")),
        invalid_at(3, "one continuation byte too many after a 3-byte character", hex("e2 82 ac bf")),
        invalid_at(4, "one continuation byte too many after a 4-byte character", hex("f0 9f 98 80 80")),
        invalid_at(11, "continuation byte after κόσμε", cat({kosme, hex("b5")})),
    };
    for (unsigned b = 0x80; b <= 0xBF; ++b) {
        const auto u = static_cast<unsigned char>(b);
        cases.push_back(invalid_at(0, "lone continuation byte " + to_hex(&u, 1), bytes{u}));
        cases.push_back(invalid_at(1, "continuation byte " + to_hex(&u, 1) + " after 'a'", bytes{'a', u}));
    }
    check_cases(cases);
}

TEST_CASE("utf8: lonely start bytes followed by a space fail at the lead (C0, C1, F5-FF) or at the space") {
    const auto lead_space = [](unsigned first, unsigned last) {
        bytes out;
        for (unsigned b = first; b <= last; ++b) {
            out.push_back(static_cast<unsigned char>(b));
            out.push_back(0x20);
        }
        return out;
    };
    check_cases({
        invalid_at(0, "Kuhn 3.2.1: all 32 2-byte leads C0..DF, each followed by a space", lead_space(0xC0, 0xDF)),
        invalid_at(1, "the 30 legal 2-byte leads C2..DF, each followed by a space", lead_space(0xC2, 0xDF)),
        invalid_at(1, "Kuhn 3.2.2: all 16 3-byte leads E0..EF, each followed by a space", lead_space(0xE0, 0xEF)),
        invalid_at(1, "Kuhn 3.2.3: all 8 4-byte leads F0..F7, each followed by a space", lead_space(0xF0, 0xF7)),
        invalid_at(0, "F5..F7, each followed by a space", lead_space(0xF5, 0xF7)),
        invalid_at(0, "Kuhn 3.2.4: all 4 5-byte leads F8..FB, each followed by a space", lead_space(0xF8, 0xFB)),
        invalid_at(0, "Kuhn 3.2.5: both 6-byte leads FC, FD, each followed by a space", lead_space(0xFC, 0xFD)),
    });
}

TEST_CASE("utf8: every byte followed by a space is judged exactly as RFC 3629 says") {
    // Hand-written rule: ASCII is a whole character; 80-BF (continuations), C0, C1 (only
    // overlongs) and F5-FF (only > U+10FFFF or not UTF-8) can never start a character; C2-F4 are
    // leads that need a continuation byte, so the space is the offending byte.
    std::vector<named_case> cases;
    for (unsigned b = 0; b <= 0xFF; ++b) {
        const auto u = static_cast<unsigned char>(b);
        const bytes input{u, 0x20};
        const std::string name = "byte " + to_hex(&u, 1) + " then a space";
        if (b < 0x80)
            cases.push_back(valid(name, input));
        else if (b < 0xC2 || b > 0xF4)
            cases.push_back(invalid_at(0, name, input));
        else
            cases.push_back(invalid_at(1, name, input));
    }
    check_cases(cases);
}

TEST_CASE("utf8: a sequence missing its last byte is incomplete at the end of input, and fails when anything else follows") {
    check_cases({
        invalid_at(0, "Kuhn 3.3.1: 2-byte U+0000 missing its last byte (C0 is overlong already)", hex("c0")),
        invalid_at(1, "Kuhn 3.3.2: 3-byte U+0000 missing its last byte (E0 80 is overlong)", hex("e0 80")),
        invalid_at(1, "Kuhn 3.3.3: 4-byte U+0000 missing its last byte (F0 80 is overlong)", hex("f0 80 80")),
        invalid_at(0, "Kuhn 3.3.4: 5-byte U+0000 missing its last byte", hex("f8 80 80 80")),
        invalid_at(0, "Kuhn 3.3.5: 6-byte U+0000 missing its last byte", hex("fc 80 80 80 80")),
        truncated("Kuhn 3.3.6: 2-byte U+07FF missing its last byte", hex("df")),
        truncated("Kuhn 3.3.7: 3-byte U+FFFF missing its last byte", hex("ef bf")),
        invalid_at(0, "Kuhn 3.3.8: 4-byte U+1FFFFF missing its last byte (F7 is too large)", hex("f7 bf bf")),
        invalid_at(0, "Kuhn 3.3.9: 5-byte U+3FFFFFF missing its last byte", hex("fb bf bf bf")),
        invalid_at(0, "Kuhn 3.3.10: 6-byte U+7FFFFFFF missing its last byte", hex("fd bf bf bf bf")),
        truncated("C2 alone", hex("c2")),
        truncated("E0 alone", hex("e0")),
        truncated("E0 A0", hex("e0 a0")),
        truncated("ED alone", hex("ed")),
        truncated("ED 9F", hex("ed 9f")),
        truncated("F0 alone", hex("f0")),
        truncated("F0 90", hex("f0 90")),
        truncated("F0 90 80", hex("f0 90 80")),
        truncated("F4 8F BF", hex("f4 8f bf")),
        truncated("κόσμε then a truncated 4-byte character", cat({kosme, hex("f0 9f 98")})),
        invalid_at(1, "DF then ASCII", hex("df 41")),
        invalid_at(2, "EF BF then ASCII", hex("ef bf 41")),
        invalid_at(1, "E1 then ASCII", hex("e1 41 80")),
        invalid_at(3, "F0 90 80 then ASCII", hex("f0 90 80 41")),
        invalid_at(1, "C2 then another lead", hex("c2 c2 80")),
        invalid_at(2, "E2 82 then another lead", hex("e2 82 e2 82 ac")),
        invalid_at(3, "F0 9F 98 then a lead", hex("f0 9f 98 f0 9f 98 80")),
        invalid_at(1, "DF then FF", hex("df ff")),
    });
}

TEST_CASE("utf8: concatenated incomplete sequences fail at the first byte that cannot continue") {
    check_cases({
        invalid_at(0, "Kuhn 3.4: all ten 3.3 sequences concatenated",
                   hex("c0 e0 80 f0 80 80 f8 80 80 80 fc 80 80 80 80 df ef bf f7 bf bf fb bf bf bf fd bf bf bf bf")),
        invalid_at(1, "the legal truncated ones concatenated: DF, EF BF, F4 8F BF", hex("df ef bf f4 8f bf")),
        invalid_at(2, "EF BF then DF", hex("ef bf df")),
        invalid_at(5, "complete characters, then DF then EF BF", hex("41 c3 a9 42 df ef bf")),
    });
}

TEST_CASE("utf8: impossible bytes FE and FF fail where they appear") {
    check_cases({
        invalid_at(0, "Kuhn 3.5.1: FE", hex("fe")),
        invalid_at(0, "Kuhn 3.5.2: FF", hex("ff")),
        invalid_at(0, "Kuhn 3.5.3: FE FE FF FF", hex("fe fe ff ff")),
        invalid_at(1, "FE after ASCII", hex("41 fe")),
        invalid_at(11, "FF after κόσμε", cat({kosme, hex("ff")})),
        invalid_at(1, "FE where a continuation byte is due", hex("c3 fe")),
    });
}

TEST_CASE("utf8: overlong encodings fail at the byte that makes them overlong") {
    check_cases({
        invalid_at(0, "Kuhn 4.1.1: '/' in 2 bytes", hex("c0 af")),
        invalid_at(1, "Kuhn 4.1.2: '/' in 3 bytes", hex("e0 80 af")),
        invalid_at(1, "Kuhn 4.1.3: '/' in 4 bytes", hex("f0 80 80 af")),
        invalid_at(0, "Kuhn 4.1.4: '/' in 5 bytes", hex("f8 80 80 80 af")),
        invalid_at(0, "Kuhn 4.1.5: '/' in 6 bytes", hex("fc 80 80 80 80 af")),
        invalid_at(0, "Kuhn 4.2.1: largest overlong 2-byte, U+007F", hex("c1 bf")),
        invalid_at(1, "Kuhn 4.2.2: largest overlong 3-byte, U+07FF", hex("e0 9f bf")),
        invalid_at(1, "Kuhn 4.2.3: largest overlong 4-byte, U+FFFF", hex("f0 8f bf bf")),
        invalid_at(0, "Kuhn 4.2.4: largest overlong 5-byte, U+1FFFFF", hex("f8 87 bf bf bf")),
        invalid_at(0, "Kuhn 4.2.5: largest overlong 6-byte, U+3FFFFFF", hex("fc 83 bf bf bf bf")),
        invalid_at(0, "Kuhn 4.3.1: NUL in 2 bytes", hex("c0 80")),
        invalid_at(1, "Kuhn 4.3.2: NUL in 3 bytes", hex("e0 80 80")),
        invalid_at(1, "Kuhn 4.3.3: NUL in 4 bytes", hex("f0 80 80 80")),
        invalid_at(0, "Kuhn 4.3.4: NUL in 5 bytes", hex("f8 80 80 80 80")),
        invalid_at(0, "Kuhn 4.3.5: NUL in 6 bytes", hex("fc 80 80 80 80 80")),
        invalid_at(5, "overlong '/' after ASCII", hex("2e 2e 2f 2e e0 80 af")),
        invalid_at(1, "E0 9F: every E0 9x/8x is overlong, even truncated", hex("e0 9f")),
        invalid_at(1, "F0 8F: every F0 8x is overlong, even truncated", hex("f0 8f")),
        truncated("E0 A0: the smallest 3-byte prefix that is not overlong", hex("e0 a0")),
        truncated("F0 90: the smallest 4-byte prefix that is not overlong", hex("f0 90")),
    });
}

TEST_CASE("utf8: UTF-16 surrogates, single or paired, fail at their second byte") {
    check_cases({
        invalid_at(1, "Kuhn 5.1.1: U+D800", hex("ed a0 80")),
        invalid_at(1, "Kuhn 5.1.2: U+DB7F", hex("ed ad bf")),
        invalid_at(1, "Kuhn 5.1.3: U+DB80", hex("ed ae 80")),
        invalid_at(1, "Kuhn 5.1.4: U+DBFF", hex("ed af bf")),
        invalid_at(1, "Kuhn 5.1.5: U+DC00", hex("ed b0 80")),
        invalid_at(1, "Kuhn 5.1.6: U+DF80", hex("ed be 80")),
        invalid_at(1, "Kuhn 5.1.7: U+DFFF", hex("ed bf bf")),
        invalid_at(1, "Kuhn 5.2.1: U+D800 U+DC00", hex("ed a0 80 ed b0 80")),
        invalid_at(1, "Kuhn 5.2.2: U+D800 U+DFFF", hex("ed a0 80 ed bf bf")),
        invalid_at(1, "Kuhn 5.2.3: U+DB7F U+DC00", hex("ed ad bf ed b0 80")),
        invalid_at(1, "Kuhn 5.2.4: U+DB7F U+DFFF", hex("ed ad bf ed bf bf")),
        invalid_at(1, "Kuhn 5.2.5: U+DB80 U+DC00", hex("ed ae 80 ed b0 80")),
        invalid_at(1, "Kuhn 5.2.6: U+DB80 U+DFFF", hex("ed ae 80 ed bf bf")),
        invalid_at(1, "Kuhn 5.2.7: U+DBFF U+DC00", hex("ed af bf ed b0 80")),
        invalid_at(1, "Kuhn 5.2.8: U+DBFF U+DFFF", hex("ed af bf ed bf bf")),
        invalid_at(1, "ED A0 truncated is already a surrogate", hex("ed a0")),
        invalid_at(13, "surrogate after κόσμε and 'a'", cat({kosme, ascii("a"), hex("ed b2 80")})),
        valid("ED 9F BF: U+D7FF is the last code point with lead ED", hex("ed 9f bf")),
    });
}

TEST_CASE("utf8: Autobahn 6.3/6.4 fail-fast cases report the stream offset of the bad byte") {
    check_cases({
        invalid_at(12, "Autobahn 6.3.1: κόσμε, surrogate U+D800, 'edited'",
                   cat({kosme, hex("ed a0 80"), ascii("edited")})),
        invalid_at(12, "Autobahn 6.4.1: κόσμε, U+110000, 'edited'",
                   cat({kosme, hex("f4 90 80 80"), ascii("edited")})),
        invalid_at(12, "Autobahn 6.4.2: κόσμε F4 90 80 80", cat({kosme, hex("f4 90 80 80")})),
        truncated("κόσμε F4: could still be valid", cat({kosme, hex("f4")})),
        invalid_at(12, "κόσμε F4 90: no longer", cat({kosme, hex("f4 90")})),
    });

    // Autobahn 6.4.x sends the text in separate frames; the failure must be reported in the call
    // that carries the offending byte, at its offset in the whole message.
    duplex::utf8_validator v;
    const bytes f1 = cat({kosme, hex("f4")});
    const bytes f2 = hex("90");
    const bytes f3 = cat({hex("80 80"), ascii("edited")});
    CHECK(v.feed(f1.data(), f1.size()));
    CHECK_FALSE(v.complete());
    CHECK(v.position() == 12);
    CHECK_FALSE(v.feed(f2.data(), f2.size()));
    CHECK(v.failed());
    CHECK(v.position() == 12);
    CHECK_FALSE(v.feed(f3.data(), f3.size()));
    CHECK(v.position() == 12);
}

// ---- State across calls ----------------------------------------------------------------------------

TEST_CASE("utf8: a 4-byte character split across calls carries its state between them") {
    const bytes grin = hex("f0 9f 98 80"); // U+1F600
    // Every way of splitting it into 1 to 4 pieces (every subset of the three inner cuts).
    for (unsigned mask = 0; mask < 8; ++mask) {
        INFO("cut mask " << mask);
        duplex::utf8_validator v;
        std::size_t begin = 0;
        for (std::size_t cut = 1; cut <= 4; ++cut) {
            if (cut < 4 && (mask & (1u << (cut - 1))) == 0)
                continue;
            CHECK(v.feed(grin.data() + begin, cut - begin));
            CHECK_FALSE(v.failed());
            CHECK(v.position() == cut);
            CHECK(v.complete() == (cut == 4));
            begin = cut;
        }
        CHECK(v.feed("A", 1));
        CHECK(v.complete());
        CHECK(v.position() == 5);
    }

    SECTION("the restricted second-byte range of a lead survives the call boundary") {
        const struct {
            const char* lead;
            const char* next;
            bool ok;
        } rows[] = {
            {"e0", "a0", true},  {"e0", "9f", false}, {"ed", "9f", true},  {"ed", "a0", false},
            {"f0", "90", true},  {"f0", "8f", false}, {"f4", "8f", true},  {"f4", "90", false},
            {"e1", "80", true},  {"ec", "bf", true},  {"f1", "80", true},  {"f3", "bf", true},
            {"c2", "41", false}, {"e1", "c2", false},
        };
        for (const auto& row : rows) {
            INFO(row.lead << " | " << row.next);
            const bytes lead = hex(row.lead);
            const bytes next = hex(row.next);
            duplex::utf8_validator v;
            REQUIRE(v.feed(lead.data(), 1));
            CHECK(v.feed(next.data(), 1) == row.ok);
            CHECK(v.position() == (row.ok ? 2u : 1u));
            CHECK(v.failed() == !row.ok);
        }
    }

    SECTION("the missing continuation bytes are still expected in the next call") {
        duplex::utf8_validator v;
        const bytes first = hex("41 f0 9f");
        REQUIRE(v.feed(first.data(), first.size()));
        CHECK(v.position() == 3);
        CHECK_FALSE(v.complete());
        CHECK_FALSE(v.feed("B", 1));
        CHECK(v.position() == 3);
    }

    SECTION("a copy taken mid-character continues independently") {
        duplex::utf8_validator v;
        const bytes first = hex("f0 9f");
        REQUIRE(v.feed(first.data(), first.size()));
        duplex::utf8_validator w = v;
        const bytes rest = hex("98 80");
        CHECK(v.feed(rest.data(), rest.size()));
        CHECK(v.complete());
        CHECK_FALSE(w.feed("A", 1));
        CHECK(w.position() == 2);
        CHECK_FALSE(v.failed());
    }
}

TEST_CASE("utf8: after a failure every later feed is refused and position() stays at the failure offset") {
    duplex::utf8_validator v;
    CHECK(v.feed("abc", 3));
    CHECK(v.position() == 3);
    const bytes bad = hex("64 65 c0 80 66");
    CHECK_FALSE(v.feed(bad.data(), bad.size()));
    CHECK(v.failed());
    CHECK_FALSE(v.complete());
    CHECK(v.position() == 5);

    CHECK_FALSE(v.feed("plain ascii", 11));
    CHECK(v.position() == 5);
    CHECK_FALSE(v.feed(nullptr, 0));
    CHECK(v.position() == 5);
    CHECK_FALSE(v.feed(kosme.data(), kosme.size()));
    CHECK_FALSE(v.feed(bad.data(), bad.size()));
    CHECK(v.position() == 5);
    CHECK(v.failed());
    CHECK_FALSE(v.complete());

    // A failure in the middle of a character that began in an earlier call.
    duplex::utf8_validator w;
    const bytes start = hex("61 e2");
    const bytes cont = hex("82 28 61"); // E2 82 then '(' instead of a continuation byte
    CHECK(w.feed(start.data(), start.size()));
    CHECK_FALSE(w.feed(cont.data(), cont.size()));
    CHECK(w.position() == 3);
    CHECK_FALSE(w.feed("x", 1));
    CHECK(w.position() == 3);
}

TEST_CASE("utf8: reset() forgets a failure and a partial character alike") {
    duplex::utf8_validator v;
    const bytes bad = hex("41 ff");
    REQUIRE_FALSE(v.feed(bad.data(), bad.size()));
    v.reset();
    CHECK_FALSE(v.failed());
    CHECK(v.complete());
    CHECK(v.position() == 0);
    CHECK(v.feed(kosme.data(), kosme.size()));
    CHECK(v.complete());
    CHECK(v.position() == kosme.size());

    SECTION("a partial character is dropped: a continuation byte is then unexpected") {
        const bytes part = hex("e2 82");
        REQUIRE(v.feed(part.data(), part.size()));
        v.reset();
        CHECK(v.complete());
        CHECK(v.position() == 0);
        CHECK_FALSE(v.feed("\xac", 1));
        CHECK(v.position() == 0);
    }
    SECTION("a lead's restricted range is dropped: after E0, C2 80 is fine") {
        REQUIRE(v.feed("\xe0", 1));
        v.reset();
        const bytes next = hex("c2 80");
        CHECK(v.feed(next.data(), next.size()));
        CHECK(v.complete());
    }
    SECTION("a lead's restricted range is dropped: after ED, E1 A0 80 is fine") {
        REQUIRE(v.feed("\xed", 1));
        v.reset();
        const bytes next = hex("e1 a0 80");
        CHECK(v.feed(next.data(), next.size()));
        CHECK(v.complete());
    }
    SECTION("a lead's restricted range is dropped: after F4, F1 BF BF BF is fine") {
        REQUIRE(v.feed("\xf4", 1));
        v.reset();
        const bytes next = hex("f1 bf bf bf");
        CHECK(v.feed(next.data(), next.size()));
        CHECK(v.complete());
        CHECK(v.position() == 4);
    }
    SECTION("reset validator matches a fresh one on every 2-byte input") {
        std::size_t mismatches = 0;
        for (unsigned i = 0; i < 0x10000; ++i) {
            const unsigned char in[2] = {static_cast<unsigned char>(i >> 8), static_cast<unsigned char>(i)};
            v.reset();
            const bool partial = v.feed("\xf0\x90", 2); // leave a partial character's state behind
            v.reset();
            const bool ok = v.feed(in, 2);
            if (!partial || !(state_of(v, ok) == reference_outcome(in, 2)))
                ++mismatches;
        }
        CHECK(mismatches == 0);
    }
}

TEST_CASE("utf8: a restricted second-byte range applies only to the character whose lead set it") {
    // Every legal lead C2..F4, as its smallest and largest character, followed by every legal
    // lead's smallest and largest character: nothing leaks from one character to the next.
    std::vector<bytes> chars;
    for (std::uint32_t cp : {0x80u, 0x7FFu, 0x800u, 0xFFFu, 0x1000u, 0xCFFFu, 0xD000u, 0xD7FFu, 0xE000u,
                             0xFFFFu, 0x10000u, 0x3FFFFu, 0x40000u, 0xFFFFFu, 0x100000u, 0x10FFFFu}) {
        chars.push_back(encode(cp).vec());
    }
    for (unsigned lead = 0xC2; lead <= 0xF4; ++lead) { // each lead with all-80 and all-BF tails
        const std::size_t len = lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
        for (unsigned tail : {0x80u, 0xBFu}) {
            bytes c(len, static_cast<unsigned char>(tail));
            c[0] = static_cast<unsigned char>(lead);
            // E0 80.., F0 80.. are overlong; ED BF.., F4 BF.. out of range: fix the second byte.
            if (lead == 0xE0 && tail == 0x80)
                c[1] = 0xA0;
            if (lead == 0xF0 && tail == 0x80)
                c[1] = 0x90;
            if (lead == 0xED && tail == 0xBF)
                c[1] = 0x9F;
            if (lead == 0xF4 && tail == 0xBF)
                c[1] = 0x8F;
            chars.push_back(c);
        }
    }
    std::size_t pairs = 0;
    std::size_t mismatches = 0;
    std::string first;
    std::string problems;
    for (const auto& a : chars) {
        for (const auto& b : chars) {
            const bytes input = cat({a, b});
            const outcome want{true, input.size(), true, false};
            ++pairs;
            const bool ok = reference_outcome(input) == want && feed_whole(input) == want &&
                            feed_bytewise(input.data(), input.size()) == want &&
                            feed_pieces(input, {a.size()}, problems) == want;
            if (!ok && mismatches++ == 0)
                first = to_hex(input);
        }
    }
    INFO(pairs << " pairs; first mismatch: " << first << "; " << problems);
    CHECK(pairs == chars.size() * chars.size());
    CHECK(mismatches == 0);
    CHECK(problems.empty());
}

TEST_CASE("utf8: position() is the offset in the whole stream, across many feeds") {
    duplex::utf8_validator v;
    const bytes mib(1 << 20, 'x');
    for (int i = 0; i < 8; ++i) {
        REQUIRE(v.feed(mib.data(), mib.size()));
        CHECK(v.position() == static_cast<std::uint64_t>(i + 1) * mib.size());
    }
    const bytes tail = hex("41 c3 a9 f0 9f");
    CHECK(v.feed(tail.data(), tail.size()));
    CHECK(v.position() == 8 * mib.size() + 5);
    CHECK_FALSE(v.complete());
    const bytes bad = hex("98 80 42 ed a0 80");
    CHECK_FALSE(v.feed(bad.data(), bad.size()));
    CHECK(v.position() == 8 * mib.size() + 5 + 4);
}

// ---- The ASCII fast path -------------------------------------------------------------------------

// ---- Long inputs: the vector path and the portable DFA -------------------------------------------
//
// feed() validates inputs of 64 bytes and more in 64-byte blocks where the CPU allows (AVX2), and
// with a scalar DFA otherwise; detail::utf8_feed_portable() always takes the DFA. These tests run
// long inputs through both and compare each with the reference, so the block boundaries (every 64
// bytes from where a feed starts, after any sequence an earlier feed left open), the 32-byte
// halves of a block and the padded last block are crossed by every kind of character and error.

namespace {

using feed_fn = feed_function;

bool feed_public(duplex::utf8_validator& v, const void* data, std::size_t size) { return v.feed(data, size); }
bool feed_portable(duplex::utf8_validator& v, const void* data, std::size_t size) {
    return duplex::detail::utf8_feed_portable(v, data, size);
}

struct feed_path {
    const char* name;
    feed_fn feed;
};
const feed_path both_paths[] = {{"feed()", feed_public}, {"portable DFA", feed_portable}};

// Valid text of exactly `n` bytes: ASCII runs and characters of every length, from `rng`.
bytes random_valid_text(std::mt19937& rng, std::size_t n) {
    static const std::uint32_t ranges[][2] = {{0x80, 0x7FF},     {0x800, 0xFFF},      {0x1000, 0xD7FF},
                                              {0xE000, 0xFFFF},  {0x10000, 0x3FFFF},  {0x40000, 0xFFFFF},
                                              {0x100000, 0x10FFFF}};
    bytes out;
    while (out.size() < n) {
        const std::uint32_t roll = rng() % 8;
        if (roll == 0) {
            const std::size_t run = 1 + rng() % 80;
            for (std::size_t i = 0; i < run; ++i)
                out.push_back(static_cast<unsigned char>(rng() % 0x80));
        } else {
            const auto& r = ranges[rng() % 7];
            const encoded e = encode(r[0] + static_cast<std::uint32_t>(rng() % (r[1] - r[0] + 1)));
            out.insert(out.end(), e.begin(), e.end());
        }
    }
    std::size_t cut = n; // back up to a code point boundary, pad with ASCII
    while (cut > 0 && cut < out.size() && (out[cut] & 0xC0) == 0x80)
        --cut;
    out.resize(cut);
    out.resize(n, 'a');
    return out;
}

// The edge-case byte strings that are spliced into long text below.
const char* const splices[] = {
    "80", "bf", "c0", "c1", "f5", "f8", "fe", "ff",                        // never valid
    "c2", "df", "e0", "e1 80", "ed", "ef bf", "f0", "f0 90", "f4 8f bf",   // truncated
    "c0 80", "c1 bf", "e0 80 80", "e0 9f bf", "f0 80 80 80", "f0 8f bf bf", // overlong
    "ed a0 80", "ed bf bf", "ed 9f bf",                                   // surrogates (and U+D7FF)
    "f4 90 80 80", "f5 80 80 80", "f7 bf bf bf", "f4 8f bf bf",           // above U+10FFFF (and max)
    "c2 80", "df bf", "e0 a0 80", "ef bf bf", "f0 90 80 80", "f1 80 80 80", // valid
    "c3 a9 80", "e2 82 ac 80", "f0 9f 98 80 80",                         // one continuation too many
};

} // namespace

TEST_CASE("utf8: long valid text of every length 64..300 and some long ones is accepted on both paths") {
    std::mt19937 rng(3629);
    std::string problems;
    std::size_t mismatches = 0;
    std::string first;
    std::vector<std::size_t> lengths;
    for (std::size_t n = 64; n <= 300; ++n)
        lengths.push_back(n);
    for (std::size_t n : {1000u, 4096u, 65536u, 65539u, 1000003u})
        lengths.push_back(n);
    for (const std::size_t n : lengths) {
        const bytes text = random_valid_text(rng, n);
        const outcome want{true, n, true, false};
        REQUIRE(reference_outcome(text) == want);
        for (const auto& path : both_paths) {
            if (!(feed_pieces(text, {}, problems, path.feed) == want) && mismatches++ == 0)
                first = std::string(path.name) + " length " + std::to_string(n);
        }
        CHECK(duplex::is_valid_utf8(text.data(), text.size()));
    }
    INFO("first mismatch: " << first << "; " << problems);
    CHECK(mismatches == 0);
    CHECK(problems.empty());
}

TEST_CASE("utf8: an error spliced at every offset of a 64-byte block and around the last one is found on both paths") {
    // Long valid text (multibyte and ASCII variants) with each edge case spliced in, replacing
    // bytes or inserted, at every offset 0..200 of a 260-byte input: every position in a block,
    // across the 32- and 64-byte boundaries and into the padded last block. Fed whole, after a
    // lead-in of 1-3 bytes (which moves the blocks), and split just before and after the splice.
    std::mt19937 rng(6455);
    const bytes multibyte = random_valid_text(rng, 260);
    const bytes plain(260, 'x');
    std::size_t tried = 0;
    std::size_t mismatches = 0;
    std::string first;
    std::string problems;
    for (const bytes* base : {&multibyte, &plain}) {
        for (const char* splice_hex : splices) {
            const bytes splice = hex(splice_hex);
            for (std::size_t at = 0; at <= 200; ++at) {
                for (int insert = 0; insert < 2; ++insert) {
                    bytes input = *base;
                    if (insert)
                        input.insert(input.begin() + static_cast<std::ptrdiff_t>(at), splice.begin(), splice.end());
                    else
                        std::copy(splice.begin(), splice.end(), input.begin() + static_cast<std::ptrdiff_t>(at));
                    const outcome want = reference_outcome(input);
                    const std::vector<std::vector<std::size_t>> cutss = {
                        {}, {1}, {2}, {3}, {at}, {at + 1}, {at + splice.size()}, {1, at}, {2, at + 2}};
                    for (const auto& path : both_paths) {
                        for (auto cuts : cutss) {
                            std::sort(cuts.begin(), cuts.end());
                            ++tried;
                            if (!(feed_pieces(input, cuts, problems, path.feed) == want) &&
                                mismatches++ == 0)
                                first = std::string(path.name) + ": " + splice_hex + (insert ? " inserted" : " written") +
                                        " at " + std::to_string(at) + ", " + std::to_string(cuts.size()) + " cuts";
                        }
                    }
                }
            }
        }
    }
    INFO(tried << " runs; first mismatch: " << first << "; " << problems);
    CHECK(mismatches == 0);
    CHECK(problems.empty());
}

TEST_CASE("utf8: all 65536 byte pairs across a 32- and a 64-byte block boundary match the reference on both paths") {
    // Valid 2-, 3- and 4-byte text around the pair, so the pair also meets sequences it cuts off
    // or continues.
    std::mt19937 rng(2021);
    const bytes context = random_valid_text(rng, 160);
    std::size_t mismatches = 0;
    std::string first;
    for (std::size_t at : {31u, 63u, 127u}) {
        bytes input = context;
        for (unsigned pair = 0; pair < 0x10000; ++pair) {
            input[at] = static_cast<unsigned char>(pair >> 8);
            input[at + 1] = static_cast<unsigned char>(pair & 0xFF);
            const outcome want = reference_outcome(input);
            for (const auto& path : both_paths) {
                duplex::utf8_validator v;
                const bool ok = path.feed(v, input.data(), input.size());
                if (!(state_of(v, ok) == want) && mismatches++ == 0)
                    first = std::string(path.name) + ": " + to_hex(input.data() + at, 2) + " at " + std::to_string(at);
            }
        }
    }
    INFO("first mismatch: " << first);
    CHECK(mismatches == 0);
}

TEST_CASE("utf8: four-byte strings over every byte-class boundary, across a 64-byte block boundary, match the reference") {
    // The bytes at which a class of lead or continuation begins or ends; every 4-byte string over
    // them, written at offsets 61 and 62 of a 128-byte ASCII input (so it straddles the block
    // boundary at 64), fed whole through feed() (the vector path on CPUs that have one).
    const unsigned char alphabet[] = {0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0,
                                      0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xED, 0xEF, 0xF0, 0xF1,
                                      0xF4, 0xF5, 0xFF};
    const std::size_t k = sizeof alphabet;
    std::size_t mismatches = 0;
    std::string first;
    for (std::size_t at : {61u, 62u}) {
        bytes input(128, ' ');
        for (std::size_t i = 0; i < k * k * k * k; ++i) {
            input[at] = alphabet[i % k];
            input[at + 1] = alphabet[i / k % k];
            input[at + 2] = alphabet[i / (k * k) % k];
            input[at + 3] = alphabet[i / (k * k * k)];
            const outcome want = reference_outcome(input);
            if (!(feed_whole(input) == want) && mismatches++ == 0)
                first = to_hex(input.data() + at, 4) + " at " + std::to_string(at);
        }
    }
    INFO("first mismatch: " << first);
    CHECK(mismatches == 0);
}

TEST_CASE("utf8: long random text, valid or with random damage, fed in random chunkings matches the reference on both paths") {
    std::mt19937 rng(1993);
    std::size_t tried = 0;
    std::size_t mismatches = 0;
    std::size_t rejected = 0;
    std::string first;
    std::string problems;
    for (int iteration = 0; iteration < 3000; ++iteration) {
        const std::size_t n = 1 + rng() % (iteration % 50 == 0 ? 20000 : 700);
        bytes input = random_valid_text(rng, n);
        // Damage: none (a quarter), or one to three random bytes overwritten, inserted or removed,
        // or one of the edge-case strings spliced in.
        const std::uint32_t damage = rng() % 4 == 0 ? 0 : 1 + rng() % 3;
        for (std::uint32_t d = 0; d < damage && !input.empty(); ++d) {
            const std::size_t at = rng() % input.size();
            switch (rng() % 4) {
            case 0:
                input[at] = static_cast<unsigned char>(rng());
                break;
            case 1:
                input.insert(input.begin() + static_cast<std::ptrdiff_t>(at), static_cast<unsigned char>(rng()));
                break;
            case 2:
                input.erase(input.begin() + static_cast<std::ptrdiff_t>(at));
                break;
            default: {
                const bytes s = hex(splices[rng() % (sizeof splices / sizeof splices[0])]);
                input.insert(input.begin() + static_cast<std::ptrdiff_t>(at), s.begin(), s.end());
            }
            }
        }
        const outcome want = reference_outcome(input);
        rejected += want.accepted ? 0 : 1;
        std::vector<std::size_t> cuts;
        const std::size_t ncuts = rng() % 8;
        for (std::size_t c = 0; c < ncuts; ++c)
            cuts.push_back(rng() % (input.size() + 1));
        std::sort(cuts.begin(), cuts.end());
        for (const auto& path : both_paths) {
            ++tried;
            if (!(feed_pieces(input, {}, problems, path.feed) == want &&
                  feed_pieces(input, cuts, problems, path.feed) == want) &&
                mismatches++ == 0)
                first = std::string(path.name) + ": " + to_hex(input);
        }
        if (duplex::is_valid_utf8(input.data(), input.size()) != (want.accepted && want.complete) &&
            mismatches++ == 0)
            first = "is_valid_utf8: " + to_hex(input);
    }
    INFO(tried << " runs, " << rejected << " invalid inputs; first mismatch: " << first << "; " << problems);
    CHECK(mismatches == 0);
    CHECK(problems.empty());
    CHECK(rejected > 1500);
    CHECK(rejected < 2800);
}
