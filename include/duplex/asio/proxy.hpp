// duplex — settings for reaching a WebSocket server through an HTTP proxy tunnel (RFC 9110
// §9.3.6 CONNECT, RFC 7617 Basic credentials): the proxy's address and credentials, the
// CONNECT request, and the verdict on the proxy's answer. async_connect in
// <duplex/asio/connect.hpp> does the I/O. This header itself needs no Asio.
// SPDX-License-Identifier: MIT
#pragma once

#include <duplex/core/base64.hpp>
#include <duplex/core/detail/text.hpp>
#include <duplex/core/error.hpp>
#include <duplex/core/handshake.hpp>
#include <duplex/core/http.hpp>
#include <duplex/core/url.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace duplex {
namespace asio {

/// An HTTP proxy to open a CONNECT tunnel through. Fill the fields or use parse_proxy_url().
struct proxy_options {
    std::string host;        // name, IPv4 or IPv6 address (IPv6 without brackets)
    std::uint16_t port = 0;
    std::string username;    // with a password: "Proxy-Authorization: Basic base64(user:pass)"
    std::string password;    // (sent when either is non-empty; the username must not hold ':')
    /// Extra fields for the CONNECT request (e.g. a Proxy-Authorization of another scheme when
    /// username and password are empty). Host is always set by duplex.
    header_list headers;
    /// Limit on the proxy's answer: status line and fields up to the blank line, interim 1xx
    /// answers included. Over it: error::proxy_bad_response.
    std::size_t max_response_size = 8 * 1024;
    /// Called with the proxy's final answer before async_connect judges it, whatever its
    /// status (to log a refusal's status and reason, or read Proxy-Authenticate after a 407).
    /// Runs on the stream's executor; the head's views are valid during the call only.
    std::function<void(const http_head&)> on_response;
};

namespace detail {

inline bool has_control_byte(std::string_view s) noexcept {
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7F)
            return true;
    }
    return false;
}

// A host as it may appear in a CONNECT target: a name or IPv4 address of URL host characters,
// or (with `ipv6`) an IPv6 literal. Nothing else reaches the request line: no CR, LF or space.
inline bool is_tunnel_host(std::string_view host, bool ipv6) noexcept {
    if (host.empty())
        return false;
    if (ipv6)
        return duplex::detail::is_ipv6(host);
    for (char c : host)
        if (!duplex::detail::is_url_host_char(c))
            return false;
    return true;
}

inline int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Decodes RFC 3986 %XX escapes; false on a truncated or non-hex escape.
inline bool percent_decode(std::string_view in, std::string& out) {
    out.clear();
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] != '%') {
            out += in[i];
            continue;
        }
        if (i + 2 >= in.size())
            return false;
        const int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
        if (hi < 0 || lo < 0)
            return false;
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    return true;
}

} // namespace detail

/// Parses `http://[user[:password]@]host[:port][/]` into `out`'s host, port, username and
/// password (other fields untouched). The scheme is case-insensitive; the port defaults to 80,
/// the http scheme's; an IPv6 host is written in brackets; user and password may hold %XX
/// escapes (write '@' as %40, ':' in a password as %3A). Decoded credentials must not hold
/// control bytes (CR, LF...). Only plain-HTTP proxies: https:// and socks URLs are refused.
/// Fails with error::proxy_bad_url, leaving `out` unchanged.
inline bool parse_proxy_url(std::string_view text, proxy_options& out, std::error_code& ec) {
    ec.clear();
    auto fail = [&] {
        ec = error::proxy_bad_url;
        return false;
    };
    const std::size_t colon = text.find("://");
    if (colon == text.npos || !duplex::detail::iequals(text.substr(0, colon), "http"))
        return fail();
    text.remove_prefix(colon + 3);
    for (char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u >= 0x7F)
            return fail();
    }
    const std::size_t authority_end = text.find_first_of("/?#");
    if (authority_end != text.npos && text.substr(authority_end) != "/")
        return fail(); // a path, query or fragment means something else than a proxy
    std::string_view authority = text.substr(0, authority_end);

    std::string user, pass;
    const std::size_t at = authority.rfind('@');
    if (at != authority.npos) {
        const std::string_view info = authority.substr(0, at);
        const std::size_t sep = info.find(':');
        if (!detail::percent_decode(info.substr(0, sep), user) ||
            (sep != info.npos && !detail::percent_decode(info.substr(sep + 1), pass)))
            return fail();
        if (user.find(':') != user.npos || detail::has_control_byte(user) || detail::has_control_byte(pass))
            return fail();
        authority.remove_prefix(at + 1);
    }

    std::string_view host, port;
    bool ipv6 = false;
    if (duplex::detail::split_authority(authority, host, port, ipv6) || !detail::is_tunnel_host(host, ipv6))
        return fail();
    std::uint16_t port_value = 80;
    if (!port.empty() && !duplex::detail::parse_port(port, port_value))
        return fail();
    out.host.assign(host.data(), host.size());
    out.port = port_value;
    out.username = std::move(user);
    out.password = std::move(pass);
    return true;
}

