// duplex — the hook an extension such as permessage-deflate implements (RFC 6455 §9).
// SPDX-License-Identifier: MIT
#pragma once

#include <duplex/core/detail/byte_buffer.hpp>
#include <duplex/core/frame.hpp>

#include <cstddef>
#include <cstdint>
#include <system_error>

namespace duplex {

/// Storage an extension writes transformed payloads into.
using extension_buffer = detail::byte_buffer;

/// Per outgoing message: whether a negotiated extension (permessage-deflate) may compress it.
/// compress::no sends it as it is (RSV1 clear), e.g. for data that is already compressed.
enum class compress : std::uint8_t { allowed, no };

/// A per-message payload transform that claims RSV bits, negotiated in the handshake and then
/// attached to one connection's engine. The engine does the framing; the extension only
/// transforms payloads. It sees messages whose first frame carries any of its rsv_bits(), and
/// decides per outgoing message whether to transform it.
class extension {
public:
    virtual ~extension() = default;

    /// The RSV bits this extension uses (e.g. rsv1_bit), allowed on a message's first frame.
    virtual std::uint8_t rsv_bits() const noexcept = 0;

    /// Transforms `size` received payload bytes of a message whose first frame had `rsv` set,
    /// appending the result to `out`. `last` marks the message's final bytes. Must not grow
    /// `out` past `limit` bytes in all (fail with error::message_too_big instead); any other
    /// failure fails the connection with close code 1007.
    virtual std::error_code decode(std::uint8_t rsv, const unsigned char* data, std::size_t size,
                                   bool last, extension_buffer& out, std::size_t limit) = 0;

    /// Offered each outgoing message whole. To transform it, write the new payload to `out` and
    /// return the RSV bits to set on its first frame; return 0 to send it unchanged.
    virtual std::uint8_t encode(opcode op, const unsigned char* data, std::size_t size,
                                extension_buffer& out, std::error_code& ec) = 0;
};

} // namespace duplex
