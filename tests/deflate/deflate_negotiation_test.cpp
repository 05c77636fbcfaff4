// Tests for include/duplex/core/deflate_negotiation.hpp and enable_deflate's handshake hooks:
// RFC 7692 §5 and §7.1 in both roles.
#include <duplex/core/client_handshake.hpp>
#include <duplex/core/deflate_negotiation.hpp>
#include <duplex/core/server_handshake.hpp>
#include <duplex/deflate.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using duplex::deflate_agreement;
using duplex::deflate_options;
using duplex::deflate_parameters;
using duplex::extension_offer;

namespace {

std::vector<extension_offer> parse(const std::string& value) {
    std::vector<extension_offer> out;
    REQUIRE(duplex::parse_extensions(value, out));
    return out;
}

bool offer_ok(const std::string& value, deflate_parameters& p) {
    const auto list = parse(value);
    REQUIRE(list.size() == 1);
    return duplex::parse_deflate_offer(list[0], p);
}

std::string answer(const std::string& offers, const deflate_options& o, deflate_agreement& a) {
    return duplex::negotiate_deflate(parse(offers), o, a);
}

std::string answer(const std::string& offers, const deflate_options& o = {}) {
    deflate_agreement a;
    return answer(offers, o, a);
}

bool client_accepts(const std::string& response, const deflate_options& o, deflate_agreement& a) {
    const auto list = parse(response);
    REQUIRE(list.size() == 1);
    return duplex::accept_deflate_response(list[0], o, a);
}

bool client_accepts(const std::string& response, const deflate_options& o = {}) {
    deflate_agreement a;
    return client_accepts(response, o, a);
}

deflate_options offering(std::vector<deflate_parameters> offers) {
    deflate_options o;
    o.offers = std::move(offers);
    return o;
}

} // namespace

TEST_CASE("negotiation: offers with valid parameters parse (RFC 7692 7.1)") {
    deflate_parameters p;
    CHECK(offer_ok("permessage-deflate", p));
    CHECK(p.server_max_window_bits == 0);
    CHECK(p.client_max_window_bits == 0);
    CHECK(offer_ok("permessage-deflate; client_max_window_bits", p));
    CHECK(p.client_max_window_bits == duplex::any_window_bits);
    CHECK(offer_ok("permessage-deflate; server_max_window_bits=8; client_max_window_bits=15", p));
    CHECK(p.server_max_window_bits == 8);
    CHECK(p.client_max_window_bits == 15);
    CHECK(offer_ok("permessage-deflate; server_max_window_bits=\"10\"", p)); // quoted form
    CHECK(p.server_max_window_bits == 10);
    CHECK(offer_ok("Permessage-Deflate; Server_No_Context_Takeover; CLIENT_NO_CONTEXT_TAKEOVER", p));
    CHECK(p.server_no_context_takeover);
    CHECK(p.client_no_context_takeover);
}

TEST_CASE("negotiation: invalid or repeated parameters make an offer unacceptable (RFC 7692 5, 7.1)") {
    const char* bad = GENERATE("permessage-deflate; foo",
                               "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
                               "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
                               "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
                               "permessage-deflate; server_no_context_takeover=1",
                               "permessage-deflate; client_no_context_takeover=true",
                               "permessage-deflate; server_max_window_bits",
                               "permessage-deflate; server_max_window_bits=7",
                               "permessage-deflate; server_max_window_bits=16",
                               "permessage-deflate; server_max_window_bits=08",
                               "permessage-deflate; client_max_window_bits=+9",
                               "permessage-deflate; client_max_window_bits=0",
                               "permessage-deflate; client_max_window_bits=100",
                               "permessage-deflate; client_max_window_bits=ten",
                               "x-webkit-deflate-frame");
    CAPTURE(bad);
    deflate_parameters p;
    CHECK_FALSE(offer_ok(bad, p));
    CHECK(answer(bad).empty()); // declined: no deflate in the response
}

TEST_CASE("negotiation: the server answers the first acceptable offer, in the client's order") {
    deflate_agreement a;
    CHECK(answer("permessage-deflate", {}, a) == "permessage-deflate");
    CHECK(a.server_max_window_bits == 15);
    CHECK(a.client_max_window_bits == 15);
    CHECK_FALSE(a.server_no_context_takeover);

    // An invalid first offer is declined; the next one is taken.
    CHECK(answer("permessage-deflate; bogus, permessage-deflate; server_no_context_takeover", {}, a) ==
          "permessage-deflate; server_no_context_takeover");
    CHECK(a.server_no_context_takeover);

    // The first valid one wins even if a later one is also fine; other extensions are skipped.
    CHECK(answer("x-other; a=1, permessage-deflate; server_max_window_bits=10, permessage-deflate", {}, a) ==
          "permessage-deflate; server_max_window_bits=10");
    CHECK(a.server_max_window_bits == 10);
}

