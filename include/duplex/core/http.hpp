// duplex — incremental HTTP/1.1 head parser (RFC 9112 §2-§5, RFC 9110 §5), for the handshake.
// SPDX-License-Identifier: MIT
#pragma once

#include <duplex/core/detail/text.hpp>
#include <duplex/core/error.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <system_error>
#include <vector>

namespace duplex {

/// Limits on a head; going over one is an error, never unbounded buffering.
struct http_limits {
    std::size_t max_head_size = 8 * 1024;   // request/status line + fields + blank line
    std::size_t max_fields = 100;           // header field lines
    std::size_t max_target_size = 4 * 1024; // request-target
};

/// One header field line, as views into the parser's buffer. Names keep their case.
struct http_field {
    std::string_view name;
    std::string_view value; // leading and trailing spaces and tabs removed
};

/// A parsed request or response head. Views point into the http_parser that produced it and
/// stay valid while that parser lives and is not reset.
struct http_head {
    std::string_view method;  // request: e.g. "GET"
    std::string_view target;  // request: e.g. "/chat?room=1"
    unsigned status = 0;      // response: e.g. 101
    std::string_view reason;  // response: e.g. "Switching Protocols"
    unsigned version_major = 0;
    unsigned version_minor = 0;
    std::vector<http_field> fields;

    /// Number of field lines named `name` (case-insensitive).
    std::size_t count(std::string_view name) const noexcept {
        std::size_t n = 0;
        for (const auto& f : fields)
            n += detail::iequals(f.name, name);
        return n;
    }

    /// The value of the first field named `name`, or an empty view.
    std::string_view get(std::string_view name) const noexcept {
        for (const auto& f : fields)
            if (detail::iequals(f.name, name))
                return f.value;
        return {};
    }

    /// True if any field named `name` holds `token` as an element of its comma-separated list,
    /// compared case-insensitively ("Connection: keep-alive, Upgrade" has "upgrade").
    bool has_token(std::string_view name, std::string_view token) const noexcept {
        for (const auto& f : fields) {
            if (!detail::iequals(f.name, name))
                continue;
            const bool found = !detail::for_each_element(
                f.value, [&](std::string_view e) { return !detail::iequals(e, token); });
            if (found)
                return true;
        }
        return false;
    }

    /// True for HTTP/1.1 and later 1.x versions.
    bool at_least_http11() const noexcept {
        return version_major > 1 || (version_major == 1 && version_minor >= 1);
    }
};

/// The HTTP status a server answers a head or handshake error with: 431 for oversized heads,
/// 414 for a long target, 505 for a version other than 1.x, 426 for a request that is not a
/// WebSocket upgrade or asks for another WebSocket version, 403 for a request the application
/// refused, 500 for a mistake of the server's own (bad_header_field, or an error from another
/// category), and 400 for every other malformed request.
inline unsigned http_status(std::error_code ec) noexcept {
    if (ec.category() != error_category())
        return 500;
    switch (static_cast<error>(ec.value())) {
    case error::http_head_too_large:
    case error::http_too_many_fields: return 431;
    case error::http_target_too_long: return 414;
    case error::http_bad_version: return 505;
    case error::upgrade_no_upgrade:
    case error::upgrade_ws_version: return 426;
    case error::upgrade_rejected: return 403;
    case error::bad_header_field: return 500;
    default: return 400;
    }
}

/// Parses one HTTP/1.1 request or response head from bytes that arrive in any pieces
/// (RFC 9112). It copies at most limits.max_head_size bytes, stops right after the blank line
/// that ends the head, and leaves the bytes after it to the caller: a WebSocket peer may send
/// its first frame in the same packet as its handshake. Strict: lines must end in CRLF; obsolete
/// line folding, control bytes, whitespace before a field's colon and malformed start lines are
/// errors.
class http_parser {
public:
    enum class kind : std::uint8_t { request, response };

    explicit http_parser(kind k = kind::request, const http_limits& limits = {})
        : limits_(limits), kind_(k) {}

    http_parser(const http_parser&) = delete;
    http_parser& operator=(const http_parser&) = delete;
    http_parser(http_parser&&) = default; // the buffer moves with its heap storage: views stay valid
    http_parser& operator=(http_parser&&) = default;

