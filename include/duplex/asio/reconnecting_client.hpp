// duplex — a WebSocket client that stays connected: after a drop it reconnects with exponential
// backoff and random jitter, runs the application's on_open again on every connection (to
// re-authenticate, re-join rooms...), and queues or drops what is sent while it is disconnected.
// SPDX-License-Identifier: MIT
#pragma once

#include <duplex/asio/connect.hpp>
#include <duplex/asio/stream.hpp>
#include <duplex/core/backoff.hpp>
#include <duplex/core/url.hpp>

#include <asio/basic_waitable_timer.hpp>
#include <asio/error.hpp>
#include <asio/ssl.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace duplex {
namespace asio {

// The delays between attempts: duplex::backoff (<duplex/core/backoff.hpp>), also here.
using ::duplex::backoff;
using ::duplex::backoff_options;

/// What send() does with a message while no connection is open.
enum class offline_policy : std::uint8_t {
    queue, // keep it (within the queue limits) and send it after the next on_open
    drop,  // discard it (send() returns send_status::dropped)
};

/// What a full queue does with one more message.
enum class overflow_policy : std::uint8_t {
    drop_oldest, // discard the oldest queued messages to make room
    drop_newest, // refuse the new message (send() returns send_status::dropped)
};

/// What became of a message given to send().
enum class send_status : std::uint8_t {
    sent,    // handed to the open connection (copied into its send queue)
    queued,  // kept until the next connection opens
    dropped, // discarded: see dropped_messages()
};

/// Where the client is.
enum class client_state : std::uint8_t {
    idle,       // constructed, start() not called yet
    connecting, // an attempt is in progress (resolve, connect, TLS, WebSocket handshake)
    open,       // connected
    waiting,    // between attempts: a retry is scheduled
    stopped,    // stop() was called, or max_attempts ran out
};

/// A scheduled reconnection attempt, as reported to on_retry.
struct retry_info {
    unsigned attempt = 0;                  // its number since the last successful connection (from 1)
    std::chrono::microseconds delay{0};    // how long the client waits before starting it
    std::error_code error;                 // why the previous attempt failed, or what ended the connection
};

/// Settings for reconnecting_client.
struct reconnect_options {
    backoff_options backoff;
    /// Give up after this many attempts in a row fail (on_give_up is called); 0: never.
    unsigned max_attempts = 0;
    /// Bound on one attempt: DNS lookup, TCP connect, TLS and WebSocket handshakes; it fails
    /// with ::asio::error::timed_out. A DNS lookup cannot be cancelled: an attempt that times
    /// out during one ends as soon as the lookup returns. 0: no bound.
    std::chrono::milliseconds connect_timeout{10000};
    client_handshake_options handshake; // subprotocols, headers (Authorization, Cookie...)
    stream_options stream;              // engine limits and timeouts for every connection
    /// While disconnected (idle, connecting, waiting): queue or drop. The queue holds at most
    /// queue_max_messages messages and queue_max_bytes payload bytes (0: that limit is off).
    offline_policy offline = offline_policy::queue;
    std::size_t queue_max_messages = 1024;
    std::size_t queue_max_bytes = 1024 * 1024;
    overflow_policy overflow = overflow_policy::drop_oldest;
};

/// Throws std::invalid_argument naming the first bad field.
inline void validate(const reconnect_options& o) {
    backoff::validate(o.backoff);
    if (o.connect_timeout.count() < 0)
        throw std::invalid_argument("duplex reconnecting_client: connect_timeout must not be negative");
    if (o.stream.engine.timeouts.close_timeout.count() <= 0)
        throw std::invalid_argument(
            "duplex reconnecting_client: stream.engine.timeouts.close_timeout must be positive (it bounds stop())");
}

namespace detail {

// The client's state, shared with the handlers of its pending operations through weak
// pointers: destroying the client destroys it, and a handler that finds it gone does nothing.
template <class NextLayer>
class reconnect_state final : public std::enable_shared_from_this<reconnect_state<NextLayer>> {
public:
    using stream_type = stream<NextLayer>;
    using executor_type = typename NextLayer::executor_type;
    using timer_type = ::asio::basic_waitable_timer<std::chrono::steady_clock,
                                                    ::asio::wait_traits<std::chrono::steady_clock>, executor_type>;