TEST_CASE("negotiation: the server's answer honours each parameter of the offer") {
    deflate_agreement a;
    SECTION("server_max_window_bits offered: answered with at most that") {
        deflate_options o;
        o.server_max_window_bits = 12;
        CHECK(answer("permessage-deflate; server_max_window_bits=14", o, a) ==
              "permessage-deflate; server_max_window_bits=12");
        CHECK(a.server_max_window_bits == 12);
        CHECK(answer("permessage-deflate; server_max_window_bits=8", o, a) ==
              "permessage-deflate; server_max_window_bits=8");
        CHECK(a.server_max_window_bits == 8);
    }
    SECTION("the server limits its own window unasked") {
        deflate_options o;
        o.server_max_window_bits = 11;
        CHECK(answer("permessage-deflate", o, a) == "permessage-deflate; server_max_window_bits=11");
    }
    SECTION("client_max_window_bits: only asked of a client that offered it, at most its value") {
        deflate_options o;
        o.client_max_window_bits = 10;
        CHECK(answer("permessage-deflate", o, a) == "permessage-deflate");
        CHECK(a.client_max_window_bits == 15);
        CHECK(answer("permessage-deflate; client_max_window_bits", o, a) ==
              "permessage-deflate; client_max_window_bits=10");
        CHECK(a.client_max_window_bits == 10);
        CHECK(answer("permessage-deflate; client_max_window_bits=9", o, a) ==
              "permessage-deflate; client_max_window_bits=9");
        CHECK(a.client_max_window_bits == 9);
        CHECK(answer("permessage-deflate; client_max_window_bits", {}, a) == "permessage-deflate");
    }
    SECTION("no context takeover: echoed when offered, added when the server wants it") {
        CHECK(answer("permessage-deflate; client_no_context_takeover", {}, a) ==
              "permessage-deflate; client_no_context_takeover");
        CHECK(a.client_no_context_takeover);
        deflate_options o;
        o.server_no_context_takeover = true;
        o.client_no_context_takeover = true;
        CHECK(answer("permessage-deflate", o, a) ==
              "permessage-deflate; server_no_context_takeover; client_no_context_takeover");
        CHECK(a.server_no_context_takeover);
        CHECK(a.client_no_context_takeover);
    }
}

TEST_CASE("negotiation: the client's offers are built from its options, in order") {
    const auto offers = duplex::deflate_offers(offering(
        {{false, false, 0, duplex::any_window_bits}, {true, true, 10, 12}, {}}));
    CHECK(duplex::format_extensions(offers) ==
          "permessage-deflate; client_max_window_bits, "
          "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
          "server_max_window_bits=10; client_max_window_bits=12, permessage-deflate");
    CHECK(duplex::format_extensions(duplex::deflate_offers({})) == "permessage-deflate; client_max_window_bits");
}

TEST_CASE("negotiation: the client accepts a response that answers one of its offers") {
    deflate_agreement a;
    CHECK(client_accepts("permessage-deflate", {}, a));
    CHECK(a.client_max_window_bits == 15);
    CHECK(client_accepts("permessage-deflate; client_max_window_bits=9", {}, a));
    CHECK(a.client_max_window_bits == 9);
    CHECK(client_accepts("permessage-deflate; server_no_context_takeover; server_max_window_bits=10", {}, a));
    CHECK(a.server_no_context_takeover);
    CHECK(a.server_max_window_bits == 10);
    CHECK(client_accepts("permessage-deflate; client_no_context_takeover", {}, a));
    CHECK(a.client_no_context_takeover);

    // Two offers: the response fits only the second.
    const auto two = offering({{true, false, 0, 0}, {false, false, 0, 11}});
    CHECK(client_accepts("permessage-deflate; client_max_window_bits=10", two, a));
    CHECK_FALSE(a.server_no_context_takeover);
    CHECK(a.client_max_window_bits == 10);
    // The client keeps to the window it offered when the server does not say.
    CHECK(client_accepts("permessage-deflate", offering({{false, false, 0, 11}}), a));
    CHECK(a.client_max_window_bits == 11);
    // An offered client_no_context_takeover binds the client even if not echoed.
    CHECK(client_accepts("permessage-deflate", offering({{false, true, 0, 0}}), a));
    CHECK(a.client_no_context_takeover);
}

