// Tests for include/duplex/core/url.hpp: ws:// and wss:// URLs (RFC 6455 §3, RFC 3986 §3).
//
// Expected values are written by hand from the RFCs and the header's documented contract.
#include <duplex/core/url.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <system_error>

namespace {

struct parsed {
    bool ok;
    duplex::ws_url url;
    std::error_code ec;
};

parsed parse(const std::string& text) {
    parsed p;
    p.ec = duplex::error::http_bad_field; // parse_url must overwrite (clear) it
    p.ok = duplex::parse_url(text, p.url, p.ec);
    return p;
}

// Parses text expecting failure with `expected`, and checks the output is left untouched.
void check_fails(const std::string& text, duplex::error expected) {
    INFO("URL: \"" << text << "\"");
    duplex::ws_url url;
    url.secure = true;
    url.ipv6 = true;
    url.host = "sentinel.example";
    url.port = 1234;
    url.target = "/sentinel?x";
    std::error_code ec;
    const bool ok = duplex::parse_url(text, url, ec);
    CHECK_FALSE(ok);
    CHECK(ec == duplex::make_error_code(expected));
    CHECK(url.secure);
    CHECK(url.ipv6);
    CHECK(url.host == "sentinel.example");
    CHECK(url.port == 1234);
    CHECK(url.target == "/sentinel?x");
}

} // namespace

TEST_CASE("url: ws:// gets default port 80 and wss:// 443, and host_field omits a default port") {
    auto p = parse("ws://example.com/chat");
    REQUIRE(p.ok);
    CHECK_FALSE(p.ec);
    CHECK_FALSE(p.url.secure);
    CHECK_FALSE(p.url.ipv6);
    CHECK(p.url.host == "example.com");
    CHECK(p.url.port == 80);
    CHECK(p.url.target == "/chat");
    CHECK(p.url.host_field() == "example.com");

    p = parse("wss://example.com/chat");
    REQUIRE(p.ok);
    CHECK(p.url.secure);
    CHECK(p.url.host == "example.com");
    CHECK(p.url.port == 443);
    CHECK(p.url.host_field() == "example.com");
}

TEST_CASE("url: explicit ports are kept and host_field includes them only when not the scheme's default") {
    auto p = parse("ws://example.com:8080/");
    REQUIRE(p.ok);
    CHECK(p.url.port == 8080);
    CHECK(p.url.host_field() == "example.com:8080");

    p = parse("wss://example.com:8443/");
    REQUIRE(p.ok);
    CHECK(p.url.port == 8443);
    CHECK(p.url.host_field() == "example.com:8443");

    // A port equal to the default is omitted; the other scheme's default is not a default.
    p = parse("ws://example.com:80/");
    REQUIRE(p.ok);
    CHECK(p.url.port == 80);
    CHECK(p.url.host_field() == "example.com");
    p = parse("wss://example.com:443/");
    REQUIRE(p.ok);
    CHECK(p.url.host_field() == "example.com");
    p = parse("ws://example.com:443/");
    REQUIRE(p.ok);
    CHECK(p.url.port == 443);
    CHECK(p.url.host_field() == "example.com:443");
    p = parse("wss://example.com:80/");
    REQUIRE(p.ok);
    CHECK(p.url.port == 80);
    CHECK(p.url.host_field() == "example.com:80");

    // The extremes of the valid range.
    p = parse("ws://h:1");
    REQUIRE(p.ok);
    CHECK(p.url.port == 1);
    p = parse("ws://h:65535");
    REQUIRE(p.ok);
    CHECK(p.url.port == 65535);
    CHECK(p.url.host_field() == "h:65535");
}

