// duplex — umbrella header: the sans-IO protocol core and the blocking stream (no Asio).
// SPDX-License-Identifier: MIT
#pragma once

#include <duplex/core/base64.hpp>
#include <duplex/core/buffer.hpp>
#include <duplex/core/client_handshake.hpp>
#include <duplex/core/close.hpp>
#include <duplex/core/engine.hpp>
#include <duplex/core/engine_options.hpp>
#include <duplex/core/error.hpp>
#include <duplex/core/event.hpp>
#include <duplex/core/extension.hpp>
#include <duplex/core/frame.hpp>
#include <duplex/core/frame_writer.hpp>
#include <duplex/core/handshake.hpp>
#include <duplex/core/heartbeat.hpp>
#include <duplex/core/http.hpp>
#include <duplex/core/mask.hpp>
#include <duplex/core/random.hpp>
#include <duplex/core/send_queue.hpp>
#include <duplex/core/server_handshake.hpp>
#include <duplex/core/sha1.hpp>
#include <duplex/core/url.hpp>
#include <duplex/core/utf8.hpp>
#include <duplex/stream.hpp>
