// duplex — the bytes an endpoint has yet to write: copied frames and borrowed payloads, handed
// out as gather buffers so one write can carry many frames.
// SPDX-License-Identifier: MIT
#pragma once

#include <duplex/core/buffer.hpp>
#include <duplex/core/detail/byte_buffer.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace duplex {

/// A FIFO of output bytes. Copied bytes live in one growable block, so consecutive copied frames
/// form one gather buffer; borrowed bytes (a payload the caller keeps alive and unchanged until
/// written) are referenced, not copied. Counters of bytes queued and written since the start
/// tell a caller when a given message has gone out.
class send_queue {
public:
    /// Appends a copy of [data, data+size).
    void append_copy(const void* data, std::size_t size) {
        if (size == 0)
            return;
        std::memcpy(append_space(size), data, size);
    }

    /// Appends `size` bytes to be written by the caller through the returned pointer, which is
    /// valid until the next call that changes the queue.
    unsigned char* append_space(std::size_t size) {
        const std::size_t offset = arena_.size();
        arena_.resize(offset + size);
        if (head_ < segments_.size() && segments_.back().ref == nullptr &&
            segments_.back().offset + segments_.back().size == offset)
            segments_.back().size += size;
        else if (size > 0)
            segments_.push_back({nullptr, offset, size});
        pending_ += size;
        queued_ += size;
        return arena_.data() + offset;
    }

    /// Appends a reference to [data, data+size), which must stay valid and unchanged until
    /// written_total() passes queued_total() as it is right after this call.
    void append_ref(const void* data, std::size_t size) {
        if (size == 0)
            return;
        segments_.push_back({static_cast<const unsigned char*>(data), 0, size});
        pending_ += size;
        queued_ += size;
    }

    /// Fills up to `max` gather buffers with the bytes to write next, in order; returns how many.
    std::size_t buffers(const_buffer* out, std::size_t max) const noexcept {
        std::size_t n = 0;
        for (std::size_t i = head_; i < segments_.size() && n < max; ++i, ++n) {
            const segment& s = segments_[i];
            out[n] = {s.ref ? s.ref : arena_.data() + s.offset, s.size};
        }
        return n;
    }

    /// Number of segments buffers() would return without a limit.
    std::size_t buffer_count() const noexcept { return segments_.size() - head_; }

    /// Drops the first `n` bytes, which the caller has written. `n` must not exceed size().
    void consume(std::size_t n) {
        pending_ -= n;
        written_ += n;
        while (n > 0) {
            segment& s = segments_[head_];
            const std::size_t take = n < s.size ? n : s.size;
            if (s.ref)
                s.ref += take;
            else
                s.offset += take;
            s.size -= take;
            n -= take;
            if (s.size == 0)
                ++head_;
        }
        compact();
    }

    /// Bytes queued and not yet written.
    std::size_t size() const noexcept { return pending_; }
    bool empty() const noexcept { return pending_ == 0; }
    /// Bytes ever queued, and ever written, since construction.
    std::uint64_t queued_total() const noexcept { return queued_; }
    std::uint64_t written_total() const noexcept { return written_; }
    /// Bytes of memory the queue holds for copies (its capacity).
    std::size_t capacity() const noexcept { return arena_.capacity(); }

private:
    // A run of bytes: borrowed (ref set) or at `offset` in the arena (ref null).
    struct segment {
        const unsigned char* ref;
        std::size_t offset;
        std::size_t size;
    };

    static constexpr std::size_t keep_capacity = 64 * 1024;

    // Reclaims written arena bytes: all of them when the queue is empty (giving back a large
    // block), or the written front once it is more than half the arena.
    void compact() {
        if (head_ == segments_.size()) {
            detail::release(arena_, keep_capacity);
            segments_.clear();
            head_ = 0;
            return;
        }
        if (head_ >= 64 && head_ >= segments_.size() / 2) {
            segments_.erase(segments_.begin(), segments_.begin() + static_cast<std::ptrdiff_t>(head_));
            head_ = 0;
        }
        std::size_t front = arena_.size();
        for (std::size_t i = head_; i < segments_.size(); ++i)
            if (!segments_[i].ref && segments_[i].offset < front)
                front = segments_[i].offset;
        if (front < keep_capacity || front < arena_.size() / 2)
            return;
        std::memmove(arena_.data(), arena_.data() + front, arena_.size() - front);
        arena_.resize(arena_.size() - front);
        for (std::size_t i = head_; i < segments_.size(); ++i)
            if (!segments_[i].ref)
                segments_[i].offset -= front;
    }

    detail::byte_buffer arena_;
    std::vector<segment> segments_; // [head_, size) are pending
    std::size_t head_ = 0;
    std::size_t pending_ = 0;
    std::uint64_t queued_ = 0;
    std::uint64_t written_ = 0;
};

} // namespace duplex