    reconnect_state(const executor_type& ex, ws_url url, reconnect_options options,
                    std::function<stream_type()> make_stream)
        : ex_(ex), url_(std::move(url)), options_(std::move(options)), make_stream_(std::move(make_stream)),
          backoff_(options_.backoff), retry_timer_(ex) {}

    // One attempt and, once it succeeds, its connection. Owned by the state while current and
    // by the handlers of its pending operations (async_connect keeps a reference to the stream).
    struct attempt {
        attempt(stream_type s, const executor_type& ex, std::uint64_t n) : ws(std::move(s)), deadline(ex), id(n) {}
        // Ends a connect or handshake in progress (it completes with operation_aborted). Never
        // used on an open connection, whose socket the stream manages.
        void cut() {
            std::error_code ignored;
            ws.next_layer().lowest_layer().close(ignored);
        }
        stream_type ws;
        timer_type deadline; // connect_timeout
        std::uint64_t id;
        bool timed_out = false;
    };

    struct queued {
        opcode op;
        std::string data;
    };

    void start() {
        if (status_ != client_state::idle)
            return;
        connect_now();
    }

    void stop() {
        if (status_ == client_state::stopped)
            return;
        const client_state was = status_;
        status_ = client_state::stopped;
        retry_timer_.cancel();
        queue_.clear();
        queued_bytes_ = 0;
        if (auto a = std::move(cur_)) {
            if (a->ws.state() == connection_state::open) {
                a->deadline.cancel();
                a->ws.async_close(close_code::normal, "", [a](std::error_code) {});
            } else if (was == client_state::connecting) {
                a->cut(); // the attempt completes with operation_aborted
                cut_after(a, std::chrono::milliseconds(50));
            }
            // else the connection is already ending; the stream finishes that in the background
        }
    }

    send_status send(opcode op, const void* data, std::size_t size) {
        if (status_ == client_state::stopped || (op != opcode::text && op != opcode::binary))
            return drop();
        // While open the connection takes it, even in on_open before the queue is sent. A
        // queue left over means its flush found the connection closing: this send fails the
        // same way and queues behind it, so the order holds.
        if (status_ == client_state::open) {
            std::error_code ec;
            cur_->ws.send(op, data, size, ec);
            if (!ec)
                return send_status::sent;
            if (ec != error::closed && ec != error::close_sent)
                return drop(); // e.g. send_queue_full, or text that is not UTF-8
            // The connection is ending: the message waits for the next one.
        }
        return enqueue(op, data, size);
    }

    client_state status_ = client_state::idle;
    std::function<void()> on_open_;
    std::function<void(const message&)> on_message_;
    std::function<void(std::error_code, close_code)> on_disconnect_;
    std::function<void(const retry_info&)> on_retry_;
    std::function<void(std::error_code)> on_give_up_;

    executor_type ex_;
    ws_url url_;
    reconnect_options options_;
    std::shared_ptr<attempt> cur_;
    unsigned attempts_ = 0; // since the last successful connection, including one in progress
    std::uint64_t connections_ = 0;
    std::deque<queued> queue_;
    std::size_t queued_bytes_ = 0;
    std::uint64_t dropped_ = 0;

private:
    bool stopped() const noexcept { return status_ == client_state::stopped; }
    bool is_current(std::uint64_t id) const noexcept { return !stopped() && cur_ && cur_->id == id; }

    send_status drop() {
        ++dropped_;
        return send_status::dropped;
    }

