// Tests for include/duplex/core/close.hpp: close codes and payloads (RFC 6455 §5.5.1, §7.4).
#include <duplex/core/close.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

using duplex::close_code;
using bytes = std::vector<std::uint8_t>;

namespace {

// RFC 6455 §7.4.1 defines 1000-1011 (of which 1004 is reserved and 1005/1006 are never sent);
// IANA registered 1012-1015 (1015 is never sent); §7.4.2: 0-999 unused, 1000-2999 reserved for
// the protocol and its extensions, 3000-3999 registered by IANA, 4000-4999 private use.
bool sendable_per_rfc(unsigned code) {
    static const unsigned defined[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009,
                                       1010, 1011, 1012, 1013, 1014};
    for (unsigned d : defined)
        if (code == d)
            return true;
    return code >= 3000 && code <= 4999;
}

bytes payload(std::uint16_t code, const std::string& reason = "") {
    bytes p;
    p.reserve(2 + reason.size());
    p.push_back(static_cast<std::uint8_t>(code >> 8));
    p.push_back(static_cast<std::uint8_t>(code & 0xFF));
    for (char c : reason)
        p.push_back(static_cast<std::uint8_t>(c));
    return p;
}

} // namespace

TEST_CASE("close: is_valid_close_code agrees with RFC 6455 7.4 for all 65536 codes") {
    std::size_t mismatches = 0, valid = 0;
    for (unsigned code = 0; code <= 0xFFFF; ++code) {
        const bool v = duplex::is_valid_close_code(static_cast<std::uint16_t>(code));
        valid += v;
        mismatches += v != sendable_per_rfc(code);
        mismatches += v != duplex::is_valid_close_code(static_cast<close_code>(code));
    }
    CHECK(mismatches == 0);
    CHECK(valid == 12 + 2000);
}

TEST_CASE("close: a 2-byte payload parses for exactly the codes that may be sent") {
    std::size_t mismatches = 0;
    for (unsigned code = 0; code <= 0xFFFF; ++code) {
        const bytes p = payload(static_cast<std::uint16_t>(code));
        duplex::close_reason out;
        std::error_code ec;
        const bool ok = duplex::parse_close(p.data(), p.size(), out, ec);
        if (sendable_per_rfc(code)) {
            mismatches += !ok || ec || static_cast<unsigned>(out.code) != code || !out.reason.empty();
        } else {
            mismatches += ok || ec != duplex::error::invalid_close_code;
        }
    }
    CHECK(mismatches == 0);
}

TEST_CASE("close: build_close accepts exactly the codes that may be sent") {
    std::size_t mismatches = 0;
    for (unsigned code = 0; code <= 0xFFFF; ++code) {
        std::uint8_t out[duplex::max_control_payload] = {};
        std::error_code ec;
        const std::size_t n = duplex::build_close(static_cast<close_code>(code), "", out, ec);
        if (sendable_per_rfc(code))
            mismatches += ec || n != 2 || out[0] != (code >> 8) || out[1] != (code & 0xFF);
        else if (code == 1005)
            mismatches += ec || n != 0; // no status: an empty close payload
        else
            mismatches += ec != duplex::error::invalid_close_code || n != 0;
    }
    CHECK(mismatches == 0);
}

TEST_CASE("close: an empty payload means no status code (1005)") {
    duplex::close_reason out{close_code::normal, "stale"};
    std::error_code ec;
    REQUIRE(duplex::parse_close(nullptr, 0, out, ec));
    CHECK_FALSE(ec);
    CHECK(out.code == close_code::no_status);
    CHECK(out.reason.empty());
}

TEST_CASE("close: a 1-byte payload is a protocol error and leaves the output unchanged") {
    const std::uint8_t one[] = {0x03};
    duplex::close_reason out{close_code::going_away, "kept"};
    std::error_code ec;
    CHECK_FALSE(duplex::parse_close(one, 1, out, ec));
    CHECK(ec == duplex::error::close_payload_one_byte);
    CHECK(out.code == close_code::going_away);
    CHECK(out.reason == "kept");
}