TEST_CASE("url: IPv6 literals lose their brackets in host and regain them in host_field") {
    auto p = parse("ws://[::1]:8080/x");
    REQUIRE(p.ok);
    CHECK(p.url.ipv6);
    CHECK(p.url.host == "::1");
    CHECK(p.url.port == 8080);
    CHECK(p.url.target == "/x");
    CHECK(p.url.host_field() == "[::1]:8080");

    p = parse("ws://[2001:db8::1]/");
    REQUIRE(p.ok);
    CHECK(p.url.ipv6);
    CHECK(p.url.host == "2001:db8::1");
    CHECK(p.url.port == 80);
    CHECK(p.url.target == "/");
    CHECK(p.url.host_field() == "[2001:db8::1]");

    // IPv4-mapped form (RFC 4291 §2.5.5.2) and upper-case hex digits; no path at all.
    for (const char* ok : {"ws://[::]/", "ws://[1:2:3:4:5:6:7:8]/", "ws://[1::]/", "ws://[::ffff:1.2.3.4]/",
                           "ws://[1:2:3:4:5:6:1.2.3.4]/", "ws://[fe80::abcd:1]/"}) {
        INFO(ok);
        CHECK(parse(ok).ok);
    }
    p = parse("wss://[::FFFF:192.0.2.1]");
    REQUIRE(p.ok);
    CHECK(p.url.ipv6);
    CHECK(p.url.host == "::FFFF:192.0.2.1");
    CHECK(p.url.port == 443);
    CHECK(p.url.target == "/");
    CHECK(p.url.host_field() == "[::FFFF:192.0.2.1]");
}

TEST_CASE("url: IPv4 addresses and DNS names are hosts, not IPv6") {
    auto p = parse("ws://127.0.0.1:9001/");
    REQUIRE(p.ok);
    CHECK_FALSE(p.url.ipv6);
    CHECK(p.url.host == "127.0.0.1");
    CHECK(p.url.port == 9001);
    CHECK(p.url.host_field() == "127.0.0.1:9001");

    p = parse("ws://my-host_1.example~x/");
    REQUIRE(p.ok);
    CHECK(p.url.host == "my-host_1.example~x");

    // Host case is kept as given (the caller may lower-case for comparison).
    p = parse("ws://Example.COM/");
    REQUIRE(p.ok);
    CHECK(p.url.host == "Example.COM");
}

TEST_CASE("url: path and query are kept exactly as the request target") {
    auto p = parse("ws://h/a/b?c=d&e");
    REQUIRE(p.ok);
    CHECK(p.url.host == "h");
    CHECK(p.url.target == "/a/b?c=d&e");

    // Percent-encoding, sub-delims, '@' and ':' are fine in the path and query and are not decoded.
    p = parse("ws://h:81/%7Euser/a;b=c,d/x:y@z?q=%20&r=/s?t");
    REQUIRE(p.ok);
    CHECK(p.url.port == 81);
    CHECK(p.url.target == "/%7Euser/a;b=c,d/x:y@z?q=%20&r=/s?t");

    // Dot segments are not normalised.
    p = parse("ws://h/a/../b/./c//");
    REQUIRE(p.ok);
    CHECK(p.url.target == "/a/../b/./c//");
}

TEST_CASE("url: an empty path becomes / and a bare query gets / in front") {
    auto p = parse("ws://h");
    REQUIRE(p.ok);
    CHECK(p.url.target == "/");

    p = parse("ws://h?x=1");
    REQUIRE(p.ok);
    CHECK(p.url.host == "h");
    CHECK(p.url.port == 80);
    CHECK(p.url.target == "/?x=1");

    p = parse("ws://h:8080?x=1");
    REQUIRE(p.ok);
    CHECK(p.url.port == 8080);
    CHECK(p.url.target == "/?x=1");

    p = parse("ws://[::1]?x");
    REQUIRE(p.ok);
    CHECK(p.url.host == "::1");
    CHECK(p.url.target == "/?x");

    p = parse("ws://h?");
    REQUIRE(p.ok);
    CHECK(p.url.target == "/?");
}

TEST_CASE("url: the scheme is case-insensitive") {
    for (const char* text : {"WS://h/", "Ws://h/", "wS://h/"}) {
        INFO(text);
        auto p = parse(text);
        REQUIRE(p.ok);
        CHECK_FALSE(p.url.secure);
        CHECK(p.url.port == 80);
    }
    for (const char* text : {"WSS://h/", "wSs://h/"}) {
        INFO(text);
        auto p = parse(text);
        REQUIRE(p.ok);
        CHECK(p.url.secure);
        CHECK(p.url.port == 443);
    }
}

TEST_CASE("url: a successful parse replaces every field of the output and clears the error") {
    duplex::ws_url url;
    url.secure = true;
    url.ipv6 = true;
    url.host = "old";
    url.port = 1;
    url.target = "/old";
    std::error_code ec = duplex::error::url_bad_host;
    REQUIRE(duplex::parse_url("ws://new", url, ec));
    CHECK_FALSE(ec);
    CHECK_FALSE(url.secure);
    CHECK_FALSE(url.ipv6);
    CHECK(url.host == "new");
    CHECK(url.port == 80);
    CHECK(url.target == "/");
}

