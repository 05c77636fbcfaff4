// duplex — an Asio service that lets go of the handlers stored in live connections when their
// execution context shuts down (io_context destroyed with operations pending). A stored handler
// usually owns, through the application's objects, the stream that stores it: without this
// the two would keep each other alive forever. Internal.
// SPDX-License-Identifier: MIT
#pragma once

#include <asio/execution_context.hpp>

#include <functional>
#include <list>
#include <mutex>
#include <utility>
#include <vector>

namespace duplex {
namespace asio {
namespace detail {

class connection_service : public ::asio::execution_context::service {
public:
    using key_type = connection_service;
    static inline ::asio::execution_context::id id;

    explicit connection_service(::asio::execution_context& ctx) : ::asio::execution_context::service(ctx) {}

    using entry = std::list<std::function<void()>>::iterator;

    // Registers `abandon`, called at shutdown; returns the key to unregister it with.
    entry add(std::function<void()> abandon) {
        std::lock_guard<std::mutex> lock(m_);
        return live_.insert(live_.end(), std::move(abandon));
    }

    void remove(entry e) {
        std::lock_guard<std::mutex> lock(m_);
        if (!shut_down_)
            live_.erase(e);
    }

private:
    void shutdown() override {
        std::list<std::function<void()>> live;
        {
            std::lock_guard<std::mutex> lock(m_);
            shut_down_ = true;
            live.swap(live_);
        }
        for (auto& abandon : live)
            abandon(); // may destroy handlers, and with them connections: outside the lock
    }

    std::mutex m_;
    std::list<std::function<void()>> live_;
    bool shut_down_ = false;
};

} // namespace detail
} // namespace asio
} // namespace duplex
