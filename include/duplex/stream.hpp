// duplex — a blocking WebSocket stream over any stream type: the opening handshake and the
// engine, driven by plain blocking reads and writes.
// SPDX-License-Identifier: MIT
#pragma once

#include <duplex/core/buffer.hpp>
#include <duplex/core/client_handshake.hpp>
#include <duplex/core/engine.hpp>
#include <duplex/core/event.hpp>
#include <duplex/core/server_handshake.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace duplex {

/// How duplex::stream does I/O on its next layer; the stream holds one per connection, so a
/// specialization may keep state (such as a read timeout). The primary template calls members:
///
///     std::size_t read_some(void* data, std::size_t size, std::error_code& ec); // 0 + no ec: EOF
///     std::size_t write_some(const void* data, std::size_t size, std::error_code& ec);
///
/// and, if the type has it, `void set_read_timeout(std::chrono::milliseconds)` (zero: none), so
/// that a close never waits longer than the close timeout. Specialize it for other shapes;
/// <duplex/asio/sync.hpp> does so for Asio's synchronous sockets.
template <class NextLayer, class = void>
struct stream_io {
    std::size_t read_some(NextLayer& s, void* data, std::size_t size, std::error_code& ec) {
        return s.read_some(data, size, ec);
    }
    std::size_t write_some(NextLayer& s, const void* data, std::size_t size, std::error_code& ec) {
        return s.write_some(data, size, ec);
    }
    void set_read_timeout(NextLayer& s, std::chrono::milliseconds timeout);
};

namespace detail {

template <class T, class = void>
struct has_read_timeout : std::false_type {};
template <class T>
struct has_read_timeout<T, std::void_t<decltype(std::declval<T&>().set_read_timeout(std::chrono::milliseconds{}))>>
    : std::true_type {};

template <class S, class = void>
struct is_stream_io_usable : std::false_type {};
template <class S>
struct is_stream_io_usable<
    S, std::void_t<decltype(std::declval<stream_io<S>&>().read_some(std::declval<S&>(), std::declval<void*>(),
                                                                    std::size_t{}, std::declval<std::error_code&>())),
                   decltype(std::declval<stream_io<S>&>().write_some(std::declval<S&>(), std::declval<const void*>(),
                                                                     std::size_t{}, std::declval<std::error_code&>()))>>
    : std::true_type {};

} // namespace detail

template <class NextLayer, class Enable>
void stream_io<NextLayer, Enable>::set_read_timeout(NextLayer& s, std::chrono::milliseconds timeout) {
    if constexpr (detail::has_read_timeout<NextLayer>::value)
        s.set_read_timeout(timeout);
}

/// A WebSocket connection over `NextLayer`, with blocking calls. Every call has a form that
/// reports failure through `std::error_code&` and one that throws std::system_error.
/// Pings are answered and close frames echoed while reading; read() returns data messages only.
template <class NextLayer>
class stream {
    static_assert(detail::is_stream_io_usable<NextLayer>::value,
                  "duplex::stream<NextLayer>: NextLayer needs read_some(void*, std::size_t, "
                  "std::error_code&) and write_some(const void*, std::size_t, std::error_code&), "
                  "or a duplex::stream_io specialization (include <duplex/asio/sync.hpp> for Asio)");

public:
    template <class... Args>
    explicit stream(Args&&... args) : next_(std::forward<Args>(args)...) {}

    NextLayer& next_layer() noexcept { return next_; }

    /// Options for the connection's engine; set them before the handshake.
    void set_options(engine_options options) { options_ = std::move(options); }
    const engine_options& options() const noexcept { return options_; }

    // ---- Opening handshake ----

    /// Server: reads the upgrade request and answers it (RFC 6455 §4.2). A refused request
    /// gets its HTTP error response and the error says why.
    void accept(std::error_code& ec) { accept(server_handshake_options{}, ec); }
    void accept() { throw_on_error([&](std::error_code& ec) { accept(ec); }); }

    void accept(server_handshake_options options) {
        throw_on_error([&](std::error_code& ec) { accept(std::move(options), ec); });
    }

    void accept(server_handshake_options options, std::error_code& ec) {
        server_handshake hs(std::move(options));
        while (!hs.done()) {
            if (!fill(ec))
                return;
            consumed(hs.feed(rbuf_.data() + rpos_, rend_ - rpos_, ec));
        }
        const std::string_view response = hs.response();
        std::error_code write_ec;
        write_all(response.data(), response.size(), write_ec);
        if (!hs.accepted())
            return; // ec already says why
        if ((ec = write_ec))
            return;
        subprotocol_ = std::string(hs.subprotocol());
        engine_.template emplace<server_engine>(options_);
    }

