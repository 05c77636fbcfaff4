// duplex — permessage-deflate (RFC 7692): the compression extension, opt-in, with zlib.
// Link zlib (Debian: zlib1g-dev; CMake: ZLIB::ZLIB). The negotiation itself is zlib-free, in
// <duplex/core/deflate_negotiation.hpp>.
// SPDX-License-Identifier: MIT
#pragma once

#include <duplex/core/client_handshake.hpp>
#include <duplex/core/deflate_negotiation.hpp>
#include <duplex/core/engine_options.hpp>
#include <duplex/core/error.hpp>
#include <duplex/core/extension.hpp>
#include <duplex/core/frame.hpp>
#include <duplex/core/server_handshake.hpp>
#include <duplex/stream.hpp>

#include <zlib.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace duplex {

/// The permessage-deflate extension for one connection (RFC 7692 §6, §7.2), given the agreed
/// parameters and this endpoint's role. Each direction has its own zlib stream, created on
/// first use: a connection that never sends (or receives) a compressed message holds none.
/// Compressing: raw DEFLATE, flushed with Z_SYNC_FLUSH and the trailing 00 00 ff ff removed;
/// reset after each message without context takeover; a message under the threshold goes out
/// as it is.
/// Decompressing: 00 00 ff ff appended at the message's end; output grows in bounded steps and
/// stops at the engine's limit (error::message_too_big, close 1009); a corrupt stream is
/// error::extension_failed (close 1007).
class permessage_deflate final : public extension {
public:
    permessage_deflate(role r, const deflate_agreement& agreed, const deflate_options& options = {})
        : level_(std::clamp(options.compression_level, 0, 9)),
          memory_level_(std::clamp(options.memory_level, 1, 9)), threshold_(options.compress_threshold) {
        const bool server = r == role::server;
        // zlib's raw deflate cannot use an 8-bit window; with 9 it never emits a distance
        // over 250 (MAX_DIST: window - 262), so its output still fits a 256-byte window.
        send_bits_ = std::max(9, detail::clamp_window_bits(server ? agreed.server_max_window_bits
                                                                  : agreed.client_max_window_bits));
        receive_bits_ = detail::clamp_window_bits(server ? agreed.client_max_window_bits
                                                         : agreed.server_max_window_bits);
        send_reset_ = server ? agreed.server_no_context_takeover : agreed.client_no_context_takeover;
        receive_reset_ = server ? agreed.client_no_context_takeover : agreed.server_no_context_takeover;
    }

    permessage_deflate(const permessage_deflate&) = delete;
    permessage_deflate& operator=(const permessage_deflate&) = delete;

    ~permessage_deflate() override {
        if (deflating_)
            deflateEnd(&def_);
        if (inflating_)
            inflateEnd(&inf_);
    }

    std::uint8_t rsv_bits() const noexcept override { return rsv1_bit; }

    std::error_code decode(std::uint8_t, const unsigned char* data, std::size_t size, bool last,
                           extension_buffer& out, std::size_t limit) override {
        if (!start_inflate())
            return error::extension_failed;
        if (size > 0) {
            message_bytes_ += size;
            const std::error_code ec = inflate_some(data, size, out, limit);
            if (ec)
                return ec;
        }
        if (!last)
            return {};
        // RFC 7692 §7.2.2: the sender removed 00 00 ff ff; put it back. A message that ended
        // its DEFLATE stream with a BFINAL block (§7.2.3.4) and nothing after it needs none,
        // nor does an empty payload (an empty message; the tail alone would open a block).
        const bool empty = message_bytes_ == 0;
        message_bytes_ = 0;
        std::error_code ec;
        if (!ended_ && !empty)
            ec = inflate_some(tail, sizeof tail, out, limit);
        if (!ec && receive_reset_ && !ended_ && inflateReset(&inf_) != Z_OK)
            ec = error::extension_failed;
        return ec;
    }

