// duplex fuzzing — the client's side of the opening handshake (RFC 6455 §4.1, §4.2.2).
// SPDX-License-Identifier: MIT
//
// Input: the bytes a server answers with, fed to a client_handshake once whole and once in
// chunks chosen from a hash of the input. The client sent the RFC 6455 §1.3 key
// dGhlIHNhbXBsZSBub25jZQ==, offering subprotocols "chat" and "superchat" and the extension
// permessage-deflate. Properties checked:
//   - the request start() builds is one a server_handshake takes, with that key and offers.
//   - feed never uses more bytes than it is given, all of them until done(), and none after:
//     the bytes after the head (the server's first frames) are left alone, and the bytes used
//     are exactly the head, through its first blank line; a later feed repeats the outcome.
//   - whole and chunked feeding agree: done, accepted, error, bytes used, status, subprotocol
//     and extensions.
//   - accepted() implies status() == 101 and, checked with separate code on the parsed head:
//     Upgrade lists websocket, Connection lists upgrade, exactly one Sec-WebSocket-Accept,
//     equal to s3pPLMBiTxaQ9kYGzzhZRbK+xOo=; the subprotocol is "" (and none was sent) or the
//     one "chat" or "superchat" sent; the extensions are the ones sent, at most one, named
//     permessage-deflate.
//   - refused: a duplex error; a malformed head gives an HTTP head error and status() 0;
//     otherwise status() is the response's, a status other than 101 is handshake_status, and
//     for a 101 the error names the first rule (in RFC 6455 §4.2.2's order) the separate checks
//     find broken.

#include "fuzz_check.hpp"
#include "http_check.hpp"

#include <duplex/core/client_handshake.hpp>
#include <duplex/core/error.hpp>
#include <duplex/core/handshake.hpp>
#include <duplex/core/http.hpp>
#include <duplex/core/server_handshake.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace {

namespace ref = duplex_fuzz::ref;
using duplex::error;

constexpr std::string_view rfc_key = "dGhlIHNhbXBsZSBub25jZQ==";
constexpr std::string_view rfc_accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

duplex::client_handshake make_client() {
    duplex::client_handshake_options o;
    o.subprotocols = {"chat", "superchat"};
    o.extensions = {duplex::extension_offer{"permessage-deflate", {}}};
    duplex::client_handshake c(o);
    std::error_code ec;
    c.start("example.com", "/chat", std::string(rfc_key), ec);
    FUZZ_CHECK(!ec);
    return c;
}

// The request is one a server takes, carrying the key and the offers.
bool check_request() {
    const duplex::client_handshake c = make_client();
    const std::string_view r = c.request();
    duplex::http_parser p(duplex::http_parser::kind::request);
    std::error_code ec;
    FUZZ_CHECK(p.feed(r.data(), r.size(), ec) == r.size() && !ec && p.done());
    duplex::upgrade_request req;
    FUZZ_CHECK(duplex::parse_upgrade_request(p.head(), req, ec) && !ec);
    FUZZ_CHECK(req.key == rfc_key && req.host == "example.com" && req.path == "/chat");
    FUZZ_CHECK(req.subprotocols.size() == 2 && req.subprotocols[0] == "chat" &&
               req.subprotocols[1] == "superchat");
    FUZZ_CHECK(req.extensions.size() == 1 && req.extensions[0].name == "permessage-deflate" &&
               req.extensions[0].params.empty());
    FUZZ_CHECK(duplex::accept_key(rfc_key) == rfc_accept);
    return true;
}

std::string describe(const std::vector<duplex::extension_offer>& exts) {
    std::string out;
    for (const auto& e : exts) {
        out += e.name;
        for (const auto& p : e.params) {
            out += ';';
            out += p.name;
            if (p.has_value)
                out += '=' + p.value;
        }
        out += ',';
    }
    return out;
}

struct outcome {
    bool done = false;
    bool accepted = false;
    std::error_code ec;
    std::size_t used = 0;
    unsigned status = 0;
    std::string subprotocol, extensions;

    bool operator==(const outcome& o) const {
        return done == o.done && accepted == o.accepted && ec == o.ec && used == o.used &&
               status == o.status && subprotocol == o.subprotocol && extensions == o.extensions;
    }
};

outcome snapshot(const duplex::client_handshake& c, std::size_t used) {
    outcome o;
    o.done = c.done();
    o.accepted = c.accepted();
    o.ec = c.error();
    o.used = used;
    o.status = c.status();
    o.subprotocol = std::string(c.subprotocol());
    o.extensions = describe(c.extensions());
    return o;
}

std::size_t feed_once(duplex::client_handshake& c, const std::uint8_t* p, std::size_t n) {
    const bool was_done = c.done();
    std::error_code ec = std::make_error_code(std::errc::invalid_argument); // must be overwritten
    const std::size_t used = c.feed(p, n, ec);
    FUZZ_CHECK(used <= n);
    FUZZ_CHECK(ec == c.error());
    FUZZ_CHECK(!c.accepted() || c.done());
    FUZZ_CHECK(static_cast<bool>(ec) == (c.done() && !c.accepted()));
    if (was_done)
        FUZZ_CHECK(used == 0);
    else if (!c.done())
        FUZZ_CHECK(used == n && c.status() == 0);
    return used;
}

