// duplex — ws:// and wss:// URLs (RFC 6455 §3, RFC 3986 §3).
// SPDX-License-Identifier: MIT
#pragma once

#include <duplex/core/detail/text.hpp>
#include <duplex/core/error.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace duplex {

/// A parsed WebSocket URL.
struct ws_url {
    bool secure = false;     // wss://
    bool ipv6 = false;       // host is an IPv6 literal (given in brackets)
    std::string host;        // "example.com", "127.0.0.1" or "::1" (no brackets)
    std::uint16_t port = 0;  // explicit, or 80 / 443 by scheme
    std::string target;      // path and query for the request line; at least "/"

    /// The Host field for the request: the host (bracketed if IPv6), with ":port" only when
    /// the port is not the scheme's default (RFC 9110 §7.2).
    std::string host_field() const {
        std::string out = ipv6 ? "[" + host + "]" : host;
        if (port != (secure ? 443 : 80))
            out += ":" + std::to_string(port);
        return out;
    }
};

namespace detail {

inline bool is_url_host_char(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

// Dotted-quad IPv4: four decimal numbers 0-255 of 1-3 digits.
inline bool is_ipv4(std::string_view s) noexcept {
    int parts = 0;
    std::size_t start = 0;
    for (;;) {
        const std::size_t dot = s.find('.', start);
        const std::string_view part = s.substr(start, dot == s.npos ? s.npos : dot - start);
        if (part.empty() || part.size() > 3)
            return false;
        unsigned value = 0;
        for (char c : part) {
            if (c < '0' || c > '9')
                return false;
            value = value * 10 + static_cast<unsigned>(c - '0');
        }
        if (value > 255 || ++parts > 4)
            return false;
        if (dot == s.npos)
            return parts == 4;
        start = dot + 1;
    }
}

// Counts the 16-bit groups of one side of an IPv6 address (RFC 4291 §2.2); an IPv4 tail,
// where allowed, counts as two. False if a group is empty, too long or not hex.
inline bool ipv6_groups(std::string_view part, bool ipv4_tail, int& groups) noexcept {
    if (part.empty())
        return true;
    std::size_t start = 0;
    for (;;) {
        const std::size_t colon = part.find(':', start);
        const std::string_view g = part.substr(start, colon == part.npos ? part.npos : colon - start);
        if (colon == part.npos && ipv4_tail && g.find('.') != g.npos) {
            groups += 2;
            return is_ipv4(g);
        }
        if (g.empty() || g.size() > 4)
            return false;
        for (char c : g) {
            const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
            if (!hex)
                return false;
        }
        ++groups;
        if (colon == part.npos)
            return true;
        start = colon + 1;
    }
}

// An IPv6 address as written inside URL brackets: eight groups, or fewer around one "::".
inline bool is_ipv6(std::string_view s) noexcept {
    const std::size_t gap = s.find("::");
    int groups = 0;
    if (gap == s.npos)
        return ipv6_groups(s, true, groups) && groups == 8;
    if (s.find("::", gap + 1) != s.npos)
        return false;
    return ipv6_groups(s.substr(0, gap), false, groups) &&
           ipv6_groups(s.substr(gap + 2), true, groups) && groups <= 7;
}

// Splits an authority without user info into its host and port: "host", "host:port",
// "[v6]" or "[v6]:port" (the brackets dropped, `bracketed` set). An empty port after ':' fails
// with url_bad_port, anything but ':' after ']' with url_bad_host; the host itself is not
// checked here.
inline std::error_code split_authority(std::string_view authority, std::string_view& host, std::string_view& port,
                                       bool& bracketed) noexcept {
    port = {};
    bracketed = !authority.empty() && authority.front() == '[';
    std::string_view after;
    if (bracketed) {
        const std::size_t close = authority.find(']');
        if (close == authority.npos)
            return error::url_bad_host;
        host = authority.substr(1, close - 1);
        after = authority.substr(close + 1);
        if (!after.empty() && after.front() != ':')
            return error::url_bad_host;
    } else {
        const std::size_t c = authority.find(':');
        host = authority.substr(0, c);
        after = c == authority.npos ? std::string_view{} : authority.substr(c);
    }
    if (!after.empty()) {
        port = after.substr(1);
        if (port.empty())
            return error::url_bad_port;
    }
    return {};
}

// A decimal port, 1-65535, at most 5 digits.
inline bool parse_port(std::string_view text, std::uint16_t& out) noexcept {
    if (text.empty() || text.size() > 5)
        return false;
    unsigned long value = 0;
    for (char c : text) {
        if (c < '0' || c > '9')
            return false;
        value = value * 10 + static_cast<unsigned long>(c - '0');
    }
    if (value == 0 || value > 65535)
        return false;
    out = static_cast<std::uint16_t>(value);
    return true;
}

} // namespace detail

/// Parses `ws://host[:port][/path][?query]` or `wss://...`. The scheme is case-insensitive;
/// the host is a DNS name, an IPv4 address, or an IPv6 literal in brackets. Fails with
/// url_bad_scheme, url_bad_host, url_bad_port or url_bad_syntax (user info, a fragment, which
/// RFC 6455 §3 forbids, spaces, or bytes outside printable ASCII). On failure `out` is unchanged.
inline bool parse_url(std::string_view text, ws_url& out, std::error_code& ec) {
    ec.clear();
    auto fail = [&](std::error_code e) {
        ec = e;
        return false;
    };
    const std::size_t colon = text.find("://");
    if (colon == text.npos)
        return fail(error::url_bad_scheme);
    std::string scheme(text.substr(0, colon));
    for (auto& c : scheme)
        c = detail::lower(c);
    ws_url url;
    if (scheme == "wss")
        url.secure = true;
    else if (scheme != "ws")
        return fail(error::url_bad_scheme);
    text.remove_prefix(colon + 3);

    for (char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u >= 0x7F || c == '#')
            return fail(error::url_bad_syntax);
    }
    const std::size_t authority_end = text.find_first_of("/?");
    std::string_view authority = text.substr(0, authority_end);
    const std::string_view rest = authority_end == text.npos ? std::string_view{} : text.substr(authority_end);
    if (authority.find('@') != authority.npos)
        return fail(error::url_bad_syntax);

    std::string_view host, port;
    if (const std::error_code split = detail::split_authority(authority, host, port, url.ipv6))
        return fail(split);
    if (url.ipv6 ? !detail::is_ipv6(host)
                 : !std::all_of(host.begin(), host.end(), [](char ch) { return detail::is_url_host_char(ch); }))
        return fail(error::url_bad_host);
    if (host.empty())
        return fail(error::url_bad_host);

    url.port = url.secure ? 443 : 80;
    if (!port.empty() && !detail::parse_port(port, url.port))
        return fail(error::url_bad_port);
    url.host.assign(host.data(), host.size());
    url.target = rest.empty() || rest.front() == '?' ? "/" + std::string(rest) : std::string(rest);
    out = std::move(url);
    return true;
}

} // namespace duplex
