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
            if (quoted && c == '\\') {
                ++i;
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

} // namespace detail

} // namespace duplex