TEST_CASE("close: the reason is a view of the payload and may use all 123 bytes") {
    const std::string reason(123, 'r');
    const bytes p = payload(1000, reason);
    REQUIRE(p.size() == 125);
    duplex::close_reason out;
    std::error_code ec;
    REQUIRE(duplex::parse_close(p.data(), p.size(), out, ec));
    CHECK(out.code == close_code::normal);
    CHECK(out.reason == reason);
    CHECK(static_cast<const void*>(out.reason.data()) == static_cast<const void*>(p.data() + 2));

    const bytes too_long = payload(1000, reason + "r");
    CHECK_FALSE(duplex::parse_close(too_long.data(), too_long.size(), out, ec));
    CHECK(ec == duplex::error::control_too_long);
}

TEST_CASE("close: a reason that is not valid UTF-8 fails with close_reason_utf8") {
    const std::string bad_reasons[] = {
        "\xff",                       // never valid
        "ok \xce",                    // truncated at the end
        "\xed\xa0\x80",               // a surrogate
        "\xc0\xaf",                   // overlong '/'
        "\xf4\x90\x80\x80",           // above U+10FFFF
    };
    for (const auto& r : bad_reasons) {
        const bytes p = payload(1000, r);
        duplex::close_reason out;
        std::error_code ec;
        CHECK_FALSE(duplex::parse_close(p.data(), p.size(), out, ec));
        CHECK(ec == duplex::error::close_reason_utf8);
    }
    const bytes good = payload(4000, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"); // κόσμε
    duplex::close_reason out;
    std::error_code ec;
    CHECK(duplex::parse_close(good.data(), good.size(), out, ec));
    CHECK(out.code == static_cast<close_code>(4000));
}

TEST_CASE("close: an invalid code is reported before the reason is looked at") {
    const bytes p = payload(1005, "\xff");
    duplex::close_reason out;
    std::error_code ec;
    CHECK_FALSE(duplex::parse_close(p.data(), p.size(), out, ec));
    CHECK(ec == duplex::error::invalid_close_code);
}

TEST_CASE("close: build_close writes code and reason and parse_close reads them back") {
    std::uint8_t out[duplex::max_control_payload];
    std::error_code ec;
    const std::size_t n = duplex::build_close(close_code::going_away, "server restart", out, ec);
    REQUIRE_FALSE(ec);
    CHECK(bytes(out, out + n) == payload(1001, "server restart"));

    duplex::close_reason parsed;
    REQUIRE(duplex::parse_close(out, n, parsed, ec));
    CHECK(parsed.code == close_code::going_away);
    CHECK(parsed.reason == "server restart");
}

TEST_CASE("close: build_close refuses long or non-UTF-8 reasons and a reason without a code") {
    std::uint8_t out[duplex::max_control_payload];
    std::error_code ec;
    CHECK(duplex::build_close(close_code::normal, std::string(123, 'x'), out, ec) == 125);
    CHECK_FALSE(ec);
    CHECK(duplex::build_close(close_code::normal, std::string(124, 'x'), out, ec) == 0);
    CHECK(ec == duplex::error::close_reason_too_long);
    CHECK(duplex::build_close(close_code::normal, "bad \xc3", out, ec) == 0);
    CHECK(ec == duplex::error::close_reason_utf8);
    CHECK(duplex::build_close(close_code::no_status, "why", out, ec) == 0);
    CHECK(ec == duplex::error::invalid_close_code);
    CHECK(duplex::build_close(close_code::abnormal, "", out, ec) == 0);
    CHECK(ec == duplex::error::invalid_close_code);
}

TEST_CASE("close: every named code has a name and ranges are described") {
    CHECK(duplex::close_code_name(close_code::normal) == "normal");
    CHECK(duplex::close_code_name(close_code::protocol_error) == "protocol error");
    CHECK(duplex::close_code_name(close_code::try_again_later) == "try again later");
    CHECK(duplex::close_code_name(static_cast<close_code>(3001)) == "registered");
    CHECK(duplex::close_code_name(static_cast<close_code>(4999)) == "private");
    CHECK(duplex::close_code_name(static_cast<close_code>(999)) == "undefined");
    CHECK(duplex::close_code_name(static_cast<close_code>(2000)) == "undefined");
    for (unsigned code = 1000; code <= 1015; ++code)
        CHECK(duplex::close_code_name(static_cast<close_code>(code)) != "undefined");
}
