// duplex — the engine's limits, behaviours and timeouts, each with a safe default.
// SPDX-License-Identifier: MIT
#pragma once

#include <duplex/core/close.hpp>
#include <duplex/core/extension.hpp>
#include <duplex/core/heartbeat.hpp>
#include <duplex/core/mask.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

namespace duplex {

/// What to do when the send queue is over its limit (the peer is not reading).
enum class backpressure_policy : std::uint8_t {
    fail_send, // send() fails with error::send_queue_full and queues nothing
    drop,      // the message is dropped silently (counted in dropped_messages())
    close,     // the connection is failed with backpressure_close_code
};

/// Limits, behaviours and timeouts, all with safe defaults.
struct engine_options {
    std::size_t max_message_size = 16 * 1024 * 1024; // close 1009 above this
    std::size_t max_frame_size = 16 * 1024 * 1024;   // close 1009 for a larger frame
    std::size_t fragment_size = 0;       // send messages as frames of at most this payload (0: one frame)
    bool auto_pong = true;               // answer every ping with a pong carrying its payload
    bool stream_messages = false;        // deliver messages in pieces as they arrive (message_part)
    bool validate_outgoing_utf8 = true;  // refuse to send text that is not UTF-8
    std::size_t send_queue_limit = 16 * 1024 * 1024;   // above this, backpressure applies
    std::size_t send_queue_resume = 8 * 1024 * 1024;   // backpressured() clears below this
    backpressure_policy on_backpressure = backpressure_policy::fail_send;
    close_code backpressure_close_code = close_code::try_again_later; // or policy_violation
    duplex::timeouts timeouts;
    std::function<mask_key()> mask_source; // clients: replaces the ChaCha20 key generator
    /// Called once by the engine's constructor: the extension negotiated for this connection
    /// (e.g. permessage-deflate, set up by enable_deflate), or nullptr for none.
    std::function<std::unique_ptr<extension>()> make_extension;
};

} // namespace duplex
