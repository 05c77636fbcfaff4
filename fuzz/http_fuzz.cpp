// duplex fuzzing — the incremental HTTP/1.1 head parser (RFC 9112 §2-§5, RFC 9110 §5).
// SPDX-License-Identifier: MIT
//
// Input: byte 0 picks a request (even) or response (odd) parser; bytes 1-2 give max_head_size
// (64-4096), byte 3 max_fields (1-64), bytes 4-5 max_target_size (1-4096) and byte 6 seeds the
// chunking. The rest is the byte stream, fed once whole, once in fuzzer-chosen chunks, and
// once more whole after reset() of the chunked parser. Properties checked:
//   - feed never uses more bytes than it is given; while the head is incomplete it uses them
//     all; once done or failed it uses none and repeats its outcome; `ec` is set exactly when
//     the parser failed; buffered() never exceeds max_head_size.
//   - the three runs agree: done or failed, the error, the bytes used, and the parsed head
//     (method, target, status, reason, version and every field).
//   - done: the bytes used are exactly the head: they end in "\r\n\r\n" at the first blank
//     line after any empty lines a request may start with (RFC 9112 §2.2), so nothing after the
//     head is consumed; the head fits max_head_size and holds no bare CR or LF; the start line
//     is rebuilt from the parsed parts; each field line is `name ":" value` with a token name
//     kept as sent and the value trimmed of SP/HTAB, holding no CR, LF or NUL; there are at most
//     max_fields fields, the target is at most max_target_size bytes, and the version is 1.x.
//   - failed: the error is one of the HTTP head errors for this kind of parser, http_status
//     gives it 400, 414, 431 or 505, and the error fits the bytes (an oversized head used
//     exactly max_head_size bytes without a blank line, a bad line ending sits at the last byte
//     used, errors found at the blank line used the whole head).
//   - a parser moved from a done parser gives the same head.

#include "fuzz_check.hpp"
#include "http_check.hpp"

#include <duplex/core/error.hpp>
#include <duplex/core/http.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace {

using duplex::http_parser;
namespace ref = duplex_fuzz::ref;

struct outcome {
    bool done = false;
    bool failed = false;
    std::error_code ec;
    std::size_t used = 0;
    std::string method, target, reason;
    unsigned status = 0, major = 0, minor = 0;
    std::vector<std::pair<std::string, std::string>> fields;

    bool operator==(const outcome& o) const {
        return done == o.done && failed == o.failed && ec == o.ec && used == o.used &&
               method == o.method && target == o.target && reason == o.reason &&
               status == o.status && major == o.major && minor == o.minor && fields == o.fields;
    }
};

outcome snapshot(const http_parser& p, std::error_code ec, std::size_t used) {
    outcome o;
    o.done = p.done();
    o.failed = p.failed();
    o.ec = ec;
    o.used = used;
    const duplex::http_head& h = p.head();
    o.method = std::string(h.method);
    o.target = std::string(h.target);
    o.reason = std::string(h.reason);
    o.status = h.status;
    o.major = h.version_major;
    o.minor = h.version_minor;
    for (const auto& f : h.fields)
        o.fields.emplace_back(std::string(f.name), std::string(f.value));
    return o;
}

// Once done or failed the parser takes nothing more and repeats its outcome.
void check_finished(http_parser& p, const std::uint8_t* rest, std::size_t n, std::error_code error) {
    std::error_code ec = std::make_error_code(std::errc::invalid_argument); // must be overwritten
    FUZZ_CHECK(p.feed(rest, n, ec) == 0);
    FUZZ_CHECK(ec == error);
    FUZZ_CHECK(p.feed(rest, 0, ec) == 0);
    FUZZ_CHECK(ec == error);
}

outcome feed_whole(http_parser& p, const duplex::http_limits& limits, const std::uint8_t* s,
                   std::size_t n) {
    std::error_code ec = std::make_error_code(std::errc::invalid_argument);
    const std::size_t used = p.feed(s, n, ec);
    FUZZ_CHECK(used <= n);
    FUZZ_CHECK(!(p.done() && p.failed()));
    FUZZ_CHECK(static_cast<bool>(ec) == p.failed());
    if (!p.done() && !p.failed())
        FUZZ_CHECK(used == n);
    FUZZ_CHECK(p.buffered() <= limits.max_head_size);
    if (p.done() || p.failed())
        check_finished(p, s + used, n - used, ec);
    return snapshot(p, ec, used);
}

