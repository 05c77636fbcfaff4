// duplex — permessage-deflate (RFC 7692) for duplex::asio::stream, in either role. Needs zlib.
// SPDX-License-Identifier: MIT
#pragma once

#include <duplex/asio/stream.hpp>
#include <duplex/deflate.hpp>

#include <utility>

namespace duplex {
namespace asio {

/// Server: offers permessage-deflate on `ws`'s next async_accept, which must be given
/// `handshake`. Call after set_options (it adds to the stream's engine options).
template <class NextLayer>
void enable_deflate(stream<NextLayer>& ws, server_handshake_options& handshake, const deflate_options& o = {}) {
    stream_options options = ws.options();
    duplex::enable_deflate(handshake, options.engine, o);
    ws.set_options(std::move(options));
}

/// Client: offers permessage-deflate on `ws`'s next async_handshake or async_connect, which
/// must be given `handshake`. Call after set_options.
template <class NextLayer>
void enable_deflate(stream<NextLayer>& ws, client_handshake_options& handshake, const deflate_options& o = {}) {
    stream_options options = ws.options();
    duplex::enable_deflate(handshake, options.engine, o);
    ws.set_options(std::move(options));
}

} // namespace asio
} // namespace duplex
