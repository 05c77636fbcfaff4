// Tests for include/duplex/core/client_handshake.hpp: building upgrade requests and validating
// the server's answer (RFC 6455 §4.1).
#include <duplex/core/client_handshake.hpp>
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

const std::string rfc_key = "dGhlIHNhbXBsZSBub25jZQ==";

// The RFC 6455 §1.3 answer to the example request, as lines tests can edit.
std::vector<std::string> example_response() {
    return {"HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade",
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "Sec-WebSocket-Protocol: chat"};
}

duplex::client_handshake_options chat_options() {
    duplex::client_handshake_options o;
    o.subprotocols = {"chat", "superchat"};
    o.headers = {{"Origin", "http://example.com"}};
    return o;
}

struct result {
    bool accepted;
    std::error_code ec;
    unsigned status;
    std::string subprotocol;
};

// Feeds the response whole, then split in two at every position; every feeding must reach the
// same outcome.
result answer(const std::string& response, const duplex::client_handshake_options& options = chat_options()) {
    result whole{};
    std::size_t differences = 0;
    for (std::size_t cut = response.size() + 1; cut-- > 0;) {
        duplex::client_handshake hs(options);
        std::error_code ec;
        hs.start("server.example.com", "/chat", rfc_key, ec);
        REQUIRE_FALSE(ec);
        std::size_t used = hs.feed(response.data(), cut, ec);
        if (!hs.done())
            used += hs.feed(response.data() + used, response.size() - used, ec);
        CHECK(hs.done());
        CHECK(ec == hs.error());
        const result r{hs.accepted(), ec, hs.status(), std::string(hs.subprotocol())};
        if (cut == response.size())
            whole = r;
        else
            differences += r.accepted != whole.accepted || r.ec != whole.ec || r.status != whole.status ||
                           r.subprotocol != whole.subprotocol;
    }
    CHECK(differences == 0);
    return whole;
}

} // namespace

TEST_CASE("client_handshake: the request for the RFC 6455 example is built byte for byte") {
    duplex::client_handshake hs(chat_options());
    std::error_code ec;
    const std::string_view request = hs.start("server.example.com", "/chat", rfc_key, ec);
    REQUIRE_FALSE(ec);
    CHECK(request == "GET /chat HTTP/1.1\r\n"
                     "Host: server.example.com\r\n"
                     "Upgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n"
                     "Sec-WebSocket-Protocol: chat, superchat\r\n"
                     "Origin: http://example.com\r\n"
                     "\r\n");
    CHECK(hs.request() == request);
}

TEST_CASE("client_handshake: the RFC 6455 example response is accepted however it is split") {
    const std::string head = join(example_response());
    const std::string bytes = head + "\x81\x05Hello"; // the server's first frame, same packet
    std::size_t mismatches = 0;
    for (std::size_t cut = 0; cut <= bytes.size(); ++cut) {
        duplex::client_handshake hs(chat_options());
        std::error_code ec;
        hs.start("server.example.com", "/chat", rfc_key, ec);
        std::size_t used = hs.feed(bytes.data(), cut, ec);
        if (!ec)
            used += hs.feed(bytes.data() + used, bytes.size() - used, ec);
        mismatches += ec || !hs.accepted() || used != head.size() || hs.subprotocol() != "chat" ||
                      hs.status() != 101;
    }
    CHECK(mismatches == 0);
}

TEST_CASE("client_handshake: a fresh random key is sent and checked") {
    duplex::client_handshake a, b;
    std::error_code ec;
    const std::string ra(a.start("h", "/", ec));
    const std::string rb(b.start("h", "/", ec));
    CHECK(ra != rb);
    // The response carrying the RFC example's accept value does not match a random key.
    const std::string response = join(with(example_response(), "Sec-WebSocket-Protocol", ""));
    a.feed(response.data(), response.size(), ec);
    CHECK(ec == error::handshake_bad_accept);
}