outcome feed_whole(duplex::client_handshake& c, const std::uint8_t* data, std::size_t size) {
    const std::size_t used = feed_once(c, data, size);
    FUZZ_CHECK(feed_once(c, data + used, size - used) == 0);
    return snapshot(c, used);
}

outcome feed_chunked(duplex::client_handshake& c, const std::uint8_t* data, std::size_t size) {
    duplex_fuzz::chunker chunks(duplex_fuzz::fnv1a(data, size));
    std::size_t pos = 0, used = 0;
    do {
        const std::size_t len = chunks.next(size - pos);
        used += feed_once(c, data + pos, len);
        pos += len;
    } while (pos < size);
    return snapshot(c, used);
}

bool protocol_ok(const duplex::http_head& h) {
    const std::size_t n = ref::count(h, "Sec-WebSocket-Protocol");
    const std::string_view p = ref::first(h, "Sec-WebSocket-Protocol");
    return n == 0 || (n == 1 && (p == "chat" || p == "superchat"));
}

bool accept_ok(const duplex::http_head& h) {
    return ref::count(h, "Sec-WebSocket-Accept") == 1 &&
           ref::first(h, "Sec-WebSocket-Accept") == rfc_accept;
}

void check_accepted(const duplex::client_handshake& c, std::string_view input, std::size_t used) {
    const duplex::http_head& h = c.response();
    FUZZ_CHECK(c.status() == 101 && h.status == 101);
    FUZZ_CHECK(input.find("\r\n\r\n") + 4 == used); // exactly the head
    FUZZ_CHECK(ref::lists(h, "Upgrade", "websocket"));
    FUZZ_CHECK(ref::lists(h, "Connection", "upgrade"));
    FUZZ_CHECK(accept_ok(h));

    const std::string_view sub = c.subprotocol();
    FUZZ_CHECK(sub.empty() || sub == "chat" || sub == "superchat");
    if (sub.empty()) {
        FUZZ_CHECK(ref::count(h, "Sec-WebSocket-Protocol") == 0);
    } else {
        FUZZ_CHECK(ref::count(h, "Sec-WebSocket-Protocol") == 1);
        FUZZ_CHECK(ref::first(h, "Sec-WebSocket-Protocol") == sub);
    }

    // Every extension the server names was offered: permessage-deflate, once. (A list that
    // parsed has no comma inside quotes, so a comma split counts its elements.)
    std::size_t named = 0;
    for (const auto& f : h.fields)
        if (ref::ieq(f.name, "Sec-WebSocket-Extensions"))
            named += ref::elements(f.value).size();
    FUZZ_CHECK(c.extensions().size() == named);
    FUZZ_CHECK(c.extensions().size() <= 1);
    for (const auto& e : c.extensions())
        FUZZ_CHECK(ref::ieq(e.name, "permessage-deflate"));
}

void check_refused(const duplex::client_handshake& c) {
    const std::error_code ec = c.error();
    FUZZ_CHECK(ec && ec.category() == duplex::error_category());
    const auto e = static_cast<error>(ec.value());
    if (e >= error::http_head_too_large && e <= error::http_obs_fold) {
        FUZZ_CHECK(c.status() == 0);
        return;
    }
    FUZZ_CHECK(e >= error::handshake_status && e <= error::handshake_bad_extension);
    const duplex::http_head& h = c.response();
    FUZZ_CHECK(c.status() == h.status && h.status >= 100);
    if (h.status != 101) {
        FUZZ_CHECK(e == error::handshake_status);
        return;
    }
    FUZZ_CHECK(e != error::handshake_status);
    if (ref::quote_in_upgrade_fields(h))
        return;
    if (!ref::lists(h, "Upgrade", "websocket"))
        FUZZ_CHECK(e == error::handshake_no_upgrade);
    else if (!ref::lists(h, "Connection", "upgrade"))
        FUZZ_CHECK(e == error::handshake_no_connection);
    else if (!accept_ok(h))
        FUZZ_CHECK(e == error::handshake_bad_accept);
    else if (!protocol_ok(h))
        FUZZ_CHECK(e == error::handshake_bad_protocol);
    else
        FUZZ_CHECK(e == error::handshake_bad_extension);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const bool request_ok = check_request();
    (void)request_ok;

    duplex::client_handshake whole = make_client();
    const outcome a = feed_whole(whole, data, size);
    duplex::client_handshake chunked = make_client();
    const outcome b = feed_chunked(chunked, data, size);
    FUZZ_CHECK(a == b);

    if (!a.done) {
        FUZZ_CHECK(a.used == size && !a.ec && !a.accepted && a.status == 0);
        return 0;
    }
    if (a.accepted)
        check_accepted(whole, std::string_view(reinterpret_cast<const char*>(data), size), a.used);
    else
        check_refused(whole);
    return 0;
}
