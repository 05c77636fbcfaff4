// duplex — what a connection's reader reports, and where the connection is in its life.
// SPDX-License-Identifier: MIT
#pragma once

#include <duplex/core/close.hpp>
#include <duplex/core/frame.hpp>

#include <cstdint>
#include <string_view>

namespace duplex {

/// Where a connection is in its life (RFC 6455 §7).
enum class connection_state : std::uint8_t {
    open,    // messages flow both ways
    closing, // we sent a close frame and wait for the peer's
    closed,  // close frames exchanged, the connection failed, or the transport ended
};

enum class event_type : std::uint8_t {
    none,
    message,      // a whole text or binary message
    message_part, // a piece of a message (engine_options::stream_messages)
    ping,
    pong,
    close,        // the peer's close frame
};

/// What read() found. `data` is a view into the buffer given to read() or into the engine,
/// valid until the next call on the engine.
struct event {
    event_type type = event_type::none;
    opcode op = opcode::text;                // message, message_part: text or binary
    bool last = true;                        // message_part: the message's final piece
    std::string_view data;                   // payload; for close, the reason
    close_code code = close_code::no_status; // close

    explicit operator bool() const noexcept { return type != event_type::none; }
    bool is_text() const noexcept { return op == opcode::text; }
};

/// A whole text or binary message as the streams deliver it: a view valid until the next read
/// on the stream.
struct message {
    opcode op = opcode::text;
    std::string_view data;
    bool is_text() const noexcept { return op == opcode::text; }
};

} // namespace duplex
