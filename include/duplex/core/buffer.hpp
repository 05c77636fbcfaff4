// duplex — plain (pointer, size) views of memory, for gather writes and stream adapters.
// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>

namespace duplex {

/// Bytes to write: a view that does not own its memory.
struct const_buffer {
    const void* data = nullptr;
    std::size_t size = 0;
};

/// Room to read into: a view that does not own its memory.
struct mutable_buffer {
    void* data = nullptr;
    std::size_t size = 0;
};

} // namespace duplex