    std::uint8_t encode(opcode, const unsigned char* data, std::size_t size, extension_buffer& out,
                        std::error_code& ec) override {
        ec.clear();
        if (size < threshold_)
            return 0;
        if (!start_deflate()) {
            ec = error::extension_failed;
            return 0;
        }
        if (size == 0) {
            // An empty message is one byte, 0x00: with the peer's 00 00 ff ff an empty stored
            // block (RFC 7692 §7.2.3.6). zlib cannot make it: a second sync flush with no input
            // is Z_BUF_ERROR and emits nothing. Our stream is byte-aligned after every message,
            // so the block changes neither side's window.
            out.assign(1, 0x00);
            return rsv1_bit;
        }
        def_.next_in = const_cast<unsigned char*>(data); // zlib's API is not const-correct
        std::size_t used = 0;
        std::size_t pending = size;
        out.resize(deflateBound(&def_, static_cast<uLong>(std::min<std::size_t>(size, step))) + 16);
        for (;;) {
            const auto in = static_cast<uInt>(std::min<std::size_t>(pending, step));
            def_.avail_in = in;
            const int flush = pending == in ? Z_SYNC_FLUSH : Z_NO_FLUSH;
            int r;
            do {
                if (out.size() - used < 64)
                    out.resize(out.size() + std::max<std::size_t>(out.size() / 2, 1024));
                const std::size_t room = std::min<std::size_t>(out.size() - used, step);
                def_.next_out = out.data() + used;
                def_.avail_out = static_cast<uInt>(room);
                r = deflate(&def_, flush);
                used += room - def_.avail_out;
                if (r == Z_STREAM_ERROR) {
                    abandon_deflate(ec, out);
                    return 0;
                }
            } while (def_.avail_out == 0 || def_.avail_in != 0);
            pending -= in;
            if (pending == 0)
                break;
        }
        // A sync flush ends with an empty stored block, 00 00 ff ff: drop it (§7.2.1).
        if (used < 4 || std::memcmp(out.data() + used - 4, tail, 4) != 0) {
            abandon_deflate(ec, out);
            return 0;
        }
        used -= 4;
        out.resize(used);
        if (send_reset_)
            deflateReset(&def_);
        return rsv1_bit;
    }

    /// Bytes the decompressor has produced, in all (the statistics of a connection; tests).
    std::uint64_t inflated_total() const noexcept { return inflated_; }

private:
    static constexpr unsigned char tail[4] = {0x00, 0x00, 0xff, 0xff};
    static constexpr std::size_t step = 64 * 1024; // output grows, and zlib works, in these steps

    bool start_deflate() {
        if (!deflating_) {
            std::memset(&def_, 0, sizeof def_);
            if (deflateInit2(&def_, level_, Z_DEFLATED, -send_bits_, memory_level_, Z_DEFAULT_STRATEGY) != Z_OK)
                return false;
            deflating_ = true;
        }
        return true;
    }

    bool start_inflate() {
        if (!inflating_) {
            std::memset(&inf_, 0, sizeof inf_);
            if (inflateInit2(&inf_, -receive_bits_) != Z_OK)
                return false;
            inflating_ = true;
        }
        return true;
    }

    // The compressor failed mid-message: start it afresh (the peer's window holds what it
    // had; not referring to it is always safe) and send the message as it is.
    void abandon_deflate(std::error_code& ec, extension_buffer& out) {
        deflateReset(&def_);
        out.clear();
        ec = error::extension_failed;
    }

    // A DEFLATE stream ended with a BFINAL block: the next bytes start a new one. With context
    // takeover the new stream may still refer to the old window, so carry it over.
    bool restart_inflate() {
        ended_ = false;
        if (receive_reset_)
            return inflateReset(&inf_) == Z_OK;
        window_.resize(std::size_t{1} << receive_bits_);
        uInt n = static_cast<uInt>(window_.size());
        if (inflateGetDictionary(&inf_, window_.data(), &n) != Z_OK || inflateReset(&inf_) != Z_OK)
            return false;
        return n == 0 || inflateSetDictionary(&inf_, window_.data(), n) == Z_OK;
    }

    // Inflates [data, data+size) into `out`, never growing it past `limit` bytes.
    std::error_code inflate_some(const unsigned char* data, std::size_t size, extension_buffer& out,
                                 std::size_t limit) {
        const unsigned char* p = data;
        std::size_t left = size;
        bool output_full = false;
        while (left > 0 || output_full) {
            if (ended_ && left > 0 && !restart_inflate())
                return error::extension_failed;
            const auto in = static_cast<uInt>(std::min<std::size_t>(left, step));
            inf_.next_in = const_cast<unsigned char*>(p);
            inf_.avail_in = in;
            const std::size_t at = out.size();
            unsigned char probe;
            std::size_t room = limit > at ? std::min(limit - at, step) : 0;
            const bool probing = room == 0; // at the limit: does the message go on?
            if (probing) {
                inf_.next_out = &probe;
                room = 1;
            } else {
                if (out.capacity() < at + room) // grow, but never reserve past the limit
                    out.reserve(std::min(limit, std::max(at + room, out.capacity() * 2)));
                out.resize(at + room);
                inf_.next_out = out.data() + at;
            }
            inf_.avail_out = static_cast<uInt>(room);
            const int r = inflate(&inf_, Z_SYNC_FLUSH);
            const std::size_t produced = room - inf_.avail_out;
            const std::size_t taken = in - inf_.avail_in;
            if (!probing)
                out.resize(at + produced);
            else if (produced > 0)
                return error::message_too_big;
            inflated_ += produced;
            p += taken;
            left -= taken;
            output_full = inf_.avail_out == 0;
            switch (r) {
            case Z_OK:
                break;
            case Z_STREAM_END:
                ended_ = true;
                output_full = false;
                break;
            case Z_BUF_ERROR: // no progress possible: all input taken and all output given
                if (taken == 0 && produced == 0) {
                    if (left > 0)
                        return error::extension_failed;
                    output_full = false;
                }
                break;
            default: // Z_DATA_ERROR, Z_NEED_DICT, Z_MEM_ERROR, Z_STREAM_ERROR
                return error::extension_failed;
            }
        }
        return {};
    }