TEST_CASE("client_handshake: each broken rule in the response gets its own error") {
    struct bad {
        const char* what;
        std::vector<std::string> lines;
        error e;
    };
    const auto ex = example_response();
    const bad cases[] = {
        {"200", with(ex, "HTTP", "HTTP/1.1 200 OK"), error::handshake_status},
        {"no Upgrade", with(ex, "Upgrade", ""), error::handshake_no_upgrade},
        {"Upgrade h2c", with(ex, "Upgrade", "Upgrade: h2c"), error::handshake_no_upgrade},
        {"no Connection", with(ex, "Connection", ""), error::handshake_no_connection},
        {"no Accept", with(ex, "Sec-WebSocket-Accept", ""), error::handshake_bad_accept},
        {"wrong Accept", with(ex, "Sec-WebSocket-Accept", "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOA="), error::handshake_bad_accept},
        {"Accept twice", with(ex, "Upgrade", "Upgrade: websocket\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), error::handshake_bad_accept},
        {"protocol not offered", with(ex, "Sec-WebSocket-Protocol", "Sec-WebSocket-Protocol: mqtt"), error::handshake_bad_protocol},
        {"protocol case differs", with(ex, "Sec-WebSocket-Protocol", "Sec-WebSocket-Protocol: Chat"), error::handshake_bad_protocol},
        {"two protocols", with(ex, "Sec-WebSocket-Protocol", "Sec-WebSocket-Protocol: chat, superchat"), error::handshake_bad_protocol},
        {"protocol twice", with(ex, "Upgrade", "Upgrade: websocket\r\nSec-WebSocket-Protocol: chat"), error::handshake_bad_protocol},
        {"extension not offered", with(ex, "X", "Sec-WebSocket-Extensions: permessage-deflate"), error::handshake_bad_extension},
        {"garbled extension", with(ex, "X", "Sec-WebSocket-Extensions: ; x"), error::handshake_bad_extension},
        {"bad status line", with(ex, "HTTP", "HTTP/1.1 10l Switching"), error::http_bad_status_line},
        {"HTTP/2 status", with(ex, "HTTP", "HTTP/2.0 101 Switching Protocols"), error::http_bad_version},
    };
    for (const auto& c : cases) {
        INFO(c.what);
        const auto r = answer(join(c.lines));
        CHECK_FALSE(r.accepted);
        CHECK(r.ec == c.e);
    }
}

TEST_CASE("client_handshake: a refusal reports the server's status code") {
    for (unsigned status : {301u, 400u, 401u, 403u, 404u, 426u, 503u}) {
        const auto r = answer("HTTP/1.1 " + std::to_string(status) + " Nope\r\nContent-Length: 0\r\n\r\n");
        CHECK(r.ec == error::handshake_status);
        CHECK(r.status == status);
    }
}

TEST_CASE("client_handshake: without offers, a subprotocol in the answer is an error - none is fine") {
    duplex::client_handshake_options none;
    CHECK(answer(join(example_response()), none).ec == error::handshake_bad_protocol);
    const auto r = answer(join(with(example_response(), "Sec-WebSocket-Protocol", "")), none);
    CHECK(r.accepted);
    CHECK(r.subprotocol.empty());
    // With offers, the server may still choose none.
    CHECK(answer(join(with(example_response(), "Sec-WebSocket-Protocol", ""))).accepted);
}

TEST_CASE("client_handshake: offered extensions are sent and the accepted ones reported") {
    auto options = chat_options();
    options.extensions.resize(2);
    options.extensions[0].name = "permessage-deflate";
    options.extensions[0].params.push_back({"client_max_window_bits", "", false});
    options.extensions[1].name = "x-test";
    duplex::client_handshake hs(options);
    std::error_code ec;
    const std::string request(hs.start("h", "/", rfc_key, ec));
    CHECK(request.find("\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, x-test\r\n") !=
          std::string::npos);

    const std::string response =
        join(with(example_response(), "X", "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10"));
    hs.feed(response.data(), response.size(), ec);
    REQUIRE(hs.accepted());
    REQUIRE(hs.extensions().size() == 1);
    CHECK(hs.extensions()[0].name == "permessage-deflate");
    REQUIRE(hs.extensions()[0].find("server_max_window_bits") != nullptr);
    CHECK(hs.extensions()[0].find("server_max_window_bits")->value == "10");

    // The same extension accepted twice is an error.
    duplex::client_handshake twice(options);
    twice.start("h", "/", rfc_key, ec);
    const std::string doubled = join(with(example_response(), "X",
                                          "Sec-WebSocket-Extensions: x-test\r\nSec-WebSocket-Extensions: x-test"));
    twice.feed(doubled.data(), doubled.size(), ec);
    CHECK(ec == error::handshake_bad_extension);
}

TEST_CASE("client_handshake: invalid targets, hosts, subprotocols and fields are refused before sending") {
    std::error_code ec;
    duplex::client_handshake hs;
    CHECK(hs.start("h", "chat", rfc_key, ec).empty());
    CHECK(ec == error::url_bad_syntax);
    CHECK(hs.start("h", "/a b", rfc_key, ec).empty());
    CHECK(ec == error::url_bad_syntax);
    CHECK(hs.start("h", "/a#b", rfc_key, ec).empty());
    CHECK(ec == error::url_bad_syntax);
    CHECK(hs.start("", "/", rfc_key, ec).empty());
    CHECK(ec == error::url_bad_syntax);
    CHECK(hs.start("h\r\nX: y", "/", rfc_key, ec).empty());
    CHECK(ec == error::url_bad_syntax);

    const duplex::header_list bad_fields[] = {
        {{"Cookie", "a=1\r\nX-Injected: 1"}}, {{"Host", "other"}}, {{"Sec-WebSocket-Key", "x"}},
        {{"Upgrade", "h2c"}}, {{"", "x"}}};
    for (const auto& fields : bad_fields) {
        duplex::client_handshake_options o;
        o.headers = fields;
        duplex::client_handshake c(o);
        CHECK(c.start("h", "/", rfc_key, ec).empty());
        CHECK(ec == error::bad_header_field);
    }
    duplex::client_handshake_options o;
    o.subprotocols = {"chat", "two words"};
    duplex::client_handshake c(o);
    CHECK(c.start("h", "/", rfc_key, ec).empty());
    CHECK(ec == error::bad_header_field);
}

TEST_CASE("client_handshake: start(url) uses the URL's Host field and target") {
    duplex::ws_url url;
    std::error_code ec;
    REQUIRE(duplex::parse_url("ws://[::1]:8080/feed?since=10", url, ec));
    duplex::client_handshake hs;
    const std::string request(hs.start(url, ec));
    REQUIRE_FALSE(ec);
    CHECK(request.rfind("GET /feed?since=10 HTTP/1.1\r\nHost: [::1]:8080\r\n", 0) == 0);
}

TEST_CASE("client_handshake and server_handshake agree with each other end to end") {
    auto client_options = chat_options();
    client_options.subprotocols = {"v2.chat", "v1.chat"};
    duplex::client_handshake client(client_options);
    duplex::server_handshake_options server_options;
    server_options.subprotocols = {"v1.chat", "v2.chat"};
    duplex::server_handshake server(server_options);

    std::error_code ec;
    const std::string request(client.start("localhost:9000", "/ws?token=abc", ec));
    REQUIRE_FALSE(ec);
    CHECK(server.feed(request.data(), request.size(), ec) == request.size());
    REQUIRE(server.accepted());
    CHECK(server.request().query == "token=abc");
    CHECK(server.request().origin == "http://example.com");

    const std::string response(server.response());
    CHECK(client.feed(response.data(), response.size(), ec) == response.size());
    REQUIRE_FALSE(ec);
    CHECK(client.accepted());
    CHECK(client.subprotocol() == "v2.chat"); // the client's first preference
    CHECK(server.subprotocol() == "v2.chat");
}

TEST_CASE("client_handshake: real answers from Python websockets and Node ws servers are accepted") {
    for (const auto& real : real_handshakes::responses) {
        INFO(real.source);
        const bool offers = real.request == real_handshakes::raw_request_with_offers_python ||
                            real.request == real_handshakes::raw_request_with_offers_node;
        duplex::client_handshake_options options;
        if (offers) {
            // What the raw request offered: subprotocols and permessage-deflate.
            options.subprotocols = {"chat", "superchat"};
            options.extensions.resize(1);
            options.extensions[0].name = "permessage-deflate";
            options.extensions[0].params.push_back({"client_max_window_bits", "", false});
        }
        duplex::client_handshake hs(options);
        std::error_code ec;
        hs.start("127.0.0.1", "/chat", std::string(real_handshakes::raw_key), ec);
        const std::string bytes = std::string(real.head) + std::string(real.after);
        const std::size_t used = hs.feed(bytes.data(), bytes.size(), ec);
        CHECK(used == real.head.size()); // the server's first frame is left for the frame layer
        CHECK(hs.status() == real.status);
        if (real.status == 101) {
            CHECK_FALSE(ec);
            CHECK(hs.accepted());
            CHECK(hs.subprotocol() == (offers ? "chat" : ""));
            CHECK(hs.extensions().size() == (offers ? 1u : 0u));
        } else {
            CHECK(ec == error::handshake_status);
        }
    }
}
