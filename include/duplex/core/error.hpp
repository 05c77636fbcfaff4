// duplex — error codes shared by every layer.
// SPDX-License-Identifier: MIT
#pragma once

#include <string>
#include <system_error>

namespace duplex {

/// Every distinct failure duplex can report. Values are stable within a major version;
/// new ones are appended. Compare against these through `std::error_code`.
enum class error {
    // Frame header (RFC 6455 §5.2). Each fails the connection with close code 1002.
    reserved_bits = 1,      // RSV1-3 set without an extension that claims them
    reserved_opcode,        // opcode 0x3-0x7 or 0xB-0xF
    fragmented_control,     // control frame without FIN
    control_too_long,       // control frame payload over 125 bytes
    length_high_bit,        // 64-bit payload length with its most significant bit set
    non_minimal_length,     // payload length not in its shortest encoding
    unmasked_frame,         // a server received a frame without a mask
    masked_frame,           // a client received a masked frame

    // Close payload (RFC 6455 §5.5.1, §7.4).
    close_payload_one_byte, // a close payload must be empty or at least 2 bytes
    invalid_close_code,     // a code that must not appear on the wire
    close_reason_utf8,      // the close reason is not valid UTF-8 (close code 1007)
    close_reason_too_long,  // the close reason does not fit in 123 bytes

    // Payload (RFC 6455 §8.1, §7.4.1).
    invalid_utf8,           // a text message is not valid UTF-8 (close code 1007)
    frame_too_big,          // a frame exceeds the configured maximum (close code 1009)
    message_too_big,        // a message exceeds the configured maximum (close code 1009)

    // HTTP/1.1 head (RFC 9112). A server answers these with the status http_status() gives.
    http_head_too_large,    // no blank line within the head size limit (431)
    http_too_many_fields,   // more header fields than the limit (431)
    http_target_too_long,   // request-target longer than the limit (414)
    http_bad_line_ending,   // a bare CR or LF instead of CRLF (400)
    http_bad_request_line,  // not "METHOD SP target SP HTTP/x.y" (400)
    http_bad_status_line,   // not "HTTP/x.y SP 3DIGIT SP reason" (client side)
    http_bad_version,       // an HTTP version that is not HTTP/1.x (505)
    http_bad_field,         // a header line that is not "name: value", or holds a control byte (400)
    http_obs_fold,          // a header line continued on the next line (obsolete folding) (400)

    // Opening handshake, server side (RFC 6455 §4.2.1).
    upgrade_method,         // the upgrade request is not a GET (400)
    upgrade_version,        // the upgrade request is not HTTP/1.1 or later (400)
    upgrade_no_host,        // Host missing, empty or repeated (400)
    upgrade_no_upgrade,     // Upgrade has no "websocket" token (426)
    upgrade_no_connection,  // Connection has no "upgrade" token (400)
    upgrade_ws_version,     // Sec-WebSocket-Version missing or not 13 (426)
    upgrade_bad_key,        // Sec-WebSocket-Key missing, repeated, or not 16 base64 bytes (400)
    upgrade_body,           // the request announces a body (Content-Length, Transfer-Encoding) (400)
    upgrade_bad_protocol,   // Sec-WebSocket-Protocol is not a list of tokens (400)
    upgrade_bad_extension,  // Sec-WebSocket-Extensions does not parse (400)
    upgrade_bad_target,     // the request-target is not a path or an absolute URI (400)
    upgrade_rejected,       // the application's accept hook refused the request (its own status)
    bad_header_field,       // a field or subprotocol the application gave is invalid or one the handshake owns

    // Opening handshake, client side (RFC 6455 §4.1).
    handshake_status,       // the server answered with a status other than 101
    handshake_no_upgrade,   // the 101 response has no "Upgrade: websocket"
    handshake_no_connection,// the 101 response has no "Connection: upgrade"
    handshake_bad_accept,   // Sec-WebSocket-Accept missing, repeated or wrong for our key
    handshake_bad_protocol, // the server chose a subprotocol we did not offer
    handshake_bad_extension,// the server accepted an extension we did not offer, or garbled one

    // URLs (RFC 6455 §3).
    url_bad_scheme,         // the URL does not start with ws:// or wss://
    url_bad_host,           // the host is missing or not a valid name, IPv4 or [IPv6] literal
    url_bad_port,           // the port is not a number from 1 to 65535
    url_bad_syntax,         // user info, a fragment, spaces or other characters not allowed