TEST_CASE("url: schemes other than ws and wss, or no ://, fail with url_bad_scheme") {
    using duplex::error;
    check_fails("http://h/", error::url_bad_scheme);
    check_fails("https://h/", error::url_bad_scheme);
    check_fails("ftp://h/", error::url_bad_scheme);
    check_fails("wsss://h/", error::url_bad_scheme);
    check_fails("w://h/", error::url_bad_scheme);
    check_fails("://h/", error::url_bad_scheme);
    check_fails(" ws://h/", error::url_bad_scheme);
    check_fails("h/chat", error::url_bad_scheme);
    check_fails("ws:/h", error::url_bad_scheme);
    check_fails("ws:h", error::url_bad_scheme);
    check_fails("//h/", error::url_bad_scheme);
    check_fails("", error::url_bad_scheme);
}

TEST_CASE("url: a missing or malformed host fails with url_bad_host") {
    using duplex::error;
    check_fails("ws://", error::url_bad_host);
    check_fails("ws:///chat", error::url_bad_host);
    check_fails("ws://?x", error::url_bad_host);
    check_fails("ws://:80", error::url_bad_host);
    check_fails("ws://:80/", error::url_bad_host);
    // IPv6 literals: unclosed, non-hex, no colon at all, empty, junk after ']'.
    check_fails("ws://[::1", error::url_bad_host);
    check_fails("ws://[::1/x", error::url_bad_host);
    check_fails("ws://[zz]", error::url_bad_host);
    check_fails("ws://[::g]/", error::url_bad_host);
    check_fails("ws://[1.2.3.4]", error::url_bad_host);
    check_fails("ws://[]", error::url_bad_host);
    check_fails("ws://[]:80", error::url_bad_host);
    check_fails("ws://[::1]x", error::url_bad_host);
    check_fails("ws://[::1]]:80", error::url_bad_host);
    check_fails("ws://[fe80::1%25eth0]/", error::url_bad_host); // zone IDs (RFC 6874) unsupported
    // IPv6 structure (RFC 4291 §2.2): at most one "::", groups of 1-4 hex digits, 8 in all.
    check_fails("ws://[:::::]/", error::url_bad_host);
    check_fails("ws://[1::2::3]/", error::url_bad_host);
    check_fails("ws://[12345::1]/", error::url_bad_host);
    check_fails("ws://[1:2:3:4:5:6:7]/", error::url_bad_host);     // 7 groups, no "::"
    check_fails("ws://[1:2:3:4:5:6:7:8:9]/", error::url_bad_host); // 9 groups
    check_fails("ws://[1:2:3:4::5:6:7:8]/", error::url_bad_host);  // "::" standing for nothing
    check_fails("ws://[:1:2:3:4:5:6:7]/", error::url_bad_host);
    check_fails("ws://[::1.2.3.256]/", error::url_bad_host);
    check_fails("ws://[::1.2.3]/", error::url_bad_host);
    check_fails("ws://[1.2.3.4::]/", error::url_bad_host);         // IPv4 only at the end
    // Printable characters that are not valid in a DNS name or IPv4 address: percent-encoding
    // and sub-delims, which RFC 3986 reg-name would allow but the header restricts to
    // letters, digits, '-', '.', '_' and '~'.
    check_fails("ws://h%41", error::url_bad_host);
    check_fails("ws://h%41/", error::url_bad_host);
    check_fails("ws://h!/", error::url_bad_host);
    check_fails("ws://a,b/", error::url_bad_host);
    check_fails("ws://h[1]/", error::url_bad_host);
    check_fails("ws://h]/", error::url_bad_host);
}

