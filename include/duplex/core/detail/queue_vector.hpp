// duplex — a std::vector used as a FIFO queue with a moving head. Internal.
// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <iterator>
#include <vector>

namespace duplex {
namespace detail {

// Drops the consumed entries [0, head) of `v`: at once when all are consumed (no moves), else
// once they are 64 or more and at least half of `v`, so that each entry is moved O(1) times on
// average. (A deque would allocate and free its chunks as the queue moves along.)
template <class T>
void drop_consumed(std::vector<T>& v, std::size_t& head) {
    if (head == v.size()) {
        v.clear();
        head = 0;
    } else if (head >= 64 && head >= v.size() / 2) {
        v.erase(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(head));
        head = 0;
    }
}

} // namespace detail
} // namespace duplex
