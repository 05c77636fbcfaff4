// Tests for include/duplex/core/http.hpp: the incremental HTTP/1.1 head parser (RFC 9112 §2-§5,
// RFC 9110 §5), http_head's field queries and http_status().
//
// Expected values are written by hand from the RFCs and from real handshakes captured from
// Chromium, curl, Python websockets and Node ws (real_handshakes.hpp), never produced by the
// code under test.
#include "real_handshakes.hpp"

#include <duplex/core/http.hpp>

#include <catch2/catch.hpp>

#include <cstddef>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

using duplex::error;
using duplex::http_limits;
using duplex::http_parser;
using kind = duplex::http_parser::kind;

// RFC 6455 §5.7: a single-frame masked text message "Hello", as a client sends it after its
// handshake; appended to request heads to check the parser leaves it alone.
const std::string_view masked_hello = "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";

std::string str(std::string_view v) { return std::string(v); }

std::size_t feed(http_parser& p, std::string_view s, std::error_code& ec) {
    return p.feed(s.data(), s.size(), ec);
}

// "" if the parsed head matches the expected fields exactly (in order), else a description.
std::string fields_mismatch(const duplex::http_head& h, const std::vector<real_handshakes::field>& want) {
    std::ostringstream out;
    if (h.fields.size() != want.size())
        out << "field count " << h.fields.size() << " != " << want.size() << "; ";
    for (std::size_t i = 0; i < h.fields.size() && i < want.size(); ++i)
        if (h.fields[i].name != want[i].name || h.fields[i].value != want[i].value)
            out << "field " << i << " is [" << h.fields[i].name << "]=[" << h.fields[i].value
                << "], want [" << want[i].name << "]=[" << want[i].value << "]; ";
    return out.str();
}

std::string request_mismatch(const http_parser& p, const real_handshakes::request& r) {
    if (!p.done())
        return "not done";
    const auto& h = p.head();
    std::ostringstream out;
    if (h.method != r.method)
        out << "method [" << h.method << "]; ";
    if (h.target != r.target)
        out << "target [" << h.target << "]; ";
    if (h.version_major != 1 || h.version_minor != 1)
        out << "version " << h.version_major << "." << h.version_minor << "; ";
    if (h.status != 0 || !h.reason.empty())
        out << "status set on a request; ";
    out << fields_mismatch(h, r.fields);
    return out.str();
}

std::string response_mismatch(const http_parser& p, const real_handshakes::response& r) {
    if (!p.done())
        return "not done";
    const auto& h = p.head();
    std::ostringstream out;
    if (h.status != r.status)
        out << "status " << h.status << "; ";
    if (h.reason != r.reason)
        out << "reason [" << h.reason << "]; ";
    if (h.version_major != 1 || h.version_minor != 1)
        out << "version " << h.version_major << "." << h.version_minor << "; ";
    if (!h.method.empty() || !h.target.empty())
        out << "method/target set on a response; ";
    out << fields_mismatch(h, r.fields);
    return out.str();
}

// Feeds `input` (a head followed by `head_size`..end extra bytes) whole, byte by byte, and split
// in two at every position; each time the parser must use exactly the head, finish, match, and
// refuse further bytes. Returns "" or the first problem found.
template <class Mismatch>
std::string check_all_splits(kind k, std::string_view input, std::size_t head_size, Mismatch mismatch) {
    std::ostringstream out;
    // Whole.
    {
        http_parser p(k);
        std::error_code ec = error::http_bad_field;
        const std::size_t used = feed(p, input, ec);
        if (used != head_size || ec || !p.done() || p.failed())
            out << "whole: used " << used << " of head " << head_size << ", ec " << ec.message() << "; ";
        else if (const std::string m = mismatch(p); !m.empty())
            out << "whole: " << m;
        else if (p.buffered() != head_size)
            out << "whole: buffered " << p.buffered() << "; ";
        else if (feed(p, input.substr(head_size), ec) != 0 || ec || feed(p, "GET", ec) != 0 || ec)
            out << "whole: bytes after the head were used; ";
    }
    // Byte by byte.
    {
        http_parser p(k);
        std::error_code ec;
        std::size_t total = 0;
        for (std::size_t i = 0; i < input.size(); ++i) {
            const std::size_t used = feed(p, input.substr(i, 1), ec);
            total += used;
            if (ec || used != (i < head_size ? 1u : 0u)) {
                out << "byte " << i << ": used " << used << ", ec " << ec.message() << "; ";
                break;
            }
            if (p.done() != (i + 1 >= head_size)) {
                out << "byte " << i << ": done() " << p.done() << "; ";
                break;
            }
        }
        if (total != head_size)
            out << "bytewise: used " << total << "; ";
        else if (const std::string m = mismatch(p); !m.empty())
            out << "bytewise: " << m;
    }
    // Two pieces.
    for (std::size_t cut = 0; cut <= input.size(); ++cut) {
        http_parser p(k);
        std::error_code ec;
        const std::size_t first = feed(p, input.substr(0, cut), ec);
        const std::size_t second = feed(p, input.substr(cut), ec);
        const std::size_t want_first = cut < head_size ? cut : head_size;
        if (ec || first != want_first || first + second != head_size) {
            out << "cut " << cut << ": used " << first << " + " << second << ", ec " << ec.message() << "; ";
            break;
        }
        if (const std::string m = mismatch(p); !m.empty()) {
            out << "cut " << cut << ": " << m;
            break;
        }
    }
    return out.str();
}

