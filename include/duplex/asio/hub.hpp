// duplex — publish/subscribe over WebSocket connections: connections subscribe to named topics
// (rooms, channels), and a message published to a topic is framed once and queued, by
// reference, on every subscriber. A subscriber that does not keep up is skipped or closed,
// never waited for; a connection that ends leaves all its topics.
// SPDX-License-Identifier: MIT
#pragma once

#include <duplex/asio/stream.hpp>
#include <duplex/core/close.hpp>
#include <duplex/core/prepared_message.hpp>

#include <asio/dispatch.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

namespace duplex {
namespace asio {

/// What a hub does with a subscriber whose send queue is over hub_options::max_buffered when a
/// message is published to it.
enum class slow_subscriber : std::uint8_t {
    skip,  // it misses this message (counted in hub::skipped()); it gets later ones once it drains
    close, // the connection is closed with hub_options::slow_close_code (counted in hub::closed_slow())
};

struct hub_options {
    /// A subscriber with more bytes queued and not yet written than this is slow.
    std::size_t max_buffered = 1024 * 1024;
    slow_subscriber on_slow = slow_subscriber::skip;
    close_code slow_close_code = close_code::try_again_later; // 1013
};

/// Topics and their subscribers, for streams of one type (say stream<::asio::ip::tcp::socket>).
///
/// Threads: every member function may be called from any thread; the topic table is behind a
/// mutex, and each subscriber's send runs on that subscriber's executor (its strand, with a
/// multi-threaded io_context). With one thread running the io_context, a publish made from
/// one of its handlers queues on every subscriber at once, with no handler per subscriber.
/// Order: what one thread (or strand) publishes to a topic reaches each subscriber in the
/// order it was published. Queued messages go out in the subscriber's next write, together
/// with anything else queued before it.
///
/// Lifetime: a connection leaves all its topics when it ends (the stream's socket closes or
/// the stream is destroyed). The hub may be destroyed before or after its subscribers.
template <class NextLayer>
class hub {
    using connection = typename stream<NextLayer>::connection;

public:
    explicit hub(hub_options options = {}) : state_(std::make_shared<state>(options)) {}

    hub(const hub&) = delete;
    hub& operator=(const hub&) = delete;

    /// Adds `ws` to `topic`; false if it was already subscribed. Messages published before its
    /// handshake completes are not sent to it.
    bool subscribe(stream<NextLayer>& ws, std::string_view topic) {
        const std::shared_ptr<connection>& c = ws.c_;
        bool first = false;
        {
            std::lock_guard<std::mutex> lock(state_->m);
            auto [it, added] = state_->members.try_emplace(c.get());
            if (added) {
                it->second.conn = c;
                first = true;
            }
            auto& mine = it->second.topics;
            if (std::find(mine.begin(), mine.end(), topic) != mine.end())
                return false;
            mine.emplace_back(topic);
            state_->topics[std::string(topic)].push_back(c.get());
        }
        if (first) // leave every topic when the connection ends
            ::asio::dispatch(c->next.get_executor(), [c, weak = std::weak_ptr<state>(state_)] {
                c->on_end([key = c.get(), weak] {
                    if (auto s = weak.lock())
                        s->remove(key);
                });
            });
        return true;
    }

    /// Removes `ws` from `topic`; false if it was not subscribed.
    bool unsubscribe(stream<NextLayer>& ws, std::string_view topic) {
        std::lock_guard<std::mutex> lock(state_->m);
        auto member = state_->members.find(ws.c_.get());
        if (member == state_->members.end())
            return false;
        auto& mine = member->second.topics;
        auto t = std::find(mine.begin(), mine.end(), topic);
        if (t == mine.end())
            return false;
        mine.erase(t);
        state_->leave(ws.c_.get(), topic);
        return true;
    }

    /// Removes `ws` from every topic.
    void unsubscribe_all(stream<NextLayer>& ws) {
        std::lock_guard<std::mutex> lock(state_->m);
        auto member = state_->members.find(ws.c_.get());
        if (member == state_->members.end())
            return;
        for (const auto& topic : member->second.topics)
            state_->leave(ws.c_.get(), topic);
        member->second.topics.clear(); // the entry stays until the connection ends: its hook is set
    }

