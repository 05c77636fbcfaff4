// duplex — ASCII text helpers for HTTP fields (RFC 9110 §5.5-§5.6). Internal.
// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <string_view>

namespace duplex {

namespace detail {

inline char lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

inline bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size())
        return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i]))
            return false;
    return true;
}

// tchar (RFC 9110 §5.6.2).
inline bool is_tchar(char c) noexcept {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
        return true;
    default:
        return false;
    }
}

inline bool is_token(std::string_view s) noexcept {
    if (s.empty())
        return false;
    for (char c : s)
        if (!is_tchar(c))
            return false;
    return true;
}

inline bool is_ows(char c) noexcept { return c == ' ' || c == '\t'; }

inline std::string_view trim_ows(std::string_view s) noexcept {
    while (!s.empty() && is_ows(s.front()))
        s.remove_prefix(1);
    while (!s.empty() && is_ows(s.back()))
        s.remove_suffix(1);
    return s;
}

// A field value byte: SP, HTAB, VCHAR or obs-text (RFC 9110 §5.5). Rejects NUL, CR, LF, DEL, CTLs.
inline bool is_field_byte(char c) noexcept {
    const auto u = static_cast<unsigned char>(c);
    return u == '\t' || (u >= 0x20 && u != 0x7F);
}

// Calls f(element) for each element of a comma-separated list (RFC 9110 §5.6.1), trimmed of
// OWS, skipping empty ones; commas inside quoted strings do not split. Stops early if f
// returns false, and then returns false.
template <class F>
bool for_each_element(std::string_view list, F&& f) {
    std::size_t start = 0;
    bool quoted = false;
    for (std::size_t i = 0; i <= list.size(); ++i) {
        if (i < list.size()) {
            const char c = list[i];
            if (quoted && c == '\\' && i + 1 < list.size()) {
                ++i; // an escaped character, never a delimiter
                continue;
            }
            if (c == '"')
                quoted = !quoted;
            if (quoted || c != ',')
                continue;
        }
        const std::string_view element = trim_ows(list.substr(start, i - start));
        if (!element.empty() && !f(element))
            return false;
        start = i + 1;
    }
    return true;
}

// A Host field value (RFC 9112 §3.2, RFC 3986 §3.2.2): a registered name or IPv4 address
// (unreserved, sub-delims and %-escapes) or a bracketed IP literal, then an optional ":port".
inline bool is_host_field(std::string_view v) noexcept {
    std::size_t i = 0;
    if (!v.empty() && v.front() == '[') {
        const std::size_t close = v.find(']');
        if (close == v.npos || close < 3)
            return false;
        for (i = 1; i < close; ++i) {
            const char c = v[i];
            const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
            if (!hex && c != ':' && c != '.')
                return false;
        }
        ++i;
    } else {
        for (; i < v.size() && v[i] != ':'; ++i) {
            const char c = v[i];
            const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
            if (!alnum && std::string_view("-._~!$&'()*+,;=%").find(c) == std::string_view::npos)
                return false;
        }
        if (i == 0)
            return false;
    }
    if (i == v.size())
        return true;
    if (v[i] != ':' || i + 1 == v.size() || v.size() - i - 1 > 5)
        return false;
    for (++i; i < v.size(); ++i)
        if (v[i] < '0' || v[i] > '9')
            return false;
    return true;
}

} // namespace detail

} // namespace duplex
