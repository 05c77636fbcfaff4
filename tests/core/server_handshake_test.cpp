// Tests for include/duplex/core/server_handshake.hpp: validating upgrade requests and
// answering them (RFC 6455 §4.2).
#include <duplex/core/server_handshake.hpp>

#include "head_lines.hpp"
#include "real_handshakes.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using duplex::error;
using head_lines::join;
using head_lines::with;

namespace {

// The RFC 6455 §1.2 example request, as a list of lines that tests can edit.
std::vector<std::string> example_lines() {
    return {"GET /chat HTTP/1.1",
            "Host: server.example.com",
            "Upgrade: websocket",
            "Connection: Upgrade",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            "Origin: http://example.com",
            "Sec-WebSocket-Protocol: chat, superchat",
            "Sec-WebSocket-Version: 13"};
}

// A response, parsed back with the (separately tested) HTTP parser.
struct parsed_response {
    duplex::http_parser parser{duplex::http_parser::kind::response};
    std::string text;
    std::string body;
    explicit parsed_response(std::string_view response) : text(response) {
        std::error_code ec;
        const std::size_t used = parser.feed(text.data(), text.size(), ec);
        REQUIRE_FALSE(ec);
        REQUIRE(parser.done());
        body = text.substr(used);
    }
    const duplex::http_head& head() const { return parser.head(); }
};

struct outcome {
    bool accepted;
    std::error_code ec;
    std::string response;
};

// Feeds the request whole, then split in two at every position; every feeding must reach the
// same outcome (accepted or not, error, response bytes).
outcome handshake(const std::string& request, const duplex::server_handshake_options& options = {}) {
    outcome whole{};
    std::size_t differences = 0;
    for (std::size_t cut = request.size() + 1; cut-- > 0;) {
        duplex::server_handshake hs(options);
        std::error_code ec;
        std::size_t used = hs.feed(request.data(), cut, ec);
        if (!hs.done())
            used += hs.feed(request.data() + used, request.size() - used, ec);
        CHECK(hs.done());
        CHECK(used <= request.size());
        CHECK(ec == hs.error());
        const outcome o{hs.accepted(), ec, std::string(hs.response())};
        if (cut == request.size())
            whole = o;
        else
            differences += o.accepted != whole.accepted || o.ec != whole.ec || o.response != whole.response;
    }
    CHECK(differences == 0);
    return whole;
}

} // namespace

TEST_CASE("server_handshake: the RFC 6455 example request is accepted with the example's answer") {
    duplex::server_handshake_options options;
    options.subprotocols = {"chat"};
    duplex::server_handshake hs(options);
    const std::string request = join(example_lines());
    std::error_code ec;
    CHECK(hs.feed(request.data(), request.size(), ec) == request.size());
    REQUIRE_FALSE(ec);
    REQUIRE(hs.accepted());
    CHECK(hs.subprotocol() == "chat");
    // RFC 6455 §1.3: the response to the example.
    CHECK(hs.response() == "HTTP/1.1 101 Switching Protocols\r\n"
                           "Upgrade: websocket\r\n"
                           "Connection: Upgrade\r\n"
                           "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                           "Sec-WebSocket-Protocol: chat\r\n"
                           "\r\n");
    const auto& r = hs.request();
    CHECK(r.path == "/chat");
    CHECK(r.query.empty());
    CHECK(r.host == "server.example.com");
    CHECK(r.origin == "http://example.com");
    CHECK(r.key == "dGhlIHNhbXBsZSBub25jZQ==");
    CHECK(r.subprotocols == std::vector<std::string_view>{"chat", "superchat"});
    CHECK(r.header("sec-websocket-version") == "13");
}