    int level_;
    int memory_level_;
    std::size_t threshold_;
    int send_bits_ = 15;
    int receive_bits_ = 15;
    bool send_reset_ = false;
    bool receive_reset_ = false;

    z_stream def_{};
    z_stream inf_{};
    bool deflating_ = false;
    bool inflating_ = false;
    bool ended_ = false; // the peer's DEFLATE stream ended (BFINAL) and no new one began
    std::uint64_t message_bytes_ = 0; // compressed bytes of the message being received
    std::vector<unsigned char> window_;
    std::uint64_t inflated_ = 0;
};

namespace detail {

// The negotiation result, from the handshake hook to the engine's constructor, for one
// connection.
struct deflate_slot {
    bool agreed = false;
    deflate_agreement params;
};

inline std::function<std::unique_ptr<extension>()> deflate_factory(std::shared_ptr<deflate_slot> slot, role r,
                                                                   const deflate_options& o) {
    return [slot = std::move(slot), r, o]() -> std::unique_ptr<extension> {
        if (!slot->agreed)
            return nullptr;
        slot->agreed = false; // one engine per negotiation
        return std::make_unique<permessage_deflate>(r, slot->params, o);
    };
}

} // namespace detail

/// Server: offers permessage-deflate on one connection. Sets `handshake.negotiate_extensions`
/// (replacing any previous hook) to answer the client's first acceptable offer as `o` says, and
/// `engine.make_extension` to attach the extension if one was agreed. Call it for each
/// connection, with the handshake and engine options that connection uses.
inline void enable_deflate(server_handshake_options& handshake, engine_options& engine,
                           const deflate_options& o = {}) {
    auto slot = std::make_shared<detail::deflate_slot>();
    handshake.negotiate_extensions = [slot, o](const upgrade_request& request) {
        slot->agreed = false;
        std::string answer = negotiate_deflate(request.extensions, o, slot->params);
        slot->agreed = !answer.empty();
        return answer;
    };
    engine.make_extension = detail::deflate_factory(slot, role::server, o);
}

/// Client: offers permessage-deflate (o.offers, in order) on one connection. Appends the offers
/// to `handshake.extensions`, sets `handshake.accept_extensions` (replacing any previous hook)
/// to fail the handshake on a response no offer allows (RFC 7692 §7.1), and
/// `engine.make_extension` to attach the extension if the server accepted. Call it for each
/// connection.
inline void enable_deflate(client_handshake_options& handshake, engine_options& engine,
                           const deflate_options& o = {}) {
    auto slot = std::make_shared<detail::deflate_slot>();
    for (auto& offer : deflate_offers(o))
        handshake.extensions.push_back(std::move(offer));
    handshake.accept_extensions = [slot, o](const std::vector<extension_offer>& accepted) {
        slot->agreed = false;
        for (const auto& e : accepted) {
            if (!detail::iequals(e.name, deflate_extension_name))
                continue;
            if (!accept_deflate_response(e, o, slot->params))
                return false;
            slot->agreed = true;
        }
        return true;
    };
    engine.make_extension = detail::deflate_factory(slot, role::client, o);
}

/// The same for a blocking duplex::stream: call before accept(handshake, ec), after set_options.
template <class NextLayer>
void enable_deflate(stream<NextLayer>& ws, server_handshake_options& handshake, const deflate_options& o = {}) {
    engine_options options = ws.options();
    enable_deflate(handshake, options, o);
    ws.set_options(std::move(options));
}

/// The same for a blocking duplex::stream: call before handshake(host, target, handshake, ec).
template <class NextLayer>
void enable_deflate(stream<NextLayer>& ws, client_handshake_options& handshake, const deflate_options& o = {}) {
    engine_options options = ws.options();
    enable_deflate(handshake, options, o);
    ws.set_options(std::move(options));
}

} // namespace duplex
