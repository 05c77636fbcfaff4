// duplex — the server's side of the opening handshake (RFC 6455 §4.2).
// SPDX-License-Identifier: MIT
#pragma once

#include <duplex/core/error.hpp>
#include <duplex/core/handshake.hpp>
#include <duplex/core/http.hpp>

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace duplex {

/// A valid upgrade request, as the application's hooks see it. Views point into the head.
struct upgrade_request {
    const http_head* head = nullptr; // every field: Cookie, Authorization, User-Agent, ...
    std::string_view target;         // as sent: "/chat?room=1"
    std::string_view path;           // "/chat"
    std::string_view query;          // "room=1" (without '?'; empty if none)
    std::string_view host;           // the Host field (the target's authority in absolute form)
    std::string_view origin;         // the Origin field, empty if absent (non-browser clients)
    std::string_view key;            // Sec-WebSocket-Key
    std::vector<std::string_view> subprotocols; // offered, in the client's order of preference
    std::vector<extension_offer> extensions;          // offered, in order

    /// The first field named `name` (case-insensitive), or an empty view.
    std::string_view header(std::string_view name) const noexcept {
        return head ? head->get(name) : std::string_view{};
    }
};

/// Why the application refuses a request: the status (e.g. 401, 403, 404), a short reason for
/// the response body, and any fields to add (e.g. WWW-Authenticate).
struct rejection {
    unsigned status = 403;
    std::string reason;
    header_list headers;
};

/// What a server accepts and how it answers. Every hook is optional.
struct server_handshake_options {
    http_limits limits;

    /// Subprotocols this server speaks. The first one the client offers (in the client's order)
    /// is chosen; if the client offers none of them, none is chosen and the connection opens
    /// without one. Ignored when select_subprotocol is set.
    std::vector<std::string> subprotocols;

    /// Accept or refuse a valid upgrade request by origin, path, query, cookies or
    /// Authorization. Return false and fill `reject` to refuse it.
    std::function<bool(const upgrade_request&, rejection& reject)> accept;

    /// Pick a subprotocol from request.subprotocols; return an empty view for none. Returning a
    /// value the client did not offer is a bug in the hook and fails the handshake (500).
    std::function<std::string_view(const upgrade_request&)> select_subprotocol;

    /// Answer the client's extension offers with the Sec-WebSocket-Extensions response value
    /// (empty: no extensions). permessage-deflate plugs in here.
    std::function<std::string(const upgrade_request&)> negotiate_extensions;

    /// Fields added to every response, accepted or not (e.g. Server).
    header_list headers;

    /// Add fields to the 101 response for this request (e.g. Set-Cookie).
    std::function<void(const upgrade_request&, header_list& headers)> decorate;
};

/// The usual English phrase for an HTTP status code.
inline std::string_view status_reason(unsigned status) noexcept {
    switch (status) {
    case 101: return "Switching Protocols";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 414: return "URI Too Long";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return status < 500 ? "Client Error" : "Server Error";
    }
}

/// Checks a request head against RFC 6455 §4.2.1 and fills `out`. The specific error tells
/// which rule failed; http_status(ec) gives the status to answer with.
inline bool parse_upgrade_request(const http_head& head, upgrade_request& out, std::error_code& ec) {
    ec.clear();
    auto fail = [&](error e) {
        ec = e;
        return false;
    };
    out = upgrade_request{};
    out.head = &head;
    if (head.method != "GET")
        return fail(error::upgrade_method);
    if (!head.at_least_http11())
        return fail(error::upgrade_version);
    if (head.count("Host") != 1 || !detail::is_host_field(head.get("Host")))
        return fail(error::upgrade_no_host);
    if (!head.has_token("Upgrade", "websocket"))
        return fail(error::upgrade_no_upgrade);
    if (!head.has_token("Connection", "upgrade"))
        return fail(error::upgrade_no_connection);
    if (head.count("Sec-WebSocket-Version") != 1 || head.get("Sec-WebSocket-Version") != "13")
        return fail(error::upgrade_ws_version);
    if (head.count("Sec-WebSocket-Key") != 1 || !is_valid_key(head.get("Sec-WebSocket-Key")))
        return fail(error::upgrade_bad_key);
    // A body would be taken for WebSocket frames. Content-Length is 1*DIGIT (RFC 9110 §8.6):
    // only a value that means zero is allowed.
    if (head.count("Transfer-Encoding") != 0 || head.count("Content-Length") > 1)
        return fail(error::upgrade_body);
    if (head.count("Content-Length") == 1) {
        const std::string_view length = head.get("Content-Length");
        if (length.empty() || length.find_first_not_of('0') != length.npos)
            return fail(error::upgrade_body);
    }

    // origin-form "/path?query", or absolute-form "scheme://authority/path?query" (RFC 9112 §3.2).
    // In absolute form the target's authority is the host, and Host is ignored (RFC 9112 §3.2.2).
    std::string_view target = head.target;
    out.host = head.get("Host");
    if (target.front() != '/') {
        const std::size_t scheme_end = target.find("://");
        if (scheme_end == target.npos || !detail::is_token(target.substr(0, scheme_end)))
            return fail(error::upgrade_bad_target);
        const std::size_t path_start = target.find_first_of("/?", scheme_end + 3);
        out.host = target.substr(scheme_end + 3, path_start == target.npos ? target.npos
                                                                           : path_start - scheme_end - 3);
        if (!detail::is_host_field(out.host))
            return fail(error::upgrade_bad_target);
        target = path_start == target.npos ? std::string_view{} : target.substr(path_start);
    }
    if (target.find('#') != target.npos)
        return fail(error::upgrade_bad_target);
    const std::size_t q = target.find('?');
    out.target = head.target;
    out.path = target.substr(0, q);
    if (out.path.empty())
        out.path = "/";
    out.query = q == target.npos ? std::string_view{} : target.substr(q + 1);
    out.origin = head.get("Origin");
    out.key = head.get("Sec-WebSocket-Key");

    for (const auto& f : head.fields) {
        if (detail::iequals(f.name, "Sec-WebSocket-Protocol")) {
            const bool ok = detail::for_each_element(f.value, [&](std::string_view p) {
                if (!detail::is_token(p))
                    return false;
                out.subprotocols.push_back(p);
                return true;
            });
            if (!ok)
                return fail(error::upgrade_bad_protocol);
        } else if (detail::iequals(f.name, "Sec-WebSocket-Extensions")) {
            if (!parse_extensions(f.value, out.extensions))
                return fail(error::upgrade_bad_extension);
        }
    }
    return true;
}

/// Builds a response that refuses the upgrade: status line, a short text/plain body with
/// `reason`, "Connection: close", and for 426 the fields RFC 6455 §4.4 and RFC 9110 §15.5.22
/// ask for (Upgrade: websocket, Sec-WebSocket-Version: 13). Invalid extra fields are dropped.
inline std::string build_rejection(unsigned status, std::string_view reason,
                                   const header_list& extra = {}) {
    std::string body(reason);
    body += '\n';
    std::string out = "HTTP/1.1 " + std::to_string(status) + " ";
    out += status_reason(status);
    out += "\r\n";
    if (status == 426) {
        detail::append_field(out, "Upgrade", "websocket");
        detail::append_field(out, "Sec-WebSocket-Version", "13");
    }
    for (const auto& [name, value] : extra)
        if (detail::valid_field(name, value))
            detail::append_field(out, name, value);
    detail::append_field(out, "Content-Type", "text/plain; charset=utf-8");
    detail::append_field(out, "Content-Length", std::to_string(body.size()));
    detail::append_field(out, "Connection", "close");
    out += "\r\n";
    out += body;
    return out;
}

/// Builds the 101 Switching Protocols response for a request with Sec-WebSocket-Key `key`
/// (RFC 6455 §4.2.2). Fails with bad_header_field if an extra field is malformed, could
/// inject other fields, or would replace one the handshake owns (Upgrade, Connection,
/// Sec-WebSocket-*, Content-Length, Transfer-Encoding).
inline std::string build_acceptance(std::string_view key, std::string_view subprotocol,
                                    std::string_view extensions, const header_list& extra,
                                    std::error_code& ec) {
    ec.clear();
    if (!detail::valid_extra_fields(extra)) {
        ec = error::bad_header_field;
        return {};
    }
    std::string out = "HTTP/1.1 101 Switching Protocols\r\n";
    detail::append_field(out, "Upgrade", "websocket");
    detail::append_field(out, "Connection", "Upgrade");
    char accept[accept_size];
    accept_key(key, accept);
    detail::append_field(out, "Sec-WebSocket-Accept", std::string_view(accept, accept_size));
    if (!subprotocol.empty())
        detail::append_field(out, "Sec-WebSocket-Protocol", subprotocol);
    if (!extensions.empty())
        detail::append_field(out, "Sec-WebSocket-Extensions", extensions);
    for (const auto& [name, value] : extra)
        detail::append_field(out, name, value);
    out += "\r\n";
    return out;
}

/// Drives the server's handshake: feed it the request bytes as they arrive; once done(),
/// write response() to the client, then either speak WebSocket (accepted()) or close.
class server_handshake {
public:
    explicit server_handshake(server_handshake_options options = {})
        : options_(std::move(options)), parser_(http_parser::kind::request, options_.limits) {}

    server_handshake(const server_handshake&) = delete;
    server_handshake& operator=(const server_handshake&) = delete;

    // request() points at the parser's head, which moves with the parser.
    server_handshake(server_handshake&& other) noexcept
        : options_(std::move(other.options_)), parser_(std::move(other.parser_)),
          request_(std::move(other.request_)), response_(std::move(other.response_)),
          subprotocol_(std::move(other.subprotocol_)), extensions_(std::move(other.extensions_)),
          error_(other.error_), done_(other.done_), accepted_(other.accepted_) {
        if (request_.head == &other.parser_.head())
            request_.head = &parser_.head();
    }

    server_handshake& operator=(server_handshake&& other) noexcept {
        const bool points_into_other = other.request_.head == &other.parser_.head();
        options_ = std::move(other.options_);
        parser_ = std::move(other.parser_);
        request_ = std::move(other.request_);
        response_ = std::move(other.response_);
        subprotocol_ = std::move(other.subprotocol_);
        extensions_ = std::move(other.extensions_);
        error_ = other.error_;
        done_ = other.done_;
        accepted_ = other.accepted_;
        if (points_into_other)
            request_.head = &parser_.head();
        return *this;
    }

    /// Reads request bytes and returns how many it used: bytes after the head are the client's
    /// first frames and are left to the caller. Sets `ec` when the request is refused (the
    /// refusal is then in response()).
    std::size_t feed(const void* data, std::size_t size, std::error_code& ec) {
        ec.clear();
        if (done_) {
            ec = error_;
            return 0;
        }
        const std::size_t used = parser_.feed(data, size, ec);
        if (ec)
            refuse(http_status(ec), ec.message(), ec);
        else if (parser_.done())
            process(parser_.head(), ec);
        return used;
    }

    /// For an application that read the request head itself (say, an HTTP router that then
    /// hands over the connection). `head` must outlive this object's use of request().
    void process(const http_head& head, std::error_code& ec) {
        done_ = true;
        if (!parse_upgrade_request(head, request_, ec))
            return refuse(http_status(ec), ec.message(), ec);

        if (options_.accept) {
            rejection r;
            if (!options_.accept(request_, r)) {
                ec = error::upgrade_rejected;
                error_ = ec;
                response_ = build_rejection(r.status, r.reason.empty() ? ec.message() : r.reason,
                                            merged(options_.headers, r.headers));
                return;
            }
        }

        if (!choose_subprotocol()) {
            ec = error::bad_header_field;
            return refuse(500, "the subprotocol hook chose a subprotocol the client did not offer", ec);
        }
        if (options_.negotiate_extensions)
            extensions_ = options_.negotiate_extensions(request_);

        header_list extra = options_.headers;
        if (options_.decorate)
            options_.decorate(request_, extra);
        response_ = build_acceptance(request_.key, subprotocol_, extensions_, extra, ec);
        if (ec)
            return refuse(500, ec.message(), ec);
        accepted_ = true;
    }

    bool done() const noexcept { return done_; }
    bool accepted() const noexcept { return accepted_; }
    /// The error that refused the request, if any.
    std::error_code error() const noexcept { return error_; }
    /// The bytes to send: the 101 response, or a refusal with a short reason.
    std::string_view response() const noexcept { return response_; }
    /// The request, valid once done() and the head parsed (for logging and routing).
    const upgrade_request& request() const noexcept { return request_; }
    /// The chosen subprotocol (empty for none), valid once accepted().
    std::string_view subprotocol() const noexcept { return subprotocol_; }
    /// The Sec-WebSocket-Extensions value sent back (empty for none).
    std::string_view extensions() const noexcept { return extensions_; }

private:
    static header_list merged(const header_list& a, const header_list& b) {
        header_list out = a;
        out.insert(out.end(), b.begin(), b.end());
        return out;
    }

    void refuse(unsigned status, const std::string& reason, std::error_code ec) {
        done_ = true;
        error_ = ec;
        response_ = build_rejection(status, reason, options_.headers);
    }

    bool choose_subprotocol() {
        if (options_.select_subprotocol) {
            const std::string_view chosen = options_.select_subprotocol(request_);
            if (chosen.empty())
                return true;
            for (auto offered : request_.subprotocols) {
                if (offered == chosen) {
                    subprotocol_.assign(chosen.data(), chosen.size());
                    return true;
                }
            }
            return false;
        }
        for (auto offered : request_.subprotocols) {
            for (const auto& supported : options_.subprotocols) {
                if (offered == supported) {
                    subprotocol_ = supported;
                    return true;
                }
            }
        }
        return true;
    }

    server_handshake_options options_;
    http_parser parser_;
    upgrade_request request_;
    std::string response_;
    std::string subprotocol_;
    std::string extensions_;
    std::error_code error_;
    bool done_ = false;
    bool accepted_ = false;
};

} // namespace duplex
