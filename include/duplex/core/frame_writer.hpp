// duplex — the sending half of a connection: frames written into the send queue, masked by a
// client, split at a fragment size, with the queue's backpressure mark (RFC 6455 §5.2-§5.4).
// SPDX-License-Identifier: MIT
#pragma once

#include <duplex/core/buffer.hpp>
#include <duplex/core/frame.hpp>
#include <duplex/core/mask.hpp>
#include <duplex/core/random.hpp>
#include <duplex/core/send_queue.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

namespace duplex {

/// Whether a payload handed to send() is copied or referenced until written.
enum class payload_mode : std::uint8_t {
    copy,   // copied into the send queue: the caller may reuse its memory at once
    borrow, // a server references it (no copy) until written_total() passes the message's end;
            // the caller keeps it alive and unchanged until then. Clients copy anyway, to mask.
};

/// Writes frames for one endpoint into its send queue. A server's frames are unmasked and may
/// reference a borrowed payload; a client masks each frame with a fresh key while copying it.
template <role Role>
class frame_writer {
public:
    /// `mask_source` replaces the ChaCha20 key generator when set (clients only: a server
    /// ignores it).
    explicit frame_writer(std::function<mask_key()> mask_source = {}, std::size_t limit = SIZE_MAX,
                          std::size_t resume = SIZE_MAX)
        : limit_(limit), resume_(resume) {
        if constexpr (Role == role::client)
            mask_source_ = std::move(mask_source);
        else
            (void)mask_source;
    }

    /// Queues one frame: header, then payload.
    void frame(opcode op, bool fin, std::uint8_t rsv, const unsigned char* data, std::size_t size,
               payload_mode mode = payload_mode::copy) {
        frame_header h;
        h.op = op;
        h.fin = fin;
        h.rsv1 = (rsv & rsv1_bit) != 0;
        h.rsv2 = (rsv & rsv2_bit) != 0;
        h.rsv3 = (rsv & rsv3_bit) != 0;
        h.payload_length = size;
        if constexpr (Role == role::client) {
            h.masked = true;
            h.key = mask_source_ ? mask_source_() : keys_.next();
        }
        const std::size_t head = header_size(size, h.masked);
        if (Role == role::server && mode == payload_mode::borrow && size >= min_borrow) {
            encode_header(h, queue_.append_space(head));
            queue_.append_ref(data, size);
        } else {
            unsigned char* dst = queue_.append_space(head + size);
            encode_header(h, dst);
            if (h.masked)
                copy_masked(dst + head, data, size, h.key);
            else if (size > 0)
                std::memcpy(dst + head, data, size);
        }
        if (queue_.size() > limit_)
            backpressured_ = true;
    }

    /// Queues a ready-made frame by reference (a server's prepared_message), keeping `owner`
    /// until it is written.
    void shared_frame(std::shared_ptr<const void> owner, const void* frame, std::size_t size) {
        queue_.append_shared(std::move(owner), frame, size);
        if (queue_.size() > limit_)
            backpressured_ = true;
    }

    /// Queues a whole message as frames of at most `fragment_size` payload bytes (0: one frame);
    /// `rsv` goes on the first frame only.
    void message(opcode op, std::uint8_t rsv, const unsigned char* data, std::size_t size,
                 std::size_t fragment_size, payload_mode mode = payload_mode::copy) {
        const std::size_t step = fragment_size ? fragment_size : size;
        std::size_t sent = 0;
        do {
            const std::size_t n = std::min(step, size - sent);
            frame(sent == 0 ? op : opcode::continuation, sent + n == size, sent == 0 ? rsv : 0,
                  data + sent, n, mode);
            sent += n;
        } while (sent < size);
    }

    std::size_t output(const_buffer* buffers, std::size_t max) const noexcept {
        return queue_.buffers(buffers, max);
    }

    void consume(std::size_t n) {
        queue_.consume(n);
        if (backpressured_ && queue_.size() <= resume_)
            backpressured_ = false;
    }

    /// True when the queue is at or over its limit: new messages meet the backpressure policy.
    bool full() const noexcept { return queue_.size() >= limit_; }
    void set_backpressured() noexcept { backpressured_ = true; }
    bool backpressured() const noexcept { return backpressured_; }
    const send_queue& queue() const noexcept { return queue_; }
    std::size_t limit() const noexcept { return limit_; }
    std::size_t resume() const noexcept { return resume_; }
    std::function<mask_key()> mask_source() const {
        if constexpr (Role == role::client)
            return mask_source_;
        else
            return {};
    }

private:
    // A server neither masks nor keeps a key generator.
    struct none {};
    using key_source = std::conditional_t<Role == role::client, mask_generator, none>;
    using mask_function = std::conditional_t<Role == role::client, std::function<mask_key()>, none>;
    static constexpr std::size_t min_borrow = 1024; // smaller payloads are cheaper to copy

    send_queue queue_;
    mask_function mask_source_;
    key_source keys_;
    std::size_t limit_;
    std::size_t resume_;
    bool backpressured_ = false;
};

} // namespace duplex