// Parses `text` whole and byte by byte; both must fail with the same error. Returns it.
std::error_code error_of(std::string_view text, kind k = kind::request, const http_limits& limits = {}) {
    http_parser whole(k, limits);
    std::error_code ec;
    feed(whole, text, ec);
    http_parser bytewise(k, limits);
    std::error_code ec2;
    for (std::size_t i = 0; i < text.size() && !bytewise.failed() && !bytewise.done(); ++i)
        feed(bytewise, text.substr(i, 1), ec2);
    if (ec != ec2 || whole.failed() != bytewise.failed() || whole.done() != bytewise.done())
        return duplex::make_error_code(error::reserved_bits); // never a parser error: flags the mismatch
    if (!whole.failed())
        return {};
    return ec;
}

void check_error(std::string_view text, error expected, unsigned status, kind k = kind::request,
                 const http_limits& limits = {}) {
    INFO("head: \"" << text << "\"");
    const std::error_code ec = error_of(text, k, limits);
    CHECK(ec == duplex::make_error_code(expected));
    CHECK(duplex::http_status(ec) == status);
}

// Parses a complete head that must succeed; REQUIREs it.
void parse_ok(http_parser& p, std::string_view text) {
    INFO("head: \"" << text << "\"");
    std::error_code ec;
    const std::size_t used = feed(p, text, ec);
    REQUIRE_FALSE(ec);
    REQUIRE(p.done());
    REQUIRE(used == text.size());
}

std::string request_with_fields(std::string_view fields) {
    return "GET / HTTP/1.1\r\nHost: h\r\n" + std::string(fields) + "\r\n";
}

} // namespace

// ---- Real handshakes -------------------------------------------------------------------------

TEST_CASE("http: real request heads from browsers and libraries parse whole, byte by byte and split anywhere, leaving the next frame") {
    for (const auto& r : real_handshakes::requests) {
        INFO(r.source);
        const std::string input = str(r.head) + str(masked_hello);
        CHECK(check_all_splits(kind::request, input, r.head.size(),
                               [&](const http_parser& p) { return request_mismatch(p, r); }) == "");
    }
}

TEST_CASE("http: real 101 and refusal responses from Python websockets and Node ws parse in any pieces, leaving the frame or body") {
    for (const auto& r : real_handshakes::responses) {
        INFO(r.source);
        const std::string input = str(r.head) + str(r.after);
        CHECK(check_all_splits(kind::response, input, r.head.size(),
                               [&](const http_parser& p) { return response_mismatch(p, r); }) == "");
    }
}

TEST_CASE("http: the raw requests used to capture the responses parse as requests") {
    for (std::string_view raw : {real_handshakes::raw_request_python, real_handshakes::raw_request_node,
                                 real_handshakes::raw_request_with_offers_python,
                                 real_handshakes::raw_request_with_offers_node,
                                 real_handshakes::raw_request_version_8}) {
        http_parser p;
        parse_ok(p, raw);
        CHECK(p.head().method == "GET");
        CHECK(p.head().target == "/chat");
        CHECK(p.head().get("sec-websocket-key") == real_handshakes::raw_key);
    }
}

TEST_CASE("http: real heads answer the handshake's field queries") {
    const auto& reqs = real_handshakes::requests;
    for (const auto& r : reqs) {
        INFO(r.source);
        http_parser p;
        parse_ok(p, r.head);
        const auto& h = p.head();
        CHECK(h.at_least_http11());
        CHECK(h.has_token("Upgrade", "websocket"));
        CHECK(h.has_token("connection", "upgrade"));
        CHECK(h.count("sec-websocket-key") == 1);
        CHECK(h.get("SEC-WEBSOCKET-KEY") == r.key);
        CHECK(h.get("Sec-WebSocket-Version") == "13");
        CHECK(h.count("Host") == 1);
        CHECK_FALSE(h.has_token("Connection", "close"));
    }
    // Firefox's "Connection: keep-alive, Upgrade".
    http_parser firefox;
    parse_ok(firefox, reqs[1].head);
    CHECK(firefox.head().get("connection") == "keep-alive, Upgrade");
    CHECK(firefox.head().has_token("Connection", "keep-alive"));
    CHECK(firefox.head().has_token("Connection", "Upgrade"));
    // Chromium: no subprotocol offered.
    http_parser chromium;
    parse_ok(chromium, reqs[0].head);
    CHECK(chromium.head().count("Sec-WebSocket-Protocol") == 0);
    CHECK(chromium.head().get("Sec-WebSocket-Protocol").empty());
    CHECK(chromium.head().has_token("sec-websocket-extensions", "permessage-deflate; client_max_window_bits"));
}

// ---- Fields --------------------------------------------------------------------------------

