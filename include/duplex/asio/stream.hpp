// duplex — an asynchronous WebSocket stream over any Asio AsyncStream (TCP, TLS, ...), with
// Asio completion tokens. It shuttles bytes between the socket and duplex's engine and keeps
// the timers; every protocol decision is the engine's.
// SPDX-License-Identifier: MIT
#pragma once

#include <duplex/asio/detail/connection.hpp>
#include <duplex/core/prepared_message.hpp>

#include <asio/async_result.hpp>
#include <asio/dispatch.hpp>
#include <asio/execution/context.hpp>
#include <asio/query.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace duplex {
namespace asio {

template <class NextLayer>
class hub;

/// A WebSocket connection over `NextLayer`, such as ::asio::ip::tcp::socket or
/// ::asio::ssl::stream<::asio::ip::tcp::socket> (after its TLS handshake).
///
/// Every operation takes a completion token: a callback, ::asio::use_awaitable,
/// ::asio::use_future, ::asio::deferred... Threading: every operation starts on the stream's
/// executor (it is dispatched there), so give the socket a strand executor
/// (::asio::make_strand(io)) and operations may then be started from any thread, e.g. a
/// write from a worker thread while a read is pending. The queries (state(), ...) read state
/// that the strand owns: call them from the strand.
///
/// Writes queue: start as many async_write calls as you like, even while others are in flight;
/// messages go out whole and in order, and everything queued within one handler goes out in
/// one gather write. Each write completes once its bytes are written. Keep the payload alive
/// until then (a server sends it without copying). Past engine_options::send_queue_limit the
/// engine's backpressure policy applies (an error, a drop, or a close with 1013).
/// Reads: one async_read at a time. Pings are answered and close frames echoed while a read is
/// pending, so keep one pending (the usual loop). A message's data is valid until the next
/// async_read or async_close.
template <class NextLayer>
class stream {
    using connection = detail::connection<NextLayer>;

public:
    using next_layer_type = NextLayer;
    using executor_type = typename NextLayer::executor_type;

    template <class... Args>
    explicit stream(Args&&... args) : c_(std::make_shared<connection>(std::forward<Args>(args)...)) {}

    stream(stream&&) = default;
    stream& operator=(stream&&) = default;

    /// Closes the socket: pending operations complete with ::asio::error::operation_aborted.
    ~stream() {
        if (c_)
            c_->shutdown();
    }

    /// The socket (or TLS stream) underneath. Synchronous calls on it (options, endpoints,
    /// close) work at any time. After the handshake, do not start Asio operations on it
    /// directly: the stream reads and writes it; and on Linux with an io_context a TCP socket
    /// is then served by the stream's own epoll set, not Asio's (Asio operations started on it
    /// would fail with bad_descriptor).
    NextLayer& next_layer() noexcept { return c_->next; }
    executor_type get_executor() noexcept { return c_->next.get_executor(); }

    /// Engine limits and behaviours, and the handshake timeout; set before the handshake.
    void set_options(stream_options options) { c_->set_options(std::move(options)); }
    /// The settings: as set before the handshake; after it, the engine's (a copy).
    stream_options options() const { return c_->options(); }

    /// Server: reads the upgrade request and answers it. Completes with the specific error if
    /// the request was refused (the HTTP error response has been sent), error::handshake_timeout
    /// if it did not arrive in time. Signature: void(std::error_code).
    template <class Token>
    auto async_accept(server_handshake_options options, Token&& token) {
        return async_accept(std::move(options), std::string_view{}, std::forward<Token>(token));
    }

    template <class Token>
    auto async_accept(Token&& token) {
        return async_accept(server_handshake_options{}, std::forward<Token>(token));
    }

    /// Server, for an application that has already read bytes of the request itself (say an
    /// HTTP router): `already_read` is fed to the handshake first.
    template <class Token>
    auto async_accept(server_handshake_options options, std::string_view already_read, Token&& token) {
        return ::asio::async_initiate<Token, void(std::error_code)>(
            [c = c_](auto handler, server_handshake_options o, std::string bytes) {
                on_executor(c, [c, o = std::move(o), bytes = std::move(bytes),
                                 h = detail::any_handler<std::error_code>(std::move(handler), c->next.get_executor())]() mutable {
                    c->start_accept(std::move(o), bytes, std::move(h));
                });
            },
            token, std::move(options), std::string(already_read));
    }

