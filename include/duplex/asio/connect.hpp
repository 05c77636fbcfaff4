// duplex — a client's whole way in: resolve the URL's host, connect, do the TLS handshake for
// wss:// (with SNI and certificate and host name verification), then the WebSocket handshake.
// SPDX-License-Identifier: MIT
#pragma once

#include <duplex/asio/stream.hpp>
#include <duplex/asio/tls.hpp>
#include <duplex/core/url.hpp>

#include <asio/compose.hpp>
#include <asio/connect.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/ssl.hpp>

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

template <class Stream>
struct connect_op {
    enum class step { resolve, connect, tls, websocket, done };

    stream<Stream>& ws;
    ws_url url;
    client_handshake_options options;
    std::unique_ptr<::asio::ip::tcp::resolver> resolver;
    step at = step::resolve;

    ::asio::ip::tcp::socket& socket() {
        if constexpr (is_tls_stream<Stream>::value)
            return ws.next_layer().next_layer();
        else
            return ws.next_layer();
    }

    template <class Self>
    void operator()(Self& self, std::error_code ec = {}) {
        if (ec)
            return self.complete(ec);
        switch (at) {
        case step::resolve:
            at = step::connect;
            resolver = std::make_unique<::asio::ip::tcp::resolver>(ws.get_executor());
            resolver->async_resolve(url.host, std::to_string(url.port), std::move(self));
            return;
        case step::tls:
            if constexpr (is_tls_stream<Stream>::value) {
                at = step::websocket;
                set_tls_host(ws.next_layer(), url.host, ec);
                if (ec)
                    return self.complete(ec);
                ws.next_layer().async_handshake(::asio::ssl::stream_base::client, std::move(self));
                return;
            }
            [[fallthrough]];
        case step::websocket:
            at = step::done;
            ws.async_handshake(url.host_field(), url.target, std::move(options), std::move(self));
            return;
        default:
            return self.complete(ec);
        }
    }

    template <class Self>
    void operator()(Self& self, std::error_code ec, ::asio::ip::tcp::resolver::results_type endpoints) {
        if (ec)
            return self.complete(ec);
        at = step::tls;
        ::asio::async_connect(socket(), endpoints, std::move(self));
    }

    template <class Self>
    void operator()(Self& self, std::error_code ec, const ::asio::ip::tcp::endpoint&) {
        (*this)(self, ec);
    }
};

} // namespace detail

/// Connects `ws` to `url` and completes the opening handshake: resolves the host, connects
/// (trying each address), and for wss:// does the TLS handshake sending the host as SNI and
/// verifying the server certificate and host name. `ws` is a stream over ::asio::ip::tcp::socket
/// (ws://) or ::asio::ssl::stream<::asio::ip::tcp::socket> (wss://, its context from
/// make_tls_client_context() or your own verifying context). A ws:// URL on a TLS stream or the
/// reverse fails with error::url_bad_scheme. Signature: void(std::error_code).
template <class Stream, class Token>
auto async_connect(stream<Stream>& ws, const ws_url& url, client_handshake_options options, Token&& token) {
    std::error_code scheme;
    if (url.secure != detail::is_tls_stream<Stream>::value)
        scheme = error::url_bad_scheme;
    return ::asio::async_compose<Token, void(std::error_code)>(
        [op = detail::connect_op<Stream>{ws, url, std::move(options), nullptr}, scheme](auto& self, std::error_code ec = {},
                                                                                   auto&&... rest) mutable {
            if (scheme) // never complete inside the initiating call: post the failure
                return ::asio::post(op.ws.get_executor(), [self = std::move(self), scheme]() mutable {
                    self.complete(scheme);
                });
            op(self, ec, std::forward<decltype(rest)>(rest)...);
        },
        token, ws.get_executor());
}

template <class Stream, class Token>
auto async_connect(stream<Stream>& ws, const ws_url& url, Token&& token) {
    return async_connect(ws, url, client_handshake_options{}, std::forward<Token>(token));
}

} // namespace asio
} // namespace duplex
