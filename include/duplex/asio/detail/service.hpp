// duplex — an Asio service that knows every live connection of an execution context: it lets go
// of the handlers stored in them when the context shuts down (io_context destroyed with
// operations pending; a stored handler usually owns, through the application's objects, the
// stream that stores it: without this the two would keep each other alive forever), and it
// closes them all for a graceful shutdown (duplex::asio::close_all). Internal.
// SPDX-License-Identifier: MIT
#pragma once

#include <duplex/core/close.hpp>

#include <asio/execution_context.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
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
        // From any thread: start the closing handshake (or cut off an opening one); the
        // connection calls ended() once it is over.
        virtual void close_soon(close_code code, const std::string& reason) = 0;
        // Its socket, in the readiness service's epoll set (readiness.hpp), became readable.
        // Called from the thread that collected the event, with a strong reference to it.
        virtual void on_readiness(std::shared_ptr<member> self) { static_cast<void>(self); }

    protected:
        ~member() = default;

    private:
        friend class connection_service;
        member* prev_ = nullptr;
        member* next_ = nullptr;
        bool awaited_ = false; // a close_all waits for it to end
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
        std::vector<std::function<void()>> done;
        {
            std::lock_guard<std::mutex> lock(m_);
            if (shut_down_)
                return;
            (m->prev_ ? m->prev_->next_ : head_) = m->next_;
            if (m->next_)
                m->next_->prev_ = m->prev_;
            m->prev_ = m->next_ = nullptr;
            done = settle(m);
        }
        for (auto& f : done)
            f();
    }

    // The connection `m` has ended (its socket is closed).
    void ended(member* m) {
        std::vector<std::function<void()>> done;
        {
            std::lock_guard<std::mutex> lock(m_);
            done = settle(m);
        }
        for (auto& f : done)
            f();
    }

    // Closes every live connection with `code` and `reason` and calls `done` once all of
    // them have ended (at once if there are none).
    void close_all(close_code code, const std::string& reason, std::function<void()> done) {
        std::vector<std::pair<member*, std::shared_ptr<void>>> live;
        {
            std::lock_guard<std::mutex> lock(m_);
            for (member* m = head_; m; m = m->next_) {
                if (m->awaited_)
                    continue; // an earlier close_all is already closing it
                if (auto held = m->hold()) {
                    m->awaited_ = true;
                    ++awaited_;
                    live.emplace_back(m, std::move(held));
                }
            }
            if (awaited_ > 0)
                on_all_ended_.push_back(std::move(done));
        }
        if (live.empty() && done)
            return done();
        for (auto& [m, held] : live)
            m->close_soon(code, reason); // outside the lock: it may end the connection at once
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

    // Under the lock: `m` no longer holds up a close_all; returns the callbacks to run (outside
    // the lock) if it was the last.
    std::vector<std::function<void()>> settle(member* m) {
        if (!m->awaited_)
            return {};
        m->awaited_ = false;
        if (--awaited_ > 0)
            return {};
        return std::exchange(on_all_ended_, {});
    }

    std::mutex m_;
    member* head_ = nullptr;
    bool shut_down_ = false;
    std::size_t awaited_ = 0;                          // members a close_all waits for
    std::vector<std::function<void()>> on_all_ended_; // the close_all callbacks waiting
};

} // namespace detail
} // namespace asio
} // namespace duplex