    /// Client: sends the upgrade request for `host` (the Host field) and `target` and checks
    /// the answer. Signature: void(std::error_code).
    template <class Token>
    auto async_handshake(std::string_view host, std::string_view target, client_handshake_options options,
                         Token&& token) {
        return ::asio::async_initiate<Token, void(std::error_code)>(
            [c = c_](auto handler, std::string host, std::string target, client_handshake_options o) {
                on_executor(c, [c, host = std::move(host), target = std::move(target), o = std::move(o),
                                 h = detail::any_handler<std::error_code>(std::move(handler), c->next.get_executor())]() mutable {
                    c->start_handshake(host, target, std::move(o), std::move(h));
                });
            },
            token, std::string(host), std::string(target), std::move(options));
    }

    template <class Token>
    auto async_handshake(std::string_view host, std::string_view target, Token&& token) {
        return async_handshake(host, target, client_handshake_options{}, std::forward<Token>(token));
    }

    /// Reads the next text or binary message. Fails with error::closed when the peer closed
    /// (received_close_code() tells the code), or with the protocol error that failed the
    /// connection. Signature: void(std::error_code, duplex::message).
    template <class Token>
    auto async_read(Token&& token) {
        return ::asio::async_initiate<Token, void(std::error_code, message)>(
            [c = c_](auto handler) {
                on_executor(c, [c, h = detail::any_handler<std::error_code, message>(
                                       std::move(handler), c->next.get_executor())]() mutable {
                    c->start_read(std::move(h));
                });
            },
            token);
    }

    /// Queues a message; completes when it is written. Signature: void(std::error_code).
    template <class Token>
    auto async_write(opcode op, const void* data, std::size_t size, Token&& token) {
        return async_write(op, data, size, compress::allowed, std::forward<Token>(token));
    }

    /// As above; compress::no sends this message uncompressed even when permessage-deflate
    /// was negotiated (see <duplex/asio/deflate.hpp>).
    template <class Token>
    auto async_write(opcode op, const void* data, std::size_t size, compress cmp, Token&& token) {
        return ::asio::async_initiate<Token, void(std::error_code)>(
            [c = c_, op, data, size, cmp](auto handler) {
                on_executor(c, [c, op, data, size, cmp,
                                 h = detail::any_handler<std::error_code>(std::move(handler), c->next.get_executor())]() mutable {
                    c->start_send(
                        [&](auto& e, std::error_code& ec) { e.send(op, data, size, ec, payload_mode::borrow, cmp); },
                        std::move(h));
                });
            },
            token);
    }

    /// Reads message after message, calling `on_message(const duplex::message&)` for each as
    /// it arrives, until the connection ends; then completes with what ended it: error::closed
    /// after the peer's close (received_close_code() tells its code), or the error that failed
    /// the connection. Signature: void(std::error_code).
    /// The callback runs on the stream's executor inside the read loop: no allocation and no
    /// handler dispatch per message, which is what a server that echoes, relays or broadcasts
    /// small messages wants. It may call send() (the usual answer), async_write, async_ping and
    /// async_close; the message's data is valid until it returns. While the send queue is over
    /// engine_options::send_queue_limit, the loop stops reading until the queue drains to
    /// send_queue_resume: a peer that does not read what it is sent is not read from either.
    /// One read at a time: async_read fails with error::read_in_progress meanwhile.
    template <class OnMessage, class Token>
    auto async_read_each(OnMessage on_message, Token&& token) {
        using consumer = typename connection::template consumer_of<std::decay_t<OnMessage>>;
        return ::asio::async_initiate<Token, void(std::error_code)>(
            [c = c_](auto handler, std::unique_ptr<typename connection::consumer> fn) {
                on_executor(c, [c, fn = std::move(fn),
                                 h = detail::any_handler<std::error_code>(std::move(handler),
                                                                          c->next.get_executor(),
                                                                          detail::long_lived)]() mutable {
                    c->start_read_each(std::move(fn), std::move(h));
                });
            },
            token, std::unique_ptr<typename connection::consumer>(std::make_unique<consumer>(std::move(on_message))));
    }

    /// Queues a copy of a message and returns at once: no completion, no waiting. Made for a
    /// loop that writes as it reads (an echo, a relay, a broadcast): everything queued while
    /// a batch of received frames is handled goes out in one gather write. Call it on the
    /// stream's executor (from one of this stream's handlers, or its strand). Errors are those
    /// of async_write (error::closed, error::send_queue_full...), reported at once through
    /// `ec`; a write that fails later ends the connection, which the pending read reports.
    /// Watch buffered_amount() and wait with async_flush() when it grows too large.
    void send(opcode op, const void* data, std::size_t size, std::error_code& ec,
              compress cmp = compress::allowed) {
        c_->send_now([&](auto& e, std::error_code& ec2) { e.send(op, data, size, ec2, payload_mode::copy, cmp); },
                     ec);
    }