TEST_CASE("http: header names are matched case-insensitively and keep their case") {
    http_parser p;
    parse_ok(p, "GET / HTTP/1.1\r\nhOsT: example.com\r\nX-MiXeD: 1\r\n\r\n");
    const auto& h = p.head();
    CHECK(h.get("host") == "example.com");
    CHECK(h.get("HOST") == "example.com");
    CHECK(h.count("Host") == 1);
    CHECK(h.get("x-mixed") == "1");
    REQUIRE(h.fields.size() == 2);
    CHECK(h.fields[0].name == "hOsT");
    CHECK(h.fields[1].name == "X-MiXeD");
    // Only whole names match, and non-letters are not folded ('-' vs '_', '[' vs '{').
    CHECK(h.count("hos") == 0);
    CHECK(h.count("hostx") == 0);
    CHECK(h.get("x_mixed").empty());
    CHECK(h.get("nope").empty());
}

TEST_CASE("http: optional whitespace around field values is trimmed, inner whitespace kept") {
    http_parser q;
    parse_ok(q, "GET / HTTP/1.1\r\nA:v\r\nB:   v  \t\r\nC:\t\tv\t \r\nD: a  b\tc \r\nE:\r\nF: \t \r\n\r\n");
    const auto& h = q.head();
    REQUIRE(h.fields.size() == 6);
    CHECK(h.get("a") == "v");
    CHECK(h.get("b") == "v");
    CHECK(h.get("c") == "v");
    CHECK(h.get("d") == "a  b\tc");
    CHECK(h.get("e").empty());
    CHECK(h.get("f").empty());
    CHECK(h.count("e") == 1); // an empty value is still a field
}

TEST_CASE("http: obs-text bytes in field values are accepted and kept") {
    http_parser p;
    parse_ok(p, "GET / HTTP/1.1\r\nX-Name: caf\xc3\xa9 \xff\x80\r\n\r\n");
    CHECK(p.head().get("x-name") == "caf\xc3\xa9 \xff\x80");
}

TEST_CASE("http: has_token finds comma-separated elements case-insensitively") {
    http_parser p;
    parse_ok(p, request_with_fields("Connection: keep-alive, Upgrade\r\n"
                                    "Upgrade: WebSocket\r\n"
                                    "X-List: a ,  b\t,c\r\n"
                                    "X-Empty: , ,d,,\r\n"));
    const auto& h = p.head();
    CHECK(h.has_token("connection", "upgrade"));
    CHECK(h.has_token("Connection", "UPGRADE"));
    CHECK(h.has_token("CONNECTION", "keep-alive"));
    CHECK(h.has_token("upgrade", "websocket"));
    CHECK(h.has_token("x-list", "a"));
    CHECK(h.has_token("x-list", "b"));
    CHECK(h.has_token("x-list", "c"));
    CHECK(h.has_token("x-empty", "d")); // empty list elements are skipped (RFC 9110 §5.6.1.2)
    CHECK_FALSE(h.has_token("x-empty", ""));
    CHECK_FALSE(h.has_token("x-list", "a ,  b"));
    CHECK_FALSE(h.has_token("connection", "close"));
    CHECK_FALSE(h.has_token("upgrade", "upgrade")); // the token is looked up under its own name only
    CHECK_FALSE(h.has_token("x-missing", "a"));
}

TEST_CASE("http: a token that is only a substring of an element does not match") {
    http_parser p;
    parse_ok(p, request_with_fields("Connection: upgrader, keep-alive-upgrade, xupgrade\r\n"
                                    "Upgrade: websockets, web socket\r\n"));
    const auto& h = p.head();
    CHECK_FALSE(h.has_token("connection", "upgrade"));
    CHECK_FALSE(h.has_token("connection", "keep-alive"));
    CHECK_FALSE(h.has_token("connection", "upgrad"));
    CHECK_FALSE(h.has_token("upgrade", "websocket"));
    CHECK_FALSE(h.has_token("upgrade", "web"));
    CHECK(h.has_token("connection", "upgrader"));
    CHECK(h.has_token("upgrade", "web socket")); // an element is what lies between commas
}

TEST_CASE("http: tokens are found across several field lines with the same name") {
    http_parser p;
    parse_ok(p, request_with_fields("Connection: keep-alive\r\n"
                                    "X-Other: upgrade\r\n"
                                    "connection: Upgrade\r\n"));
    const auto& h = p.head();
    CHECK(h.count("Connection") == 2);
    CHECK(h.get("Connection") == "keep-alive"); // get() gives the first
    CHECK(h.has_token("Connection", "upgrade"));
    CHECK(h.has_token("Connection", "keep-alive"));
}

TEST_CASE("http: commas inside quoted strings do not split list elements") {
    http_parser p;
    parse_ok(p, request_with_fields("X-Q: \"a, upgrade\", b\r\n"
                                    "X-Esc: \"x\\\", upgrade\", c\r\n"));
    const auto& h = p.head();
    CHECK_FALSE(h.has_token("x-q", "upgrade"));
    CHECK_FALSE(h.has_token("x-q", "a"));
    CHECK(h.has_token("x-q", "b"));
    CHECK(h.has_token("x-q", "\"a, upgrade\""));
    // A backslash-escaped quote does not end the quoted string.
    CHECK_FALSE(h.has_token("x-esc", "upgrade"));
    CHECK(h.has_token("x-esc", "c"));
}

