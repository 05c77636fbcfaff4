// duplex — a client's whole way in: resolve the URL's host, connect, do the TLS handshake for
// wss:// (with SNI and certificate and host name verification), then the WebSocket handshake.
// Or the same through an HTTP proxy's CONNECT tunnel (see <duplex/asio/proxy.hpp>).
// SPDX-License-Identifier: MIT
#pragma once

#include <duplex/asio/proxy.hpp>
#include <duplex/asio/stream.hpp>
#include <duplex/asio/tls.hpp>
#include <duplex/core/http.hpp>
#include <duplex/core/url.hpp>

#include <asio/buffer.hpp>
#include <asio/compose.hpp>
#include <asio/connect.hpp>
#include <asio/error.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/ssl.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

namespace duplex {
namespace asio {

namespace detail {

template <class T>
struct is_tls_stream : std::false_type {};
template <class T>
struct is_tls_stream<::asio::ssl::stream<T>> : std::true_type {};

// What a connection through a proxy needs besides the direct path: the proxy, the CONNECT
// request, the parser for the answer, and the deadline. Shared with the deadline's handler,
// which holds it weakly: once the operation is over, the handler finds nothing to do.
struct proxy_state {
    template <class Executor>
    proxy_state(const Executor& ex, proxy_options p, std::string req)
        : proxy(std::move(p)), request(std::move(req)),
          parser(http_parser::kind::response, limits(proxy.max_response_size)), timer(ex) {}

    static http_limits limits(std::size_t max_size) {
        http_limits l;
        l.max_head_size = max_size;
        return l;
    }

    proxy_options proxy;
    std::string request;
    http_parser parser;
    std::size_t interim = 0;       // bytes of the 1xx answers skipped so far
    std::array<char, 1024> buffer; // for the answer
    ::asio::steady_timer timer;
    bool expired = false;          // the deadline closed the socket
    bool disarmed = false;         // the WebSocket handshake (which has its own timer) began
};

template <class Stream>
struct connect_op {
    enum class step { resolve, connect, proxy_write, proxy_read, tls, websocket, done };

    stream<Stream>& ws;
    ws_url url;
    client_handshake_options options;
    std::unique_ptr<::asio::ip::tcp::resolver> resolver;
    std::shared_ptr<proxy_state> proxy; // null: a direct connection
    step at = step::resolve;

    ::asio::ip::tcp::socket& socket() {
        if constexpr (is_tls_stream<Stream>::value)
            return ws.next_layer().next_layer();
        else
            return ws.next_layer();
    }

    template <class Self>
    void fail(Self& self, std::error_code ec) {
        if (proxy) {
            if (proxy->expired) // the TLS handshake runs at step::websocket
                ec = at >= step::tls ? error::handshake_timeout : error::proxy_timeout;
            else if (at == step::proxy_read && ec == ::asio::error::eof)
                ec = error::proxy_bad_response; // closed before answering
            disarm();
        }
        self.complete(ec);
    }

    void disarm() {
        proxy->disarmed = true;
        proxy->timer.cancel();
    }

    // Through a proxy, everything before the WebSocket handshake is bounded by the stream's
    // handshake_timeout: at expiry the socket is closed, which fails the pending step.
    void arm() {
        const auto timeout = ws.options().handshake_timeout;
        if (timeout.count() <= 0)
            return;
        proxy->timer.expires_after(timeout);
        proxy->timer.async_wait([weak = std::weak_ptr<proxy_state>(proxy), sock = &socket(),
                                 res = resolver.get()](std::error_code ec) {
            const auto p = weak.lock();
            if (ec || !p || p->disarmed)
                return;
            p->expired = true;
            res->cancel();
            std::error_code ignored;
            sock->close(ignored);
        });
    }

    template <class Self>
    void operator()(Self& self, std::error_code ec = {}) {
        if (ec)
            return fail(self, ec);
        switch (at) {
        case step::resolve:
            at = step::connect;
            resolver = std::make_unique<::asio::ip::tcp::resolver>(ws.get_executor());
            if (proxy) {
                arm();
                resolver->async_resolve(proxy->proxy.host, std::to_string(proxy->proxy.port),
                                        std::move(self));
            } else {
                resolver->async_resolve(url.host, std::to_string(url.port), std::move(self));
            }
            return;
        case step::tls:
            if constexpr (is_tls_stream<Stream>::value) {
                at = step::websocket;
                set_tls_host(ws.next_layer(), url.host, ec); // SNI: the target, not the proxy
                if (ec)
                    return fail(self, ec);
                ws.next_layer().async_handshake(::asio::ssl::stream_base::client, std::move(self));
                return;
            }
            [[fallthrough]];
        case step::websocket:
            at = step::done;
            if (proxy)
                disarm();
            ws.async_handshake(url.host_field(), url.target, std::move(options), std::move(self));
            return;
        default:
            return self.complete(ec);
        }
    }

    template <class Self>
    void operator()(Self& self, std::error_code ec, ::asio::ip::tcp::resolver::results_type endpoints) {
        if (ec || (proxy && proxy->expired))
            return fail(self, ec ? ec : make_error_code(::asio::error::operation_aborted));
        if (!proxy)
            at = step::tls;
        ::asio::async_connect(socket(), endpoints, std::move(self));
    }

    template <class Self>
    void operator()(Self& self, std::error_code ec, const ::asio::ip::tcp::endpoint&) {
        if (ec || !proxy)
            return (*this)(self, ec);
        at = step::proxy_write;
        ::asio::async_write(socket(), ::asio::buffer(proxy->request), std::move(self));
    }