    /// Queues a message framed once for many connections (see <duplex/core/prepared_message.hpp>),
    /// as send() above: a server queues a reference to the shared frame, not a copy. Call it
    /// on the stream's executor; duplex::asio::hub does this for every subscriber of a topic.
    void send(const prepared_message& m, std::error_code& ec) {
        c_->send_now([&](auto& e, std::error_code& ec2) { e.send(m, ec2); }, ec);
    }

    /// Completes when everything queued so far (by send or async_write) has been written.
    /// Signature: void(std::error_code).
    template <class Token>
    auto async_flush(Token&& token) {
        return ::asio::async_initiate<Token, void(std::error_code)>(
            [c = c_](auto handler) {
                on_executor(c, [c, h = detail::any_handler<std::error_code>(std::move(handler),
                                                                            c->next.get_executor())]() mutable {
                    c->start_flush(std::move(h));
                });
            },
            token);
    }

    template <class Token>
    auto async_write_text(std::string_view text, Token&& token) {
        return async_write(opcode::text, text.data(), text.size(), std::forward<Token>(token));
    }

    template <class Token>
    auto async_write_binary(const void* data, std::size_t size, Token&& token) {
        return async_write(opcode::binary, data, size, std::forward<Token>(token));
    }

    /// Sends a ping (payload copied, at most 125 bytes). Signature: void(std::error_code).
    template <class Token>
    auto async_ping(std::string_view payload, Token&& token) {
        return ::asio::async_initiate<Token, void(std::error_code)>(
            [c = c_](auto handler, std::string p) {
                on_executor(c, [c, p = std::move(p),
                                 h = detail::any_handler<std::error_code>(std::move(handler), c->next.get_executor())]() mutable {
                    c->start_send([&](auto& e, std::error_code& ec) { e.ping(p.data(), p.size(), ec); }, std::move(h));
                });
            },
            token, std::string(payload));
    }

    /// Starts the closing handshake and completes when it is over and the socket is closed: at
    /// the peer's close, or after engine timeouts.close_timeout (error::close_timeout).
    /// Signature: void(std::error_code).
    template <class Token>
    auto async_close(close_code code, std::string_view reason, Token&& token) {
        return ::asio::async_initiate<Token, void(std::error_code)>(
            [c = c_, code](auto handler, std::string r) {
                on_executor(c, [c, code, r = std::move(r),
                                 h = detail::any_handler<std::error_code>(std::move(handler), c->next.get_executor())]() mutable {
                    c->start_close(code, r, std::move(h));
                });
            },
            token, std::string(reason));
    }

    connection_state state() const noexcept { return c_->state(); }
    /// The peer's close code: 1005 if its close had none, 1006 if the transport just ended.
    close_code received_close_code() const noexcept { return c_->received_close_code(); }
    /// The subprotocol agreed in the handshake (empty for none).
    std::string_view subprotocol() const noexcept { return c_->subprotocol(); }
    /// Bytes queued and not yet written.
    std::size_t buffered_amount() const noexcept { return c_->buffered_amount(); }

private:
    // Runs an operation's start on the stream's executor: at once if already there, else
    // queued, so that starting it from another thread is safe with a strand executor.
    template <class F>
    static void on_executor(const std::shared_ptr<connection>& c, F&& f) {
        ::asio::dispatch(c->next.get_executor(), std::forward<F>(f));
    }

    friend class hub<NextLayer>;

    std::shared_ptr<connection> c_;
};

/// Graceful shutdown: starts the closing handshake, with `code` and `reason`, on every duplex
/// stream whose socket uses `ex`'s execution context (an io_context, whatever the streams'
/// strands), and completes once all of them have ended: each at its peer's close, or at its
/// close timeout. Streams still in their opening handshake, or not yet in one, are cut off.
/// Streams made after the call are not waited for: close the acceptor first. The completion
/// runs on the token's associated executor (`ex` by default) and keeps the context busy until
/// then. Callable from any thread. Signature: void().
template <class Executor, class Token>
auto async_close_all(const Executor& ex, close_code code, std::string_view reason, Token&& token) {
    return ::asio::async_initiate<Token, void()>(
        [ex](auto handler, close_code code, std::string reason) {
            auto& ctx = ::asio::query(ex, ::asio::execution::context);
            auto done = std::make_shared<detail::any_handler<>>(std::move(handler), ex);
            ::asio::use_service<detail::connection_service>(ctx).close_all(code, reason, [done] { done->post(); });
        },
        token, code, std::string(reason));
}

} // namespace asio
} // namespace duplex