    // Messages and the connection (RFC 6455 §5.4, §7).
    unexpected_continuation,// a continuation frame with no message to continue (close code 1002)
    expected_continuation,  // a new text/binary frame inside a fragmented message (1002)
    extension_failed,       // an extension could not transform a payload (1007)
    closed,                 // the connection is closed; nothing more can be sent or received
    close_sent,             // a close frame was sent; no more messages may be sent
    message_in_progress,    // a fragmented message is being sent; finish it first
    no_message_in_progress, // a message part was sent without begin_message()
    bad_opcode,             // send() takes text or binary; pings, pongs and closes have their own calls
    send_queue_full,        // the peer is not reading and the send queue is over its limit
    peer_timeout,           // the peer sent nothing for the pong timeout after a ping
    close_timeout,          // the peer did not answer our close frame in time
    idle_timeout,           // nothing was received for the idle timeout
    abnormal_closure,       // the transport ended without a close handshake (close code 1006)
    handshake_timeout,      // the opening handshake did not finish in time
    read_in_progress,       // a read was started while another is pending

    // HTTP proxy tunnels (RFC 9110 §9.3.6 CONNECT), client side.
    proxy_bad_url,          // not http://[user:pass@]host[:port], or control bytes in a proxy field
    proxy_auth_required,    // the proxy answered 407 (or 401): credentials missing or refused
    proxy_refused,          // the proxy answered CONNECT with a status other than 2xx, 401 or 407
    proxy_bad_response,     // the proxy's answer is malformed, oversized, cut, or followed by bytes
    proxy_timeout,          // the proxy did not open the tunnel in time

    // Requests matched to replies (duplex::asio::request_tracker).
    request_timeout,        // no reply arrived for the request in time
    request_duplicate_id,   // a request with this id is already pending
    request_limit,          // too many requests are pending
};

namespace detail {

class error_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "duplex"; }

