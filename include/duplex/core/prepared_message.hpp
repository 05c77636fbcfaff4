// duplex — a message framed once and sent to many connections: a broadcast builds its frame
// (header and payload, unmasked, RFC 6455 §5.2) once, and every server connection queues a
// reference to the same bytes instead of framing and copying the payload again.
// SPDX-License-Identifier: MIT
#pragma once

#include <duplex/core/buffer.hpp>
#include <duplex/core/error.hpp>
#include <duplex/core/frame.hpp>
#include <duplex/core/utf8.hpp>

#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>
#include <system_error>

namespace duplex {

/// An immutable text or binary message in one unmasked frame, shared by reference: copies are
/// cheap and thread-safe (a reference count), and the bytes live until the last connection
/// that queued them has written them. Text is checked for UTF-8 once, here.
///
/// A server's engine queues the frame itself (engine::send(const prepared_message&)); a
/// client's engine must mask each frame with a fresh key, so it sends the payload as an
/// ordinary message. The frame is never compressed, even where permessage-deflate was agreed
/// (RFC 7692 §6 lets any message go out uncompressed), and never split at
/// engine_options::fragment_size.
class prepared_message {
public:
    /// Empty: sending it fails with error::bad_opcode.
    prepared_message() = default;

    /// Frames a copy of [data, data+size) as one `op` (text or binary) frame. Fails with
    /// error::bad_opcode for other opcodes and error::invalid_utf8 for text that is not UTF-8,
    /// leaving the message empty.
    prepared_message(opcode op, const void* data, std::size_t size, std::error_code& ec) {
        ec.clear();
        if (op != opcode::text && op != opcode::binary) {
            ec = error::bad_opcode;
            return;
        }
        if (op == opcode::text && !is_valid_utf8(data, size)) {
            ec = error::invalid_utf8;
            return;
        }
        frame_header h;
        h.op = op;
        h.fin = true;
        h.payload_length = size;
        const std::size_t head = header_size(size, false);
        auto bytes = std::make_shared<storage>(head + size);
        encode_header(h, bytes->data.get());
        if (size > 0)
            std::memcpy(bytes->data.get() + head, data, size);
        bytes_ = std::move(bytes);
        op_ = op;
        head_ = static_cast<unsigned char>(head);
    }

    /// A text message.
    prepared_message(std::string_view text, std::error_code& ec)
        : prepared_message(opcode::text, text.data(), text.size(), ec) {}

    explicit operator bool() const noexcept { return bytes_ != nullptr; }
    opcode op() const noexcept { return op_; }

    /// The whole frame as it goes on the wire.
    const_buffer frame() const noexcept {
        return bytes_ ? const_buffer{bytes_->data.get(), bytes_->size} : const_buffer{};
    }

    /// The payload alone (what a client sends, masked, as an ordinary message).
    const_buffer payload() const noexcept {
        return bytes_ ? const_buffer{bytes_->data.get() + head_, bytes_->size - head_} : const_buffer{};
    }

    /// What keeps the bytes alive: a queue that references frame() holds a copy of this.
    std::shared_ptr<const void> owner() const noexcept { return bytes_; }

private:
    struct storage {
        explicit storage(std::size_t n) : data(new unsigned char[n]), size(n) {}
        std::unique_ptr<unsigned char[]> data;
        std::size_t size;
    };

    static bool is_valid_utf8(const void* data, std::size_t size) {
        utf8_validator v;
        return v.feed(data, size) && v.complete();
    }

    std::shared_ptr<const storage> bytes_;
    opcode op_ = opcode::binary;
    unsigned char head_ = 0;
};

} // namespace duplex