TEST_CASE("url: a port that is empty, zero, too large or not decimal fails with url_bad_port") {
    using duplex::error;
    check_fails("ws://h:0", error::url_bad_port);
    check_fails("ws://h:0/", error::url_bad_port);
    check_fails("ws://h:00000", error::url_bad_port);
    check_fails("ws://h:65536", error::url_bad_port);
    check_fails("ws://h:99999", error::url_bad_port);
    check_fails("ws://h:100000", error::url_bad_port);
    check_fails("ws://h:4294967377", error::url_bad_port); // 2^32 + 81: no wrap-around to 81
    check_fails("ws://h:18446744073709551697", error::url_bad_port); // 2^64 + 81
    check_fails("ws://h:abc", error::url_bad_port);
    check_fails("ws://h:8o", error::url_bad_port);
    check_fails("ws://h:+80", error::url_bad_port);
    check_fails("ws://h:-1", error::url_bad_port);
    check_fails("ws://h:0x50", error::url_bad_port);
    check_fails("ws://h:80:81", error::url_bad_port);
    check_fails("ws://h:", error::url_bad_port);
    check_fails("ws://h:/x", error::url_bad_port);
    check_fails("ws://h:?x", error::url_bad_port);
    check_fails("ws://[::1]:", error::url_bad_port);
    check_fails("ws://[::1]:/", error::url_bad_port);
    check_fails("ws://[::1]:0", error::url_bad_port);
    check_fails("ws://[::1]:65536", error::url_bad_port);
    check_fails("wss://[::1]:x", error::url_bad_port);
}

TEST_CASE("url: user info, fragments, spaces, control and non-ASCII bytes fail with url_bad_syntax") {
    using duplex::error;
    // RFC 6455 §3: no user info; the fragment identifier is meaningless and must not be used.
    check_fails("ws://u:p@h/", error::url_bad_syntax);
    check_fails("ws://u@h", error::url_bad_syntax);
    check_fails("ws://@h/", error::url_bad_syntax);
    check_fails("ws://u@[::1]/", error::url_bad_syntax);
    check_fails("ws://h/#f", error::url_bad_syntax);
    check_fails("ws://h#f", error::url_bad_syntax);
    check_fails("ws://h/?q#", error::url_bad_syntax);
    check_fails("ws://h/#", error::url_bad_syntax);
    // Spaces, anywhere after the scheme.
    check_fails("ws://ho st", error::url_bad_syntax);
    check_fails("ws://h /", error::url_bad_syntax);
    check_fails("ws://h/a b", error::url_bad_syntax);
    check_fails("ws://h/?a=b c", error::url_bad_syntax);
    check_fails("ws://h/ ", error::url_bad_syntax);
    check_fails("ws:// h/", error::url_bad_syntax);
    // Control bytes: NUL, TAB, CR, LF (header injection), ESC, DEL.
    check_fails(std::string("ws://h/\0x", 9), error::url_bad_syntax);
    check_fails(std::string("ws://h\0", 7), error::url_bad_syntax);
    check_fails("ws://h/\tx", error::url_bad_syntax);
    check_fails("ws://h/\r\nX-Injected: 1", error::url_bad_syntax);
    check_fails("ws://h/\n", error::url_bad_syntax);
    check_fails("ws://h/\x1b", error::url_bad_syntax);
    check_fails("ws://h/\x7f", error::url_bad_syntax);
    check_fails("ws://h\x7f/", error::url_bad_syntax);
    check_fails("ws://h:80\x01/", error::url_bad_syntax);
    // Non-ASCII bytes (UTF-8 in the host or path; an IDN must be given as its A-label).
    check_fails("ws://b\xc3\xbc\x63her.example/", error::url_bad_syntax);
    check_fails("ws://h/caf\xc3\xa9", error::url_bad_syntax);
    check_fails("ws://h/\x80", error::url_bad_syntax);
    check_fails("ws://h/\xff", error::url_bad_syntax);
    check_fails("ws://[::1]/\xff", error::url_bad_syntax);
}

TEST_CASE("url: every single byte after the host is accepted in the path iff it is a visible ASCII character other than '#'") {
    // RFC 3986 allows more than this, but the header's contract is: printable ASCII except
    // '#' (and space). Check each byte value in the path of an otherwise valid URL.
    std::size_t wrong = 0;
    for (int b = 0; b < 256; ++b) {
        std::string text = "ws://h/a";
        text += static_cast<char>(b);
        duplex::ws_url url;
        std::error_code ec;
        const bool ok = duplex::parse_url(text, url, ec);
        const bool expected = b > 0x20 && b < 0x7F && b != '#';
        if (ok != expected || (ok && url.target != text.substr(6)) ||
            (!ok && ec != duplex::make_error_code(duplex::error::url_bad_syntax))) {
            ++wrong;
            UNSCOPED_INFO("byte 0x" << std::hex << b << ": accepted " << ok);
        }
    }
    CHECK(wrong == 0);
}
