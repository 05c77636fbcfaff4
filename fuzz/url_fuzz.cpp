// duplex fuzzing — ws:// and wss:// URLs (RFC 6455 §3, RFC 3986 §3).
// SPDX-License-Identifier: MIT
//
// Input: a URL. Properties checked:
//   - failure: a URL error, and the output is left as it was.
//   - success: the scheme was ws or wss (any case) and `secure` says which; the host is not
//     empty, an IPv6 literal comes without brackets and a name or IPv4 address holds only
//     unreserved characters; the port is not 0 and is the scheme's default when none was
//     given; the target starts with '/' and is what followed the authority ("/" prepended
//     to a bare query); host_field() names the port exactly when it is not the default.
//   - round trip: ("ws://" or "wss://") + host_field() + target parses to the same URL.
//   - the upgrade request build_upgrade_request makes for host_field() and target is one
//     http_parser reads whole and parse_upgrade_request takes, with that Host and target.

#include "fuzz_check.hpp"
#include "http_check.hpp"

#include <duplex/core/client_handshake.hpp>
#include <duplex/core/error.hpp>
#include <duplex/core/http.hpp>
#include <duplex/core/server_handshake.hpp>
#include <duplex/core/url.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

namespace {

namespace ref = duplex_fuzz::ref;
using duplex::error;

bool same(const duplex::ws_url& a, const duplex::ws_url& b) {
    return a.secure == b.secure && a.ipv6 == b.ipv6 && a.host == b.host && a.port == b.port &&
           a.target == b.target;
}

bool unreserved(char c) { // RFC 3986 §2.3
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

void check_success(std::string_view text, const duplex::ws_url& url) {
    // Scheme.
    const std::size_t colon = text.find("://");
    FUZZ_CHECK(colon != text.npos);
    const std::string_view scheme = text.substr(0, colon);
    FUZZ_CHECK(ref::ieq(scheme, "ws") || ref::ieq(scheme, "wss"));
    FUZZ_CHECK(url.secure == ref::ieq(scheme, "wss"));

    // Authority and target, split here.
    const std::string_view rest = text.substr(colon + 3);
    const std::size_t authority_end = rest.find_first_of("/?");
    const std::string_view authority = rest.substr(0, authority_end);
    const std::string_view after = authority_end == rest.npos ? std::string_view{} : rest.substr(authority_end);
    FUZZ_CHECK(!url.target.empty() && url.target.front() == '/');
    if (after.empty())
        FUZZ_CHECK(url.target == "/");
    else if (after.front() == '?')
        FUZZ_CHECK(url.target == "/" + std::string(after));
    else
        FUZZ_CHECK(url.target == after);
    for (char c : text) {
        const auto u = static_cast<unsigned char>(c);
        FUZZ_CHECK(u > 0x20 && u < 0x7F && c != '#');
    }

    // Host and port.
    FUZZ_CHECK(!url.host.empty());
    FUZZ_CHECK(authority.find('@') == authority.npos);
    std::string_view port_text;
    if (url.ipv6) {
        FUZZ_CHECK(authority.substr(0, url.host.size() + 2) == "[" + url.host + "]");
        port_text = authority.substr(url.host.size() + 2);
        for (char c : url.host)
            FUZZ_CHECK(c == ':' || c == '.' || (c >= '0' && c <= '9') ||
                       (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'));
        FUZZ_CHECK(url.host.find(':') != std::string::npos);
    } else {
        FUZZ_CHECK(authority.substr(0, url.host.size()) == url.host);
        port_text = authority.substr(url.host.size());
        for (char c : url.host)
            FUZZ_CHECK(unreserved(c));
    }
    const std::uint16_t default_port = url.secure ? 443 : 80;
    FUZZ_CHECK(url.port != 0);
    if (port_text.empty()) {
        FUZZ_CHECK(url.port == default_port);
    } else {
        FUZZ_CHECK(port_text.front() == ':' && port_text.size() >= 2 && port_text.size() <= 6);
        unsigned long value = 0;
        for (char c : port_text.substr(1)) {
            FUZZ_CHECK(c >= '0' && c <= '9');
            value = value * 10 + static_cast<unsigned long>(c - '0');
        }
        FUZZ_CHECK(value == url.port);
    }
    const std::string field = url.host_field();
    const std::string bare = url.ipv6 ? "[" + url.host + "]" : url.host;
    if (url.port == default_port)
        FUZZ_CHECK(field == bare);
    else
        FUZZ_CHECK(field == bare + ":" + std::to_string(url.port));

    // Round trip.
    const std::string again = (url.secure ? "wss://" : "ws://") + field + url.target;
    duplex::ws_url back;
    std::error_code ec;
    FUZZ_CHECK(duplex::parse_url(again, back, ec) && !ec);
    FUZZ_CHECK(same(back, url));
    FUZZ_CHECK(back.host_field() == field);

    // The upgrade request for it is one a server takes.
    const std::string request = duplex::build_upgrade_request(field, url.target,
                                                              "dGhlIHNhbXBsZSBub25jZQ==", {}, ec);
    FUZZ_CHECK(!ec && !request.empty());
    duplex::http_limits big;
    big.max_head_size = 1 << 20;
    big.max_target_size = 1 << 20;
    duplex::http_parser p(duplex::http_parser::kind::request, big);
    FUZZ_CHECK(p.feed(request.data(), request.size(), ec) == request.size());
    FUZZ_CHECK(!ec && p.done());
    duplex::upgrade_request req;
    FUZZ_CHECK(duplex::parse_upgrade_request(p.head(), req, ec) && !ec);
    FUZZ_CHECK(req.host == field && req.target == url.target);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    duplex::ws_url url;
    url.host = "untouched";
    url.port = 7;
    url.target = "/untouched";
    std::error_code ec = std::make_error_code(std::errc::invalid_argument);
    if (duplex::parse_url(text, url, ec)) {
        FUZZ_CHECK(!ec);
        check_success(text, url);
        return 0;
    }
    FUZZ_CHECK(ec == error::url_bad_scheme || ec == error::url_bad_host ||
               ec == error::url_bad_port || ec == error::url_bad_syntax);
    FUZZ_CHECK(!url.secure && !url.ipv6 && url.host == "untouched" && url.port == 7 &&
               url.target == "/untouched");
    return 0;
}