TEST_CASE("http: a head without fields, and the HTTP versions 1.0 and 1.9, are accepted") {
    http_parser p;
    parse_ok(p, "GET / HTTP/1.1\r\n\r\n");
    CHECK(p.head().fields.empty());
    CHECK(p.head().at_least_http11());

    http_parser p10;
    parse_ok(p10, "GET /x HTTP/1.0\r\nHost: h\r\n\r\n");
    CHECK(p10.head().version_major == 1);
    CHECK(p10.head().version_minor == 0);
    CHECK_FALSE(p10.head().at_least_http11());

    http_parser p19;
    parse_ok(p19, "GET /x HTTP/1.9\r\n\r\n");
    CHECK(p19.head().version_minor == 9);
    CHECK(p19.head().at_least_http11());

    duplex::http_head manual;
    manual.version_major = 2;
    CHECK(manual.at_least_http11());
}

TEST_CASE("http: methods are any token and targets any visible ASCII") {
    http_parser p;
    parse_ok(p, "M-SEARCH * HTTP/1.1\r\n\r\n");
    CHECK(p.head().method == "M-SEARCH");
    CHECK(p.head().target == "*");

    http_parser q;
    parse_ok(q, "get http://h:1/a?b=%20#c~!$&'()*+,;=:@[] HTTP/1.1\r\n\r\n");
    CHECK(q.head().method == "get");
    CHECK(q.head().target == "http://h:1/a?b=%20#c~!$&'()*+,;=:@[]");
}

// ---- Rejections ------------------------------------------------------------------------------

TEST_CASE("http: obsolete line folding is rejected with http_obs_fold") {
    check_error("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", error::http_obs_fold, 400);
    check_error("GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n", error::http_obs_fold, 400);
    check_error("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n  \r\n\r\n", error::http_obs_fold, 400);
    // Whitespace between the start line and the first field (RFC 9112 §2.2): rejected too.
    check_error("GET / HTTP/1.1\r\n Host: h\r\n\r\n", error::http_obs_fold, 400);
    check_error("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\tx\r\n\r\n",
                error::http_obs_fold, 400, kind::response);
}

TEST_CASE("http: a bare CR or a bare LF is rejected with http_bad_line_ending") {
    const char* heads[] = {
        "GET / HTTP/1.1\nHost: h\r\n\r\n",       // LF after the request line
        "GET / HTTP/1.1\r\nHost: h\n\r\n",       // LF after a field
        "GET / HTTP/1.1\r\nHost: h\r\n\n",       // LF as the blank line
        "GET / HTTP/1.1\r\n\n",                  //
        "GET / HTTP/1.1\rHost: h\r\n\r\n",       // CR not followed by LF
        "GET / HTTP/1.1\r\nHost: h\rX: 1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: h\r\r\n\r\n",   // CR CR LF
        "GET / HTTP/1.1\r\nHost: h\r\n\r\r\n",   // blank line CR CR LF
        "GET /a\rb HTTP/1.1\r\n\r\n",            // CR in the target
        "\n",
        "\r\r",
        "GET / HTTP/1.1\r\nX: a\nb\r\n\r\n",     // LF inside a value
    };
    for (const char* h : heads)
        check_error(h, error::http_bad_line_ending, 400);
    check_error("HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\r\n\r\n",
                error::http_bad_line_ending, 400, kind::response);
}

TEST_CASE("http: control bytes in a field name or value are rejected with http_bad_field") {
    check_error(request_with_fields(std::string("X: a\0b\r\n", 8)), error::http_bad_field, 400);
    check_error(request_with_fields(std::string("X: \0\r\n", 6)), error::http_bad_field, 400);
    for (char c : {'\x01', '\x08', '\x0b', '\x0c', '\x1b', '\x1f', '\x7f'}) {
        INFO("byte " << int(c));
        check_error(request_with_fields(std::string("X: a") + c + "b\r\n"), error::http_bad_field, 400);
        check_error(request_with_fields(std::string("X") + c + ": ab\r\n"), error::http_bad_field, 400);
    }
    check_error(request_with_fields(std::string("X\0: ab\r\n", 8)), error::http_bad_field, 400);
    check_error("HTTP/1.1 101 Switching Protocols\r\nUpgrade: web\x7fsocket\r\n\r\n", error::http_bad_field, 400,
                kind::response);
}

TEST_CASE("http: whitespace between a field name and its colon is rejected with http_bad_field") {
    // RFC 9112 §5.1: a server MUST reject such a request with 400.
    check_error(request_with_fields("Upgrade : websocket\r\n"), error::http_bad_field, 400);
    check_error(request_with_fields("Upgrade\t: websocket\r\n"), error::http_bad_field, 400);
    check_error(request_with_fields("Up grade: websocket\r\n"), error::http_bad_field, 400);
    check_error("HTTP/1.1 101 Switching Protocols\r\nUpgrade : websocket\r\n\r\n", error::http_bad_field, 400,
                kind::response);
}

TEST_CASE("http: a field line without a colon, with an empty name or a non-token name is rejected with http_bad_field") {
    check_error(request_with_fields("Upgrade websocket\r\n"), error::http_bad_field, 400);
    check_error(request_with_fields("Upgrade\r\n"), error::http_bad_field, 400);
    check_error(request_with_fields(": websocket\r\n"), error::http_bad_field, 400);
    check_error(request_with_fields(":\r\n"), error::http_bad_field, 400);
    check_error(request_with_fields("X(y): 1\r\n"), error::http_bad_field, 400);
    check_error(request_with_fields("X/y: 1\r\n"), error::http_bad_field, 400);
    check_error(request_with_fields("X\"y: 1\r\n"), error::http_bad_field, 400);
    check_error(request_with_fields("Caf\xc3\xa9: 1\r\n"), error::http_bad_field, 400);
    check_error(request_with_fields("[x]: 1\r\n"), error::http_bad_field, 400);
    // But every tchar is fine, and a colon in the value is just a byte of it.
    http_parser p;
    parse_ok(p, request_with_fields("!#$%&'*+-.^_`|~09azAZ: a:b: c\r\n"));
    CHECK(p.head().get("!#$%&'*+-.^_`|~09azAZ") == "a:b: c");
}