    send_status enqueue(opcode op, const void* data, std::size_t size) {
        if (options_.offline == offline_policy::drop)
            return drop();
        const std::size_t max_messages = options_.queue_max_messages;
        const std::size_t max_bytes = options_.queue_max_bytes;
        if (max_bytes != 0 && size > max_bytes)
            return drop();
        auto full = [&] {
            return (max_messages != 0 && queue_.size() >= max_messages) ||
                   (max_bytes != 0 && queued_bytes_ + size > max_bytes);
        };
        if (full() && options_.overflow == overflow_policy::drop_newest)
            return drop();
        while (full()) {
            queued_bytes_ -= queue_.front().data.size();
            queue_.pop_front();
            ++dropped_;
        }
        queue_.push_back(queued{op, std::string(static_cast<const char*>(data), size)});
        queued_bytes_ += size;
        return send_status::queued;
    }

    void connect_now() {
        status_ = client_state::connecting;
        ++attempts_;
        auto a = std::make_shared<attempt>(make_stream_(), ex_, ++next_id_);
        a->ws.set_options(options_.stream);
        cur_ = a;
        if (options_.connect_timeout.count() > 0)
            cut_after(a, options_.connect_timeout);
        duplex::asio::async_connect(a->ws, url_, options_.handshake,
                                    [w = this->weak_from_this(), a](std::error_code ec) {
                                        a->deadline.cancel();
                                        if (ec && a->timed_out)
                                            ec = ::asio::error::timed_out;
                                        auto self = w.lock();
                                        if (!self || !self->is_current(a->id)) {
                                            // Abandoned (stop, or the client is gone): close politely.
                                            if (!ec)
                                                a->ws.async_close(close_code::normal, "", [a](std::error_code) {});
                                            return;
                                        }
                                        self->connected(ec);
                                    });
    }

    // When `after` has passed, ends the attempt unless its connection is open (its completion
    // not run yet): closes the socket, and again every 50 ms until the attempt completes (and
    // cancels the timer), since the connect that follows a DNS lookup reopens the socket.
    static void cut_after(const std::shared_ptr<attempt>& a, std::chrono::milliseconds after) {
        a->deadline.expires_after(after);
        a->deadline.async_wait([w = std::weak_ptr<attempt>(a)](std::error_code ec) {
            auto a = w.lock();
            if (ec || !a || a->ws.state() == connection_state::open)
                return;
            a->timed_out = true;
            a->cut();
            cut_after(a, std::chrono::milliseconds(50));
        });
    }

    void connected(std::error_code ec) {
        if (ec) {
            cur_.reset();
            return attempt_failed(ec);
        }
        const std::uint64_t id = cur_->id;
        status_ = client_state::open;
        attempts_ = 0;
        backoff_.reset(); // the rule: a completed handshake resets the backoff
        ++connections_;
        if (on_open_)
            on_open_(); // what it sends goes out before the queue
        if (!is_current(id))
            return; // on_open called stop()
        flush_queue();
        // Reading starts last: a message that came with the handshake reaches on_message only
        // after on_open.
        cur_->ws.async_read_each(
            [w = this->weak_from_this(), id](const message& m) {
                if (auto self = w.lock(); self && self->is_current(id) && self->on_message_)
                    self->on_message_(m);
            },
            [w = this->weak_from_this(), id](std::error_code ec) {
                if (auto self = w.lock())
                    self->read_ended(id, ec);
            });
    }

    void flush_queue() {
        while (!queue_.empty()) {
            const queued& m = queue_.front();
            std::error_code ec;
            cur_->ws.send(m.op, m.data.data(), m.data.size(), ec);
            if (ec == error::closed || ec == error::close_sent)
                return; // the connection is ending: the rest waits for the next one
            if (ec)
                ++dropped_;
            queued_bytes_ -= m.data.size();
            queue_.pop_front();
        }
    }

