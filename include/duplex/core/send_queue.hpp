// duplex — the bytes an endpoint has yet to write: copied frames and borrowed payloads, handed
// out as gather buffers so one write can carry many frames.
// SPDX-License-Identifier: MIT
#pragma once

#include <duplex/core/buffer.hpp>
#include <duplex/core/detail/byte_buffer.hpp>
#include <duplex/core/detail/queue_vector.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

namespace duplex {

/// A FIFO of output bytes. Copied bytes go into blocks that never move, so the gather buffers
/// handed out stay valid while more is queued (a write may be in flight meanwhile); until the
/// bytes are consumed. Consecutive copied frames form one gather buffer; borrowed bytes (a
/// payload the caller keeps alive and unchanged until written) are referenced, not copied.
/// Counters of bytes queued and written tell a caller when a given message has gone out.
class send_queue {
public:
    /// Appends a copy of [data, data+size).
    void append_copy(const void* data, std::size_t size) {
        if (size == 0)
            return;
        std::memcpy(append_space(size), data, size);
    }

    /// Appends `size` bytes for the caller to write through the returned pointer, at once.
    unsigned char* append_space(std::size_t size) {
        body& q = lists();
        block& b = block_for(q, size);
        unsigned char* p = b.bytes.data() + b.used;
        b.used += size;
        if (size > 0) {
            // Extend the last segment if these bytes follow it in the same block.
            auto& segments = q.segments;
            if (q.head < segments.size() && segments.back().owned && p != b.bytes.data() &&
                segments.back().data + segments.back().size == p)
                segments.back().size += size;
            else
                segments.push_back({p, size, true});
        }
        pending_ += size;
        queued_ += size;
        return p;
    }

    /// Appends a reference to [data, data+size), which must stay valid and unchanged until
    /// written_total() passes queued_total() as it is right after this call.
    void append_ref(const void* data, std::size_t size) {
        if (size == 0)
            return;
        lists().segments.push_back({static_cast<const unsigned char*>(data), size, false});
        pending_ += size;
        queued_ += size;
    }

    /// Appends a reference to [data, data+size) and keeps `owner` (which keeps those bytes
    /// alive) until they are written: a frame shared by many queues (prepared_message).
    void append_shared(std::shared_ptr<const void> owner, const void* data, std::size_t size) {
        if (size == 0)
            return;
        append_ref(data, size);
        q_->holds.push_back({queued_, std::move(owner)});
    }

    /// Fills up to `max` gather buffers with the bytes to write next, in order; returns how many.
    /// They stay valid, whatever is appended meanwhile, until consumed.
    std::size_t buffers(const_buffer* out, std::size_t max) const noexcept {
        std::size_t n = 0;
        if (q_)
            for (std::size_t i = q_->head; i < q_->segments.size() && n < max; ++i, ++n)
                out[n] = {q_->segments[i].data, q_->segments[i].size};
        return n;
    }

    /// Number of segments buffers() would return without a limit.
    std::size_t buffer_count() const noexcept { return q_ ? q_->segments.size() - q_->head : 0; }

    /// Drops the first `n` bytes, which the caller has written. `n` must not exceed size().
    void consume(std::size_t n) {
        if (n == 0)
            return;
        pending_ -= n;
        written_ += n;
        body& q = *q_;
        while (n > 0) {
            segment& s = q.segments[q.head];
            const std::size_t take = n < s.size ? n : s.size;
            s.data += take;
            s.size -= take;
            n -= take;
            if (s.owned)
                release_owned(q, take);
            if (s.size == 0)
                ++q.head;
        }
        release_holds(q);
        detail::drop_consumed(q.segments, q.head);
        if (pending_ == 0)
            give_back(std::move(q_)); // every list is empty now
    }

    /// Bytes queued and not yet written.
    std::size_t size() const noexcept { return pending_; }
    bool empty() const noexcept { return pending_ == 0; }
    /// Bytes ever queued, and ever written, since construction.
    std::uint64_t queued_total() const noexcept { return queued_; }
    std::uint64_t written_total() const noexcept { return written_; }
    /// Bytes of memory the queue holds for copies (none once everything is written).
    std::size_t capacity() const noexcept {
        std::size_t c = 0;
        if (q_)
            for (const auto& b : q_->blocks)
                c += b.bytes.capacity();
        return c;
    }
    /// Whether the queue holds its lists (only while something is queued).
    bool holds_lists() const noexcept { return q_ != nullptr; }

