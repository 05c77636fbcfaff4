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

} // namespace detail
} // namespace duplex