TEST_CASE("http: malformed request lines are rejected with http_bad_request_line") {
    const char* lines[] = {
        "GET  / HTTP/1.1",       // two spaces
        "GET /  HTTP/1.1",
        "GET / HTTP/1.1 ",       // trailing space
        " GET / HTTP/1.1",       // leading space
        "GET /",                 // no version (HTTP/0.9 simple request)
        "GET",
        "GET / ",
        "GET\t/\tHTTP/1.1",      // tabs instead of spaces
        "GET /\tHTTP/1.1",
        "GET / http/1.1",        // lower-case HTTP-name
        "GET / Http/1.1",
        "GET / HTTP/11",
        "GET / HTTP/1.",
        "GET / HTTP/1.1x",
        "GET / HTTP/1.10",
        "GET / HTTP/a.1",
        "GET / HTTP/1.b",
        "GET / HTTPS/1.1",
        "GET / HTTP/1,1",
        "G(T / HTTP/1.1",        // method not a token
        "GÉT / HTTP/1.1",
        " / HTTP/1.1",           // empty method
        "GET  HTTP/1.1",         // empty target
        "GET /a b HTTP/1.1",     // space in the target
        "GET /a\x7f HTTP/1.1",   // DEL in the target
        "GET /caf\xc3\xa9 HTTP/1.1", // non-ASCII in the target
        "GET /\x01 HTTP/1.1",
        "GET /\t HTTP/1.1",
        "HTTP/1.1 101 Switching Protocols", // a status line sent to a server
    };
    for (const char* line : lines)
        check_error(std::string(line) + "\r\nHost: h\r\n\r\n", error::http_bad_request_line, 400);
    check_error(std::string("GET /\0 HTTP/1.1\r\n\r\n", 19), error::http_bad_request_line, 400);
}

TEST_CASE("http: empty lines before a request line are skipped, within the head size limit") {
    // RFC 9112 §2.2: a server should ignore at least one empty line before the request line.
    const std::string text = "\r\n\r\nGET /x HTTP/1.1\r\nHost: h\r\n\r\n";
    http_parser p;
    parse_ok(p, text);
    CHECK(p.head().method == "GET");
    CHECK(p.head().target == "/x");
    CHECK(p.head().get("Host") == "h");

    // They are not free: an endless stream of them hits the head size limit.
    http_limits small;
    small.max_head_size = 64;
    std::string crlfs;
    for (int i = 0; i < 40; ++i)
        crlfs += "\r\n";
    check_error(crlfs + "GET / HTTP/1.1\r\n\r\n", error::http_head_too_large, 431, kind::request, small);

    // A response has no such allowance.
    check_error("\r\nHTTP/1.1 101 Switching Protocols\r\n\r\n", error::http_bad_status_line, 400,
                kind::response);
}

TEST_CASE("http: HTTP versions other than 1.x are rejected with http_bad_version and 505") {
    check_error("GET / HTTP/2.0\r\nHost: h\r\n\r\n", error::http_bad_version, 505);
    check_error("GET / HTTP/3.0\r\nHost: h\r\n\r\n", error::http_bad_version, 505);
    check_error("GET / HTTP/0.9\r\nHost: h\r\n\r\n", error::http_bad_version, 505);
    check_error("GET / HTTP/9.9\r\n\r\n", error::http_bad_version, 505);
    check_error("HTTP/2.0 101 Switching Protocols\r\n\r\n", error::http_bad_version, 505, kind::response);
    check_error("HTTP/0.9 200 OK\r\n\r\n", error::http_bad_version, 505, kind::response);
}

TEST_CASE("http: status lines with and without a reason phrase are accepted") {
    struct ok_line {
        const char* line;
        unsigned status, minor;
        const char* reason;
    };
    const ok_line ok[] = {
        {"HTTP/1.1 101 Switching Protocols", 101, 1, "Switching Protocols"},
        {"HTTP/1.1 101", 101, 1, ""},
        {"HTTP/1.1 101 ", 101, 1, ""},
        {"HTTP/1.0 200 OK", 200, 0, "OK"},
        {"HTTP/1.1 404  Not  Found ", 404, 1, " Not  Found "}, // reason kept as sent
        {"HTTP/1.1 100 x", 100, 1, "x"},
        {"HTTP/1.1 599 \tTab\xc3\xa9 \xff", 599, 1, "\tTab\xc3\xa9 \xff"}, // HTAB and obs-text
    };
    for (const auto& o : ok) {
        INFO(o.line);
        http_parser p(kind::response);
        parse_ok(p, std::string(o.line) + "\r\nX: 1\r\n\r\n");
        CHECK(p.head().status == o.status);
        CHECK(p.head().version_major == 1);
        CHECK(p.head().version_minor == o.minor);
        CHECK(p.head().reason == o.reason);
        CHECK(p.head().get("x") == "1");
    }
}