    void read_ended(std::uint64_t id, std::error_code ec) {
        if (!is_current(id))
            return;
        const close_code code = cur_->ws.received_close_code();
        cur_.reset(); // the stream finishes any closing handshake in the background
        status_ = client_state::waiting;
        if (on_disconnect_)
            on_disconnect_(ec, code);
        if (stopped())
            return;
        retry_after(ec);
    }

    void attempt_failed(std::error_code ec) {
        status_ = client_state::waiting;
        if (options_.max_attempts != 0 && attempts_ >= options_.max_attempts) {
            status_ = client_state::stopped;
            queue_.clear();
            queued_bytes_ = 0;
            if (on_give_up_)
                on_give_up_(ec);
            return;
        }
        retry_after(ec);
    }

    void retry_after(std::error_code ec) {
        const std::chrono::microseconds delay = backoff_.next();
        if (on_retry_)
            on_retry_(retry_info{attempts_ + 1, delay, ec}); // before the wait starts: it lasts at least `delay` from here
        if (stopped())
            return;
        retry_timer_.expires_after(delay);
        retry_timer_.async_wait([w = this->weak_from_this()](std::error_code ec) {
            auto self = w.lock();
            if (!ec && self && self->status_ == client_state::waiting)
                self->connect_now();
        });
    }

    std::function<stream_type()> make_stream_;
    backoff backoff_;
    timer_type retry_timer_;
    std::uint64_t next_id_ = 0;
};

} // namespace detail

/// A WebSocket client that reconnects, over `NextLayer`: ::asio::ip::tcp::socket for ws://,
/// ::asio::ssl::stream<::asio::ip::tcp::socket> for wss://.
///
/// start() connects (duplex::asio::async_connect). When an attempt fails it waits the next
/// backoff delay and tries again; when an open connection ends (the server closed it, with any
/// code, or it failed) on_disconnect runs and the same happens, starting from the initial delay.
/// The backoff is reset when a WebSocket handshake succeeds. Each success runs on_open, then
/// sends what was queued while disconnected (so that what on_open sends, such as
/// authentication, goes first), then reads messages into on_message. Messages handed to a
/// connection that then fails are lost: there are no acknowledgements.
///
/// Threading: every member function and callback runs on the executor given to the
/// constructor. With several threads running the io_context, give it a strand
/// (::asio::make_strand(io)) and post calls from other threads to it. Destroy the client on
/// that executor too (or when nothing runs the io_context).
///
/// stop() is final: it cancels a scheduled retry and an attempt in progress, closes an open
/// connection with 1000 (in the background, bounded by stream.engine.timeouts.close_timeout)
/// and discards the queue. No callback runs after it, so io_context::run() returns once the
/// closing handshake is over (and any DNS lookup in progress has returned). The destructor
/// calls stop(). Callbacks may call stop() and send(), and may destroy the client.
template <class NextLayer>
class reconnecting_client final {
    using impl = detail::reconnect_state<NextLayer>;

public:
    using stream_type = stream<NextLayer>;
    using executor_type = typename NextLayer::executor_type;

    /// ws:// over TCP. Throws std::invalid_argument for invalid options or a wss:// URL.
    reconnecting_client(const executor_type& ex, ws_url url, reconnect_options options = {})
        : s_(make(ex, std::move(url), std::move(options), [ex] { return stream_type(ex); }, false)) {
        static_assert(!detail::is_tls_stream<NextLayer>::value, "wss://: pass an ::asio::ssl::context");
    }

    /// wss:// over TLS with `tls` (from make_tls_client_context(), or your own verifying
    /// context), which must outlive the client. Throws std::invalid_argument for invalid options
    /// or a ws:// URL.
    reconnecting_client(const executor_type& ex, ::asio::ssl::context& tls, ws_url url, reconnect_options options = {})
        : s_(make(ex, std::move(url), std::move(options), [ex, &tls] { return stream_type(ex, tls); }, true)) {
        static_assert(detail::is_tls_stream<NextLayer>::value, "an ::asio::ssl::context is for wss:// streams");
    }