    std::string message(int value) const override {
        switch (static_cast<error>(value)) {
        case error::reserved_bits:
            return "frame has a reserved bit (RSV1-3) set that no negotiated extension uses";
        case error::reserved_opcode:
            return "frame uses a reserved opcode (0x3-0x7 or 0xB-0xF)";
        case error::fragmented_control:
            return "control frame (close, ping or pong) is fragmented: FIN is not set";
        case error::control_too_long:
            return "control frame payload is longer than 125 bytes";
        case error::length_high_bit:
            return "64-bit payload length has its most significant bit set";
        case error::non_minimal_length:
            return "payload length is not encoded in the minimal number of bytes";
        case error::unmasked_frame:
            return "client sent an unmasked frame; clients must mask every frame";
        case error::masked_frame:
            return "server sent a masked frame; servers must not mask frames";
        case error::close_payload_one_byte:
            return "close frame payload is 1 byte; it must be empty or hold a 2-byte code";
        case error::invalid_close_code:
            return "close code is not allowed on the wire (RFC 6455 section 7.4)";
        case error::close_reason_utf8:
            return "close reason is not valid UTF-8";
        case error::close_reason_too_long:
            return "close reason is longer than 123 bytes";
        case error::invalid_utf8:
            return "text message is not valid UTF-8";
        case error::frame_too_big:
            return "frame payload exceeds the configured maximum frame size";
        case error::message_too_big:
            return "message exceeds the configured maximum message size";
        case error::http_head_too_large:
            return "HTTP head is larger than the configured limit";
        case error::http_too_many_fields:
            return "HTTP head has more header fields than the configured limit";
        case error::http_target_too_long:
            return "HTTP request-target is longer than the configured limit";
        case error::http_bad_line_ending:
            return "HTTP head has a bare CR or LF; lines must end with CRLF";
        case error::http_bad_request_line:
            return "HTTP request line is malformed";
        case error::http_bad_status_line:
            return "HTTP status line is malformed";
        case error::http_bad_version:
            return "HTTP version is not HTTP/1.x";
        case error::http_bad_field:
            return "HTTP header field is malformed or contains a control character";
        case error::http_obs_fold:
            return "HTTP header field uses obsolete line folding";
        case error::upgrade_method:
            return "WebSocket upgrade request must use the GET method";
        case error::upgrade_version:
            return "WebSocket upgrade request must be HTTP/1.1 or later";
        case error::upgrade_no_host:
            return "WebSocket upgrade request needs exactly one non-empty Host header";
        case error::upgrade_no_upgrade:
            return "request is not a WebSocket upgrade: Upgrade header lacks \"websocket\"";
        case error::upgrade_no_connection:
            return "WebSocket upgrade request: Connection header lacks \"upgrade\"";
        case error::upgrade_ws_version:
            return "WebSocket upgrade request: Sec-WebSocket-Version must be 13";
        case error::upgrade_bad_key:
            return "WebSocket upgrade request: Sec-WebSocket-Key must be one base64 value of 16 bytes";
        case error::upgrade_body:
            return "WebSocket upgrade request must not have a body";
        case error::upgrade_bad_protocol:
            return "WebSocket upgrade request: Sec-WebSocket-Protocol is not a list of tokens";
        case error::upgrade_bad_extension:
            return "WebSocket upgrade request: Sec-WebSocket-Extensions is malformed";
        case error::upgrade_bad_target:
            return "WebSocket upgrade request: request-target is not a valid path or URI";
        case error::upgrade_rejected:
            return "WebSocket upgrade request refused by the application";
        case error::bad_header_field:
            return "a header field or subprotocol given by the application is invalid, or is one "
                   "the handshake sets itself";
        case error::handshake_status:
            return "WebSocket handshake failed: server did not answer 101 Switching Protocols";
        case error::handshake_no_upgrade:
            return "WebSocket handshake failed: response lacks \"Upgrade: websocket\"";
        case error::handshake_no_connection:
            return "WebSocket handshake failed: response lacks \"Connection: upgrade\"";
        case error::handshake_bad_accept:
            return "WebSocket handshake failed: Sec-WebSocket-Accept does not match the key";
        case error::handshake_bad_protocol:
            return "WebSocket handshake failed: server chose a subprotocol that was not offered";
        case error::handshake_bad_extension:
            return "WebSocket handshake failed: server accepted an extension that was not offered";
        case error::url_bad_scheme:
            return "URL scheme must be ws:// or wss://";
        case error::url_bad_host:
            return "URL host is missing or invalid";
        case error::url_bad_port:
            return "URL port must be a number from 1 to 65535";
        case error::url_bad_syntax:
            return "URL has user info, a fragment or characters that are not allowed";
        case error::unexpected_continuation:
            return "continuation frame received with no fragmented message to continue";
        case error::expected_continuation:
            return "new data frame received while a fragmented message is unfinished";
        case error::extension_failed:
            return "an extension could not transform a message payload";
        case error::closed:
            return "the WebSocket connection is closed";
        case error::close_sent:
            return "a close frame has been sent; no more messages can be sent";
        case error::message_in_progress:
            return "a fragmented message is being sent; finish it before starting another";
        case error::no_message_in_progress:
            return "a message part was sent without starting a message";
        case error::bad_opcode:
            return "only text and binary messages can be sent this way";
        case error::send_queue_full:
            return "the send queue is over its limit: the peer is not reading";
        case error::peer_timeout:
            return "the peer did not answer a ping in time";
        case error::close_timeout:
            return "the peer did not answer the close frame in time";
        case error::idle_timeout:
            return "nothing was received for the idle timeout";
        case error::abnormal_closure:
            return "the connection ended without a close handshake";
        case error::handshake_timeout:
            return "the opening handshake did not finish in time";
        case error::read_in_progress:
            return "a read is already pending on this stream; wait for it to finish";
        case error::proxy_bad_url:
            return "proxy must be http://[user:password@]host[:port], without control characters";
        case error::proxy_auth_required:
            return "HTTP proxy requires authentication (407): credentials missing or refused";
        case error::proxy_refused:
            return "HTTP proxy refused the CONNECT tunnel (a status other than 2xx)";
        case error::proxy_bad_response:
            return "HTTP proxy sent a malformed or oversized response to CONNECT";
        case error::proxy_timeout:
            return "HTTP proxy did not open the tunnel in time";
        case error::request_timeout:
            return "no reply to the request arrived in time";
        case error::request_duplicate_id:
            return "a request with this id is already pending";
        case error::request_limit:
            return "too many requests are pending";
        }
        return "unknown duplex error";
    }
};

} // namespace detail

/// The category of every `duplex::error`; its name() is "duplex".
inline const std::error_category& error_category() noexcept {
    static const detail::error_category_impl category;
    return category;
}

inline std::error_code make_error_code(error e) noexcept {
    return {static_cast<int>(e), error_category()};
}

} // namespace duplex

namespace std {
template <>
struct is_error_code_enum<duplex::error> : true_type {};
} // namespace std
