// duplex — the state behind duplex::asio::stream: the socket, the engine, the read buffer, the
// write pump and the timer, shared with the handlers of pending operations. Internal.
// SPDX-License-Identifier: MIT
#pragma once

#include <duplex/asio/detail/handler.hpp>
#include <duplex/asio/detail/readiness.hpp>
#include <duplex/asio/detail/service.hpp>
#include <duplex/core/client_handshake.hpp>
#include <duplex/core/detail/byte_buffer.hpp>
#include <duplex/core/detail/queue_vector.hpp>
#include <duplex/core/engine.hpp>
#include <duplex/core/event.hpp>
#include <duplex/core/server_handshake.hpp>

#include <asio/buffer.hpp>
#include <asio/dispatch.hpp>
#include <asio/error.hpp>
#include <asio/execution/context.hpp>
#include <asio/query.hpp>
#include <asio/post.hpp>
#include <asio/socket_base.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>

#include <chrono>
#include <cstddef>
#include <iterator>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace duplex {
namespace asio {

/// Settings for duplex::asio::stream.
struct stream_options {
    engine_options engine;                                 // limits, timeouts, backpressure
    std::chrono::milliseconds handshake_timeout{10000};    // 0: none
};

namespace detail {

// The engine's output buffers as an Asio buffer sequence, each converted as Asio reads it:
// one array serves the engine and the socket. Copying the range (Asio copies the sequence
// into its operation) allocates nothing, unlike copying a vector.
struct buffer_range {
    struct iterator {
        using iterator_category = std::bidirectional_iterator_tag;
        using value_type = ::asio::const_buffer;
        using difference_type = std::ptrdiff_t;
        using pointer = const value_type*;
        using reference = value_type;

