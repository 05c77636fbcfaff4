// duplex — what both sides of the opening handshake share (RFC 6455 §4, §9.1, §11.3):
// Sec-WebSocket-Key and -Accept, extension lists, and response header lists.
// SPDX-License-Identifier: MIT
#pragma once

#include <duplex/core/base64.hpp>
#include <duplex/core/http.hpp>
#include <duplex/core/sha1.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace duplex {

/// The GUID RFC 6455 §1.3 appends to the key before hashing.
inline constexpr std::string_view websocket_guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/// Characters in a Sec-WebSocket-Key (base64 of 16 bytes) and in a Sec-WebSocket-Accept
/// (base64 of a 20-byte SHA-1 digest).
inline constexpr std::size_t key_size = 24;
inline constexpr std::size_t accept_size = 28;

/// Extra header fields for a request or response, in order.
using header_list = std::vector<std::pair<std::string, std::string>>;

/// Writes the Sec-WebSocket-Accept value for `key` into `out` (accept_size characters):
/// base64(SHA-1(key + GUID)) (RFC 6455 §4.2.2). No allocation.
inline void accept_key(std::string_view key, char* out) noexcept {
    sha1 h;
    h.update(key.data(), key.size());
    h.update(websocket_guid.data(), websocket_guid.size());
    const sha1::digest d = h.finish();
    base64_encode(d.data(), d.size(), out);
}

/// The Sec-WebSocket-Accept value for `key`: accept_key("dGhlIHNhbXBsZSBub25jZQ==") is
/// "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".
inline std::string accept_key(std::string_view key) {
    std::string out(accept_size, '\0');
    accept_key(key, out.data());
    return out;
}

/// True if `key` is a valid Sec-WebSocket-Key: canonical base64 of exactly 16 bytes (§4.1).
inline bool is_valid_key(std::string_view key) noexcept {
    unsigned char raw[base64_decoded_max(key_size)];
    std::size_t n = 0;
    return key.size() == key_size && base64_decode(key, raw, n) && n == 16;
}

/// A fresh Sec-WebSocket-Key: 16 bytes from `rng`, base64-encoded (RFC 6455 §4.1 requires a
/// randomly selected nonce). Use an unpredictable generator, such as std::random_device.
template <class Generator>
std::string generate_key(Generator& rng) {
    std::uniform_int_distribution<unsigned> byte(0, 255);
    unsigned char raw[16];
    for (auto& b : raw)
        b = static_cast<unsigned char>(byte(rng));
    std::string out(key_size, '\0');
    base64_encode(raw, sizeof raw, out.data());
    return out;
}

inline std::string generate_key() {
    std::random_device rd;
    return generate_key(rd);
}

/// One parameter of an extension: `name` or `name=value` (a quoted value is unquoted).
struct extension_param {
    std::string name;
    std::string value;
    bool has_value = false;
};

/// One extension in a Sec-WebSocket-Extensions list (an offer, or the answer to one), e.g.
/// `permessage-deflate; client_max_window_bits` (RFC 6455 §9.1).
struct extension_offer {
    std::string name;
    std::vector<extension_param> params;

    /// The parameter named `name` (case-insensitive), or nullptr.
    const extension_param* find(std::string_view param) const noexcept {
        for (const auto& p : params)
            if (detail::iequals(p.name, param))
                return &p;
        return nullptr;
    }
};

namespace detail {

// A token, or a quoted-string whose unescaped content is a token (RFC 6455 §9.1).
inline bool parse_param_value(std::string_view v, std::string& out) {
    out.clear();
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') {
        for (std::size_t i = 1; i + 1 < v.size(); ++i) {
            char c = v[i];
            if (c == '"')
                return false;
            if (c == '\\') {
                if (i + 2 >= v.size())
                    return false;
                c = v[++i];
            }
            out.push_back(c);
        }
        return is_token(out);
    }
    if (!is_token(v))
        return false;
    out.assign(v.data(), v.size());
    return true;
}