outcome feed_chunked(http_parser& p, const duplex::http_limits& limits, const std::uint8_t* s,
                     std::size_t n, std::uint64_t seed) {
    duplex_fuzz::chunker chunks(seed);
    std::size_t pos = 0, used = 0;
    std::error_code last;
    bool finished = false;
    do {
        const std::size_t len = chunks.next(n - pos);
        std::error_code ec = std::make_error_code(std::errc::invalid_argument);
        const std::size_t u = p.feed(s + pos, len, ec);
        FUZZ_CHECK(u <= len);
        FUZZ_CHECK(!(p.done() && p.failed()));
        FUZZ_CHECK(static_cast<bool>(ec) == p.failed());
        FUZZ_CHECK(p.buffered() <= limits.max_head_size);
        if (finished) {
            FUZZ_CHECK(u == 0 && ec == last); // bytes after the head are never consumed
        } else if (!p.done() && !p.failed()) {
            FUZZ_CHECK(u == len);
        } else {
            finished = true;
            last = ec;
        }
        used += u;
        pos += len;
    } while (pos < n);
    return snapshot(p, last, used);
}

// The request may start with empty lines, which the parser skips (RFC 9112 §2.2).
std::size_t skipped_prefix(std::string_view s, bool request) {
    std::size_t k = 0;
    while (request && s.substr(k, 2) == "\r\n")
        k += 2;
    return k;
}

void check_done(const http_parser& p, const outcome& o, bool request,
                const duplex::http_limits& limits, std::string_view s) {
    const std::size_t start = skipped_prefix(s, request);
    const std::size_t blank = s.find("\r\n\r\n", start);
    FUZZ_CHECK(blank != s.npos && blank > start);
    FUZZ_CHECK(o.used == blank + 4); // exactly the head: nothing after it
    FUZZ_CHECK(s[o.used - 1] == '\n');
    FUZZ_CHECK(o.used <= limits.max_head_size);

    // Lines of the head, without the blank line.
    const std::string_view head = s.substr(start, blank + 2 - start);
    std::vector<std::string_view> lines;
    for (std::size_t pos = 0; pos < head.size();) {
        const std::size_t end = head.find("\r\n", pos);
        lines.push_back(head.substr(pos, end - pos));
        pos = end + 2;
    }
    for (std::string_view line : lines)
        for (char c : line)
            FUZZ_CHECK(c != '\r' && c != '\n'); // no bare CR or LF

    const duplex::http_head& h = p.head();
    FUZZ_CHECK(h.version_major == 1 && h.version_minor <= 9);
    const std::string version = "HTTP/1." + std::to_string(h.version_minor);
    if (request) {
        FUZZ_CHECK(ref::token(h.method));
        FUZZ_CHECK(!h.target.empty() && h.target.size() <= limits.max_target_size);
        for (char c : h.target) {
            const auto u = static_cast<unsigned char>(c);
            FUZZ_CHECK(u > 0x20 && u < 0x7F);
        }
        FUZZ_CHECK(lines[0] == std::string(h.method) + " " + std::string(h.target) + " " + version);
        FUZZ_CHECK(h.status == 0 && h.reason.empty());
    } else {
        FUZZ_CHECK(h.status >= 100 && h.status <= 999);
        FUZZ_CHECK(lines[0].substr(0, 12) == version + " " + std::to_string(h.status));
        if (lines[0].size() > 12) {
            FUZZ_CHECK(lines[0][12] == ' ' && lines[0].substr(13) == h.reason);
        } else {
            FUZZ_CHECK(h.reason.empty());
        }
        for (char c : h.reason)
            FUZZ_CHECK(ref::field_byte(c));
        FUZZ_CHECK(h.method.empty() && h.target.empty());
    }

    FUZZ_CHECK(h.fields.size() == lines.size() - 1);
    FUZZ_CHECK(h.fields.size() <= limits.max_fields);
    for (std::size_t i = 0; i < h.fields.size(); ++i) {
        const std::string_view line = lines[i + 1];
        const std::size_t colon = line.find(':');
        FUZZ_CHECK(colon != line.npos);
        FUZZ_CHECK(h.fields[i].name == line.substr(0, colon)); // as sent, case kept
        FUZZ_CHECK(ref::token(h.fields[i].name));
        for (char c : line.substr(colon + 1))
            FUZZ_CHECK(ref::field_byte(c));
        FUZZ_CHECK(h.fields[i].value == ref::trim(line.substr(colon + 1)));
        FUZZ_CHECK(ref::clean_value(h.fields[i].value));
        FUZZ_CHECK(h.count(h.fields[i].name) == ref::count(h, h.fields[i].name));
    }
}

