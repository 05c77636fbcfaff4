// duplex — umbrella header: the sans-IO protocol core (standard library only, no Asio).
// SPDX-License-Identifier: MIT
#pragma once

#include <duplex/core/close.hpp>
#include <duplex/core/error.hpp>
#include <duplex/core/frame.hpp>
#include <duplex/core/mask.hpp>
#include <duplex/core/utf8.hpp>