TEST_CASE("negotiation: the client refuses a response no offer allows") {
    CHECK_FALSE(client_accepts("permessage-deflate; client_max_window_bits=10", offering({{}})));
    CHECK_FALSE(client_accepts("permessage-deflate; client_max_window_bits=12", offering({{false, false, 0, 11}})));
    CHECK_FALSE(client_accepts("permessage-deflate; client_max_window_bits")); // needs a value
    CHECK_FALSE(client_accepts("permessage-deflate", offering({{false, false, 10, 0}})));
    CHECK_FALSE(client_accepts("permessage-deflate; server_max_window_bits=11", offering({{false, false, 10, 0}})));
    CHECK(client_accepts("permessage-deflate; server_max_window_bits=10", offering({{false, false, 10, 0}})));
    CHECK_FALSE(client_accepts("permessage-deflate", offering({{true, false, 0, 0}})));
    CHECK_FALSE(client_accepts("permessage-deflate; unknown"));
    CHECK_FALSE(client_accepts("permessage-deflate; server_no_context_takeover; server_no_context_takeover"));
    CHECK_FALSE(client_accepts("permessage-deflate; server_max_window_bits=16"));
}

namespace {

struct handshake_result {
    std::string request;
    std::string response;
    std::error_code client_ec;
    bool server_has_deflate = false;
    bool client_has_deflate = false;
};

// A client and a server, both with enable_deflate, through the sans-IO handshakes.
handshake_result shake(const deflate_options& client_opts, const deflate_options& server_opts) {
    handshake_result r;
    duplex::client_handshake_options copts;
    duplex::engine_options client_engine_opts;
    duplex::enable_deflate(copts, client_engine_opts, client_opts);
    duplex::server_handshake_options sopts;
    duplex::engine_options server_engine_opts;
    duplex::enable_deflate(sopts, server_engine_opts, server_opts);

    duplex::client_handshake client(copts);
    duplex::server_handshake server(sopts);
    std::error_code ec;
    r.request = std::string(client.start("example.com", "/", ec));
    REQUIRE_FALSE(ec);
    server.feed(r.request.data(), r.request.size(), ec);
    REQUIRE(server.accepted());
    r.response = std::string(server.response());
    client.feed(r.response.data(), r.response.size(), r.client_ec);
    duplex::server_engine se(server_engine_opts);
    r.server_has_deflate = se.get_extension() != nullptr;
    if (client.accepted()) {
        duplex::client_engine ce(client_engine_opts);
        r.client_has_deflate = ce.get_extension() != nullptr;
    }
    return r;
}

} // namespace

TEST_CASE("negotiation: enable_deflate on both sides agrees through the opening handshake") {
    deflate_options server;
    server.client_max_window_bits = 10;
    server.server_no_context_takeover = true;
    const handshake_result r = shake({}, server);
    CHECK(r.request.find("\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n") !=
          std::string::npos);
    CHECK(r.response.find("\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; "
                          "client_max_window_bits=10\r\n") != std::string::npos);
    CHECK_FALSE(r.client_ec);
    CHECK(r.server_has_deflate);
    CHECK(r.client_has_deflate);
}

TEST_CASE("negotiation: a server without enable_deflate, or one declining, opens without it") {
    // The client offers only an invalid configuration (a window of 16 is clamped to 15 when
    // sent, so use a server hook that declines everything instead).
    duplex::client_handshake_options copts;
    duplex::engine_options ceo;
    duplex::enable_deflate(copts, ceo, {});
    duplex::client_handshake client(copts);
    duplex::server_handshake server; // no extension support
    std::error_code ec;
    const std::string request(client.start("example.com", "/", ec));
    server.feed(request.data(), request.size(), ec);
    REQUIRE(server.accepted());
    CHECK(server.response().find("Sec-WebSocket-Extensions") == std::string_view::npos);
    const std::string response(server.response());
    client.feed(response.data(), response.size(), ec);
    CHECK(client.accepted());
    duplex::client_engine ce(ceo);
    CHECK(ce.get_extension() == nullptr);
}

TEST_CASE("negotiation: the client fails the handshake when the server's answer is not acceptable") {
    const char* bad = GENERATE("permessage-deflate; client_max_window_bits=10; client_max_window_bits=10",
                               "permessage-deflate; server_max_window_bits=20",
                               "permessage-deflate; mystery",
                               "permessage-deflate; server_max_window_bits=12");
    CAPTURE(bad);
    duplex::client_handshake_options copts;
    duplex::engine_options ceo;
    duplex::enable_deflate(copts, ceo, offering({{false, false, 10, duplex::any_window_bits}}));
    duplex::client_handshake client(copts);
    std::error_code ec;
    const std::string key = "dGhlIHNhbXBsZSBub25jZQ==";
    client.start("example.com", "/", key, ec);
    const std::string response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                 "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                                 "Sec-WebSocket-Extensions: " + std::string(bad) + "\r\n\r\n";
    client.feed(response.data(), response.size(), ec);
    CHECK(ec == duplex::error::handshake_bad_extension);
    CHECK_FALSE(client.accepted());
}
