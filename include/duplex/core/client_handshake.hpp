// duplex — the client's side of the opening handshake (RFC 6455 §4.1).
// SPDX-License-Identifier: MIT
#pragma once

#include <duplex/core/error.hpp>
#include <duplex/core/handshake.hpp>
#include <duplex/core/http.hpp>
#include <duplex/core/url.hpp>

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace duplex {

/// What a client asks for in its upgrade request.
struct client_handshake_options {
    std::vector<std::string> subprotocols; // offered, most preferred first
    std::vector<extension_offer> extensions;     // offered, in order
    header_list headers;                   // extra fields: Origin, Authorization, Cookie, ...
    http_limits limits;                    // for the server's response head
    /// Checks the extensions the server accepted, with their parameters (each was offered, none
    /// twice); return false to fail the handshake with handshake_bad_extension. permessage-deflate
    /// (enable_deflate) plugs in here.
    std::function<bool(const std::vector<extension_offer>& accepted)> accept_extensions;
};

/// Builds the upgrade request for `host` (the Host field, e.g. ws_url::host_field()) and
/// `target` (path and query) with Sec-WebSocket-Key `key`. Fails with url_bad_syntax for a
/// target that is not an origin-form path or a host that is not a valid field value, and
/// bad_header_field for a subprotocol that is not a token or an invalid or reserved extra field.
inline std::string build_upgrade_request(std::string_view host, std::string_view target,
                                         std::string_view key, const client_handshake_options& options,
                                         std::error_code& ec) {
    ec.clear();
    bool target_ok = !target.empty() && target.front() == '/';
    for (char c : target) {
        const auto u = static_cast<unsigned char>(c);
        target_ok = target_ok && u > 0x20 && u < 0x7F && c != '#';
    }
    if (!target_ok || host.empty() || !detail::valid_field("Host", host)) {
        ec = error::url_bad_syntax;
        return {};
    }
    for (const auto& p : options.subprotocols) {
        if (!detail::is_token(p)) {
            ec = error::bad_header_field;
            return {};
        }
    }
    if (!detail::valid_extra_fields(options.headers)) {
        ec = error::bad_header_field;
        return {};
    }
    std::string out = "GET ";
    out.append(target.data(), target.size());
    out += " HTTP/1.1\r\n";
    detail::append_field(out, "Host", host);
    detail::append_field(out, "Upgrade", "websocket");
    detail::append_field(out, "Connection", "Upgrade");
    detail::append_field(out, "Sec-WebSocket-Key", key);
    detail::append_field(out, "Sec-WebSocket-Version", "13");
    if (!options.subprotocols.empty()) {
        std::string list;
        for (const auto& p : options.subprotocols)
            list += (list.empty() ? "" : ", ") + p;
        detail::append_field(out, "Sec-WebSocket-Protocol", list);
    }
    if (!options.extensions.empty())
        detail::append_field(out, "Sec-WebSocket-Extensions", format_extensions(options.extensions));
    for (const auto& [name, value] : options.headers)
        detail::append_field(out, name, value);
    out += "\r\n";
    return out;
}

/// Drives the client's handshake: start() gives the request to send; feed() the response
/// bytes as they arrive until done(). A response that is not a valid acceptance of this request
/// is an error naming the broken rule; status() tells a non-101 answer's code (401, 404, 503...).
class client_handshake {
public:
    explicit client_handshake(client_handshake_options options = {})
        : options_(std::move(options)), parser_(http_parser::kind::response, options_.limits) {}

    /// Builds the request with a fresh random key (generate_key). Empty on error.
    std::string_view start(std::string_view host, std::string_view target, std::error_code& ec) {
        return start(host, target, generate_key(), ec);
    }

    std::string_view start(const ws_url& url, std::error_code& ec) {
        return start(url.host_field(), url.target, ec);
    }

    /// Builds the request with a given key (tests, or an application with its own randomness).
    std::string_view start(std::string_view host, std::string_view target, std::string key,
                           std::error_code& ec) {
        key_ = std::move(key);
        request_ = build_upgrade_request(host, target, key_, options_, ec);
        return request_;
    }

    /// Reads response bytes and returns how many it used; bytes after the head are the
    /// server's first frames and are left to the caller.
    std::size_t feed(const void* data, std::size_t size, std::error_code& ec) {
        ec.clear();
        if (done_) {
            ec = error_;
            return 0;
        }
        const std::size_t used = parser_.feed(data, size, ec);
        if (!ec && parser_.done())
            validate(ec);
        if (ec) {
            error_ = ec;
            done_ = true;
        } else if (parser_.done()) {
            done_ = true;
            accepted_ = true;
        }
        return used;
    }

    bool done() const noexcept { return done_; }
    bool accepted() const noexcept { return accepted_; }
    std::error_code error() const noexcept { return error_; }
    /// The request start() built.
    std::string_view request() const noexcept { return request_; }
    /// The response's status code, once its head has been read (0 before).
    unsigned status() const noexcept { return parser_.done() ? parser_.head().status : 0; }
    /// The response head, complete once done() (for Set-Cookie, Location, ...).
    const http_head& response() const noexcept { return parser_.head(); }
    /// The subprotocol the server chose, or empty.
    std::string_view subprotocol() const noexcept { return subprotocol_; }
    /// The extensions the server accepted, with its parameters.
    const std::vector<extension_offer>& extensions() const noexcept { return extensions_; }

private:
    void validate(std::error_code& ec) {
        const http_head& h = parser_.head();
        if (h.status != 101) {
            ec = error::handshake_status;
            return;
        }
        if (!h.has_token("Upgrade", "websocket")) {
            ec = error::handshake_no_upgrade;
            return;
        }
        if (!h.has_token("Connection", "upgrade")) {
            ec = error::handshake_no_connection;
            return;
        }
        char expected[accept_size];
        accept_key(key_, expected);
        if (h.count("Sec-WebSocket-Accept") != 1 ||
            h.get("Sec-WebSocket-Accept") != std::string_view(expected, accept_size)) {
            ec = error::handshake_bad_accept;
            return;
        }
        const std::size_t protocols = h.count("Sec-WebSocket-Protocol");
        if (protocols > 1) {
            ec = error::handshake_bad_protocol;
            return;
        }
        if (protocols == 1) {
            const std::string_view chosen = h.get("Sec-WebSocket-Protocol");
            bool offered = false;
            for (const auto& p : options_.subprotocols)
                offered |= p == chosen;
            if (!offered) {
                ec = error::handshake_bad_protocol;
                return;
            }
            subprotocol_.assign(chosen.data(), chosen.size());
        }
        for (const auto& f : h.fields) {
            if (!detail::iequals(f.name, "Sec-WebSocket-Extensions"))
                continue;
            if (!parse_extensions(f.value, extensions_)) {
                ec = error::handshake_bad_extension;
                return;
            }
        }
        for (std::size_t i = 0; i < extensions_.size(); ++i) {
            bool offered = false;
            for (const auto& o : options_.extensions)
                offered |= detail::iequals(o.name, extensions_[i].name);
            for (std::size_t j = 0; j < i; ++j)
                offered &= !detail::iequals(extensions_[j].name, extensions_[i].name);
            if (!offered) {
                ec = error::handshake_bad_extension;
                return;
            }
        }
        if (options_.accept_extensions && !options_.accept_extensions(extensions_))
            ec = error::handshake_bad_extension;
    }

    client_handshake_options options_;
    http_parser parser_;
    std::string key_;
    std::string request_;
    std::string subprotocol_;
    std::vector<extension_offer> extensions_;
    std::error_code error_;
    bool done_ = false;
    bool accepted_ = false;
};

} // namespace duplex
