// duplex — TLS (wss://) helpers for the Asio glue: a client context that verifies peers, and
// SNI plus host name verification for one connection.
// SPDX-License-Identifier: MIT
#pragma once

#include <duplex/asio/detail/prelude.hpp>

#include <asio/ip/tcp.hpp>
#include <asio/ssl.hpp>

#include <string>
#include <system_error>

namespace duplex {
namespace asio {

/// A TLS client context that trusts the system's certificate authorities and verifies every
/// server certificate. Add your own CA with load_verify_file() for private deployments.
inline ::asio::ssl::context make_tls_client_context() {
    ::asio::ssl::context ctx(::asio::ssl::context::tls_client);
    ctx.set_default_verify_paths();
    ctx.set_verify_mode(::asio::ssl::verify_peer);
    ctx.set_options(::asio::ssl::context::default_workarounds | ::asio::ssl::context::no_sslv2 |
                    ::asio::ssl::context::no_sslv3 | ::asio::ssl::context::no_tlsv1 |
                    ::asio::ssl::context::no_tlsv1_1);
    return ctx;
}

/// Prepares a client TLS stream for `host` before its handshake: sends it as SNI and checks
/// that the server certificate is valid for it (RFC 6125 rules, by OpenSSL).
template <class Stream>
void set_tls_host(::asio::ssl::stream<Stream>& s, const std::string& host, std::error_code& ec) {
    ec.clear();
    if (!SSL_set_tlsext_host_name(s.native_handle(), host.c_str())) {
        ec = std::error_code(static_cast<int>(::ERR_get_error()), ::asio::error::get_ssl_category());
        return;
    }
    s.set_verify_mode(::asio::ssl::verify_peer);
    s.set_verify_callback(::asio::ssl::host_name_verification(host));
}

} // namespace asio
} // namespace duplex