    /// Client: sends the upgrade request for `host` (the Host field) and `target`, and checks
    /// the response (RFC 6455 §4.1).
    void handshake(std::string_view host, std::string_view target, std::error_code& ec) {
        handshake(host, target, client_handshake_options{}, ec);
    }
    void handshake(std::string_view host, std::string_view target) {
        throw_on_error([&](std::error_code& ec) { handshake(host, target, ec); });
    }

    void handshake(std::string_view host, std::string_view target, client_handshake_options options) {
        throw_on_error([&](std::error_code& ec) { handshake(host, target, std::move(options), ec); });
    }

    void handshake(std::string_view host, std::string_view target, client_handshake_options options,
                   std::error_code& ec) {
        client_handshake hs(std::move(options));
        const std::string_view request = hs.start(host, target, ec);
        if (ec || !write_all(request.data(), request.size(), ec))
            return;
        while (!hs.done()) {
            if (!fill(ec))
                return;
            consumed(hs.feed(rbuf_.data() + rpos_, rend_ - rpos_, ec));
        }
        if (ec)
            return;
        subprotocol_ = std::string(hs.subprotocol());
        engine_.template emplace<client_engine>(options_);
    }

    /// The subprotocol agreed in the handshake (empty for none).
    std::string_view subprotocol() const noexcept { return subprotocol_; }

    // ---- Messages ----

    /// Blocks until a text or binary message arrives. When the peer closes, fails with
    /// error::closed (received_close_code() tells the code); a protocol violation fails with its
    /// error after the close frame has been sent.
    message read(std::error_code& ec) {
        return with_engine(ec, [&](auto& e) { return read_with(e, ec); });
    }
    message read() {
        message m;
        throw_on_error([&](std::error_code& ec) { m = read(ec); });
        return m;
    }

    void write_text(std::string_view text, std::error_code& ec) {
        with_engine(ec, [&](auto& e) { e.send_text(text, ec); return flush_if(e, ec); });
    }
    void write_text(std::string_view text) {
        throw_on_error([&](std::error_code& ec) { write_text(text, ec); });
    }

    void write_binary(const void* data, std::size_t size, std::error_code& ec) {
        with_engine(ec, [&](auto& e) { e.send_binary(data, size, ec); return flush_if(e, ec); });
    }
    void write_binary(const void* data, std::size_t size) {
        throw_on_error([&](std::error_code& ec) { write_binary(data, size, ec); });
    }

    /// A text or binary message; compress::no sends it uncompressed even when
    /// permessage-deflate was negotiated.
    void write(opcode op, const void* data, std::size_t size, compress c, std::error_code& ec) {
        with_engine(ec, [&](auto& e) { e.send(op, data, size, ec, payload_mode::copy, c); return flush_if(e, ec); });
    }
    void write(opcode op, const void* data, std::size_t size, compress c = compress::allowed) {
        throw_on_error([&](std::error_code& ec) { write(op, data, size, c, ec); });
    }

    void ping(std::string_view payload, std::error_code& ec) {
        with_engine(ec, [&](auto& e) { e.ping(payload.data(), payload.size(), ec); return flush_if(e, ec); });
    }
    void ping(std::string_view payload = {}) {
        throw_on_error([&](std::error_code& ec) { ping(payload, ec); });
    }

    /// Sends a close frame and waits for the peer's, at most timeouts.close_timeout when the
    /// next layer supports read timeouts; messages that arrive meanwhile are discarded.
    void close(close_code code, std::string_view reason, std::error_code& ec) {
        with_engine(ec, [&](auto& e) {
            e.close(code, reason, ec);
            if (ec || !flush(e, ec))
                return false;
            io_.set_read_timeout(next_, e.options().timeouts.close_timeout);
            while (e.state() != connection_state::closed) {
                read_with(e, ec);
                if (ec == make_error_code(error::closed)) {
                    ec.clear();
                    break;
                }
                if (ec) {
                    if (is_timeout(ec)) { // the read timeout set above: the close timeout
                        e.transport_closed();
                        ec = error::close_timeout;
                    }
                    break;
                }
            }
            io_.set_read_timeout(next_, std::chrono::milliseconds{0});
            return !ec;
        });
    }
    void close(close_code code = close_code::normal, std::string_view reason = {}) {
        throw_on_error([&](std::error_code& ec) { close(code, reason, ec); });
    }