    send_queue() = default;
    send_queue(send_queue&&) = default;
    send_queue& operator=(send_queue&&) = default;
    ~send_queue() {
        if (q_)
            for (auto& b : q_->blocks)
                detail::recycle_buffer(std::move(b.bytes));
    }

private:
    struct segment {
        const unsigned char* data;
        std::size_t size;
        bool owned; // in a block (consumed in order), or borrowed
    };

    // Storage reserved once and never grown, so pointers into it are stable.
    struct block {
        detail::byte_buffer bytes; // size() == capacity: the room
        std::size_t used = 0;      // appended
        std::size_t done = 0;      // consumed
    };

    // A shared frame's owner, released once written_ reaches `end` (the queue's queued_total
    // right after the frame).
    struct hold {
        std::uint64_t end;
        std::shared_ptr<const void> owner;
    };

    // The lists behind a non-empty queue. An empty queue gives them back to a per-thread stock
    // (their vectors keep their capacity there), so an idle connection's queue is one null
    // pointer and three counters, and steady traffic takes lists from the stock, not malloc.
    struct body {
        std::vector<block> blocks;     // oldest first; only the last is appended to
        std::vector<hold> holds;       // [holds_head, size) are not yet written
        std::size_t holds_head = 0;
        std::vector<segment> segments; // [head, size) are pending
        std::size_t head = 0;
    };
    static constexpr std::size_t stock_max = 64; // per thread
    static std::vector<std::unique_ptr<body>>& stock() {
        thread_local std::vector<std::unique_ptr<body>> s;
        return s;
    }
    body& lists() {
        if (!q_) {
            auto& s = stock();
            if (s.empty()) {
                q_ = std::make_unique<body>();
            } else {
                q_ = std::move(s.back());
                s.pop_back();
            }
        }
        return *q_;
    }
    static void give_back(std::unique_ptr<body> q) {
        for (auto& b : q->blocks) // none is left unless a zero-size append made one
            detail::recycle_buffer(std::move(b.bytes));
        q->blocks.clear();
        auto& s = stock();
        if (s.size() < stock_max && q->segments.capacity() <= 64 && q->holds.capacity() <= 64 &&
            q->blocks.capacity() <= 8)
            s.push_back(std::move(q)); // else freed: it grew for a burst
    }

    // The block to append `size` bytes to: the last one if it has room, else a new one from
    // the thread's buffer pool (a frame larger than a pool block gets a block of its own).
    static block& block_for(body& q, std::size_t size) {
        if (!q.blocks.empty() && q.blocks.back().bytes.size() - q.blocks.back().used >= size)
            return q.blocks.back();
        block fresh;
        fresh.bytes = detail::acquire_buffer(size);
        q.blocks.push_back(std::move(fresh)); // moving a block keeps its bytes where they are
        return q.blocks.back();
    }

    // Lets go of the shared frames written so far (oldest first).
    void release_holds(body& q) {
        while (q.holds_head < q.holds.size() && q.holds[q.holds_head].end <= written_)
            q.holds[q.holds_head++].owner.reset();
        detail::drop_consumed(q.holds, q.holds_head);
    }

    // Owned bytes are consumed in the order they were appended: account them to the blocks
    // from the front, and give blocks that are done back to the pool. An idle queue holds no
    // memory; steady traffic takes blocks from the pool, not from malloc.
    static void release_owned(body& q, std::size_t n) {
        while (n > 0) {
            block& b = q.blocks.front();
            const std::size_t take = n < b.used - b.done ? n : b.used - b.done;
            b.done += take;
            n -= take;
            if (b.done < b.used)
                continue;
            detail::recycle_buffer(std::move(b.bytes));
            q.blocks.erase(q.blocks.begin());
        }
    }

    std::unique_ptr<body> q_; // null while empty
    std::size_t pending_ = 0;
    std::uint64_t queued_ = 0;
    std::uint64_t written_ = 0;
};

} // namespace duplex