TEST_CASE("http: malformed status lines are rejected with http_bad_status_line") {
    const char* lines[] = {
        "HTTP/1.1 1O1 Switching Protocols", // letter O
        "HTTP/1.1 99 x",                    // two digits
        "HTTP/1.1 99",
        "HTTP/1.1 099 x",                   // below 100
        "HTTP/1.1 000 x",
        "HTTP/1.1  101 x",                  // two spaces
        "HTTP/1.1  101",
        "HTTP/1.1 1011 x",                  // four digits
        "HTTP/1.1 101x",
        "HTTP/1.1 -01 x",
        "HTTP/1.1\t101 x",
        "HTTP/1.1 101\tx",
        "HTTP/1.1",
        "HTTP/1.1 ",
        "HTTP/1.1 10",
        " HTTP/1.1 101 x",
        "http/1.1 101 Switching Protocols",
        "HTTP/1 101 x",
        "HTTP/1.1x 101 x",
        "GET / HTTP/1.1",                   // a request line sent to a client
        "HTTP/1.1 101 bad\x01reason",       // control byte in the reason
        "HTTP/1.1 101 bad\x7freason",
    };
    for (const char* line : lines)
        check_error(std::string(line) + "\r\nUpgrade: websocket\r\n\r\n", error::http_bad_status_line, 400,
                    kind::response);
    check_error("\r\nHTTP/1.1 101 x\r\n\r\n", error::http_bad_status_line, 400, kind::response);
}

// ---- Limits ------------------------------------------------------------------------------------

namespace {

// A request head of exactly `size` bytes (size >= 25): "GET / HTTP/1.1\r\nX: aaa...\r\n\r\n".
std::string head_of_size(std::size_t size) {
    const std::string start = "GET / HTTP/1.1\r\nX: ";
    const std::string end = "\r\n\r\n";
    return start + std::string(size - start.size() - end.size(), 'a') + end;
}

// A request head with `n` field lines after the request line.
std::string head_with_fields(std::size_t n) {
    std::string s = "GET / HTTP/1.1\r\n";
    for (std::size_t i = 0; i < n; ++i)
        s += "X-" + std::to_string(i) + ": v\r\n";
    return s + "\r\n";
}

std::string head_with_target(std::size_t target_size) {
    return "GET /" + std::string(target_size - 1, 't') + " HTTP/1.1\r\nHost: h\r\n\r\n";
}

} // namespace

TEST_CASE("http: the default limits are 8 KiB of head, 100 fields and a 4 KiB target") {
    const http_limits l;
    CHECK(l.max_head_size == 8192);
    CHECK(l.max_fields == 100);
    CHECK(l.max_target_size == 4096);
}

TEST_CASE("http: a head of exactly max_head_size is accepted and one byte more is rejected with 431") {
    for (std::size_t limit : {std::size_t{8192}, std::size_t{64}, std::size_t{300}}) {
        INFO("max_head_size " << limit);
        http_limits limits;
        limits.max_head_size = limit;
        const std::string exact = head_of_size(limit);
        REQUIRE(exact.size() == limit);
        {
            http_parser p(kind::request, limits);
            const std::string input = exact + str(masked_hello);
            std::error_code ec;
            CHECK(feed(p, input, ec) == limit);
            CHECK_FALSE(ec);
            CHECK(p.done());
            CHECK(p.buffered() == limit);
            CHECK(p.head().get("x") == std::string(limit - 23, 'a'));
        }
        {
            http_parser p(kind::request, limits);
            std::error_code ec;
            for (char c : exact)
                feed(p, std::string_view(&c, 1), ec);
            CHECK_FALSE(ec);
            CHECK(p.done());
        }
        check_error(head_of_size(limit + 1), error::http_head_too_large, 431, kind::request, limits);
        // A head cut short by the limit is still too large when it never finishes.
        check_error(exact.substr(0, limit - 2) + "aaaa", error::http_head_too_large, 431, kind::request, limits);
    }
}

TEST_CASE("http: a 1 MB head in one call is rejected without buffering more than max_head_size") {
    std::string huge = "GET / HTTP/1.1\r\n";
    while (huge.size() < 1000000)
        huge += "X-Filler: 0123456789abcdef0123456789abcdef\r\n";
    for (std::size_t limit : {std::size_t{8192}, std::size_t{1000}}) {
        INFO("max_head_size " << limit);
        http_limits limits;
        limits.max_head_size = limit;
        limits.max_fields = 1000000; // make the size limit the one that trips
        http_parser p(kind::request, limits);
        std::error_code ec;
        const std::size_t used = feed(p, huge, ec);
        CHECK(ec == error::http_head_too_large);
        CHECK(duplex::http_status(ec) == 431);
        CHECK(p.failed());
        CHECK_FALSE(p.done());
        CHECK(p.buffered() <= limit);
        CHECK(used <= limit);
    }
    // Responses have the same bound, and a status line has no separate, larger allowance.
    http_parser r(kind::response);
    const std::string long_status = "HTTP/1.1 101 " + std::string(1000000, 'r');
    std::error_code ec;
    feed(r, long_status, ec);
    CHECK(ec == error::http_head_too_large);
    CHECK(r.buffered() <= 8192);
}