    // The CONNECT request was written (n unused), or n bytes of the answer arrived.
    template <class Self>
    void operator()(Self& self, std::error_code ec, std::size_t n) {
        if (ec)
            return fail(self, ec);
        if (at == step::proxy_write) {
            at = step::proxy_read;
            return read_more(self);
        }
        const char* p = proxy->buffer.data();
        while (n > 0) {
            std::error_code parse;
            const std::size_t used = proxy->parser.feed(p, n, parse);
            p += used;
            n -= used;
            if (parse)
                return fail(self, error::proxy_bad_response);
            if (!proxy->parser.done())
                break; // n is 0: all of it is in the head
            const http_head& head = proxy->parser.head();
            if (head.status < 200 && head.status != 101) {
                // An interim answer (RFC 9110 §15.2): skip it; the limit counts it.
                proxy->interim += proxy->parser.buffered();
                if (proxy->interim >= proxy->proxy.max_response_size)
                    return fail(self, error::proxy_bad_response);
                const std::size_t left = proxy->proxy.max_response_size - proxy->interim;
                proxy->parser = http_parser(http_parser::kind::response, proxy_state::limits(left));
                continue;
            }
            if (proxy->proxy.on_response)
                proxy->proxy.on_response(head);
            if (const std::error_code verdict = proxy_response_error(head))
                return fail(self, verdict);
            // Nothing may follow a 2xx: the server has not been sent a byte yet, so whatever
            // came is the proxy's (a body) and would corrupt the TLS or WebSocket handshake.
            if (n != 0)
                return fail(self, error::proxy_bad_response);
            at = step::tls;
            return (*this)(self);
        }
        read_more(self);
    }

    template <class Self>
    void read_more(Self& self) {
        socket().async_read_some(::asio::buffer(proxy->buffer), std::move(self));
    }
};

template <class Stream, class Token>
auto start_connect(stream<Stream>& ws, const ws_url& url, std::shared_ptr<proxy_state> proxy,
                   client_handshake_options options, std::error_code early, Token&& token) {
    if (url.secure != is_tls_stream<Stream>::value)
        early = error::url_bad_scheme;
    return ::asio::async_compose<Token, void(std::error_code)>(
        [op = connect_op<Stream>{ws, url, std::move(options), nullptr, std::move(proxy)},
         early](auto& self, std::error_code ec = {}, auto&&... rest) mutable {
            if (early) // never complete inside the initiating call: post the failure
                return ::asio::post(op.ws.get_executor(), [self = std::move(self), early]() mutable {
                    self.complete(early);
                });
            op(self, ec, std::forward<decltype(rest)>(rest)...);
        },
        token, ws.get_executor());
}

} // namespace detail

/// Connects `ws` to `url` and completes the opening handshake: resolves the host, connects
/// (trying each address), and for wss:// does the TLS handshake sending the host as SNI and
/// verifying the server certificate and host name. `ws` is a stream over ::asio::ip::tcp::socket
/// (ws://) or ::asio::ssl::stream<::asio::ip::tcp::socket> (wss://, its context from
/// make_tls_client_context() or your own verifying context). A ws:// URL on a TLS stream or the
/// reverse fails with error::url_bad_scheme. Signature: void(std::error_code).
template <class Stream, class Token>
auto async_connect(stream<Stream>& ws, const ws_url& url, client_handshake_options options, Token&& token) {
    return detail::start_connect(ws, url, nullptr, std::move(options), {}, std::forward<Token>(token));
}

template <class Stream, class Token>
auto async_connect(stream<Stream>& ws, const ws_url& url, Token&& token) {
    return async_connect(ws, url, client_handshake_options{}, std::forward<Token>(token));
}

/// As above, through the HTTP proxy `proxy`: resolves and connects to the proxy, asks it for a
/// tunnel with `CONNECT host:port HTTP/1.1` (see make_connect_request), then does the TLS
/// handshake (wss://: SNI and certificate checks for the URL's host, not the proxy's) and the
/// WebSocket handshake through the tunnel. Only the URL's host is resolved by the proxy.
/// Errors besides the direct path's: those of make_connect_request, before anything is sent;
/// error::proxy_auth_required for a 407 (or 401), error::proxy_refused for any other status but 2xx
/// (proxy.on_response sees the status and fields either way); error::proxy_bad_response for an
/// answer that is malformed, over proxy.max_response_size, cut by the proxy closing, or followed
/// by bytes (nothing may come through the tunnel before the client speaks, so such bytes are the
/// proxy's own and are refused rather than fed to the handshake). Interim 1xx answers are
/// skipped. Timeouts: the stream's handshake_timeout (stream_options, 0: none) bounds resolving,
/// connecting, the CONNECT exchange (error::proxy_timeout) and the TLS handshake
/// (error::handshake_timeout); the WebSocket handshake then has its own handshake_timeout.
/// Signature: void(std::error_code).
template <class Stream, class Token>
auto async_connect(stream<Stream>& ws, const ws_url& url, const proxy_options& proxy,
                   client_handshake_options options, Token&& token) {
    std::error_code early;
    std::string request = make_connect_request(proxy, url, early);
    auto state = std::make_shared<detail::proxy_state>(ws.get_executor(), proxy, std::move(request));
    return detail::start_connect(ws, url, std::move(state), std::move(options), early,
                                 std::forward<Token>(token));
}

template <class Stream, class Token>
auto async_connect(stream<Stream>& ws, const ws_url& url, const proxy_options& proxy, Token&& token) {
    return async_connect(ws, url, proxy, client_handshake_options{}, std::forward<Token>(token));
}

} // namespace asio
} // namespace duplex
