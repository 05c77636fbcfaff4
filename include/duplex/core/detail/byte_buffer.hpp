// duplex — a growable byte buffer that does not zero what it grows into. Internal.
// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <memory>
#include <new>
#include <vector>

namespace duplex {
namespace detail {

// std::allocator, except that resize() default-initializes (leaves bytes as they are) instead
// of zeroing: buffers that are about to be overwritten by a copy or a read skip a pass.
template <class T>
struct default_init_allocator : std::allocator<T> {
    template <class U>
    struct rebind {
        using other = default_init_allocator<U>;
    };
    default_init_allocator() = default;
    template <class U>
    default_init_allocator(const default_init_allocator<U>&) noexcept {}

    template <class U>
    void construct(U* p) noexcept {
        ::new (static_cast<void*>(p)) U;
    }
    template <class U, class... Args>
    void construct(U* p, Args&&... args) {
        ::new (static_cast<void*>(p)) U(static_cast<Args&&>(args)...);
    }
};

using byte_buffer = std::vector<unsigned char, default_init_allocator<unsigned char>>;

// Empties `b`, and gives its memory back if it grew past `keep` bytes (a large message should
// not pin memory on an idle connection).
inline void release(byte_buffer& b, std::size_t keep) {
    if (b.capacity() > keep)
        byte_buffer().swap(b);
    else
        b.clear();
}

// A per-thread stock of buffers in two sizes, so that a connection can hand its buffers back
// when it goes idle (an idle connection pins none) without steady traffic paying malloc each
// time it takes one again: send-queue blocks (pool_block_size) and socket reads
// (large_block_size: one read takes what a batch of pipelined messages brought).
// A connection takes a block while it has bytes to process or to send and gives it back as
// soon as they are done, usually in the same handler: a few blocks per thread serve steady
// traffic, and the stock stays small (it is memory every thread keeps). A read block holds a
// 64 KiB message whole with its frame header (at most 14 bytes), so that such a message, a
// common size, is delivered from the block it arrived in.
inline constexpr std::size_t pool_block_size = 16 * 1024;
inline constexpr std::size_t pool_max_blocks = 16; // per thread: at most 256 KiB kept
inline constexpr std::size_t large_block_size = 64 * 1024 + 16;
inline constexpr std::size_t large_max_blocks = 4; // per thread: at most 256 KiB kept

inline std::vector<byte_buffer>& buffer_pool() {
    thread_local std::vector<byte_buffer> pool;
    return pool;
}
inline std::vector<byte_buffer>& large_buffer_pool() {
    thread_local std::vector<byte_buffer> pool;
    return pool;
}

// A buffer of at least `size` bytes (its size() is its room): from a pool if it fits.
inline byte_buffer acquire_buffer(std::size_t size = pool_block_size) {
    const bool small = size <= pool_block_size;
    if (small || size <= large_block_size) {
        auto& pool = small ? buffer_pool() : large_buffer_pool();
        if (!pool.empty()) {
            byte_buffer b = std::move(pool.back());
            pool.pop_back();
            return b;
        }
        size = small ? pool_block_size : large_block_size;
    }
    byte_buffer b;
    b.resize(size);
    return b;
}

// Gives a buffer back: pooled if it is a standard block and its pool has room, else freed.
inline void recycle_buffer(byte_buffer&& b) {
    if (b.size() == b.capacity()) {
        if (b.size() == pool_block_size && buffer_pool().size() < pool_max_blocks)
            buffer_pool().push_back(std::move(b));
        else if (b.size() == large_block_size && large_buffer_pool().size() < large_max_blocks)
            large_buffer_pool().push_back(std::move(b));
    }
    byte_buffer().swap(b);
}

} // namespace detail
} // namespace duplex
