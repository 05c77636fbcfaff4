// duplex fuzzing — the server's side of the opening handshake (RFC 6455 §4.2).
// SPDX-License-Identifier: MIT
//
// Input: the bytes a client sends, fed to a server_handshake once whole and once in chunks
// chosen from a hash of the input. The server speaks subprotocols "chat" and "superchat",
// refuses the path "/deny" with a 403 (echoing the query in a field), answers an "x-test"
// extension offer with "x-test", adds "Server: duplex-fuzz" to every response and, through its
// decorate hook, "X-Fuzz: decorated" and the Origin (echoed) to each 101. Properties checked:
//   - feed never uses more bytes than it is given, all of them until done(), and none after:
//     the bytes after the head are left alone; a later feed repeats the outcome.
//   - whole and chunked feeding agree: done, accepted, error, bytes used, response, subprotocol
//     and extensions.
//   - done: response() is one HTTP/1.1 response head of CRLF-terminated lines with no CR or LF
//     anywhere else (no field injection) and the blank line only at the end, which
//     duplex::http_parser reads completely, leaving exactly the declared Content-Length body.
//   - accepted() exactly when the status is 101. An accepted request passes the RFC 6455
//     §4.2.1 rules, checked here with separate code on the parsed head (GET, HTTP/1.1 or later,
//     one non-empty Host, Upgrade lists websocket, Connection lists upgrade, one
//     Sec-WebSocket-Version of 13, one canonical 16-byte base64 Sec-WebSocket-Key, no body);
//     the 101 carries one Sec-WebSocket-Accept equal to accept_key(key), the first offered
//     subprotocol the server speaks (or none if it speaks none of them), "x-test" exactly when
//     offered, the hook's fields, and no body; and a client_handshake offering the same
//     subprotocols and extensions with the same key accepts it.
//   - refused: the error is duplex's, the status is http_status(error) (403 for "/deny"; never
//     500: the hooks give only valid fields), the body is the reason and a newline with a
//     matching Content-Length, "Connection: close" is there, a 426 names websocket and version
//     13. Which rule the request breaks, by the separate checks, agrees with the error (a
//     quote in Upgrade or Connection, which makes the list malformed, may fail on that field).

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
#include <utility>
#include <vector>

namespace {

namespace ref = duplex_fuzz::ref;
using duplex::error;

duplex::server_handshake_options make_options() {
    duplex::server_handshake_options o;
    o.limits.max_head_size = 2048;
    o.limits.max_fields = 32;
    o.limits.max_target_size = 512;
    o.subprotocols = {"chat", "superchat"};
    o.headers = {{"Server", "duplex-fuzz"}};
    o.accept = [](const duplex::upgrade_request& r, duplex::rejection& reject) {
        if (r.path != "/deny")
            return true;
        reject.status = 403;
        reject.reason = "denied";
        reject.headers = {{"X-Denied-Query", std::string(r.query)}};
        return false;
    };
    o.negotiate_extensions = [](const duplex::upgrade_request& r) -> std::string {
        for (const auto& e : r.extensions)
            if (e.name == "x-test")
                return "x-test";
        return {};
    };
    o.decorate = [](const duplex::upgrade_request& r, duplex::header_list& fields) {
        fields.emplace_back("X-Fuzz", "decorated");
        if (!r.origin.empty())
            fields.emplace_back("X-Echo-Origin", std::string(r.origin));
    };
    return o;
}

const duplex::server_handshake_options& options() {
    static const duplex::server_handshake_options o = make_options();
    return o;
}

struct outcome {
    bool done = false;
    bool accepted = false;
    std::error_code ec;
    std::size_t used = 0;
    std::string response, subprotocol, extensions;