// Splits on ';' outside quoted strings.
template <class F>
bool for_each_semicolon_part(std::string_view s, F&& f) {
    std::size_t start = 0;
    bool quoted = false;
    for (std::size_t i = 0; i <= s.size(); ++i) {
        if (i < s.size()) {
            if (quoted && s[i] == '\\' && i + 1 < s.size()) {
                ++i; // an escaped character, never a delimiter
                continue;
            }
            if (s[i] == '"')
                quoted = !quoted;
            if (quoted || s[i] != ';')
                continue;
        }
        if (!f(trim_ows(s.substr(start, i - start))))
            return false;
        start = i + 1;
    }
    return !quoted;
}

} // namespace detail

/// Parses one Sec-WebSocket-Extensions value (RFC 6455 §9.1) and appends its extensions to
/// `out`, in order. Returns false, leaving `out` as it was, if the value is malformed.
inline bool parse_extensions(std::string_view value, std::vector<extension_offer>& out) {
    const std::size_t old_size = out.size();
    const bool ok = detail::for_each_element(value, [&](std::string_view element) {
        extension_offer ext;
        bool first = true;
        const bool parts_ok = detail::for_each_semicolon_part(element, [&](std::string_view part) {
            if (first) {
                first = false;
                if (!detail::is_token(part))
                    return false;
                ext.name.assign(part.data(), part.size());
                return true;
            }
            extension_param p;
            const std::size_t eq = part.find('=');
            const std::string_view name = detail::trim_ows(part.substr(0, eq));
            if (!detail::is_token(name))
                return false;
            p.name.assign(name.data(), name.size());
            if (eq != part.npos) {
                p.has_value = true;
                if (!detail::parse_param_value(detail::trim_ows(part.substr(eq + 1)), p.value))
                    return false;
            }
            ext.params.push_back(std::move(p));
            return true;
        });
        if (!parts_ok)
            return false;
        out.push_back(std::move(ext));
        return true;
    });
    if (!ok)
        out.resize(old_size);
    return ok;
}

/// Formats extensions as a Sec-WebSocket-Extensions value: `a; p=1, b`.
inline std::string format_extensions(const std::vector<extension_offer>& exts) {
    std::string out;
    for (const auto& e : exts) {
        if (!out.empty())
            out += ", ";
        out += e.name;
        for (const auto& p : e.params) {
            out += "; ";
            out += p.name;
            if (p.has_value) {
                out += '=';
                out += p.value;
            }
        }
    }
    return out;
}

namespace detail {

// A header field the application adds: a token name and a value without control bytes,
// CR or LF (so it cannot inject further fields).
inline bool valid_field(std::string_view name, std::string_view value) noexcept {
    if (!is_token(name))
        return false;
    for (char c : value)
        if (!is_field_byte(c))
            return false;
    return trim_ows(value).size() == value.size();
}

// Extra fields are valid and leave alone the ones the handshake sets itself: Host, Upgrade,
// Connection, Content-Length, Transfer-Encoding and Sec-WebSocket-*.
inline bool valid_extra_fields(const header_list& fields) noexcept {
    for (const auto& [name, value] : fields) {
        const std::string_view n = name;
        const bool owned = iequals(n, "Host") || iequals(n, "Upgrade") || iequals(n, "Connection") ||
                           iequals(n, "Content-Length") || iequals(n, "Transfer-Encoding") ||
                           (n.size() >= 14 && iequals(n.substr(0, 14), "Sec-WebSocket-"));
        if (owned || !valid_field(name, value))
            return false;
    }
    return true;
}

inline void append_field(std::string& out, std::string_view name, std::string_view value) {
    out.append(name.data(), name.size());
    out += ": ";
    out.append(value.data(), value.size());
    out += "\r\n";
}

} // namespace detail

} // namespace duplex