        const duplex::const_buffer* at;
        value_type operator*() const noexcept { return {at->data, at->size}; }
        iterator& operator++() noexcept { return ++at, *this; }
        iterator operator++(int) noexcept { return {at++}; }
        iterator& operator--() noexcept { return --at, *this; }
        iterator operator--(int) noexcept { return {at--}; }
        friend bool operator==(iterator a, iterator b) noexcept { return a.at == b.at; }
        friend bool operator!=(iterator a, iterator b) noexcept { return a.at != b.at; }
    };
    const duplex::const_buffer* first;
    const duplex::const_buffer* last;
    iterator begin() const noexcept { return {first}; }
    iterator end() const noexcept { return {last}; }
};

// Room for the engine's output buffers, left uninitialized: a write fills what it uses (a
// plain array would zero all of them for every write).
union gather_array {
    gather_array() noexcept {}
    duplex::const_buffer at[64];
};

template <class NextLayer>
class connection final : public std::enable_shared_from_this<connection<NextLayer>>,
                   public connection_service::member {
public:
    template <class... Args>
    explicit connection(Args&&... args)
        : next(std::forward<Args>(args)...),
          service_(::asio::use_service<connection_service>(
              ::asio::query(next.get_executor(), ::asio::execution::context))) {
        service_.add(this);
    }

    ~connection() {
#ifdef DUPLEX_HAS_READINESS_SERVICE
        stop_readiness(); // a connection dropped without end() (its handlers never ran)
#endif
        run_end_hooks();
        service_.remove(this);
    }

    std::shared_ptr<void> hold() noexcept override { return this->weak_from_this().lock(); }

    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    NextLayer next;

    // The settings: kept whole until the handshake, then only in the engine (which has a copy
    // of the engine options) and handshake_timeout_: an open connection carries no spare copy.
    void set_options(stream_options o) {
        handshake_timeout_ = o.handshake_timeout;
        pending_options_ = std::make_unique<stream_options>(std::move(o));
    }
    stream_options options() const {
        stream_options o;
        if (pending_options_)
            o = *pending_options_;
        else if (has_engine())
            o.engine = query([](const auto& e) { return e.options(); }, engine_options{});
        o.handshake_timeout = handshake_timeout_;
        return o;
    }

    // The subprotocol agreed in the handshake (empty for none).
    std::string_view subprotocol() const noexcept {
        return extras_ ? std::string_view(extras_->subprotocol) : std::string_view();
    }

    // ---- Opening handshake ----

    void start_accept(server_handshake_options o, std::string_view already_read, any_handler<std::error_code> h) {
        if (!begin_handshake(h))
            return;
        hs_ = std::make_unique<handshake_state>();
        hs_->server.emplace(std::move(o));
        append(already_read);
        accept_step();
    }

    void start_handshake(const std::string& host, const std::string& target, client_handshake_options o,
                         any_handler<std::error_code> h) {
        if (!begin_handshake(h))
            return;
        hs_ = std::make_unique<handshake_state>();
        hs_->client.emplace(std::move(o));
        std::error_code ec;
        hs_->out = std::string(hs_->client->start(host, target, ec));
        if (ec)
            return finish_handshake(ec);
        ::asio::async_write(next, ::asio::buffer(hs_->out),
                            [self = this->shared_from_this()](std::error_code ec, std::size_t) {
                                if (ec)
                                    return self->finish_handshake(ec);
                                self->handshake_step();
                            });
    }

    // ---- Reading ----

    void start_read(any_handler<std::error_code, message> h) {
        if (read_handler_ || each_)
            return h.post(make_error_code(error::read_in_progress), message{});
        if (!has_engine() || ended_)
            return h.post(final_error(), message{});
        read_handler_ = std::move(h);
        pump();
    }

    // A callable for start_read_each, stored once for the whole loop.
    struct consumer {
        virtual ~consumer() = default;
        virtual void on_message(const message& m) = 0;
    };
    template <class F>
    struct consumer_of final : consumer {
        explicit consumer_of(F fn) : f(std::move(fn)) {}
        void on_message(const message& m) override { f(m); }
        F f;
    };

    void start_read_each(std::unique_ptr<consumer> fn, any_handler<std::error_code> done) {
        if (read_handler_ || each_)
            return done.post(make_error_code(error::read_in_progress));
        if (!has_engine() || ended_)
            return done.post(final_error());
        each_ = std::move(fn);
        each_done_ = std::move(done);
        pump();
    }

    // ---- Writing ----

    template <class Send>
    void start_send(Send&& send, any_handler<std::error_code> h) {
        if (!has_engine() || ended_)
            return h.post(ended_ ? final_error() : make_error_code(error::closed));
        std::error_code ec;
        std::uint64_t end = 0;
        visit([&](auto& e) {
            send(e, ec);
            end = e.queued_total();
        });
        if (ec) {
            h.post(ec);
            schedule_flush(); // a backpressure close queued its close frame
            return;
        }
        more().write_waiters.emplace_back(end, std::move(h));
        schedule_flush();
    }

    // Queues a message without a completion (stream::send): `send(engine, ec)`. On the strand.
    template <class Send>
    void send_now(Send&& send, std::error_code& ec) {
        if (!has_engine() || ended_) {
            ec = ended_ ? final_error() : make_error_code(error::closed);
            return;
        }
        visit([&](auto& e) { send(e, ec); });
        schedule_flush(); // on an error too: a backpressure close queued its close frame
    }

    // Completes once everything queued so far is written.
    void start_flush(any_handler<std::error_code> h) {
        if (!has_engine() || ended_)
            return h.post(ended_ ? final_error() : make_error_code(error::closed));
        std::uint64_t end = 0;
        visit([&](const auto& e) { end = e.queued_total(); });
        more().write_waiters.emplace_back(end, std::move(h));
        schedule_flush();
    }

    // Starts the closing handshake without a completion (a hub closing a slow subscriber, a
    // close_all). On the strand.
    void close_now(close_code code, std::string_view reason) {
        if (!has_engine() || ended_)
            return;
        std::error_code ignored;
        visit([&](auto& e) {
            if (e.state() == connection_state::open)
                e.close(code, reason, ignored);
        });
        schedule_flush();
        arm_timer();
        if (!reading_)
            pump(); // read on, to receive the peer's close
    }

    // close_all: from any thread. An open connection starts its closing handshake; one still
    // in its opening handshake, or not yet in one, is cut off.
    void close_soon(close_code code, const std::string& reason) override {
        ::asio::post(next.get_executor(), [self = this->shared_from_this(), code, reason] {
            if (self->ended_)
                return self->service_.ended(self.get());
            if (self->has_engine())
                return self->close_now(code, reason);
            if (self->handshake_handler_)
                return self->close_socket(); // the handshake fails, and ends the connection
            self->end(::asio::error::operation_aborted);
        });
    }

    // Runs `hook` once when the connection ends (at once if it has): how a hub forgets a
    // subscriber. On the strand.
    void on_end(std::function<void()> hook) {
        if (ended_)
            return hook();
        if (!end_hooks_)
            end_hooks_ = std::make_unique<std::vector<std::function<void()>>>();
        end_hooks_->push_back(std::move(hook));
    }

    // ---- Closing ----

    void start_close(close_code code, std::string_view reason, any_handler<std::error_code> h) {
        if (!has_engine() || ended_)
            return h.post(ended_ ? close_result() : make_error_code(error::closed));
        std::error_code ec;
        visit([&](auto& e) {
            if (e.state() == connection_state::open)
                e.close(code, reason, ec);
        });
        if (ec)
            return h.post(ec);
        more().close_waiters.push_back(std::move(h));
        schedule_flush();
        arm_timer();
        if (!reading_)
            pump(); // read on, to receive the peer's close
    }

    /// The stream is being destroyed. An open connection is cut off (its socket closed); one
    /// whose close handshake has begun finishes it in the background, bounded by the close
    /// timeout, so that the last close frame is not lost.
    void shutdown() {
        if (ended_)
            return;
        if (!has_engine() || state() == connection_state::open)
            return end(::asio::error::operation_aborted);
        read_handler_ = {};
        each_.reset();
        each_done_ = {};
        schedule_flush();
        if (!reading_)
            pump();
    }

    // The execution context is shutting down: its queued operations are being destroyed without
    // running, so drop the handlers stored here too (they may own this connection).
    void abandon() override {
        auto read = std::move(read_handler_);
        auto each = std::move(each_);
        auto each_done = std::move(each_done_);
        auto handshake = std::move(handshake_handler_);
        auto extras = std::move(extras_); // the waiting writes and closes
#ifdef DUPLEX_HAS_READINESS_SERVICE
        stop_readiness(); // now, while the readiness service exists
#endif
        ended_ = true;
    }

    connection_state state() const noexcept {
        return query([](const auto& e) { return e.state(); }, connection_state::closed);
    }
    close_code received_close_code() const noexcept {
        return query([](const auto& e) { return e.received_close_code(); }, close_code::no_status);
    }
    std::size_t buffered_amount() const noexcept {
        return query([](const auto& e) { return e.buffered_amount(); }, std::size_t{0});
    }

private:
    using clock = std::chrono::steady_clock;

    // Both pooled (byte_buffer.hpp). A read takes a whole batch of pipelined messages in one
    // system call; a connection holds its buffer only while it has bytes to process. A
    // handshake, which may be trickled in slowly, reads into a smaller one.
    static constexpr std::size_t read_size = duplex::detail::large_block_size;
    static constexpr std::size_t handshake_read_size = duplex::detail::pool_block_size;

    bool has_engine() const noexcept { return server_engine_ || client_engine_; }

    template <class F>
    void visit(F&& f) {
        if (server_engine_)
            f(*server_engine_);
        else if (client_engine_)
            f(*client_engine_);
    }

    template <class F, class T>
    T query(F&& f, T before) const noexcept {
        if (server_engine_)
            return f(std::as_const(*server_engine_));
        if (client_engine_)
            return f(std::as_const(*client_engine_));
        return before;
    }

    // ---- Handshake internals ----

    bool begin_handshake(any_handler<std::error_code>& h) {
        if (handshake_handler_ || has_engine() || ended_) {
            h.post(ended_ ? final_error() : make_error_code(::asio::error::already_started));
            return false;
        }
        handshake_handler_ = std::move(h);
        if (handshake_timeout_.count() > 0) {
            timer().expires_after(handshake_timeout_);
            timer().async_wait([self = this->shared_from_this()](std::error_code ec) {
                if (!ec && self->handshake_handler_) {
                    self->handshake_timed_out_ = true;
                    self->close_socket(); // the pending read or write ends with operation_aborted
                }
            });
        }
        return true;
    }

    void accept_step() {
        std::error_code ec;
        if (rpos_ < rend_)
            rpos_ += hs_->server->feed(rbuf_.data() + rpos_, rend_ - rpos_, ec);
        if (!hs_->server->done())
            return read_for_handshake([](connection& c) { c.accept_step(); });
        hs_->out = std::string(hs_->server->response());
        ::asio::async_write(next, ::asio::buffer(hs_->out),
                            [self = this->shared_from_this()](std::error_code ec, std::size_t) {
                                if (!ec && !self->hs_->server->accepted())
                                    ec = self->hs_->server->error();
                                if (!ec)
                                    self->set_subprotocol(self->hs_->server->subprotocol());
                                self->template open_engine<server_engine>(ec);
                            });
    }

    void handshake_step() {
        std::error_code ec;
        if (rpos_ < rend_)
            rpos_ += hs_->client->feed(rbuf_.data() + rpos_, rend_ - rpos_, ec);
        if (!hs_->client->done())
            return read_for_handshake([](connection& c) { c.handshake_step(); });
        ec = hs_->client->error();
        if (!ec)
            set_subprotocol(hs_->client->subprotocol());
        open_engine<client_engine>(ec);
    }

    template <class Next>
    void read_for_handshake(Next step) {
        prepare_read(handshake_read_size);
        next.async_read_some(::asio::buffer(rbuf_.data() + rend_, rbuf_.size() - rend_),
                             [self = this->shared_from_this(), step](std::error_code ec, std::size_t n) {
                                 self->rend_ += n;
                                 if (ec == ::asio::error::eof)
                                     ec = error::abnormal_closure;
                                 if (ec)
                                     return self->finish_handshake(ec);
                                 step(*self);
                             });
    }

    template <class Engine>
    void open_engine(std::error_code ec) {
        // On the heap, at its own size: a server's engine is smaller than a client's.
        engine_options settings = pending_options_ ? std::move(pending_options_->engine) : engine_options{};
        pending_options_.reset();
        if constexpr (std::is_same_v<Engine, server_engine>) {
            if (!ec)
                server_engine_ = std::make_unique<server_engine>(std::move(settings));
        } else {
            if (!ec)
                client_engine_ = std::make_unique<client_engine>(std::move(settings));
        }
        if constexpr (has_wait<NextLayer>::value) {
            std::error_code ignored; // reads after a readiness wait must not block
            next.non_blocking(true, ignored);
#ifdef DUPLEX_HAS_READINESS_SERVICE
            if (!ec)
                start_readiness();
#endif
        }
        hs_.reset();
        finish_handshake(ec);
    }

    void finish_handshake(std::error_code ec) {
        if (handshake_timed_out_)
            ec = error::handshake_timeout;
        timer_.reset(); // cancels the handshake's wait; arm_timer makes one if a deadline needs it
        auto h = std::move(handshake_handler_);
        if (ec) {
            end(ec);
        } else {
            arm_timer();
        }
        if (h)
            h.dispatch(ec);
    }

    void append(std::string_view bytes) {
        if (bytes.empty())
            return;
        rbuf_.resize(rend_ + bytes.size() > handshake_read_size ? rend_ + bytes.size() : handshake_read_size); // reads after it fit
        std::memcpy(rbuf_.data() + rend_, bytes.data(), bytes.size());
        rend_ += bytes.size();
    }

    // ---- Read internals ----

    // Makes room at the end of the read buffer (taking one of `size` bytes if it has none).
    // A message frame the engine holds in the buffer until it is whole (partial_frames::hold) gets
    // room for all of it: the buffer grows when its bytes have filled it, at most doubling
    // each time, and the message is then delivered as a view into it, not gathered by a copy.
    void prepare_read(std::size_t size = read_size) {
        const std::size_t wanted = query([](const auto& e) { return e.frame_wanted(); }, std::size_t{0});
        if (rpos_ == rend_) {
            rpos_ = rend_ = 0;
        } else if (rpos_ > 0 && (rend_ == rbuf_.size() || rpos_ + wanted > rbuf_.size())) {
            std::memmove(rbuf_.data(), rbuf_.data() + rpos_, rend_ - rpos_);
            rend_ -= rpos_;
            rpos_ = 0;
        }
        if (rbuf_.empty())
            rbuf_ = duplex::detail::acquire_buffer(size);
        else if (rend_ == rbuf_.size()) // full: grows only as fast as bytes come
            grow_read_buffer(wanted > rbuf_.size() ? std::min(wanted, rbuf_.size() * 2) : rbuf_.size() * 2);
    }

    // The pooled block it outgrew goes back to the pool: the next message takes it again.
    void grow_read_buffer(std::size_t size) {
        auto bigger = duplex::detail::acquire_buffer(size);
        std::memcpy(bigger.data(), rbuf_.data(), rend_);
        duplex::detail::recycle_buffer(std::move(rbuf_));
        rbuf_ = std::move(bigger);
    }

    enum class outcome { delivered, stop, need_more };

    // Hands buffered bytes to the engine until the pending read has its answer; reads more
    // when the buffer runs dry and someone is waiting (a read, a close, or the engine's own
    // close). A read handler that starts the next read runs inline: the loop, not recursion,
    // serves that read.
    void pump() {
        if (pumping_) {
            repump_ = true; // called from a handler we dispatched: the running loop goes on
            return;
        }
        pumping_ = true;
        for (;;) {
            repump_ = false;
            outcome o = outcome::stop;
            visit([&](auto& e) { o = process(e); });
            if (ended_)
                break;
            if (o == outcome::delivered) {
                if (wants_bytes())
                    continue; // the next read, or a close, is served from what is buffered
                break;
            }
            if (o == outcome::need_more || draining_)
                read_more();
            if (!repump_)
                break;
        }
        pumping_ = false;
        if (flush_after_pump_) {
            flush_after_pump_ = false;
            start_write();
        }
    }

    // start_read_each stops reading while the engine's send queue is over its limit.
    bool paused() const noexcept {
        return query([](const auto& e) { return e.backpressured(); }, false);
    }

    // Someone is waiting for bytes: a read, a close, the engine's own close, or the drain.
    bool wants_bytes() const noexcept {
        return read_handler_ || (each_ && !paused()) || (extras_ && !extras_->close_waiters.empty()) || draining_ ||
               state() == connection_state::closing;
    }

    // On an io_context under Linux, a TCP connection's socket is in the readiness service's
    // epoll set (readiness.hpp): reading costs the read itself and nothing else, and an idle
    // connection holds no buffer and no pending operation. Elsewhere (TLS, other executors),
    // a TCP socket waits for readability holding no buffer, and other streams read directly.
    void read_more() {
        if (reading_ || ended_ || !wants_bytes())
            return;
#ifdef DUPLEX_HAS_READINESS_SERVICE
        if (readiness_)
            return read_when_ready();
#endif
        if constexpr (has_wait<NextLayer>::value) {
            if (rpos_ == rend_)
                return wait_then_read();
        }
        prepare_read();
        reading_ = true;
        next.async_read_some(::asio::buffer(rbuf_.data() + rend_, rbuf_.size() - rend_),
                             [self = this->shared_from_this()](std::error_code ec, std::size_t n) {
                                 self->reading_ = false;
                                 self->rend_ += n;
                                 if (ec)
                                     return self->read_failed(ec);
                                 self->pump();
                             });
    }

    // An idle socket waits for readability holding no buffer (it went back to the thread's
    // pool), then reads into one taken from the pool: idle connections stay small.
    void wait_then_read() {
        if (!rbuf_.empty()) {
            duplex::detail::recycle_buffer(std::move(rbuf_));
            rbuf_ = {};
        }
        rpos_ = rend_ = 0;
        reading_ = true;
        next.async_wait(NextLayer::wait_read, [self = this->shared_from_this()](std::error_code ec) {
            self->reading_ = false;
            if (ec)
                return self->read_failed(ec);
            self->prepare_read();
            const std::size_t n = self->next.read_some(
                ::asio::buffer(self->rbuf_.data() + self->rend_, self->rbuf_.size() - self->rend_), ec);
            self->rend_ += n;
            if (ec == ::asio::error::would_block || ec == ::asio::error::try_again)
                return self->read_more(); // woken without data after all
            if (ec)
                return self->read_failed(ec);
            self->pump();
        });
    }

#ifdef DUPLEX_HAS_READINESS_SERVICE
    // Reads now if the socket may have data, else waits for the service's notice (on_ready).
    // A short read means the socket is drained: the next data to arrive brings a notice.
    void read_when_ready() {
        if (!readable_) {
            if (rpos_ == rend_ && !rbuf_.empty()) {
                duplex::detail::recycle_buffer(std::move(rbuf_)); // idle: hold no buffer
                rbuf_ = {};
                rpos_ = rend_ = 0;
            }
            reading_ = true; // until on_ready
            return;
        }
        prepare_read();
        const std::size_t room = rbuf_.size() - rend_;
        std::error_code ec;
        const std::size_t n = next.read_some(::asio::buffer(rbuf_.data() + rend_, room), ec);
        rend_ += n;
        if (ec == ::asio::error::would_block || ec == ::asio::error::try_again) {
            readable_ = false;
            return read_when_ready();
        }
        if (ec)
            return read_failed(ec);
        readable_ = n == room;
        pump(); // from inside the pump, its loop goes on
    }

    void on_readiness(std::shared_ptr<connection_service::member> owner) override {
        auto self = std::static_pointer_cast<connection>(std::move(owner));
        auto ex = self->next.get_executor();
        // Inline when this thread may run the connection's handlers (one thread, no strand),
        // else queued on its executor.
        ::asio::dispatch(ex, [self = std::move(self)] { self->on_ready(); });
    }

    // The service saw the socket become readable (called on the connection's executor).
    void on_ready() {
        readable_ = true;
        if (reading_ && !ended_) {
            reading_ = false;
            read_more();
        }
    }

    void start_readiness() {
        auto* service = readiness_service::of(next.get_executor());
        if (service == nullptr)
            return;
        readiness_ = service->add(static_cast<int>(next.lowest_layer().native_handle()),
                                  std::weak_ptr<connection_service::member>(this->weak_from_this()));
        readable_ = true; // bytes may have come with the handshake, or since
        if (readiness_)
            reactor_registration<NextLayer>::detach(next, service->context());
    }

    // Around the one Asio operation a connection in the readiness set still starts on its
    // socket (a write the socket did not take at once): the socket is in Asio's epoll set only
    // while it is pending (readiness.hpp).
    std::error_code enter_asio_reactor() {
        if (!readiness_)
            return {};
        return reactor_registration<NextLayer>::attach(next, readiness_->service->context());
    }
    void leave_asio_reactor() {
        if (readiness_ && !ended_)
            reactor_registration<NextLayer>::detach(next, readiness_->service->context());
    }

    void stop_readiness() {
        if (readiness_) {
            readiness_->service->remove(readiness_, static_cast<int>(next.lowest_layer().native_handle()));
            readiness_ = nullptr;
        }
    }
#endif

    template <class T, class = void>
    struct has_wait : std::false_type {};
    template <class T>
    struct has_wait<T, std::void_t<decltype(std::declval<T&>().non_blocking(true)),
                                   decltype(T::wait_read)>> : std::true_type {};

    template <class Engine>
    outcome process(Engine& e) {
        while (rpos_ < rend_ && e.state() != connection_state::closed) {
            event ev;
            std::error_code ec;
            const std::size_t used = e.read(rbuf_.data() + rpos_, rend_ - rpos_, ev, ec, partial_frames::hold);
            rpos_ += used;
            if (used == 0 && !ev && !ec)
                break; // a message frame held until it is whole: prepare_read makes room for it
            if (e.wants_write())
                schedule_flush();
            if (ec) {
                after_engine_closed(e);
                deliver_read(ec);
                return outcome::stop;
            }
            if (ev.type == event_type::message && each_) {
                each_->on_message(message{ev.op, ev.data});
                if (ended_ || !each_)
                    return outcome::stop;
                if (paused()) {
                    each_paused_ = true;
                    return outcome::delivered; // read on once the send queue drains (wrote())
                }
                continue;
            }
            if (ev.type == event_type::message && read_handler_) {
                arm_timer();
                auto h = std::move(read_handler_);
                h.dispatch({}, message{ev.op, ev.data});
                return outcome::delivered;
            }
            if (ev.type == event_type::close) {
                after_engine_closed(e);
                deliver_read(make_error_code(error::closed));
                return outcome::stop;
            }
        }
        if (e.state() == connection_state::closed) {
            if (draining_) {
                rpos_ = rend_; // after the close handshake, anything more is discarded
                return outcome::need_more;
            }
            after_engine_closed(e);
            deliver_read(e.error() ? e.error() : make_error_code(error::closed));
            return outcome::stop;
        }
        arm_timer();
        return outcome::need_more;
    }

    void deliver_read(std::error_code ec) {
        if (auto h = std::move(read_handler_))
            h.dispatch(ec, message{});
        if (each_) {
            each_.reset();
            if (auto h = std::move(each_done_))
                h.dispatch(ec);
        }
    }

    void read_failed(std::error_code ec) {
        if (draining_ || ended_) // the peer's FIN after our close, or our own shutdown
            return end(clean_ ? std::error_code{} : ec);
        std::error_code why = ec;
        visit([&](auto& e) {
            if (ec == ::asio::error::eof || ec == ::asio::error::connection_reset)
                why = e.transport_closed();
            if (!why)
                why = e.error() ? e.error() : make_error_code(error::closed);
        });
        deliver_read(why);
        end(why);
    }

    // The engine is closed (close handshake done, or failed): once its last bytes are written,
    // half-close the socket and read until the peer's FIN, bounded by the close timeout.
    template <class Engine>
    void after_engine_closed(Engine& e) {
        clean_ = !e.error();
        closed_error_ = e.error();
        if (!writing_ && !e.wants_write())
            begin_drain();
    }

    void begin_drain() {
        if (draining_ || ended_)
            return;
        draining_ = true;
        std::error_code ignored;
        next.lowest_layer().shutdown(::asio::socket_base::shutdown_send, ignored);
        std::chrono::milliseconds close_timeout{5000};
        visit([&](const auto& e) {
            if (e.options().timeouts.close_timeout.count() > 0)
                close_timeout = e.options().timeouts.close_timeout;
        });
        timer().expires_after(close_timeout);
        armed_ = clock::time_point::min(); // the timer now guards the drain, not the engine
        timer().async_wait([self = this->shared_from_this()](std::error_code ec) {
            if (!ec)
                self->end(self->clean_ ? std::error_code{} : self->closed_error_);
        });
        rpos_ = rend_;
        pump();
    }

    // ---- Write internals ----

    // Writes what is queued once the current handler is done, so that everything it queued
    // goes out in one gather write: at the end of the running pump (which delivers a batch of
    // received messages), else from a posted handler.
    void schedule_flush() {
        if (writing_ || flush_posted_ || ended_)
            return;
        if (pumping_) {
            flush_after_pump_ = true;
            return;
        }
        flush_posted_ = true;
        ::asio::post(next.get_executor(), [self = this->shared_from_this()] {
            self->flush_posted_ = false;
            self->start_write();
        });
    }

    void start_write() {
        if (writing_ || ended_)
            return;
        complete_writes({});
        bool closed = false;
        gather_array bufs;
        duplex::const_buffer* const out = bufs.at;
        std::size_t count = 0;
        visit([&](auto& e) {
            closed = e.state() == connection_state::closed;
            count = e.output(out, max_gather);
        });
        if (count == 0) {
            if (closed)
                begin_drain();
            return;
        }
#ifdef DUPLEX_HAS_READINESS_SERVICE
        // A non-blocking socket usually takes everything at once: write it here, with no Asio
        // operation to start and complete. Whatever the socket did not take goes through one.
        if (readiness_) {
            std::error_code ec;
            // One buffer (an echo, a single message) goes out through send(), which the kernel
            // takes with less work than sendmsg()'s vector.
            const std::size_t n = count == 1 ? next.write_some(::asio::const_buffer(out[0].data, out[0].size), ec)
                                             : next.write_some(buffer_range{out, out + count}, ec);
            if (ec == ::asio::error::would_block || ec == ::asio::error::try_again)
                ec = {};
            if (ec)
                return end(ec);
            std::size_t total = 0;
            for (std::size_t i = 0; i < count; ++i)
                total += out[i].size;
            visit([&](auto& e) {
                e.consume(n);
                if (n < total)
                    count = e.output(out, max_gather);
            });
            if (n == total)
                return wrote();
        }
#endif
        // The buffer sequence must outlive this call: it is kept with the waiters, made for the
        // first write the socket does not take at once.
        auto& kept = more().gather;
        kept.assign(out, out + count);
#ifdef DUPLEX_HAS_READINESS_SERVICE
        if (const std::error_code ec = enter_asio_reactor())
            return end(ec);
#endif
        writing_ = true;
        const buffer_range range{kept.data(), kept.data() + kept.size()};
        ::asio::async_write(next, range, [self = this->shared_from_this()](std::error_code ec, std::size_t n) {
            self->writing_ = false;
#ifdef DUPLEX_HAS_READINESS_SERVICE
            self->leave_asio_reactor();
#endif
            self->visit([&](auto& e) { e.consume(n); });
            if (ec)
                return self->end(ec);
            self->wrote();
        });
    }

    // Bytes went out: complete the writes they finish, write what was queued meanwhile.
    void wrote() {
        complete_writes({});
        start_write();
        arm_timer();
        if (each_paused_ && !paused()) {
            each_paused_ = false;
            pump(); // start_read_each paused while the send queue was full
        }
    }

    void complete_writes(std::error_code ec) {
        if (!extras_)
            return;
        std::uint64_t written = 0;
        visit([&](auto& e) { written = e.written_total(); });
        // The extras stay: a handler run here may queue another write.
        auto& waiters = extras_->write_waiters;
        auto& head = extras_->waiters_head;
        while (head < waiters.size() && (ec || waiters[head].first <= written)) {
            auto h = std::move(waiters[head].second);
            ++head;
            h.dispatch(ec); // may queue more writes
        }
        duplex::detail::drop_consumed(waiters, head);
    }

    // ---- Time ----

    // The timer is armed lazily: `armed_` is when the pending wait fires (max: none pending).
    // A deadline that moves later (every message moves the heartbeat's) leaves the wait alone;
    // it fires early, finds nothing due and waits again. Only an earlier deadline re-arms it,
    // so steady traffic costs no timer system calls.
    void arm_timer() {
        if (ended_ || draining_ || handshake_handler_)
            return;
        clock::time_point due = clock::time_point::max();
        visit([&](const auto& e) { due = e.next_deadline(); });
        if (due == clock::time_point::min()) {
            // The engine wants the time now (it received something, or a close began or
            // ended): tell it here rather than through a timer that expires at once.
            if (!tick_now())
                return;
            visit([&](const auto& e) { due = e.next_deadline(); });
            if (due == clock::time_point::min())
                due = clock::now();
        }
        if (due >= armed_)
            return;
        armed_ = due;
        timer().expires_at(due);
        timer().async_wait([self = this->shared_from_this()](std::error_code ec) {
            if (!ec)
                self->on_timer();
        });
    }

    void on_timer() {
        if (ended_ || draining_)
            return;
        armed_ = clock::time_point::max(); // the wait that fired is no longer pending
        if (tick_now())
            arm_timer();
    }

    // Tells the engine the time: it sends a heartbeat ping, or ends a connection whose peer
    // stopped answering. Returns false if the connection ended.
    bool tick_now() {
        std::error_code ec;
        bool wants_write = false;
        visit([&](auto& e) {
            ec = e.tick(clock::now());
            wants_write = e.wants_write();
        });
        if (wants_write)
            schedule_flush();
        if (ec == make_error_code(error::peer_timeout) || ec == make_error_code(error::close_timeout)) {
            deliver_read(ec);
            end(ec);
            return false;
        }
        if (ec == make_error_code(error::idle_timeout) && !reading_)
            pump(); // read on, to receive the peer's answer to our close
        return !ended_;
    }

    // ---- The end ----

    std::error_code final_error() const noexcept {
        if (!closed_error_ && clean_)
            return make_error_code(error::closed);
        return closed_error_ ? closed_error_ : ended_error_;
    }

    std::error_code close_result() const noexcept { return clean_ ? std::error_code{} : final_error(); }

    void close_socket() {
        std::error_code ignored;
        next.lowest_layer().close(ignored);
    }

    // Closes the socket and completes everything still waiting.
    void end(std::error_code ec) {
        if (ended_)
            return;
        ended_ = true;
        ended_error_ = ec;
        if (!clean_ && !closed_error_)
            closed_error_ = ec;
        if (timer_)
            timer_->cancel();
#ifdef DUPLEX_HAS_READINESS_SERVICE
        stop_readiness();
#endif
        close_socket();
        visit([&](auto& e) { e.transport_closed(); });
        const std::error_code result = clean_ ? std::error_code{} : (ec ? ec : make_error_code(error::closed));
        deliver_read(clean_ ? make_error_code(error::closed) : result);
        complete_writes(clean_ ? make_error_code(error::closed) : result);
        if (extras_) {
            auto waiters = std::move(extras_->close_waiters);
            for (auto& h : waiters)
                h.dispatch(result);
        }
        duplex::detail::recycle_buffer(std::move(rbuf_));
        rbuf_ = {};
        rpos_ = rend_ = 0;
        run_end_hooks();
        service_.ended(this);
    }

    void run_end_hooks() {
        if (auto hooks = std::move(end_hooks_))
            for (auto& hook : *hooks)
                hook();
    }

    static constexpr std::size_t max_gather = sizeof(gather_array::at) / sizeof(duplex::const_buffer);

    // Made when a deadline needs it: a connection without heartbeat or timeouts has none.
    std::unique_ptr<::asio::steady_timer> timer_;
    ::asio::steady_timer& timer() {
        if (!timer_)
            timer_ = std::make_unique<::asio::steady_timer>(next.get_executor());
        return *timer_;
    }
    std::unique_ptr<stream_options> pending_options_; // set_options, until the handshake
    std::chrono::milliseconds handshake_timeout_ = stream_options{}.handshake_timeout;
    std::unique_ptr<server_engine> server_engine_; // one of the two, after the handshake
    std::unique_ptr<client_engine> client_engine_;
    // Only while the opening handshake runs.
    struct handshake_state {
        std::optional<server_handshake> server; // one of the two
        std::optional<client_handshake> client;
        std::string out; // the request or the response, while it is written
    };
    std::unique_ptr<handshake_state> hs_;
    any_handler<std::error_code> handshake_handler_;

    duplex::detail::byte_buffer rbuf_;
    std::size_t rpos_ = 0; // unread bytes are [rpos_, rend_)
    std::size_t rend_ = 0;
#ifdef DUPLEX_HAS_READINESS_SERVICE
    readiness_service::registration* readiness_ = nullptr; // in the readiness service's epoll set
#endif
    any_handler<std::error_code, message> read_handler_;
    std::unique_ptr<consumer> each_; // start_read_each's callback, while it reads
    any_handler<std::error_code> each_done_;

    // What most connections never need (echo_server's have none of it): made on first use,
    // so that an idle connection does not carry four empty vectors and a string.
    struct extras {
        std::vector<std::pair<std::uint64_t, any_handler<std::error_code>>> write_waiters; // from waiters_head
        std::size_t waiters_head = 0;
        std::vector<any_handler<std::error_code>> close_waiters;
        std::vector<duplex::const_buffer> gather; // an async_write's buffers
        std::string subprotocol;
    };
    std::unique_ptr<extras> extras_;
    extras& more() {
        if (!extras_)
            extras_ = std::make_unique<extras>();
        return *extras_;
    }
    void set_subprotocol(std::string_view name) {
        if (!name.empty())
            more().subprotocol = std::string(name);
    }

    clock::time_point armed_ = clock::time_point::max();
    connection_service& service_;
    std::error_code closed_error_; // what failed the engine, if it failed
    std::error_code ended_error_;  // what ended the transport
    std::unique_ptr<std::vector<std::function<void()>>> end_hooks_; // on_end

    // The flags, together (each alone between pointers would take 8 bytes).
    bool handshake_timed_out_ = false;
    bool reading_ = false;
#ifdef DUPLEX_HAS_READINESS_SERVICE
    bool readable_ = false; // the socket may have unread bytes
#endif
    bool pumping_ = false;
    bool repump_ = false;
    bool each_paused_ = false; // start_read_each stopped reading for backpressure
    bool writing_ = false;
    bool flush_posted_ = false;
    bool flush_after_pump_ = false;
    bool draining_ = false; // the engine is closed: half-closed, reading until the peer's FIN
    bool clean_ = false;    // the close handshake completed
    bool ended_ = false;    // the socket is closed; everything has completed
};

} // namespace detail
} // namespace asio
} // namespace duplex