TEST_CASE("http: max_fields field lines are accepted and one more is rejected with 431") {
    for (std::size_t limit : {std::size_t{100}, std::size_t{3}, std::size_t{1}, std::size_t{0}}) {
        INFO("max_fields " << limit);
        http_limits limits;
        limits.max_fields = limit;
        http_parser p(kind::request, limits);
        parse_ok(p, head_with_fields(limit));
        CHECK(p.head().fields.size() == limit);
        check_error(head_with_fields(limit + 1), error::http_too_many_fields, 431, kind::request, limits);

        http_parser r(kind::response, limits);
        std::string resp = "HTTP/1.1 101 Switching Protocols\r\n";
        for (std::size_t i = 0; i < limit; ++i)
            resp += "Y: 1\r\n";
        parse_ok(r, resp + "\r\n");
        check_error(resp + "Y: 1\r\n\r\n", error::http_too_many_fields, 431, kind::response, limits);
    }
}

TEST_CASE("http: a request-target of max_target_size is accepted and a longer one is rejected with 414") {
    for (std::size_t limit : {std::size_t{4096}, std::size_t{1}, std::size_t{10}, std::size_t{100}}) {
        INFO("max_target_size " << limit);
        http_limits limits;
        limits.max_target_size = limit;
        http_parser p(kind::request, limits);
        parse_ok(p, head_with_target(limit));
        CHECK(p.head().target.size() == limit);
        check_error(head_with_target(limit + 1), error::http_target_too_long, 414, kind::request, limits);
        check_error(head_with_target(limit + 10), error::http_target_too_long, 414, kind::request, limits);
    }
}

TEST_CASE("http: a request line that never ends is rejected as too long once it exceeds the target limit plus 64 bytes") {
    // The parser allows 64 bytes of method, spaces and version besides the target
    // (max_start_line_overhead) and fails as soon as the line outgrows that.
    for (std::size_t limit : {std::size_t{4096}, std::size_t{100}, std::size_t{0}}) {
        INFO("max_target_size " << limit);
        http_limits limits;
        limits.max_target_size = limit;
        const std::string endless = "GET /" + std::string(200000, 'a');
        http_parser p(kind::request, limits);
        std::error_code ec;
        const std::size_t used = feed(p, endless, ec);
        CHECK(ec == error::http_target_too_long);
        CHECK(duplex::http_status(ec) == 414);
        CHECK(p.failed());
        CHECK(p.buffered() <= limit + 64 + 1);
        CHECK(used <= limit + 64 + 1);
        // Byte by byte, it fails at the same point.
        http_parser q(kind::request, limits);
        std::size_t fed = 0;
        for (; fed < endless.size() && !q.failed(); ++fed)
            feed(q, std::string_view(&endless[fed], 1), ec);
        CHECK(ec == error::http_target_too_long);
        CHECK(fed == used);
    }
}

TEST_CASE("http: custom limits are honoured together") {
    http_limits limits;
    limits.max_head_size = 80;
    limits.max_fields = 2;
    limits.max_target_size = 8;
    {
        http_parser p(kind::request, limits);
        parse_ok(p, "GET /1234567 HTTP/1.1\r\nHost: h\r\nX: 1\r\n\r\n");
        CHECK(p.head().target == "/1234567");
    }
    check_error("GET /12345678 HTTP/1.1\r\nHost: h\r\n\r\n", error::http_target_too_long, 414, kind::request, limits);
    check_error("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", error::http_too_many_fields, 431, kind::request,
                limits);
    check_error("GET / HTTP/1.1\r\nA: " + std::string(80, 'x') + "\r\n\r\n", error::http_head_too_large, 431,
                kind::request, limits);
    // The defaults are far above these: the same heads pass without custom limits.
    http_parser d;
    parse_ok(d, "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: " + std::string(80, 'x') + "\r\n\r\n");
}

// ---- State ---------------------------------------------------------------------------------

TEST_CASE("http: after a failure feed uses nothing and repeats the same error") {
    const std::pair<std::string, error> failures[] = {
        {"GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", error::http_obs_fold},
        {"GET / HTTP/1.1\nrest", error::http_bad_line_ending},
        {"GET / HTTP/2.0\r\n\r\n", error::http_bad_version},
        {"GET / HTTP/1.1\r\nX : y\r\n\r\n", error::http_bad_field},
    };
    for (const auto& f : failures) {
        INFO(f.first);
        http_parser p;
        std::error_code ec;
        feed(p, f.first, ec);
        REQUIRE(ec == f.second);
        CHECK(p.failed());
        CHECK_FALSE(p.done());
        for (int i = 0; i < 3; ++i) {
            std::error_code again;
            CHECK(feed(p, "GET / HTTP/1.1\r\n\r\n", again) == 0);
            CHECK(again == f.second);
            std::error_code empty;
            CHECK(feed(p, "", empty) == 0);
            CHECK(empty == f.second);
        }
        CHECK(p.failed());
    }
}

TEST_CASE("http: a finished parser uses nothing more and reports no error") {
    http_parser p;
    parse_ok(p, "GET /a HTTP/1.1\r\n\r\n");
    std::error_code ec = error::http_bad_field;
    CHECK(feed(p, "GET /b HTTP/1.1\r\n\r\n", ec) == 0);
    CHECK_FALSE(ec);
    CHECK(p.done());
    CHECK(p.head().target == "/a");
}