void check_failed(const outcome& o, bool request, const duplex::http_limits& limits,
                  std::string_view s) {
    using duplex::error;
    FUZZ_CHECK(o.ec.category() == duplex::error_category());
    const auto e = static_cast<error>(o.ec.value());
    const unsigned status = duplex::http_status(o.ec);
    FUZZ_CHECK(status == 400 || status == 414 || status == 431 || status == 505);
    FUZZ_CHECK(o.used >= 1 && o.used <= s.size() && o.used <= limits.max_head_size);
    const std::size_t start = skipped_prefix(s, request);
    const bool whole_head = o.used >= start + 4 && s.substr(o.used - 4, 4) == "\r\n\r\n" &&
                            s.find("\r\n\r\n", start) + 4 == o.used;
    switch (e) {
    case error::http_head_too_large:
        // The head did not end within the limit, and the next byte was refused.
        FUZZ_CHECK(o.used == limits.max_head_size && s.size() > o.used);
        FUZZ_CHECK(s.substr(0, o.used).find("\r\n\r\n", start) == s.npos);
        break;
    case error::http_too_many_fields:
        FUZZ_CHECK(s.substr(o.used - 2, 2) == "\r\n");
        break;
    case error::http_target_too_long:
        FUZZ_CHECK(request);
        break;
    case error::http_bad_line_ending: {
        const char last = s[o.used - 1];
        const char before = o.used >= 2 ? s[o.used - 2] : '\0';
        FUZZ_CHECK((last == '\n' && before != '\r') || (before == '\r' && last != '\n'));
        break;
    }
    case error::http_bad_request_line: {
        // At the blank line, or as soon as a method runs past 64 bytes without a space.
        const bool long_method = o.used == start + 65 && s.substr(start, 65).find(' ') == s.npos;
        FUZZ_CHECK(request && (whole_head || long_method));
        break;
    }
    case error::http_bad_status_line:
        // At the blank line, or at once for a response that starts with an empty line.
        FUZZ_CHECK(!request && (whole_head || (o.used == 2 && s.substr(0, 2) == "\r\n")));
        break;
    case error::http_bad_version:
    case error::http_bad_field:
    case error::http_obs_fold:
        FUZZ_CHECK(whole_head);
        break;
    default:
        duplex_fuzz::property_violated("the error is an HTTP head error", __FILE__, __LINE__);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 7)
        return 0;
    const bool request = (data[0] & 1) == 0;
    duplex::http_limits limits;
    limits.max_head_size = 64 + (static_cast<std::size_t>(data[1] | data[2] << 8) % 4033);
    limits.max_fields = 1 + data[3] % 64;
    limits.max_target_size = 1 + (static_cast<std::size_t>(data[4] | data[5] << 8) % 4096);
    const std::uint64_t seed = data[6];
    const std::uint8_t* s = data + 7;
    const std::size_t n = size - 7;
    const std::string_view text(reinterpret_cast<const char*>(s), n);
    const auto k = request ? http_parser::kind::request : http_parser::kind::response;

    http_parser whole(k, limits);
    const outcome a = feed_whole(whole, limits, s, n);
    http_parser chunked(k, limits);
    const outcome b = feed_chunked(chunked, limits, s, n, seed);
    FUZZ_CHECK(a == b);
    chunked.reset();
    FUZZ_CHECK(chunked.buffered() == 0 && !chunked.done() && !chunked.failed());
    const outcome c = feed_whole(chunked, limits, s, n);
    FUZZ_CHECK(a == c);

    if (a.done) {
        check_done(whole, a, request, limits, text);
        http_parser moved(std::move(whole)); // the views move along with the buffer
        FUZZ_CHECK(snapshot(moved, a.ec, a.used) == a);
    } else if (a.failed) {
        check_failed(a, request, limits, text);
    } else {
        FUZZ_CHECK(!a.ec && a.used == n);
        // A complete head would have made the parser done or failed.
        FUZZ_CHECK(text.find("\r\n\r\n", skipped_prefix(text, request)) == text.npos);
    }
    return 0;
}