/// The CONNECT request that opens a tunnel to `target`'s host and port through `proxy`:
///   CONNECT host:port HTTP/1.1 / Host: host:port / [Proxy-Authorization: Basic ...] / extras.
/// IPv6 targets are bracketed. Refuses, with an empty result, anything that could smuggle a
/// line into the request: error::url_bad_host or url_bad_port for the target,
/// error::proxy_bad_url for the proxy's host, port or credentials (control bytes, ':' in the
/// username), error::bad_header_field for an extra field that is not a token name with a
/// valid value, or that is Host, or Proxy-Authorization while credentials are set.
inline std::string make_connect_request(const proxy_options& proxy, const ws_url& target,
                                        std::error_code& ec) {
    ec.clear();
    if (!detail::is_tunnel_host(target.host, target.ipv6)) {
        ec = error::url_bad_host;
        return {};
    }
    if (target.port == 0) {
        ec = error::url_bad_port;
        return {};
    }
    const bool proxy_ipv6 = proxy.host.find(':') != std::string::npos;
    if (!detail::is_tunnel_host(proxy.host, proxy_ipv6) || proxy.port == 0 ||
        proxy.username.find(':') != std::string::npos || detail::has_control_byte(proxy.username) ||
        detail::has_control_byte(proxy.password)) {
        ec = error::proxy_bad_url;
        return {};
    }
    const bool credentials = !proxy.username.empty() || !proxy.password.empty();
    for (const auto& [name, value] : proxy.headers) {
        const bool ours = duplex::detail::iequals(name, "Host") ||
                          (credentials && duplex::detail::iequals(name, "Proxy-Authorization"));
        bool bad_value = false;
        for (char c : value)
            bad_value = bad_value || !duplex::detail::is_field_byte(c);
        if (!duplex::detail::is_token(name) || bad_value || ours) {
            ec = error::bad_header_field;
            return {};
        }
    }
    const std::string authority =
        (target.ipv6 ? "[" + target.host + "]" : target.host) + ":" + std::to_string(target.port);
    std::string out = "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n";
    if (credentials)
        out += "Proxy-Authorization: Basic " + base64_encode(proxy.username + ":" + proxy.password) + "\r\n";
    for (const auto& [name, value] : proxy.headers)
        out += name + ": " + std::string(duplex::detail::trim_ows(value)) + "\r\n";
    out += "\r\n";
    return out;
}

/// The verdict on the proxy's final answer to CONNECT: none for 2xx (the tunnel is open),
/// error::proxy_auth_required for 407, and for 401, which some proxies send for wrong
/// credentials (tinyproxy 1.11 does; an answer to CONNECT is the proxy's own, never the
/// server's), error::proxy_refused for any other status.
inline std::error_code proxy_response_error(const http_head& head) noexcept {
    if (head.status >= 200 && head.status <= 299)
        return {};
    if (head.status == 407 || head.status == 401)
        return error::proxy_auth_required;
    return error::proxy_refused;
}

} // namespace asio
} // namespace duplex