TEST_CASE("http: nothing fed, or an empty feed, leaves the parser reading") {
    http_parser p;
    CHECK_FALSE(p.done());
    CHECK_FALSE(p.failed());
    CHECK(p.buffered() == 0);
    std::error_code ec = error::http_bad_field;
    CHECK(p.feed(nullptr, 0, ec) == 0);
    CHECK_FALSE(ec);
    CHECK_FALSE(p.done());
    CHECK_FALSE(p.failed());
    // A partial head leaves it reading too.
    CHECK(feed(p, "GET / HTTP/1.1\r\nHost: h\r\n\r", ec) == 26);
    CHECK_FALSE(ec);
    CHECK_FALSE(p.done());
    CHECK(p.buffered() == 26);
    CHECK(feed(p, "\n", ec) == 1);
    CHECK(p.done());
}

TEST_CASE("http: reset() after a failure or a finished head allows parsing a new head, keeping kind and limits") {
    http_limits limits;
    limits.max_fields = 1;
    http_parser p(kind::response, limits);
    std::error_code ec;
    feed(p, "HTTP/1.1 101 x\r\nA: 1\r\nB: 2\r\n\r\n", ec);
    REQUIRE(ec == error::http_too_many_fields);

    p.reset();
    CHECK_FALSE(p.failed());
    CHECK_FALSE(p.done());
    CHECK(p.buffered() == 0);
    CHECK(p.head().fields.empty());
    CHECK(p.head().status == 0);
    parse_ok(p, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n");
    CHECK(p.head().status == 101);
    CHECK(p.head().get("upgrade") == "websocket");

    // Two heads back to back in one buffer: the second is parsed from where the first stopped.
    p.reset();
    const std::string two = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 101 Switching Protocols\r\nA: b\r\n\r\n";
    const std::size_t first = feed(p, two, ec);
    REQUIRE(first == 25);
    CHECK(p.head().status == 100);
    p.reset();
    CHECK(feed(p, std::string_view(two).substr(first), ec) == two.size() - first);
    CHECK(p.done());
    CHECK(p.head().status == 101);
    CHECK(p.head().reason == "Switching Protocols");
    CHECK(p.head().get("a") == "b");

    // The kind and limits survive reset: a request line is a malformed status line, and two
    // fields are still too many.
    p.reset();
    feed(p, "GET / HTTP/1.1\r\n\r\n", ec);
    CHECK(ec == error::http_bad_status_line);
    p.reset();
    feed(p, "HTTP/1.1 101 x\r\nA: 1\r\nB: 2\r\n\r\n", ec);
    CHECK(ec == error::http_too_many_fields);
}

TEST_CASE("http: the parser is movable and the views in head() stay valid after a move") {
    STATIC_REQUIRE(std::is_nothrow_move_constructible<http_parser>::value);
    STATIC_REQUIRE_FALSE(std::is_copy_constructible<http_parser>::value);
    const auto& real = real_handshakes::requests[0];
    http_parser moved_to;
    {
        auto source = std::make_unique<http_parser>();
        parse_ok(*source, real.head);
        const char* method_data = source->head().method.data();
        http_parser constructed(std::move(*source));
        source.reset(); // the moved-from parser is gone
        CHECK(constructed.done());
        CHECK(constructed.head().method.data() == method_data); // no copy of the bytes
        CHECK(request_mismatch(constructed, real) == "");
        moved_to = std::move(constructed);
    }
    // The parser that held the bytes at first and the one moved through are both destroyed.
    CHECK(moved_to.done());
    CHECK(request_mismatch(moved_to, real) == "");
    CHECK(moved_to.head().get("sec-websocket-key") == real.key);

    // A parser moved in the middle of a head continues where it was.
    http_parser half;
    std::error_code ec;
    feed(half, real.head.substr(0, 100), ec);
    http_parser rest(std::move(half));
    CHECK(feed(rest, real.head.substr(100), ec) == real.head.size() - 100);
    CHECK_FALSE(ec);
    CHECK(request_mismatch(rest, real) == "");
}

// ---- http_status -----------------------------------------------------------------------------

TEST_CASE("http: http_status maps head and upgrade errors to 431, 414, 505, 426 and 400") {
    using duplex::http_status;
    CHECK(http_status(error::http_head_too_large) == 431);
    CHECK(http_status(error::http_too_many_fields) == 431);
    CHECK(http_status(error::http_target_too_long) == 414);
    CHECK(http_status(error::http_bad_version) == 505);
    CHECK(http_status(error::upgrade_no_upgrade) == 426);
    CHECK(http_status(error::upgrade_ws_version) == 426);
    for (error e : {error::http_bad_line_ending, error::http_bad_request_line, error::http_bad_field,
                    error::http_obs_fold, error::upgrade_method, error::upgrade_version, error::upgrade_no_host,
                    error::upgrade_no_connection, error::upgrade_bad_key, error::upgrade_body,
                    error::upgrade_bad_protocol, error::upgrade_bad_extension, error::upgrade_bad_target}) {
        INFO(duplex::make_error_code(e).message());
        CHECK(http_status(e) == 400);
    }
}
