// duplex — request/response over WebSocket: send a message carrying an id, complete when the
// reply with that id arrives, or at a timeout, or when the connection fails. Any message format:
// the application writes the id into its requests and reads it out of the replies.
// SPDX-License-Identifier: MIT
#pragma once

#include <duplex/asio/detail/handler.hpp>
#include <duplex/core/error.hpp>
#include <duplex/core/frame.hpp>

#include <asio/async_result.hpp>
#include <asio/dispatch.hpp>
#include <asio/error.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>

namespace duplex {
namespace asio {

/// Matches replies to requests by id. Usage:
///
///     request_tracker<std::uint64_t> calls;
///     // send: the id is also inside the payload, in the application's own format
///     calls.async_request(ws, 7, opcode::text, "id:7|get", 5s, handler); // void(error_code, std::string)
///     // the read loop: offer each message to the tracker, handle it yourself if unclaimed
///     if (!calls.deliver(id_of(m.data), m.data)) handle_event(m);
///     // when the read loop ends (error::closed, a failure...): fail what is left
///     calls.fail_all(ec);
///
/// Each request completes exactly once: with its reply (no error), error::request_timeout when
/// `timeout` passes first (a reply arriving later is no longer matched: deliver() returns
/// false), the write's error if sending it failed, the error given to fail_all(), or
/// ::asio::error::operation_aborted when the tracker is destroyed. It is refused at once with
/// error::request_duplicate_id while a request with the same id is pending, and with
/// error::request_limit while `max_pending` are. Completions are always queued on the
/// handler's executor (the stream's when it has none), never run inside deliver() or fail_all().
///
/// Threading: the tracker has no lock; it belongs to the stream's executor (as the stream's
/// state does). async_request may be called from anywhere (it dispatches to the stream's
/// executor); call deliver(), fail_all(), pending() and the destructor there (from the read
/// loop's handlers, or the stream's strand). `Stream` is anything with get_executor() and
/// async_write(opcode, const void*, std::size_t, handler), such as duplex::asio::stream; it must
/// outlive the requests sent on it. `Id` is copyable, equality-comparable and hashable by `Hash`.
template <class Id = std::uint64_t, class Hash = std::hash<Id>>
class request_tracker final {
public:
    /// Signature of async_request's completion.
    using signature = void(std::error_code, std::string);

    explicit request_tracker(std::size_t max_pending = 1024) : impl_(std::make_shared<impl>(max_pending)) {}

    request_tracker(const request_tracker&) = delete;
    request_tracker& operator=(const request_tracker&) = delete;

    /// Completes every pending request with ::asio::error::operation_aborted; requests still on
    /// their way to the executor are refused the same way.
    ~request_tracker() {
        impl_->closed = true;
        impl_->fail_all(make_error_code(::asio::error::operation_aborted));
    }

    /// Sends `payload` as one message of type `op` (text or binary) on `ws` and waits for
    /// deliver(id, ...). `timeout` of zero or less: no timeout (fail_all still ends the wait).
    /// Signature: void(std::error_code, std::string reply).
    template <class Stream, class Token>
    auto async_request(Stream& ws, Id id, opcode op, std::string payload, std::chrono::milliseconds timeout,
                       Token&& token) {
        return ::asio::async_initiate<Token, signature>(
            [impl = impl_, ws = &ws](auto handler, Id id, opcode op, std::string payload,
                                     std::chrono::milliseconds timeout) {
                auto ex = ws->get_executor();
                ::asio::dispatch(ex, [impl, ws, id = std::move(id), op, payload = std::move(payload), timeout,
                                      h = handler_type(std::move(handler), ex)]() mutable {
                    impl->start(*ws, std::move(id), op, std::move(payload), timeout, std::move(h));
                });
            },
            token, std::move(id), op, std::move(payload), timeout);
    }

    /// Offers a received message: if a request with `id` is pending, completes it with a copy
    /// of `reply` and returns true; otherwise returns false (an unrelated message, or a reply
    /// that came after its request completed) and the message is the caller's to handle.
    bool deliver(const Id& id, std::string_view reply) { return impl_->complete(id, nullptr, {}, reply); }

    /// Completes every pending request with `ec` (e.g. the error that ended the read loop).
    /// The tracker stays usable: requests made afterwards (on a new connection) wait as usual.
    void fail_all(std::error_code ec) { impl_->fail_all(ec); }

    /// Requests sent and not yet completed.
    std::size_t pending() const noexcept { return impl_->entries.size(); }

private:
    using handler_type = detail::any_handler<std::error_code, std::string>;

    struct entry {
        std::uint64_t serial = 0; // tells this request from an earlier one with the same id
        handler_type handler;
        std::unique_ptr<::asio::steady_timer> timer;
    };

    // Shared with the timers' and writes' handlers, which hold it weakly.
    struct impl : std::enable_shared_from_this<impl> {
        explicit impl(std::size_t max) : max_pending(max) {}

        template <class Stream>
        void start(Stream& ws, Id id, opcode op, std::string payload, std::chrono::milliseconds timeout,
                   handler_type h) {
            if (closed)
                return h.post(make_error_code(::asio::error::operation_aborted), std::string());
            if (entries.find(id) != entries.end())
                return h.post(make_error_code(error::request_duplicate_id), std::string());
            if (entries.size() >= max_pending)
                return h.post(make_error_code(error::request_limit), std::string());
            const auto it = entries.try_emplace(id).first;
            const std::uint64_t serial = ++last_serial;
            entry& e = it->second;
            e.serial = serial;
            e.handler = std::move(h);
            const std::weak_ptr<impl> weak = this->weak_from_this();
            if (timeout.count() > 0) {
                e.timer = std::make_unique<::asio::steady_timer>(ws.get_executor(), timeout);
                e.timer->async_wait([weak, id, serial](std::error_code ec) {
                    if (const auto self = weak.lock(); self && !ec)
                        self->complete(id, &serial, make_error_code(error::request_timeout), {});
                });
            }
            // The payload lives until its write completes, whatever becomes of the request.
            auto bytes = std::make_shared<const std::string>(std::move(payload));
            ws.async_write(op, bytes->data(), bytes->size(),
                           [weak, id = std::move(id), serial, bytes](std::error_code ec) {
                               if (!ec)
                                   return;
                               if (const auto self = weak.lock())
                                   self->complete(id, &serial, ec, {});
                           });
        }

        // Completes the request pending under `id` (only if it is request `serial`, when given).
        bool complete(const Id& id, const std::uint64_t* serial, std::error_code ec, std::string_view reply) {
            const auto it = entries.find(id);
            if (it == entries.end() || (serial && it->second.serial != *serial))
                return false;
            handler_type h = std::move(it->second.handler);
            entries.erase(it); // destroys the timer: its wait ends with operation_aborted
            h.post(ec, std::string(reply));
            return true;
        }

        void fail_all(std::error_code ec) {
            auto all = std::move(entries);
            entries.clear();
            for (auto& [id, e] : all)
                e.handler.post(ec, std::string());
        }

        std::unordered_map<Id, entry, Hash> entries;
        std::size_t max_pending;
        std::uint64_t last_serial = 0;
        bool closed = false;
    };

    std::shared_ptr<impl> impl_;
};

} // namespace asio
} // namespace duplex
