// duplex — umbrella header for the Asio glue: the async stream and the sync socket adapter.
// SPDX-License-Identifier: MIT
#pragma once

#include <duplex/asio/stream.hpp>
#include <duplex/asio/sync.hpp>
#include <duplex/duplex.hpp>