    /// Frames the message once and queues it on every subscriber of `topic`. Returns the
    /// number of subscribers it was handed to (each then sends it, skips it or closes, as
    /// above). Fails with error::bad_opcode (op not text or binary) or error::invalid_utf8.
    std::size_t publish(std::string_view topic, opcode op, const void* data, std::size_t size, std::error_code& ec) {
        prepared_message m(op, data, size, ec);
        return ec ? 0 : publish(topic, m);
    }

    std::size_t publish(std::string_view topic, std::string_view text, std::error_code& ec) {
        return publish(topic, opcode::text, text.data(), text.size(), ec);
    }

    /// Queues `m` on every subscriber of `topic`.
    std::size_t publish(std::string_view topic, const prepared_message& m) {
        if (!m)
            return 0;
        std::vector<std::shared_ptr<connection>> targets;
        {
            std::lock_guard<std::mutex> lock(state_->m);
            auto t = state_->topics.find(std::string(topic));
            if (t == state_->topics.end())
                return 0;
            targets.reserve(t->second.size());
            for (connection* key : t->second)
                if (auto c = state_->members.at(key).conn.lock())
                    targets.push_back(std::move(c));
        }
        for (auto& c : targets) {
            auto* raw = c.get();
            ::asio::dispatch(raw->next.get_executor(), [c = std::move(c), m, s = state_] { s->deliver(*c, m); });
        }
        return targets.size();
    }

    /// Subscribers of `topic` now.
    std::size_t subscribers(std::string_view topic) const {
        std::lock_guard<std::mutex> lock(state_->m);
        auto t = state_->topics.find(std::string(topic));
        return t == state_->topics.end() ? 0 : t->second.size();
    }

    /// Topics with at least one subscriber.
    std::size_t topic_count() const {
        std::lock_guard<std::mutex> lock(state_->m);
        return state_->topics.size();
    }

    /// Messages a slow subscriber missed (slow_subscriber::skip).
    std::uint64_t skipped() const noexcept { return state_->skipped.load(std::memory_order_relaxed); }
    /// Subscribers closed for being slow (slow_subscriber::close).
    std::uint64_t closed_slow() const noexcept { return state_->closed.load(std::memory_order_relaxed); }

private:
    struct member {
        std::weak_ptr<connection> conn;
        std::vector<std::string> topics;
    };

    struct state {
        explicit state(hub_options o) : options(o) {}

        // On the subscriber's executor.
        void deliver(connection& c, const prepared_message& m) {
            if (c.buffered_amount() > options.max_buffered) {
                if (options.on_slow == slow_subscriber::close) {
                    if (c.state() == connection_state::open)
                        closed.fetch_add(1, std::memory_order_relaxed);
                    c.close_now(options.slow_close_code, "subscriber too slow");
                } else {
                    skipped.fetch_add(1, std::memory_order_relaxed);
                }
                return;
            }
            std::error_code ignored; // a closed connection: its end hook removes it
            c.send_now([&](auto& e, std::error_code& ec) { e.send(m, ec); }, ignored);
        }

        // The connection `key` ended: it leaves every topic. Locks.
        void remove(connection* key) {
            std::lock_guard<std::mutex> lock(m);
            auto member = members.find(key);
            if (member == members.end())
                return;
            for (const auto& topic : member->second.topics)
                leave(key, topic);
            members.erase(member);
        }

        // Removes `key` from one topic's list; drops the topic when it empties. Under the lock.
        void leave(connection* key, std::string_view topic) {
            auto t = topics.find(std::string(topic));
            if (t == topics.end())
                return;
            auto& list = t->second;
            list.erase(std::remove(list.begin(), list.end(), key), list.end());
            if (list.empty())
                topics.erase(t);
        }

        const hub_options options;
        std::mutex m;
        std::unordered_map<std::string, std::vector<connection*>> topics;
        std::unordered_map<connection*, member> members;
        std::atomic<std::uint64_t> skipped{0};
        std::atomic<std::uint64_t> closed{0};
    };

    std::shared_ptr<state> state_;
};

} // namespace asio
} // namespace duplex