    connection_state state() const noexcept {
        return query([](const auto& e) { return e.state(); }, connection_state::closed);
    }

    /// The peer's close code (1005 if its close had none, 1006 if the transport just ended).
    close_code received_close_code() const noexcept {
        return query([](const auto& e) { return e.received_close_code(); }, close_code::no_status);
    }

private:
    static bool is_timeout(const std::error_code& ec) noexcept {
        return ec == std::errc::timed_out || ec == std::errc::resource_unavailable_try_again ||
               ec == std::errc::operation_would_block;
    }

    template <class F>
    static void throw_on_error(F&& f) {
        std::error_code ec;
        f(ec);
        if (ec)
            throw std::system_error(ec);
    }

    // f(engine) once the handshake made one, `before` until then.
    template <class F, class T>
    T query(F&& f, T before) const noexcept {
        if (const auto* s = std::get_if<server_engine>(&engine_))
            return f(*s);
        if (const auto* c = std::get_if<client_engine>(&engine_))
            return f(*c);
        return before;
    }

    // Calls f(engine) once the handshake made one; error::closed before that.
    template <class F>
    auto with_engine(std::error_code& ec, F&& f) {
        using result = decltype(f(std::declval<server_engine&>()));
        ec.clear();
        if (auto* s = std::get_if<server_engine>(&engine_))
            return f(*s);
        if (auto* c = std::get_if<client_engine>(&engine_))
            return f(*c);
        ec = error::closed;
        return result{};
    }

    template <class Engine>
    message read_with(Engine& e, std::error_code& ec) {
        for (;;) {
            if (e.state() == connection_state::closed) {
                ec = e.error() ? e.error() : make_error_code(error::closed);
                return {};
            }
            if (rpos_ == rend_ && !fill(ec)) {
                if (!ec || ec == make_error_code(error::abnormal_closure))
                    ec = e.transport_closed();
                if (!ec)
                    ec = error::closed;
                return {};
            }
            event ev;
            consumed(e.read(rbuf_.data() + rpos_, rend_ - rpos_, ev, ec));
            std::error_code write_ec;
            flush(e, write_ec); // pongs, the echo of a close, the close that fails a connection
            if (ec)
                return {};
            if (write_ec) {
                ec = write_ec;
                return {};
            }
            if (ev.type == event_type::message)
                return {ev.op, ev.data};
            if (ev.type == event_type::close) {
                ec = error::closed;
                return {};
            }
        }
    }

    // Writes everything the engine has queued.
    template <class Engine>
    bool flush(Engine& e, std::error_code& ec) {
        const_buffer buffers[16];
        while (e.wants_write()) {
            const std::size_t n = e.output(buffers, 16);
            for (std::size_t i = 0; i < n; ++i) {
                if (!write_all(buffers[i].data, buffers[i].size, ec))
                    return false;
                e.consume(buffers[i].size);
            }
        }
        return true;
    }

    template <class Engine>
    bool flush_if(Engine& e, std::error_code& ec) {
        return !ec && flush(e, ec);
    }

    bool write_all(const void* data, std::size_t size, std::error_code& ec) {
        const auto* p = static_cast<const unsigned char*>(data);
        while (size > 0) {
            const std::size_t n = io_.write_some(next_, p, size, ec);
            if (ec)
                return false;
            p += n;
            size -= n;
        }
        return true;
    }

    // Reads more bytes into the read buffer. False on EOF (ec clear) or error.
    bool fill(std::error_code& ec) {
        if (rpos_ == rend_)
            rpos_ = rend_ = 0;
        if (rend_ == rbuf_.size())
            rbuf_.resize(rbuf_.empty() ? read_size : rbuf_.size() * 2);
        const std::size_t n = io_.read_some(next_, rbuf_.data() + rend_, rbuf_.size() - rend_, ec);
        rend_ += n;
        return !ec && n > 0;
    }

    void consumed(std::size_t n) noexcept { rpos_ += n; }

    static constexpr std::size_t read_size = 16 * 1024;

    NextLayer next_;
    stream_io<NextLayer> io_;
    engine_options options_;
    std::variant<std::monostate, server_engine, client_engine> engine_;
    detail::byte_buffer rbuf_;
    std::size_t rpos_ = 0; // unread bytes are [rpos_, rend_)
    std::size_t rend_ = 0;
    std::string subprotocol_;
};

} // namespace duplex
