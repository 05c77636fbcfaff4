// duplex — an Asio service that lets go of the handlers stored in live connections when their
// execution context shuts down (io_context destroyed with operations pending). A stored handler
// usually owns, through the application's objects, the stream that stores it: without this
// the two would keep each other alive forever. Internal.
// SPDX-License-Identifier: MIT
#pragma once

#include <asio/execution_context.hpp>

#include <memory>
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

    // What a live connection is to the service: a link in its list (no allocation per
    // connection), a way to keep it alive, and abandon(), called at shutdown.
    class member {
    public:
        virtual std::shared_ptr<void> hold() noexcept = 0; // null once it is being destroyed
        virtual void abandon() = 0;

    protected:
        ~member() = default;

    private:
        friend class connection_service;
        member* prev_ = nullptr;
        member* next_ = nullptr;
    };

    explicit connection_service(::asio::execution_context& ctx) : ::asio::execution_context::service(ctx) {}

    void add(member* m) {
        std::lock_guard<std::mutex> lock(m_);
        m->next_ = head_;
        if (head_)
            head_->prev_ = m;
        head_ = m;
    }

    void remove(member* m) {
        std::lock_guard<std::mutex> lock(m_);
        if (shut_down_)
            return;
        (m->prev_ ? m->prev_->next_ : head_) = m->next_;
        if (m->next_)
            m->next_->prev_ = m->prev_;
        m->prev_ = m->next_ = nullptr;
    }

private:
    void shutdown() override {
        // Holds every live connection first: abandoning one may destroy others.
        std::vector<std::pair<member*, std::shared_ptr<void>>> live;
        {
            std::lock_guard<std::mutex> lock(m_);
            shut_down_ = true;
            for (member* m = head_; m; m = m->next_)
                if (auto held = m->hold())
                    live.emplace_back(m, std::move(held));
            head_ = nullptr;
        }
        for (auto& [m, held] : live)
            m->abandon(); // may destroy handlers, and with them connections: outside the lock
    }

    std::mutex m_;
    member* head_ = nullptr;
    bool shut_down_ = false;
};

} // namespace detail
} // namespace asio
} // namespace duplex
