// duplex fuzzing — what the HTTP and handshake harnesses share: fuzzer-chosen chunking, and
// small reference checks of HTTP text (RFC 9110 §5, RFC 9112 §2) written independently of
// duplex's own helpers, so that a harness never checks duplex against itself.
// SPDX-License-Identifier: MIT
#pragma once

#include "fuzz_check.hpp"

#include <duplex/core/http.hpp>

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace duplex_fuzz {

// A hash of the input, to pick a chunking when the input has no byte to spare for it.
inline std::uint64_t fnv1a(const std::uint8_t* data, std::size_t size) {
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (std::size_t i = 0; i < size; ++i) {
        h ^= data[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

// Splits a byte stream into pieces whose sizes follow a seed: single bytes, short and medium
// runs, and arbitrary cuts of what is left, including empty pieces.
class chunker {
public:
    explicit chunker(std::uint64_t seed) : state_(seed) {}

    std::size_t next(std::size_t remaining) {
        const std::uint64_t r = step();
        std::size_t n;
        switch (r & 3) {
        case 0: n = 1; break;
        case 1: n = 1 + static_cast<std::size_t>((r >> 8) % 8); break;
        case 2: n = 1 + static_cast<std::size_t>((r >> 8) % 64); break;
        default: n = static_cast<std::size_t>((r >> 8) % (remaining + 1)); break;
        }
        return n < remaining ? n : remaining;
    }

private:
    std::uint64_t step() { // splitmix64
        std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }

    std::uint64_t state_;
};

namespace ref {

// A Host value (RFC 9112 §3.2, RFC 3986 §3.2.2-3.2.3), written out long-hand: a name of
// unreserved, sub-delims and '%' characters, or a bracketed literal of hex digits, ':' and '.',
// then optionally ':' and 1-5 digits.
inline bool host_field(std::string_view v) {
    std::string_view host = v, port;
    if (!v.empty() && v[0] == '[') {
        const std::size_t close = v.find(']');
        if (close == std::string_view::npos || close < 3)
            return false;
        for (std::size_t i = 1; i < close; ++i) {
            const char c = v[i];
            if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.')
                return false;
        }
        host = {};
        if (close + 1 < v.size()) {
            if (v[close + 1] != ':')
                return false;
            port = v.substr(close + 2);
            if (port.empty())
                return false;
        }
    } else {
        const std::size_t colon = v.find(':');
        if (colon != std::string_view::npos) {
            host = v.substr(0, colon);
            port = v.substr(colon + 1);
            if (port.empty())
                return false;
        }
        if (host.empty())
            return false;
        const std::string_view allowed = "-._~!$&'()*+,;=%";
        for (char c : host)
            if (!std::isalnum(static_cast<unsigned char>(c)) && allowed.find(c) == std::string_view::npos)
                return false;
    }
    if (port.size() > 5)
        return false;
    for (char c : port)
        if (c < '0' || c > '9')
            return false;
    return true;
}

inline char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

inline bool ieq(std::string_view a, std::string_view b) {
    if (a.size() != b.size())
        return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i]))
            return false;
    return true;
}

// tchar, RFC 9110 §5.6.2: "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" /
// "_" / "`" / "|" / "~" / DIGIT / ALPHA.
inline bool tchar(char c) {
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

inline bool token(std::string_view s) {
    if (s.empty())
        return false;
    for (char c : s)
        if (!tchar(c))
            return false;
    return true;
}

// field-vchar / SP / HTAB, RFC 9110 §5.5 (obs-text included).
inline bool field_byte(char c) {
    const auto u = static_cast<unsigned char>(c);
    return u == 0x09 || (u >= 0x20 && u != 0x7F);
}

inline bool ows(char c) { return c == ' ' || c == '\t'; }

inline std::string_view trim(std::string_view s) {
    std::size_t b = 0, e = s.size();
    while (b < e && ows(s[b]))
        ++b;
    while (e > b && ows(s[e - 1]))
        --e;
    return s.substr(b, e - b);
}

// A field value as the parser should give it: field bytes only, nothing to trim.
inline bool clean_value(std::string_view v) {
    for (char c : v)
        if (!field_byte(c) || c == '\r' || c == '\n' || c == '\0')
            return false;
    return v.empty() || (!ows(v.front()) && !ows(v.back()));
}

// The elements of a comma-separated list, trimmed, empty ones dropped. Naive: it splits at
// every comma, quoted or not, which is exact for the token lists the handshake accepts.
inline std::vector<std::string_view> elements(std::string_view list) {
    std::vector<std::string_view> out;
    std::size_t start = 0;
    for (;;) {
        const std::size_t comma = list.find(',', start);
        const std::string_view e = trim(list.substr(start, comma == list.npos ? list.npos : comma - start));
        if (!e.empty())
            out.push_back(e);
        if (comma == list.npos)
            return out;
        start = comma + 1;
    }
}

inline std::size_t count(const duplex::http_head& h, std::string_view name) {
    std::size_t n = 0;
    for (const auto& f : h.fields)
        n += ieq(f.name, name) ? 1 : 0;
    return n;
}

// The value of the first field named `name`; empty if none.
inline std::string_view first(const duplex::http_head& h, std::string_view name) {
    for (const auto& f : h.fields)
        if (ieq(f.name, name))
            return f.value;
    return {};
}

// Some field named `name` lists `element` (case-insensitive).
inline bool lists(const duplex::http_head& h, std::string_view name, std::string_view element) {
    for (const auto& f : h.fields)
        if (ieq(f.name, name))
            for (std::string_view e : elements(f.value))
                if (ieq(e, element))
                    return true;
    return false;
}

// Upgrade and Connection are lists of tokens (RFC 9110 §7.6.1, §7.8). A quote in one makes it
// malformed, and duplex reads it as opening a quoted string that commas do not split, so its
// elements are not what `elements` says: a handshake may then fail on that field alone.
inline bool quote_in_upgrade_fields(const duplex::http_head& h) {
    for (const auto& f : h.fields)
        if ((ieq(f.name, "Upgrade") || ieq(f.name, "Connection")) &&
            f.value.find('"') != std::string_view::npos)
            return true;
    return false;
}

// A Sec-WebSocket-Key: canonical base64 of 16 bytes (RFC 6455 §4.1, RFC 4648 §4): 21 free
// characters, a 22nd that carries 2 bits and four zero bits, then "==".
inline bool websocket_key(std::string_view k) {
    const std::string_view alphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (k.size() != 24 || k[22] != '=' || k[23] != '=')
        return false;
    for (std::size_t i = 0; i < 21; ++i)
        if (alphabet.find(k[i]) == alphabet.npos)
            return false;
    return std::string_view("AQgw").find(k[21]) != std::string_view::npos;
}

// Checks that `text` starts with an HTTP head made of CRLF-terminated lines, the only empty
// one being the last, with no CR or LF anywhere else: a head nobody injected a line into.
// Returns the head's length, through its blank line.
inline std::size_t checked_head_length(std::string_view text) {
    const std::size_t end = text.find("\r\n\r\n");
    FUZZ_CHECK(end != text.npos && end > 0);
    const std::size_t length = end + 4;
    std::size_t line_start = 0;
    for (std::size_t i = 0; i < length; ++i) {
        if (text[i] == '\r') {
            FUZZ_CHECK(i + 1 < length && text[i + 1] == '\n'); // CR only in CRLF
        } else if (text[i] == '\n') {
            FUZZ_CHECK(i > 0 && text[i - 1] == '\r'); // LF only in CRLF
            const std::size_t line_length = i - 1 - line_start;
            FUZZ_CHECK(line_length > 0 || i + 1 == length); // the only empty line is the last
            line_start = i + 1;
        } else {
            FUZZ_CHECK(text[i] != '\0');
        }
    }
    FUZZ_CHECK(line_start == length);
    return length;
}

} // namespace ref

} // namespace duplex_fuzz