TEST_CASE("server_handshake: the same outcome however the request is split, and bytes after it are left") {
    const std::string head = join(example_lines());
    const std::string request = head + "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"; // a first frame
    std::size_t mismatches = 0;
    for (std::size_t cut = 0; cut <= request.size(); ++cut) {
        duplex::server_handshake hs;
        std::error_code ec;
        std::size_t used = hs.feed(request.data(), cut, ec);
        if (!ec)
            used += hs.feed(request.data() + used, request.size() - used, ec);
        mismatches += ec || !hs.accepted() || used != head.size();
    }
    CHECK(mismatches == 0);

    duplex::server_handshake hs;
    std::error_code ec;
    std::size_t used = 0;
    for (char c : request)
        used += hs.feed(&c, 1, ec);
    CHECK(hs.accepted());
    CHECK(used == head.size());
}

TEST_CASE("server_handshake: each broken rule gets its own error and HTTP status") {
    struct bad {
        const char* what;
        std::vector<std::string> lines;
        error e;
        unsigned status;
    };
    const auto ex = example_lines();
    const bad cases[] = {
        {"POST", with(ex, "GET", "POST /chat HTTP/1.1"), error::upgrade_method, 400},
        {"lowercase get", with(ex, "GET", "get /chat HTTP/1.1"), error::upgrade_method, 400},
        {"HTTP/1.0", with(ex, "GET", "GET /chat HTTP/1.0"), error::upgrade_version, 400},
        {"HTTP/2.0", with(ex, "GET", "GET /chat HTTP/2.0"), error::http_bad_version, 505},
        {"no Host", with(ex, "Host", ""), error::upgrade_no_host, 400},
        {"empty Host", with(ex, "Host", "Host: "), error::upgrade_no_host, 400},
        {"two Hosts", with(ex, "Upgrade", "Host: evil.example\r\nUpgrade: websocket"), error::upgrade_no_host, 400},
        {"Host with a space", with(ex, "Host", "Host: a b"), error::upgrade_no_host, 400},
        {"Host with a quote", with(ex, "Host", "Host: a\"b"), error::upgrade_no_host, 400},
        {"Host port too long", with(ex, "Host", "Host: a:123456"), error::upgrade_no_host, 400},
        {"Host empty port", with(ex, "Host", "Host: a:"), error::upgrade_no_host, 400},
        {"empty Content-Length", with(ex, "Origin", "Content-Length: "), error::upgrade_body, 400},
        {"Content-Length 0x0", with(ex, "Origin", "Content-Length: 0x0"), error::upgrade_body, 400},
        {"no Upgrade", with(ex, "Upgrade", ""), error::upgrade_no_upgrade, 426},
        {"Upgrade h2c", with(ex, "Upgrade", "Upgrade: h2c"), error::upgrade_no_upgrade, 426},
        {"Upgrade websockets", with(ex, "Upgrade", "Upgrade: websockets"), error::upgrade_no_upgrade, 426},
        {"no Connection", with(ex, "Connection", ""), error::upgrade_no_connection, 400},
        {"Connection keep-alive", with(ex, "Connection", "Connection: keep-alive"), error::upgrade_no_connection, 400},
        {"Connection upgrader", with(ex, "Connection", "Connection: upgrader"), error::upgrade_no_connection, 400},
        {"no version", with(ex, "Sec-WebSocket-Version", ""), error::upgrade_ws_version, 426},
        {"version 8", with(ex, "Sec-WebSocket-Version", "Sec-WebSocket-Version: 8"), error::upgrade_ws_version, 426},
        {"version 13, 8", with(ex, "Sec-WebSocket-Version", "Sec-WebSocket-Version: 13, 8"), error::upgrade_ws_version, 426},
        {"no key", with(ex, "Sec-WebSocket-Key", ""), error::upgrade_bad_key, 400},
        {"short key", with(ex, "Sec-WebSocket-Key", "Sec-WebSocket-Key: dGhlIHNhbXBsZQ=="), error::upgrade_bad_key, 400},
        {"key not base64", with(ex, "Sec-WebSocket-Key", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ!!"), error::upgrade_bad_key, 400},
        {"two keys", with(ex, "Origin", "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA=="), error::upgrade_bad_key, 400},
        {"a body", with(ex, "Origin", "Content-Length: 5"), error::upgrade_body, 400},
        {"chunked", with(ex, "Origin", "Transfer-Encoding: chunked"), error::upgrade_body, 400},
        {"bad protocol list", with(ex, "Sec-WebSocket-Protocol", "Sec-WebSocket-Protocol: chat, super chat"), error::upgrade_bad_protocol, 400},
        {"bad extensions", with(ex, "Origin", "Sec-WebSocket-Extensions: permessage-deflate; =1"), error::upgrade_bad_extension, 400},
        {"asterisk target", with(ex, "GET", "GET * HTTP/1.1"), error::upgrade_bad_target, 400},
        {"fragment", with(ex, "GET", "GET /chat#top HTTP/1.1"), error::upgrade_bad_target, 400},
        {"obs-fold", with(ex, "Origin", "Origin: http://a\r\n b"), error::http_obs_fold, 400},
        {"space before colon", with(ex, "Origin", "Origin : x"), error::http_bad_field, 400},
    };
    for (const auto& c : cases) {
        INFO(c.what);
        const auto o = handshake(join(c.lines));
        CHECK_FALSE(o.accepted);
        CHECK(o.ec == c.e);
        const parsed_response r(o.response);
        CHECK(r.head().status == c.status);
        CHECK(r.head().has_token("Connection", "close"));
        CHECK(r.head().get("Content-Length") == std::to_string(r.body.size()));
        CHECK(r.body == o.ec.message() + "\n");
        if (c.status == 426) {
            CHECK(r.head().get("Sec-WebSocket-Version") == "13");
            CHECK(r.head().get("Upgrade") == "websocket");
        }
    }
}

TEST_CASE("server_handshake: a zero Content-Length and every usual Host form are fine") {
    for (const char* host : {"Host: example.com", "Host: example.com:8080", "Host: 127.0.0.1:1",
                             "Host: [::1]:9000", "Host: [2001:db8::7]", "Host: xn--bcher-kva.example"}) {
        INFO(host);
        CHECK(handshake(join(with(example_lines(), "Host", host))).accepted);
    }
    CHECK(handshake(join(with(example_lines(), "Origin", "Content-Length: 0"))).accepted);
    CHECK(handshake(join(with(example_lines(), "Origin", "Content-Length: 00"))).accepted);
}

TEST_CASE("server_handshake: in absolute form the host comes from the target, not Host") {
    duplex::server_handshake hs;
    const std::string request = join(with(with(example_lines(), "GET", "GET ws://real.example:81/chat HTTP/1.1"),
                                          "Host", "Host: other.example"));
    std::error_code ec;
    hs.feed(request.data(), request.size(), ec);
    REQUIRE(hs.accepted());
    CHECK(hs.request().host == "real.example:81");
    CHECK(hs.request().path == "/chat");
    const auto bad = handshake(join(with(example_lines(), "GET", "GET ws://bad host/chat HTTP/1.1")));
    CHECK(bad.ec == error::http_bad_request_line); // the space splits the request line
    const auto empty = handshake(join(with(example_lines(), "GET", "GET ws:///chat HTTP/1.1")));
    CHECK(empty.ec == error::upgrade_bad_target);
}

TEST_CASE("server_handshake: tokens are found case-insensitively among others") {
    auto lines = with(example_lines(), "Upgrade", "upgrade: WebSocket");
    lines = with(lines, "Connection", "connection: keep-alive, UPGRADE");
    lines = with(lines, "Host", "HOST: a.example:8080");
    const auto o = handshake(join(lines));
    CHECK(o.accepted);
    // Connection tokens spread over two field lines.
    lines = with(example_lines(), "Connection", "Connection: keep-alive\r\nConnection: Upgrade");
    CHECK(handshake(join(lines)).accepted);
}

TEST_CASE("server_handshake: a head over the size limit is refused with 431") {
    duplex::server_handshake_options options;
    options.limits.max_head_size = 512;
    const std::string request = join(with(example_lines(), "Origin", "Cookie: " + std::string(600, 'c')));
    const auto o = handshake(request, options);
    CHECK(o.ec == error::http_head_too_large);
    CHECK(parsed_response(o.response).head().status == 431);
}

TEST_CASE("server_handshake: absolute-form targets and queries are split into path and query") {
    duplex::server_handshake hs;
    const std::string request =
        join(with(example_lines(), "GET", "GET ws://server.example.com/chat/room?id=7&x HTTP/1.1"));
    std::error_code ec;
    hs.feed(request.data(), request.size(), ec);
    REQUIRE(hs.accepted());
    CHECK(hs.request().path == "/chat/room");
    CHECK(hs.request().query == "id=7&x");
    CHECK(hs.request().target == "ws://server.example.com/chat/room?id=7&x");

    duplex::server_handshake hs2;
    const std::string bare = join(with(example_lines(), "GET", "GET http://server.example.com HTTP/1.1"));
    hs2.feed(bare.data(), bare.size(), ec);
    REQUIRE(hs2.accepted());
    CHECK(hs2.request().path == "/");
}

TEST_CASE("server_handshake: the accept hook refuses by origin, path or credentials with its own status") {
    duplex::server_handshake_options options;
    options.accept = [](const duplex::upgrade_request& r, duplex::rejection& reject) {
        if (r.origin != "http://example.com") {
            reject.reason = "origin not allowed";
            return false;
        }
        if (r.path != "/chat") {
            reject.status = 404;
            reject.reason = "no such endpoint";
            return false;
        }
        if (r.header("Authorization") != "Bearer secret" && r.header("Cookie") != "session=ok") {
            reject.status = 401;
            reject.reason = "log in first";
            reject.headers.push_back({"WWW-Authenticate", "Bearer"});
            return false;
        }
        return true;
    };
    const auto ex = example_lines();

    auto o = handshake(join(with(ex, "Origin", "Origin: http://evil.example")), options);
    CHECK(o.ec == error::upgrade_rejected);
    parsed_response r403(o.response);
    CHECK(r403.head().status == 403);
    CHECK(r403.body == "origin not allowed\n");

    o = handshake(join(with(with(ex, "GET", "GET /admin HTTP/1.1"), "Origin", "Origin: http://example.com")), options);
    CHECK(parsed_response(o.response).head().status == 404);

    o = handshake(join(ex), options);
    parsed_response r401(o.response);
    CHECK(r401.head().status == 401);
    CHECK(r401.head().get("WWW-Authenticate") == "Bearer");
    CHECK(r401.body == "log in first\n");

    CHECK(handshake(join(with(ex, "Authorization", "Authorization: Bearer secret")), options).accepted);
    CHECK(handshake(join(with(ex, "Cookie", "Cookie: session=ok")), options).accepted);
}

TEST_CASE("server_handshake: the subprotocol is the client's most preferred one the server speaks") {
    duplex::server_handshake_options options;
    options.subprotocols = {"superchat", "chat"};
    auto lines = with(example_lines(), "Sec-WebSocket-Protocol", "Sec-WebSocket-Protocol: v3, chat");
    lines.push_back("Sec-WebSocket-Protocol: superchat"); // offers spread over two lines
    duplex::server_handshake hs(options);
    const std::string request = join(lines);
    std::error_code ec;
    hs.feed(request.data(), request.size(), ec);
    REQUIRE(hs.accepted());
    CHECK(hs.request().subprotocols == std::vector<std::string_view>{"v3", "chat", "superchat"});
    CHECK(hs.subprotocol() == "chat");
    CHECK(parsed_response(hs.response()).head().get("Sec-WebSocket-Protocol") == "chat");

    // Nothing in common: accepted without a subprotocol, and no header is sent.
    options.subprotocols = {"mqtt"};
    const auto o = handshake(join(example_lines()), options);
    CHECK(o.accepted);
    CHECK(parsed_response(o.response).head().count("Sec-WebSocket-Protocol") == 0);

    // Subprotocol names are compared exactly.
    options.subprotocols = {"CHAT"};
    CHECK(parsed_response(handshake(join(example_lines()), options).response)
              .head()
              .count("Sec-WebSocket-Protocol") == 0);
}

TEST_CASE("server_handshake: a select_subprotocol hook picks among the offers, never beyond them") {
    duplex::server_handshake_options options;
    options.select_subprotocol = [](const duplex::upgrade_request& r) { return r.subprotocols.back(); };
    auto o = handshake(join(example_lines()), options);
    CHECK(o.accepted);
    CHECK(parsed_response(o.response).head().get("Sec-WebSocket-Protocol") == "superchat");

    options.select_subprotocol = [](const duplex::upgrade_request&) { return std::string_view("graphql-ws"); };
    o = handshake(join(example_lines()), options);
    CHECK_FALSE(o.accepted);
    CHECK(o.ec == error::bad_header_field);
    CHECK(parsed_response(o.response).head().status == 500);
}

TEST_CASE("server_handshake: decorate and fixed headers are added - unsafe ones fail with 500") {
    duplex::server_handshake_options options;
    options.headers = {{"Server", "duplex"}};
    options.decorate = [](const duplex::upgrade_request&, duplex::header_list& h) {
        h.push_back({"Set-Cookie", "id=42; HttpOnly"});
    };
    auto o = handshake(join(example_lines()), options);
    REQUIRE(o.accepted);
    parsed_response ok(o.response);
    CHECK(ok.head().get("Server") == "duplex");
    CHECK(ok.head().get("Set-Cookie") == "id=42; HttpOnly");

    // Fixed headers go on refusals too.
    o = handshake(join(with(example_lines(), "Sec-WebSocket-Version", "")), options);
    CHECK(parsed_response(o.response).head().get("Server") == "duplex");

    const duplex::header_list unsafe[] = {
        {{"Set-Cookie", "a=1\r\nX-Injected: yes"}},
        {{"Bad Name", "x"}},
        {{"Sec-WebSocket-Accept", "forged"}},
        {{"connection", "close"}},
        {{"X-Nul", std::string("a\0b", 3)}},
    };
    for (const auto& extra : unsafe) {
        INFO(extra[0].first);
        options.decorate = [&](const duplex::upgrade_request&, duplex::header_list& h) {
            h.insert(h.end(), extra.begin(), extra.end());
        };
        o = handshake(join(example_lines()), options);
        CHECK_FALSE(o.accepted);
        CHECK(o.ec == error::bad_header_field);
        CHECK(o.response.find("X-Injected") == std::string::npos);
        CHECK(parsed_response(o.response).head().status == 500);
    }
}

TEST_CASE("server_handshake: extension offers are parsed and negotiate_extensions answers them") {
    duplex::server_handshake_options options;
    std::size_t offers = 0;
    options.negotiate_extensions = [&](const duplex::upgrade_request& r) {
        offers = r.extensions.size();
        return std::string("x-test; level=2");
    };
    const auto lines = with(example_lines(), "Origin",
                            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, x-test");
    const auto o = handshake(join(lines), options);
    REQUIRE(o.accepted);
    CHECK(offers == 2);
    CHECK(parsed_response(o.response).head().get("Sec-WebSocket-Extensions") == "x-test; level=2");
    // Without the hook, no extension is accepted.
    CHECK(parsed_response(handshake(join(lines)).response).head().count("Sec-WebSocket-Extensions") == 0);
}

TEST_CASE("server_handshake: process() accepts a head the application parsed itself") {
    const std::string request = join(example_lines());
    duplex::http_parser parser;
    std::error_code ec;
    parser.feed(request.data(), request.size(), ec);
    REQUIRE(parser.done());
    duplex::server_handshake hs;
    hs.process(parser.head(), ec);
    CHECK_FALSE(ec);
    CHECK(hs.accepted());
    CHECK(hs.request().path == "/chat");
    // Once done, feeding more does nothing.
    CHECK(hs.feed(request.data(), request.size(), ec) == 0);
}

TEST_CASE("server_handshake: a refused handshake repeats its error and takes no more bytes") {
    duplex::server_handshake hs;
    const std::string request = join(with(example_lines(), "GET", "PUT /chat HTTP/1.1"));
    std::error_code ec;
    hs.feed(request.data(), request.size(), ec);
    CHECK(ec == error::upgrade_method);
    CHECK(hs.feed(request.data(), request.size(), ec) == 0);
    CHECK(ec == error::upgrade_method);
    CHECK_FALSE(hs.accepted());
}

TEST_CASE("server_handshake: status_reason names the statuses a server sends") {
    CHECK(duplex::status_reason(101) == "Switching Protocols");
    CHECK(duplex::status_reason(400) == "Bad Request");
    CHECK(duplex::status_reason(426) == "Upgrade Required");
    CHECK(duplex::status_reason(431) == "Request Header Fields Too Large");
    CHECK(duplex::status_reason(499) == "Client Error");
    CHECK(duplex::status_reason(599) == "Server Error");
}

TEST_CASE("server_handshake: real requests from Chromium, Firefox, curl, Python websockets and Node ws are answered") {
    for (const auto& real : real_handshakes::requests) {
        INFO(real.source);
        duplex::server_handshake hs;
        std::error_code ec;
        const std::string head(real.head);
        CHECK(hs.feed(head.data(), head.size(), ec) == head.size());
        if (real.key == "SGVsbG8sIHdvcmxkIQ==") {
            // The key from countless curl tutorials is base64 of "Hello, world!": 13 bytes, not
            // the 16 RFC 6455 §4.1 requires. Python websockets and Node ws refuse it too.
            CHECK(ec == error::upgrade_bad_key);
            CHECK(parsed_response(hs.response()).head().status == 400);
            continue;
        }
        CHECK_FALSE(ec);
        REQUIRE(hs.accepted());
        CHECK(hs.request().key == real.key);
        CHECK(hs.request().path == real.target.substr(0, real.target.find('?')));
        const parsed_response r(hs.response());
        CHECK(r.head().status == 101);
        CHECK(r.head().get("Sec-WebSocket-Accept") == duplex::accept_key(real.key));
    }
    // The raw requests used to capture the servers' answers, too; with offers, chat is chosen.
    duplex::server_handshake_options options;
    options.subprotocols = {"chat"};
    for (std::string_view raw : {real_handshakes::raw_request_python, real_handshakes::raw_request_with_offers_node}) {
        const auto o = handshake(std::string(raw), options);
        CHECK(o.accepted);
        CHECK(parsed_response(o.response).head().get("Sec-WebSocket-Accept") == real_handshakes::raw_accept);
    }
    const auto o = handshake(std::string(real_handshakes::raw_request_with_offers_python), options);
    CHECK(parsed_response(o.response).head().get("Sec-WebSocket-Protocol") == "chat");
    // Python websockets refuses version 8 with 400; RFC 6455 §4.4 suggests 426, which we send.
    CHECK(handshake(std::string(real_handshakes::raw_request_version_8)).ec == error::upgrade_ws_version);
}

TEST_CASE("server_handshake: a moved handshake keeps a valid request") {
    const std::string request = join(with(example_lines(), "Cookie", "Cookie: id=7"));
    duplex::server_handshake first;
    std::error_code ec;
    first.feed(request.data(), request.size(), ec);
    REQUIRE(first.accepted());
    duplex::server_handshake moved(std::move(first));
    CHECK(moved.accepted());
    CHECK(moved.request().header("Cookie") == "id=7");
    CHECK(moved.request().path == "/chat");
    duplex::server_handshake assigned;
    assigned = std::move(moved);
    CHECK(assigned.request().header("Cookie") == "id=7");
    CHECK(assigned.request().head->fields.size() == 8); // 7 example fields and the Cookie
}
