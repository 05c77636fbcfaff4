// duplex — close codes and close frame payloads (RFC 6455 §5.5.1, §7.4).
// SPDX-License-Identifier: MIT
#pragma once

#include <duplex/core/error.hpp>
#include <duplex/core/frame.hpp>
#include <duplex/core/utf8.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <system_error>

namespace duplex {

/// Close status codes: RFC 6455 §7.4.1 and the IANA "WebSocket Close Code Number" registry.
/// Any 16-bit value can be held; 3000-3999 (registered) and 4000-4999 (private) are valid too.
enum class close_code : std::uint16_t {
    normal = 1000,              // the purpose of the connection has been fulfilled
    going_away = 1001,          // server shutting down or browser leaving the page
    protocol_error = 1002,      // the peer broke RFC 6455
    unsupported_data = 1003,    // a data type the endpoint cannot accept (e.g. binary only)
    reserved = 1004,            // reserved; never sent
    no_status = 1005,           // reported when a close frame carried no code; never sent
    abnormal = 1006,            // reported when the connection ended without a close; never sent
    invalid_payload = 1007,     // data inconsistent with its type (e.g. text not UTF-8)
    policy_violation = 1008,    // the message violates the endpoint's policy
    message_too_big = 1009,     // a message too big to process
    mandatory_extension = 1010, // client: the server did not negotiate a needed extension
    internal_error = 1011,      // server: an unexpected condition
    service_restart = 1012,     // server restarting
    try_again_later = 1013,     // temporary condition, e.g. overload
    bad_gateway = 1014,         // a gateway received an invalid response upstream
    tls_handshake = 1015,       // reported when the TLS handshake failed; never sent
};

/// The longest reason a close frame can carry: 125 payload bytes minus the 2-byte code.
inline constexpr std::size_t max_close_reason = max_control_payload - 2;

/// True if `code` may appear in a close frame (RFC 6455 §7.4.1-7.4.2): 1000-1003, 1007-1014
/// and 3000-4999. 1004-1006 and 1015 are reserved, 1016-2999 are kept for future RFCs, and
/// values below 1000 or from 5000 up are not defined.
constexpr bool is_valid_close_code(std::uint16_t code) noexcept {
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

constexpr bool is_valid_close_code(close_code code) noexcept {
    return is_valid_close_code(static_cast<std::uint16_t>(code));
}

/// A short English name for `code` ("normal", "protocol error", ...), for logs.
constexpr std::string_view close_code_name(close_code code) noexcept {
    switch (code) {
    case close_code::normal: return "normal";
    case close_code::going_away: return "going away";
    case close_code::protocol_error: return "protocol error";
    case close_code::unsupported_data: return "unsupported data";
    case close_code::reserved: return "reserved";
    case close_code::no_status: return "no status";
    case close_code::abnormal: return "abnormal closure";
    case close_code::invalid_payload: return "invalid payload";
    case close_code::policy_violation: return "policy violation";
    case close_code::message_too_big: return "message too big";
    case close_code::mandatory_extension: return "mandatory extension";
    case close_code::internal_error: return "internal error";
    case close_code::service_restart: return "service restart";
    case close_code::try_again_later: return "try again later";
    case close_code::bad_gateway: return "bad gateway";
    case close_code::tls_handshake: return "TLS handshake failure";
    }
    const auto value = static_cast<std::uint16_t>(code);
    if (value >= 3000 && value <= 3999)
        return "registered";
    if (value >= 4000 && value <= 4999)
        return "private";
    return "undefined";
}

/// What a close frame says: a code and an optional UTF-8 reason.
struct close_reason {
    close_code code = close_code::no_status;
    std::string_view reason; // in parse_close: a view into the payload
};

/// Parses a received close frame payload (RFC 6455 §5.5.1). An empty payload is valid and
/// gives close_code::no_status. Fails with close_payload_one_byte, control_too_long,
/// invalid_close_code or close_reason_utf8; on failure `out` is unchanged.
inline bool parse_close(const void* payload, std::size_t size, close_reason& out,
                        std::error_code& ec) noexcept {
    ec.clear();
    const auto* p = static_cast<const unsigned char*>(payload);
    if (size == 0) {
        out = close_reason{};
        return true;
    }
    if (size == 1) {
        ec = error::close_payload_one_byte;
        return false;
    }
    if (size > max_control_payload) {
        ec = error::control_too_long;
        return false;
    }
    const auto code = static_cast<std::uint16_t>((p[0] << 8) | p[1]);
    if (!is_valid_close_code(code)) {
        ec = error::invalid_close_code;
        return false;
    }
    const char* reason = reinterpret_cast<const char*>(p + 2);
    if (!is_valid_utf8(reason, size - 2)) {
        ec = error::close_reason_utf8;
        return false;
    }
    out = close_reason{static_cast<close_code>(code), std::string_view(reason, size - 2)};
    return true;
}

/// Writes the close payload for `code` and `reason` into `out` (room for max_control_payload
/// bytes) and returns its size. close_code::no_status with an empty reason gives an empty
/// payload. Fails (returning 0) with invalid_close_code for a code that must not be sent (or
/// no_status with a reason), close_reason_too_long, or close_reason_utf8.
inline std::size_t build_close(close_code code, std::string_view reason, void* out,
                               std::error_code& ec) noexcept {
    ec.clear();
    if (code == close_code::no_status && reason.empty())
        return 0;
    if (!is_valid_close_code(code)) {
        ec = error::invalid_close_code;
        return 0;
    }
    if (reason.size() > max_close_reason) {
        ec = error::close_reason_too_long;
        return 0;
    }
    if (!is_valid_utf8(reason.data(), reason.size())) {
        ec = error::close_reason_utf8;
        return 0;
    }
    auto* p = static_cast<unsigned char*>(out);
    const auto value = static_cast<std::uint16_t>(code);
    p[0] = static_cast<unsigned char>(value >> 8);
    p[1] = static_cast<unsigned char>(value & 0xFF);
    if (!reason.empty())
        std::memcpy(p + 2, reason.data(), reason.size());
    return 2 + reason.size();
}

} // namespace duplex