    bool operator==(const outcome& o) const {
        return done == o.done && accepted == o.accepted && ec == o.ec && used == o.used &&
               response == o.response && subprotocol == o.subprotocol && extensions == o.extensions;
    }
};

outcome snapshot(const duplex::server_handshake& s, std::size_t used) {
    outcome o;
    o.done = s.done();
    o.accepted = s.accepted();
    o.ec = s.error();
    o.used = used;
    o.response = std::string(s.response());
    o.subprotocol = std::string(s.subprotocol());
    o.extensions = std::string(s.extensions());
    return o;
}

// One feed call: uses at most what it is given, all of it until done, none once done.
std::size_t feed_once(duplex::server_handshake& s, const std::uint8_t* p, std::size_t n) {
    const bool was_done = s.done();
    std::error_code ec = std::make_error_code(std::errc::invalid_argument); // must be overwritten
    const std::size_t used = s.feed(p, n, ec);
    FUZZ_CHECK(used <= n);
    FUZZ_CHECK(ec == s.error());
    FUZZ_CHECK(!s.accepted() || s.done());
    FUZZ_CHECK(static_cast<bool>(ec) == (s.done() && !s.accepted()));
    if (was_done)
        FUZZ_CHECK(used == 0);
    else if (!s.done())
        FUZZ_CHECK(used == n && s.response().empty());
    return used;
}

outcome feed_whole(duplex::server_handshake& s, const std::uint8_t* data, std::size_t size) {
    const std::size_t used = feed_once(s, data, size);
    FUZZ_CHECK(feed_once(s, data + used, size - used) == 0);
    return snapshot(s, used);
}

outcome feed_chunked(duplex::server_handshake& s, const std::uint8_t* data, std::size_t size) {
    duplex_fuzz::chunker chunks(duplex_fuzz::fnv1a(data, size));
    std::size_t pos = 0, used = 0;
    do {
        const std::size_t len = chunks.next(size - pos);
        used += feed_once(s, data + pos, len);
        pos += len;
    } while (pos < size);
    return snapshot(s, used);
}

// The request-target's path, worked out here: origin-form "/path?query", or absolute-form
// "scheme://authority/path?query" (RFC 9112 §3.2); "/" when empty.
std::string_view path_of(std::string_view target) {
    if (!target.empty() && target.front() != '/') {
        const std::size_t scheme_end = target.find("://");
        if (scheme_end == target.npos)
            return {};
        const std::size_t path_start = target.find_first_of("/?", scheme_end + 3);
        target = path_start == target.npos ? std::string_view{} : target.substr(path_start);
    }
    const std::string_view path = target.substr(0, target.find('?'));
    return path.empty() ? std::string_view("/") : path;
}

std::string_view query_of(std::string_view target) {
    if (!target.empty() && target.front() != '/') {
        const std::size_t scheme_end = target.find("://");
        if (scheme_end == target.npos)
            return {};
        const std::size_t path_start = target.find_first_of("/?", scheme_end + 3);
        target = path_start == target.npos ? std::string_view{} : target.substr(path_start);
    }
    const std::size_t q = target.find('?');
    return q == target.npos ? std::string_view{} : target.substr(q + 1);
}

// A target the server takes: a path, or an absolute URI with a token scheme; no fragment.
bool target_ok(std::string_view target) {
    if (target.front() != '/') {
        const std::size_t scheme_end = target.find("://");
        if (scheme_end == target.npos || !ref::token(target.substr(0, scheme_end)))
            return false;
        // Absolute form: the authority is the host (RFC 9112 §3.2.2), so it must be one.
        const std::size_t path = target.find_first_of("/?", scheme_end + 3);
        const std::string_view authority = target.substr(
            scheme_end + 3, path == target.npos ? target.npos : path - scheme_end - 3);
        if (!ref::host_field(authority))
            return false;
    }
    return path_of(target).find('#') == std::string_view::npos &&
           query_of(target).find('#') == std::string_view::npos;
}

// RFC 6455 §4.2.1 items 1-6 and RFC 9112 §3.2, §6.3: exactly one valid Host, and no body: a
// Content-Length is 1*DIGIT (RFC 9110 §8.6), here necessarily a zero.
bool basic_rules_ok(const duplex::http_head& h) {
    const bool http11 = h.version_major > 1 || (h.version_major == 1 && h.version_minor >= 1);
    const std::size_t lengths = ref::count(h, "Content-Length");
    const std::string_view length = ref::first(h, "Content-Length");
    bool zero = !length.empty();
    for (char c : length)
        zero = zero && c == '0';
    const bool no_body = ref::count(h, "Transfer-Encoding") == 0 && (lengths == 0 || (lengths == 1 && zero));
    return h.method == "GET" && http11 && ref::count(h, "Host") == 1 &&
           ref::host_field(ref::first(h, "Host")) && ref::lists(h, "Upgrade", "websocket") &&
           ref::lists(h, "Connection", "upgrade") && ref::count(h, "Sec-WebSocket-Version") == 1 &&
           ref::first(h, "Sec-WebSocket-Version") == "13" &&
           ref::count(h, "Sec-WebSocket-Key") == 1 &&
           ref::websocket_key(ref::first(h, "Sec-WebSocket-Key")) && no_body;
}

// The offered subprotocols, in order; false if one is not a token.
bool offered_protocols(const duplex::http_head& h, std::vector<std::string_view>& out) {
    for (const auto& f : h.fields) {
        if (!ref::ieq(f.name, "Sec-WebSocket-Protocol"))
            continue;
        for (std::string_view e : ref::elements(f.value)) {
            if (!ref::token(e))
                return false;
            out.push_back(e);
        }
    }
    return true;
}

// Some Sec-WebSocket-Extensions element is named x-test (exact for a list that parsed: its
// quoted parameter values hold tokens only, so no comma or semicolon).
bool offers_x_test(const duplex::http_head& h) {
    for (const auto& f : h.fields) {
        if (!ref::ieq(f.name, "Sec-WebSocket-Extensions"))
            continue;
        for (std::string_view e : ref::elements(f.value))
            if (ref::trim(e.substr(0, e.find(';'))) == "x-test")
                return true;
    }
    return false;
}

bool is_rule_error(error e) {
    switch (e) {
    case error::upgrade_method: case error::upgrade_version: case error::upgrade_no_host:
    case error::upgrade_no_upgrade: case error::upgrade_no_connection:
    case error::upgrade_ws_version: case error::upgrade_bad_key: case error::upgrade_body:
        return true;
    default:
        return false;
    }
}

bool is_head_error(error e) {
    return e >= error::http_head_too_large && e <= error::http_obs_fold;
}

void check_accepted(const duplex::server_handshake& s, const duplex::http_head& resp,
                    std::string_view body) {
    const duplex::upgrade_request& req = s.request();
    FUZZ_CHECK(req.head != nullptr);
    const duplex::http_head& h = *req.head;

    // The request follows the rules, by separate code.
    FUZZ_CHECK(basic_rules_ok(h));
    FUZZ_CHECK(target_ok(h.target));
    FUZZ_CHECK(path_of(h.target) != "/deny");
    FUZZ_CHECK(req.key == ref::first(h, "Sec-WebSocket-Key"));
    // The host is the Host field, or in absolute form the target's authority (RFC 9112 §3.2.2).
    std::string_view host = ref::first(h, "Host");
    if (h.target.front() != '/') {
        const std::size_t begin = h.target.find("://") + 3;
        const std::size_t end = h.target.find_first_of("/?", begin);
        host = h.target.substr(begin, end == h.target.npos ? h.target.npos : end - begin);
    }
    FUZZ_CHECK(req.host == host && req.target == h.target);
    FUZZ_CHECK(req.path == path_of(h.target) && req.query == query_of(h.target));

    // The 101 response.
    FUZZ_CHECK(resp.status == 101 && resp.reason == "Switching Protocols");
    FUZZ_CHECK(resp.version_major == 1 && resp.version_minor == 1);
    FUZZ_CHECK(body.empty());
    FUZZ_CHECK(ref::count(resp, "Upgrade") == 1 && ref::ieq(ref::first(resp, "Upgrade"), "websocket"));
    FUZZ_CHECK(ref::count(resp, "Connection") == 1 && ref::lists(resp, "Connection", "upgrade"));
    FUZZ_CHECK(ref::count(resp, "Sec-WebSocket-Accept") == 1);
    FUZZ_CHECK(ref::first(resp, "Sec-WebSocket-Accept") == duplex::accept_key(req.key));
    FUZZ_CHECK(ref::count(resp, "Content-Length") == 0 && ref::count(resp, "Transfer-Encoding") == 0);

    // The subprotocol: the client's first that the server speaks.
    std::vector<std::string_view> offered;
    FUZZ_CHECK(offered_protocols(h, offered));
    std::string_view expected;
    for (std::string_view p : offered) {
        if (p == "chat" || p == "superchat") {
            expected = p;
            break;
        }
    }
    FUZZ_CHECK(s.subprotocol() == expected);
    if (expected.empty()) {
        FUZZ_CHECK(ref::count(resp, "Sec-WebSocket-Protocol") == 0);
    } else {
        FUZZ_CHECK(ref::count(resp, "Sec-WebSocket-Protocol") == 1);
        FUZZ_CHECK(ref::first(resp, "Sec-WebSocket-Protocol") == expected);
    }

    // The extension hook's answer, and the decorate hook's fields.
    const bool x_test = offers_x_test(h);
    FUZZ_CHECK(s.extensions() == (x_test ? "x-test" : ""));
    FUZZ_CHECK(ref::count(resp, "Sec-WebSocket-Extensions") == (x_test ? 1u : 0u));
    if (x_test)
        FUZZ_CHECK(ref::first(resp, "Sec-WebSocket-Extensions") == "x-test");
    FUZZ_CHECK(ref::count(resp, "Server") == 1 && ref::first(resp, "Server") == "duplex-fuzz");
    FUZZ_CHECK(ref::count(resp, "X-Fuzz") == 1 && ref::first(resp, "X-Fuzz") == "decorated");
    const std::string_view origin = ref::first(h, "Origin");
    FUZZ_CHECK(ref::count(resp, "X-Echo-Origin") == (origin.empty() ? 0u : 1u));
    FUZZ_CHECK(ref::first(resp, "X-Echo-Origin") == origin);

    // A client that offered the same accepts the response.
    duplex::client_handshake_options copts;
    for (std::string_view p : req.subprotocols)
        copts.subprotocols.emplace_back(p);
    copts.extensions = req.extensions;
    duplex::client_handshake client(copts);
    std::error_code ec;
    client.start("example.com", "/", std::string(req.key), ec);
    FUZZ_CHECK(!ec);
    const std::string_view r = s.response();
    FUZZ_CHECK(client.feed(r.data(), r.size(), ec) == r.size());
    FUZZ_CHECK(!ec && client.done() && client.accepted());
    FUZZ_CHECK(client.subprotocol() == expected);
    FUZZ_CHECK(client.extensions().size() == (x_test ? 1u : 0u));
}

void check_refused(const duplex::server_handshake& s, const duplex::http_head& resp,
                   std::string_view body) {
    const std::error_code ec = s.error();
    FUZZ_CHECK(ec && ec.category() == duplex::error_category());
    const auto e = static_cast<error>(ec.value());
    const duplex::upgrade_request& req = s.request();

    // Which rule the request breaks, by separate code, agrees with the error.
    unsigned status;
    if (is_head_error(e)) {
        FUZZ_CHECK(req.head == nullptr); // the head never parsed
        status = duplex::http_status(ec);
        FUZZ_CHECK(status == 400 || status == 414 || status == 431 || status == 505);
    } else {
        FUZZ_CHECK(req.head != nullptr);
        const duplex::http_head& h = *req.head;
        std::vector<std::string_view> offered;
        if (!basic_rules_ok(h)) {
            FUZZ_CHECK(is_rule_error(e));
        } else if (ref::quote_in_upgrade_fields(h) &&
                   (e == error::upgrade_no_upgrade || e == error::upgrade_no_connection)) {
            // A malformed Upgrade or Connection list, which duplex reads another way.
        } else if (!target_ok(h.target)) {
            FUZZ_CHECK(e == error::upgrade_bad_target);
        } else if (!offered_protocols(h, offered)) {
            FUZZ_CHECK(e == error::upgrade_bad_protocol || e == error::upgrade_bad_extension);
        } else if (e != error::upgrade_bad_extension) {
            // Nothing wrong with the request: only the accept hook refuses it.
            FUZZ_CHECK(e == error::upgrade_rejected);
            FUZZ_CHECK(path_of(h.target) == "/deny" && req.path == "/deny");
        }
        if (e == error::upgrade_bad_extension)
            FUZZ_CHECK(ref::count(h, "Sec-WebSocket-Extensions") > 0);
        status = e == error::upgrade_rejected ? 403 : duplex::http_status(ec);
        FUZZ_CHECK(status == 400 || status == 403 || status == 426);
    }

    FUZZ_CHECK(resp.status == status && resp.reason == duplex::status_reason(status));
    FUZZ_CHECK(resp.version_major == 1 && resp.version_minor == 1);
    FUZZ_CHECK(ref::count(resp, "Content-Length") == 1);
    FUZZ_CHECK(ref::first(resp, "Content-Length") == std::to_string(body.size()));
    FUZZ_CHECK(ref::count(resp, "Transfer-Encoding") == 0);
    FUZZ_CHECK(ref::lists(resp, "Connection", "close"));
    FUZZ_CHECK(ref::count(resp, "Server") == 1 && ref::first(resp, "Server") == "duplex-fuzz");
    FUZZ_CHECK(ref::count(resp, "X-Fuzz") == 0 && ref::count(resp, "Sec-WebSocket-Accept") == 0);
    if (status == 426) {
        FUZZ_CHECK(ref::lists(resp, "Upgrade", "websocket"));
        FUZZ_CHECK(ref::first(resp, "Sec-WebSocket-Version") == "13");
    }
    if (e == error::upgrade_rejected) {
        FUZZ_CHECK(body == "denied\n");
        FUZZ_CHECK(ref::count(resp, "X-Denied-Query") == 1);
        FUZZ_CHECK(ref::first(resp, "X-Denied-Query") == query_of(req.head->target));
    } else {
        FUZZ_CHECK(body == ec.message() + "\n");
    }
}

void check_response(const duplex::server_handshake& s) {
    const std::string_view r = s.response();
    const std::size_t head_length = ref::checked_head_length(r);

    duplex::http_limits big;
    big.max_head_size = 1 << 20;
    big.max_fields = 1000;
    big.max_target_size = 1 << 20;
    duplex::http_parser p(duplex::http_parser::kind::response, big);
    std::error_code ec;
    FUZZ_CHECK(p.feed(r.data(), r.size(), ec) == head_length);
    FUZZ_CHECK(!ec && p.done());
    const std::string_view body = r.substr(head_length);

    FUZZ_CHECK(s.accepted() == (p.head().status == 101));
    if (s.accepted())
        check_accepted(s, p.head(), body);
    else
        check_refused(s, p.head(), body);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    duplex::server_handshake whole(options());
    const outcome a = feed_whole(whole, data, size);
    duplex::server_handshake chunked(options());
    const outcome b = feed_chunked(chunked, data, size);
    FUZZ_CHECK(a == b);

    if (!a.done) {
        FUZZ_CHECK(a.used == size && !a.ec && !a.accepted && a.response.empty());
        return 0;
    }
    check_response(whole);
    return 0;
}