    /// Reads head bytes from [data, data+size) and returns how many it used: all of them until
    /// the head is complete, then none. Sets `ec` on a malformed or oversized head; once failed
    /// or done, later calls use nothing (a failed parser repeats its error).
    std::size_t feed(const void* data, std::size_t size, std::error_code& ec) {
        ec = error_;
        if (state_ != state::reading)
            return 0;
        const auto* p = static_cast<const char*>(data);
        for (std::size_t i = 0; i < size; ++i) {
            if (buffer_.size() + skipped_ >= limits_.max_head_size)
                return fail(error::http_head_too_large, i, ec);
            const char c = p[i];
            buffer_.push_back(c);
            if (cr_) {
                cr_ = false;
                if (c != '\n')
                    return fail(error::http_bad_line_ending, i + 1, ec);
                const std::size_t line_length = buffer_.size() - 2 - line_start_;
                if (line_length == 0) {
                    if (lines_ == 0) {
                        // RFC 9112 §2.2: a server should ignore empty lines before the
                        // request line. They still count toward the head size limit.
                        if (kind_ == kind::response)
                            return fail(start_line_error(), i + 1, ec);
                        skipped_ += 2;
                        buffer_.clear();
                        continue;
                    }
                    if (!parse(ec)) {
                        error_ = ec;
                        state_ = state::failed;
                    } else {
                        state_ = state::done;
                    }
                    return i + 1;
                }
                if (++lines_ > limits_.max_fields + 1)
                    return fail(error::http_too_many_fields, i + 1, ec);
                line_start_ = buffer_.size();
            } else if (c == '\r') {
                cr_ = true;
            } else if (c == '\n') {
                return fail(error::http_bad_line_ending, i + 1, ec);
            } else if (lines_ == 0 && kind_ == kind::request) {
                // Refuse an over-long method or target before the line ends.
                if (target_begin_ == 0 && c == ' ')
                    target_begin_ = buffer_.size();
                else if (target_begin_ == 0 && buffer_.size() > max_method_size)
                    return fail(error::http_bad_request_line, i + 1, ec);
                else if (target_begin_ != 0 &&
                         buffer_.size() - target_begin_ > limits_.max_target_size + max_version_size)
                    return fail(error::http_target_too_long, i + 1, ec);
            }
        }
        return size;
    }

    bool done() const noexcept { return state_ == state::done; }
    bool failed() const noexcept { return state_ == state::failed; }

    /// The parsed head; complete only once done().
    const http_head& head() const noexcept { return head_; }

    /// Bytes of head buffered so far.
    std::size_t buffered() const noexcept { return buffer_.size(); }

    /// Starts over for a new head, keeping the kind and limits.
    void reset() {
        buffer_.clear();
        head_ = http_head{};
        error_.clear();
        line_start_ = 0;
        lines_ = 0;
        skipped_ = 0;
        target_begin_ = 0;
        cr_ = false;
        state_ = state::reading;
    }

private:
    enum class state : std::uint8_t { reading, done, failed };
    // Longest method accepted (the longest registered one is under 20 bytes), and the bytes a
    // request line may have after its target: " HTTP/1.1".
    static constexpr std::size_t max_method_size = 64;
    static constexpr std::size_t max_version_size = 9;

    std::size_t fail(error e, std::size_t used, std::error_code& ec) {
        ec = error_ = e;
        state_ = state::failed;
        return used;
    }

    error start_line_error() const noexcept {
        return kind_ == kind::request ? error::http_bad_request_line : error::http_bad_status_line;
    }

    // "HTTP/" DIGIT "." DIGIT; false if malformed.
    bool parse_version(std::string_view v) noexcept {
        if (v.size() != 8 || v.substr(0, 5) != "HTTP/" || v[6] != '.' || v[5] < '0' ||
            v[5] > '9' || v[7] < '0' || v[7] > '9')
            return false;
        head_.version_major = static_cast<unsigned>(v[5] - '0');
        head_.version_minor = static_cast<unsigned>(v[7] - '0');
        return true;
    }

