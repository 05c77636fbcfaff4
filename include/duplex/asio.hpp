// duplex — umbrella header for the Asio glue: the async stream and the sync socket adapter.
// TLS needs OpenSSL, so it is not included here: add <duplex/asio/tls.hpp> for the TLS helpers
// and <duplex/asio/connect.hpp> for async_connect (ws:// and wss://), and link OpenSSL.
// SPDX-License-Identifier: MIT
#pragma once

#include <duplex/asio/stream.hpp>
#include <duplex/asio/sync.hpp>
#include <duplex/duplex.hpp>