    /// A moved-from client may only be destroyed or assigned to.
    reconnecting_client(reconnecting_client&&) noexcept = default;
    reconnecting_client& operator=(reconnecting_client&& other) noexcept {
        if (this != &other) {
            if (s_)
                s_->stop();
            s_ = std::move(other.s_);
        }
        return *this;
    }
    reconnecting_client(const reconnecting_client&) = delete;
    reconnecting_client& operator=(const reconnecting_client&) = delete;

    ~reconnecting_client() {
        if (s_)
            s_->stop();
    }

    /// Every successful connection, before the queue is sent and reading starts.
    void on_open(std::function<void()> f) { s_->on_open_ = std::move(f); }
    /// Every message; its data is valid until the callback returns.
    void on_message(std::function<void(const message&)> f) { s_->on_message_ = std::move(f); }
    /// An open connection ended: error::closed when the server closed it (the code it sent:
    /// 1001 for a server going away), else the error that failed it (the code is then 1006).
    /// A retry follows unless the callback calls stop().
    void on_disconnect(std::function<void(std::error_code, close_code)> f) { s_->on_disconnect_ = std::move(f); }
    /// A retry was scheduled (after an attempt failed, or after on_disconnect).
    void on_retry(std::function<void(const retry_info&)> f) { s_->on_retry_ = std::move(f); }
    /// max_attempts attempts in a row failed, the last with this error; the client is stopped.
    void on_give_up(std::function<void(std::error_code)> f) { s_->on_give_up_ = std::move(f); }

    /// Starts the first attempt. Only once; nothing after stop().
    void start() { s_->start(); }
    /// See the class comment.
    void stop() { s_->stop(); }

    /// Copies the message into the open connection's send queue, or, while disconnected,
    /// queues or drops it per reconnect_options. A queued text message that is not valid UTF-8
    /// is dropped when the queue is sent. After stop() everything is dropped.
    send_status send(opcode op, const void* data, std::size_t size) { return s_->send(op, data, size); }
    send_status send_text(std::string_view text) { return s_->send(opcode::text, text.data(), text.size()); }
    send_status send_binary(const void* data, std::size_t size) { return s_->send(opcode::binary, data, size); }

    client_state state() const noexcept { return s_->status_; }
    /// The open connection (for async_ping, subprotocol()...), or nullptr when not open.
    stream_type* connection() noexcept {
        return s_->status_ == client_state::open && s_->cur_ ? &s_->cur_->ws : nullptr;
    }
    /// Attempts since the last successful connection, counting one in progress.
    unsigned attempts() const noexcept { return s_->attempts_; }
    /// Successful connections so far.
    std::uint64_t connections() const noexcept { return s_->connections_; }
    std::size_t queued_messages() const noexcept { return s_->queue_.size(); }
    std::size_t queued_bytes() const noexcept { return s_->queued_bytes_; }
    /// Messages discarded so far: refused by send(), pushed out of a full queue, or failed
    /// when the queue was sent.
    std::uint64_t dropped_messages() const noexcept { return s_->dropped_; }
    const ws_url& url() const noexcept { return s_->url_; }
    executor_type get_executor() const noexcept { return s_->ex_; }

private:
    template <class Make>
    static std::shared_ptr<impl> make(const executor_type& ex, ws_url url, reconnect_options options, Make make_stream,
                                       bool tls) {
        validate(options);
        if (url.secure != tls)
            throw std::invalid_argument(tls ? "duplex reconnecting_client: a TLS stream needs a wss:// URL"
                                            : "duplex reconnecting_client: a wss:// URL needs a TLS stream");
        return std::make_shared<impl>(ex, std::move(url), std::move(options),
                                       std::function<stream_type()>(std::move(make_stream)));
    }

    std::shared_ptr<impl> s_;
};

} // namespace asio
} // namespace duplex