    bool parse_request_line(std::string_view line, std::error_code& ec) {
        const std::size_t sp1 = line.find(' ');
        const std::size_t sp2 = sp1 == line.npos ? line.npos : line.find(' ', sp1 + 1);
        if (sp2 == line.npos || line.find(' ', sp2 + 1) != line.npos) {
            ec = error::http_bad_request_line;
            return false;
        }
        head_.method = line.substr(0, sp1);
        head_.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
        if (!detail::is_token(head_.method) || head_.target.empty()) {
            ec = error::http_bad_request_line;
            return false;
        }
        for (char c : head_.target) {
            const auto u = static_cast<unsigned char>(c);
            if (u <= 0x20 || u >= 0x7F) {
                ec = error::http_bad_request_line;
                return false;
            }
        }
        if (head_.target.size() > limits_.max_target_size) {
            ec = error::http_target_too_long;
            return false;
        }
        return check_version(line.substr(sp2 + 1), error::http_bad_request_line, ec);
    }

    bool parse_status_line(std::string_view line, std::error_code& ec) {
        // HTTP-version SP 3DIGIT [SP reason]; a missing reason's SP is tolerated.
        if (line.size() < 12 || line[8] != ' ' || (line.size() > 12 && line[12] != ' ')) {
            ec = error::http_bad_status_line;
            return false;
        }
        if (!check_version(line.substr(0, 8), error::http_bad_status_line, ec))
            return false;
        unsigned status = 0;
        for (std::size_t i = 9; i < 12; ++i) {
            if (line[i] < '0' || line[i] > '9') {
                ec = error::http_bad_status_line;
                return false;
            }
            status = status * 10 + static_cast<unsigned>(line[i] - '0');
        }
        if (status < 100) {
            ec = error::http_bad_status_line;
            return false;
        }
        head_.status = status;
        head_.reason = line.size() > 12 ? line.substr(13) : std::string_view{};
        for (char c : head_.reason) {
            if (!detail::is_field_byte(c)) {
                ec = error::http_bad_status_line;
                return false;
            }
        }
        return true;
    }

    bool check_version(std::string_view v, error malformed, std::error_code& ec) {
        if (!parse_version(v)) {
            ec = malformed;
            return false;
        }
        if (head_.version_major != 1) {
            ec = error::http_bad_version;
            return false;
        }
        return true;
    }

    bool parse_field(std::string_view line, std::error_code& ec) {
        if (detail::is_ows(line.front())) {
            ec = error::http_obs_fold;
            return false;
        }
        const std::size_t colon = line.find(':');
        if (colon == line.npos || !detail::is_token(line.substr(0, colon))) {
            ec = error::http_bad_field;
            return false;
        }
        const std::string_view value = line.substr(colon + 1);
        for (char c : value) {
            if (!detail::is_field_byte(c)) {
                ec = error::http_bad_field;
                return false;
            }
        }
        head_.fields.push_back({line.substr(0, colon), detail::trim_ows(value)});
        return true;
    }

    // Splits the complete head into lines; the buffer no longer grows, so views are stable.
    bool parse(std::error_code& ec) {
        const std::string_view all(buffer_.data(), buffer_.size() - 2); // drop the final CRLF
        head_.fields.reserve(lines_ - 1);
        std::size_t pos = 0;
        bool first = true;
        while (pos < all.size()) {
            const std::size_t end = all.find("\r\n", pos);
            const std::string_view line = all.substr(pos, end - pos);
            pos = end + 2;
            bool ok;
            if (first)
                ok = kind_ == kind::request ? parse_request_line(line, ec) : parse_status_line(line, ec);
            else
                ok = parse_field(line, ec);
            if (!ok)
                return false;
            first = false;
        }
        return true;
    }

    std::vector<char> buffer_;
    http_head head_;
    std::error_code error_;
    http_limits limits_;
    std::size_t line_start_ = 0; // offset of the line being read
    std::size_t lines_ = 0;      // complete non-empty lines so far
    std::size_t skipped_ = 0;    // bytes of empty lines skipped before the request line
    std::size_t target_begin_ = 0; // offset just past the request line's first space
    kind kind_;
    bool cr_ = false;            // the last byte was CR
    state state_ = state::reading;
};

} // namespace duplex
