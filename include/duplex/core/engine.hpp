// duplex — the sans-IO protocol engine (RFC 6455 §5-§7): bytes in, events out; calls in,
// bytes out. No I/O, no clock, no threads.
// SPDX-License-Identifier: MIT
#pragma once

#include <duplex/core/buffer.hpp>
#include <duplex/core/close.hpp>
#include <duplex/core/engine_options.hpp>
#include <duplex/core/detail/byte_buffer.hpp>
#include <duplex/core/error.hpp>
#include <duplex/core/event.hpp>
#include <duplex/core/extension.hpp>
#include <duplex/core/frame.hpp>
#include <duplex/core/frame_writer.hpp>
#include <duplex/core/heartbeat.hpp>
#include <duplex/core/mask.hpp>
#include <duplex/core/prepared_message.hpp>
#include <duplex/core/utf8.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace duplex {

/// What engine::read() does with an unfragmented message whose frame is only partly in its
/// input.
enum class partial_frames : std::uint8_t {
    /// Take the bytes: the engine gathers the message in its own buffer. Any caller's buffer
    /// works, however small.
    copy,
    /// Hold the frame in the caller's buffer: read() checks the bytes that are there (unmasks
    /// them in place, validates UTF-8 as they come, so a bad message still fails at once) but
    /// does not count them as used; it stops at the frame's first byte, and frame_wanted()
    /// says how many bytes the frame has in all. The caller keeps those bytes, appends more
    /// and calls read() again from the same first byte (the bytes may move in memory, as a
    /// buffer grows, but must not change). The message then is a view into the caller's
    /// buffer, with no copy. The caller's buffer must be able to grow to max_message_size
    /// plus a frame header (14 bytes). A held frame given back to a read() with
    /// partial_frames::copy is taken from then on and gathered.
    hold,
};

/// The protocol engine for one connection, after the opening handshake. `Role` decides the
/// masking rules: a server requires masked frames and sends unmasked ones, a client the reverse.
///
/// Receiving: pass received bytes to read(); it consumes them until it has an event and returns
/// how many it used (call again with the rest). It unmasks payloads in place, so a complete
/// unfragmented message is a view into your buffer: no copy. Pings are answered and close
/// frames echoed by themselves.
/// Sending: send_text() and friends queue frames; output() gives the queued bytes as gather
/// buffers for one write; consume() drops what was written.
/// Time: tick(now) does what is due (pings, timeouts); next_deadline() says when to call it.
template <role Role>
class engine {
public:
    using time_point = heartbeat::time_point;

    explicit engine(engine_options options = {})
        : options_{options.max_message_size,
                   options.max_frame_size,
                   options.fragment_size,
                   options.backpressure_close_code,
                   options.on_backpressure,
                   options.auto_pong,
                   options.stream_messages,
                   options.validate_outgoing_utf8},
          heartbeat_(options.timeouts),
          out_(std::move(options.mask_source), options.send_queue_limit, options.send_queue_resume) {
        if (options.make_extension)
            set_extension(options.make_extension());
    }

    engine(const engine&) = delete;
    engine& operator=(const engine&) = delete;
    engine(engine&&) = default;
    engine& operator=(engine&&) = default;

    connection_state state() const noexcept { return state_; }

    /// Attaches a negotiated extension (e.g. permessage-deflate); before any data flows.
    void set_extension(std::unique_ptr<extension> ext) {
        extension_ = std::move(ext);
        encoded_.reset(extension_ ? new extension_buffer : nullptr);
        rules_.allowed_rsv = extension_ ? extension_->rsv_bits() : 0;
    }

    /// The attached extension, or nullptr.
    extension* get_extension() const noexcept { return extension_.get(); }

    // ---- Receiving --------------------------------------------------------------------------

    /// Consumes bytes from [data, data+size) until it has an event for `ev` or has used them
    /// all, and returns how many it used. Payload bytes are unmasked in place. On a protocol
    /// violation it sets `ec` to the specific error, queues a close frame with the code RFC 6455
    /// §7.4.1 gives it (1002, 1007 or 1009) and the connection is closed; events found before
    /// the violation have been returned first. Once closed, bytes are ignored.
    /// With partial_frames::hold, an unfragmented data message whose frame is not all in the
    /// input is held in the caller's buffer (see partial_frames).
    std::size_t read(void* data, std::size_t size, event& ev, std::error_code& ec,
                     partial_frames partial = partial_frames::copy) {
        ev = event{};
        ec.clear();
        if (size > 0)
            heartbeat_.received();
        if (state_ == connection_state::closed)
            return size;
        auto* const begin = static_cast<unsigned char*>(data);
        unsigned char* p = begin;
        unsigned char* const end = begin + size;
        unsigned char* hold_from = nullptr; // where the current frame starts, if it may be held
        if (held_ > 0) { // the frame held last time, given back (with more bytes, or now to copy)
            if (size < held_ || (size == held_ && partial == partial_frames::hold))
                return 0;
            p += held_;
            if (partial == partial_frames::hold)
                hold_from = begin;
            else // gathered from here on, as if it had been copied from the start
                message_.assign(begin + header_.header_size, p);
            held_ = 0;
        }
        for (;;) {
            if (!in_frame_) {
                hold_from = partial == partial_frames::hold && spill_size_ == 0 ? p : nullptr;
                if (!read_header(p, end, ec))
                    break; // need more bytes, or failed
            }
            if (read_payload(p, end, ev, ec, hold_from))
                break; // an event, or failed
            if (in_frame_ || p == end)
                break; // the frame continues in the next read, or the input is used up
        }
        return static_cast<std::size_t>(p - begin);
    }

    /// While read() holds a frame in the caller's buffer (partial_frames::hold): the frame's
    /// size in all (header and payload), counted from where read() stopped. Otherwise 0.
    std::size_t frame_wanted() const noexcept {
        return held_ > 0 && state_ != connection_state::closed
                   ? header_.header_size + static_cast<std::size_t>(header_.payload_length)
                   : 0;
    }

    /// The transport ended (read returned end of file, or the socket failed). If the close
    /// handshake was not complete, the connection closes with 1006 and error::abnormal_closure.
    std::error_code transport_closed() {
        if (state_ == connection_state::closed)
            return {};
        state_ = connection_state::closed;
        received_code_ = close_code::abnormal;
        return error_ = error::abnormal_closure;
    }

    // ---- Sending ----------------------------------------------------------------------------

    void send_text(std::string_view text, std::error_code& ec, payload_mode mode = payload_mode::copy) {
        send(opcode::text, text.data(), text.size(), ec, mode);
    }

    void send_binary(const void* data, std::size_t size, std::error_code& ec,
                     payload_mode mode = payload_mode::copy) {
        send(opcode::binary, data, size, ec, mode);
    }

    /// Queues one whole message (`op` is text or binary), in frames of at most
    /// options.fragment_size if that is set. Text must be UTF-8 unless
    /// options.validate_outgoing_utf8 is off. A negotiated extension (permessage-deflate) may
    /// transform it unless `c` is compress::no.
    void send(opcode op, const void* data, std::size_t size, std::error_code& ec,
              payload_mode mode = payload_mode::copy, compress c = compress::allowed) {
        if (!may_send_message(op, ec) || !check_outgoing_text(op, data, size, true, ec) ||
            !admit(ec))
            return;
        queue_message(op, static_cast<const unsigned char*>(data), size, mode, c);
    }

    /// Queues a message framed once for many connections (a broadcast). A server queues a
    /// reference to the shared frame, no copy; a client masks, so it sends the payload as an
    /// ordinary message. Backpressure applies as to send(); an empty message fails with
    /// error::bad_opcode.
    void send(const prepared_message& m, std::error_code& ec) {
        if (!may_send_message(m ? m.op() : opcode::continuation, ec) || !admit(ec))
            return;
        if constexpr (Role == role::server) {
            const const_buffer f = m.frame();
            out_.shared_frame(m.owner(), f.data, f.size);
        } else {
            const const_buffer p = m.payload();
            out_.message(m.op(), 0, static_cast<const unsigned char*>(p.data), p.size, options_.fragment_size);
        }
    }

    /// Starts a message to be sent in parts (text or binary); each send_part() becomes a frame.
    /// Such a message is never transformed by an extension (it goes out uncompressed).
    void begin_message(opcode op, std::error_code& ec) {
        if (!may_send_message(op, ec))
            return;
        sending_op_ = op;
        sending_parts_ = true;
        first_part_ = true;
        out_utf8_.reset();
    }

    /// Sends the next part of the message begun with begin_message(); `last` finishes it.
    void send_part(const void* data, std::size_t size, bool last, std::error_code& ec,
                   payload_mode mode = payload_mode::copy) {
        ec.clear();
        if (!sending_parts_) {
            ec = state_ == connection_state::open ? error::no_message_in_progress : closed_error();
            return;
        }
        if (state_ != connection_state::open) {
            ec = closed_error();
            return;
        }
        // A part is never dropped (that would corrupt the message): over the limit it is
        // refused, and the text check runs on a copy, so a refused part can be sent again.
        if (!admit(ec, false) || !check_outgoing_text(sending_op_, data, size, last, ec))
            return;
        out_.frame(first_part_ ? sending_op_ : opcode::continuation, last, 0,
                    static_cast<const unsigned char*>(data), size, mode);
        first_part_ = false;
        sending_parts_ = !last;
    }

    /// Queues a ping (payload at most 125 bytes). Past the send queue limit it is refused
    /// (error::send_queue_full), or the connection closed, by the backpressure policy.
    void ping(const void* data, std::size_t size, std::error_code& ec) {
        send_control(opcode::ping, data, size, ec);
    }

    /// Queues an unsolicited pong (a heartbeat the peer need not answer).
    void pong(const void* data, std::size_t size, std::error_code& ec) {
        send_control(opcode::pong, data, size, ec);
    }

    /// Starts the closing handshake (RFC 6455 §7.1.2): queues a close frame with `code` and
    /// `reason` (validated as build_close does) and waits for the peer's close, at most
    /// timeouts.close_timeout. close_code::no_status sends a close frame without a code.
    void close(close_code code, std::string_view reason, std::error_code& ec) {
        ec.clear();
        if (state_ != connection_state::open) {
            ec = closed_error();
            return;
        }
        unsigned char payload[max_control_payload];
        const std::size_t n = build_close(code, reason, payload, ec);
        if (ec)
            return;
        out_.frame(opcode::close, true, 0, payload, n, payload_mode::copy);
        sent_code_ = code;
        state_ = connection_state::closing;
        heartbeat_.close_sent();
    }

    // ---- Output -----------------------------------------------------------------------------

    /// Fills up to `max` gather buffers with queued bytes, in order; returns how many. Write
    /// them (all in one writev if you can), then consume() what was written.
    std::size_t output(const_buffer* buffers, std::size_t max) const noexcept {
        return out_.output(buffers, max);
    }

    /// Drops `n` written bytes from the front of the queue.
    void consume(std::size_t n) { out_.consume(n); }

    bool wants_write() const noexcept { return !out_.queue().empty(); }
    /// Bytes queued and not yet written.
    std::size_t buffered_amount() const noexcept { return out_.queue().size(); }
    /// True from when the queue went over send_queue_limit until it drains to send_queue_resume.
    bool backpressured() const noexcept { return out_.backpressured(); }
    /// Bytes ever queued and ever written: a borrowed payload may be reused once
    /// written_total() reaches the queued_total() read right after sending it.
    std::uint64_t queued_total() const noexcept { return out_.queue().queued_total(); }
    std::uint64_t written_total() const noexcept { return out_.queue().written_total(); }
    std::uint64_t dropped_messages() const noexcept { return dropped_; }

    // ---- Time -------------------------------------------------------------------------------

    /// Does what is due at `now`: queues a heartbeat ping, or ends the connection when the peer
    /// stopped answering (peer_timeout), did not answer our close (close_timeout), or sent
    /// nothing for the idle timeout (a close with 1001 is started; idle_timeout). Returns the
    /// timeout that ended or began closing the connection, if any.
    std::error_code tick(time_point now) {
        if (state_ == connection_state::closed)
            return {};
        for (;;) {
            switch (heartbeat_.tick(now)) {
            case heartbeat::action::none:
                return {};
            case heartbeat::action::ping:
                if (state_ == connection_state::open && !out_.full()) // a peer not reading gets no more
                    out_.frame(opcode::ping, true, 0, nullptr, 0, payload_mode::copy);
                continue;
            case heartbeat::action::peer_dead:
                return end_without_close(error::peer_timeout);
            case heartbeat::action::close_expired:
                return end_without_close(error::close_timeout);
            case heartbeat::action::idle: {
                std::error_code ignored;
                close(close_code::going_away, "idle timeout", ignored);
                return error::idle_timeout;
            }
            }
        }
    }

    /// When to call tick() next: time_point::min() for "now", time_point::max() for "not until
    /// something else happens".
    time_point next_deadline() const noexcept {
        return state_ == connection_state::closed ? time_point::max() : heartbeat_.next_deadline();
    }

    // ---- What happened ----------------------------------------------------------------------

    /// The error that failed or ended the connection (protocol violation, timeout, EOF).
    std::error_code error() const noexcept { return error_; }
    /// The code in the close frame we sent (no_status if none was sent).
    close_code sent_close_code() const noexcept { return sent_code_; }
    /// The code in the peer's close frame: no_status (1005) if it had none, abnormal (1006) if
    /// the transport ended without one.
    close_code received_close_code() const noexcept { return received_code_; }
    /// The options the engine was made with, except make_extension (used once, at construction).
    engine_options options() const {
        engine_options o;
        o.max_message_size = options_.max_message_size;
        o.max_frame_size = options_.max_frame_size;
        o.fragment_size = options_.fragment_size;
        o.auto_pong = options_.auto_pong;
        o.stream_messages = options_.stream_messages;
        o.validate_outgoing_utf8 = options_.validate_outgoing_utf8;
        o.send_queue_limit = out_.limit();
        o.send_queue_resume = out_.resume();
        o.on_backpressure = options_.on_backpressure;
        o.backpressure_close_code = options_.backpressure_close_code;
        o.timeouts = heartbeat_.settings();
        o.mask_source = out_.mask_source();
        return o;
    }

private:
    // ---- Receiving internals ----

    // Completes the next frame header from the spill and [p, end). False if more bytes are
    // needed (all of [p, end) went to the spill) or the header is invalid (ec set).
    bool read_header(unsigned char*& p, unsigned char* end, std::error_code& ec) {
        const auto avail = static_cast<std::size_t>(end - p);
        const std::size_t old = spill_size_;
        decode_status status;
        if (old == 0) {
            status = decode_header(p, avail, header_, ec, rules_);
        } else {
            // A header is at most 14 bytes, so if these do not finish it, avail is all taken.
            const std::size_t take = std::min(max_header_size - old, avail);
            std::memcpy(spill_ + old, p, take);
            status = decode_header(spill_, old + take, header_, ec, rules_);
        }
        if (status == decode_status::failed)
            return fail(static_cast<enum error>(ec.value()), ec);
        if (status == decode_status::need_more) {
            if (old == 0)
                std::memcpy(spill_, p, avail);
            spill_size_ = static_cast<std::uint8_t>(old + avail);
            p = end;
            return false;
        }
        p += header_.header_size - old;
        spill_size_ = 0;
        return start_frame(ec);
    }

    // Checks a decoded header against the message in progress and the limits (RFC 6455 §5.4).
    bool start_frame(std::error_code& ec) {
        const bool rsv = header_.rsv1 || header_.rsv2 || header_.rsv3;
        if (is_control(header_.op)) {
            if (rsv)
                return fail(error::reserved_bits, ec);
        } else if (header_.op == opcode::continuation) {
            if (!in_message_)
                return fail(error::unexpected_continuation, ec);
            if (rsv)
                return fail(error::reserved_bits, ec); // extensions mark only a first frame
        } else {
            if (in_message_)
                return fail(error::expected_continuation, ec);
            in_message_ = true;
            message_op_ = header_.op;
            message_rsv_ = static_cast<std::uint8_t>((header_.rsv1 ? rsv1_bit : 0) |
                                                     (header_.rsv2 ? rsv2_bit : 0) |
                                                     (header_.rsv3 ? rsv3_bit : 0));
            message_size_ = 0;
            first_frame_ = true;
            utf8_.reset();
            detail::release(message_, keep_capacity);
        }
        if (!is_control(header_.op) && header_.payload_length > options_.max_frame_size)
            return fail(error::frame_too_big, ec); // control frames are capped at 125 already
        if (!is_control(header_.op) && message_rsv_ == 0 &&
            header_.payload_length > options_.max_message_size - message_size_)
            return fail(error::message_too_big, ec);
        in_frame_ = true;
        remaining_ = header_.payload_length;
        phase_ = 0;
        control_size_ = 0;
        return true;
    }

    // Takes payload bytes of the current frame from [p, end). True when it has an event for
    // `ev` or failed (ec set); false to go on reading. `hold_from`: where the frame starts in
    // this input, if it may be held there (partial_frames::hold).
    bool read_payload(unsigned char*& p, unsigned char* end, event& ev, std::error_code& ec,
                      unsigned char* hold_from) {
        const std::size_t avail =
            static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, static_cast<std::uint64_t>(end - p)));
        const bool frame_done = avail == remaining_;
        if (is_control(header_.op)) {
            std::string_view payload;
            if (control_size_ == 0 && frame_done) {
                unmask(p, avail);
                payload = {reinterpret_cast<const char*>(p), avail};
            } else { // split across reads: gathered here (made at the first such frame)
                if (!control_)
                    control_.reset(new unsigned char[max_control_payload]);
                std::memcpy(control_.get() + control_size_, p, avail);
                unmask(control_.get() + control_size_, avail);
                control_size_ = static_cast<std::uint8_t>(control_size_ + avail); // at most 125 in all
                payload = {reinterpret_cast<const char*>(control_.get()), control_size_};
            }
            p += avail;
            remaining_ -= avail;
            if (!frame_done)
                return false;
            in_frame_ = false;
            return on_control(payload, ev, ec);
        }

        const bool message_done = frame_done && header_.fin;
        const bool first_frame = first_frame_;
        unmask(p, avail);
        const unsigned char* chunk = p;
        std::size_t chunk_size = avail;
        p += avail;
        remaining_ -= avail;
        if (frame_done) {
            in_frame_ = false;
            first_frame_ = false;
        }

        if (message_rsv_ != 0) { // an extension transforms this message
            if (options_.stream_messages)
                message_.clear(); // the previous piece has been delivered
            const std::size_t before = message_.size();
            ec = extension_->decode(message_rsv_, chunk, chunk_size, message_done, message_,
                                    before + (options_.max_message_size - message_size_));
            if (ec)
                return stop(ec == make_error_code(error::message_too_big) ? error::message_too_big
                                                                          : error::extension_failed,
                            ec);
            message_size_ += message_.size() - before;
            if (!check_text(message_.data() + before, message_.size() - before, message_done, ec))
                return true;
            if (options_.stream_messages) {
                if (message_.size() == before && !message_done)
                    return false;
                return deliver(message_.data() + before, message_.size() - before,
                               event_type::message_part, ev, message_done);
            }
            return message_done && deliver(message_.data(), message_.size(), event_type::message, ev);
        }
        if (!check_text(chunk, chunk_size, message_done, ec))
            return true;
        message_size_ += chunk_size;
        if (options_.stream_messages) {
            if (chunk_size == 0 && !message_done)
                return false;
            return deliver(chunk, chunk_size, event_type::message_part, ev, message_done);
        }
        if (first_frame && header_.fin && (chunk_size == header_.payload_length || hold_from)) {
            if (message_done) // whole in the caller's buffer: a view
                return deliver(p - header_.payload_length, static_cast<std::size_t>(header_.payload_length),
                               event_type::message, ev);
            held_ = static_cast<std::size_t>(p - hold_from); // checked so far; the rest to come
            p = hold_from;
            return true;
        }

        const std::size_t at = message_.size();
        message_.resize(at + chunk_size);
        if (chunk_size > 0)
            std::memcpy(message_.data() + at, chunk, chunk_size);
        return message_done && deliver(message_.data(), message_.size(), event_type::message, ev);
    }

    bool deliver(const unsigned char* data, std::size_t size, event_type type, event& ev, bool last = true) {
        ev.type = type;
        ev.op = message_op_;
        ev.last = last;
        ev.data = {reinterpret_cast<const char*>(data), size};
        if (last)
            in_message_ = false;
        return true;
    }

    // Validates text as it arrives (fail-fast, RFC 6455 §8.1); `last` ends the message.
    bool check_text(const unsigned char* data, std::size_t size, bool last, std::error_code& ec) {
        if (message_op_ != opcode::text)
            return true;
        if (!utf8_.feed(data, size) || (last && !utf8_.complete()))
            return fail(error::invalid_utf8, ec);
        return true;
    }

    bool on_control(std::string_view payload, event& ev, std::error_code& ec) {
        ev.data = payload;
        switch (header_.op) {
        case opcode::ping:
            ev.type = event_type::ping;
            if (options_.auto_pong && state_ == connection_state::open &&
                !out_.full())
                out_.frame(opcode::pong, true, 0, reinterpret_cast<const unsigned char*>(payload.data()),
                            payload.size(), payload_mode::copy);
            return true;
        case opcode::pong:
            ev.type = event_type::pong;
            return true;
        default: { // close (RFC 6455 §5.5.1, §7.1.5)
            close_reason why;
            if (!parse_close(payload.data(), payload.size(), why, ec))
                return stop(static_cast<enum error>(ec.value()), ec);
            received_code_ = why.code;
            close_received_ = true;
            if (state_ == connection_state::open) {
                // Echo the code; a close without one is answered without one.
                unsigned char reply[2];
                std::error_code ignored;
                const std::size_t n = build_close(why.code, {}, reply, ignored);
                out_.frame(opcode::close, true, 0, reply, n, payload_mode::copy);
                sent_code_ = why.code;
            }
            state_ = connection_state::closed;
            ev.type = event_type::close;
            ev.code = why.code;
            ev.data = why.reason;
            return true;
        }
        }
    }

    void unmask(unsigned char* p, std::size_t n) noexcept {
        if (header_.masked)
            phase_ = static_cast<std::uint8_t>(apply_mask(p, n, header_.key, phase_));
    }

    // Fails the connection (RFC 6455 §7.1.7): a close frame with the error's code if none was
    // sent yet, then nothing more is processed. Returns false, for the header path.
    bool fail(enum error e, std::error_code& ec) {
        ec = e;
        error_ = ec;
        if (state_ == connection_state::open) {
            unsigned char payload[max_control_payload];
            std::string reason = ec.message(); // ASCII: cutting it keeps it UTF-8
            if (reason.size() > max_close_reason)
                reason.resize(max_close_reason);
            std::error_code ignored;
            const std::size_t n = build_close(close_code_for(e), reason, payload, ignored);
            out_.frame(opcode::close, true, 0, payload, n, payload_mode::copy);
            sent_code_ = close_code_for(e);
        }
        state_ = connection_state::closed;
        if (!close_received_)
            received_code_ = close_code::abnormal; // no close frame came, none will be read
        in_frame_ = false;
        detail::release(message_, keep_capacity);
        return false;
    }

    // Fails the connection from the payload path, where true means "stop reading".
    bool stop(enum error e, std::error_code& ec) {
        fail(e, ec);
        return true;
    }

    static close_code close_code_for(enum error e) noexcept {
        switch (e) {
        case error::invalid_utf8:
        case error::close_reason_utf8:
        case error::extension_failed: return close_code::invalid_payload;
        case error::frame_too_big:
        case error::message_too_big: return close_code::message_too_big;
        case error::send_queue_full: return close_code::try_again_later;
        default: return close_code::protocol_error;
        }
    }

    std::error_code end_without_close(enum error e) {
        state_ = connection_state::closed;
        if (!close_received_)
            received_code_ = close_code::abnormal;
        return error_ = e;
    }

    // ---- Sending internals ----

    std::error_code closed_error() const noexcept {
        return state_ == connection_state::closing ? make_error_code(error::close_sent)
                                                   : make_error_code(error::closed);
    }

    bool may_send_message(opcode op, std::error_code& ec) {
        ec.clear();
        if (op != opcode::text && op != opcode::binary)
            ec = error::bad_opcode;
        else if (state_ != connection_state::open)
            ec = closed_error();
        else if (sending_parts_)
            ec = error::message_in_progress;
        return !ec;
    }

    // Outgoing text must be UTF-8; a message sent in parts is checked across its parts.
    bool check_outgoing_text(opcode op, const void* data, std::size_t size, bool last, std::error_code& ec) {
        if (op != opcode::text || !options_.validate_outgoing_utf8)
            return true;
        utf8_validator v = sending_parts_ ? out_utf8_ : utf8_validator{};
        if (!v.feed(data, size) || (last && !v.complete())) {
            ec = error::invalid_utf8;
            return false; // a message sent in parts keeps its state: the part may be retried
        }
        if (sending_parts_)
            out_utf8_ = v;
        return true;
    }

    // Applies the backpressure policy to what is about to be queued. False: do not queue it.
    // Only whole messages may be dropped; parts and control frames are refused instead.
    bool admit(std::error_code& ec, bool droppable = true) {
        if (!out_.full())
            return true;
        out_.set_backpressured();
        switch (options_.on_backpressure) {
        case backpressure_policy::drop:
            if (!droppable) {
                ec = error::send_queue_full;
                return false;
            }
            ++dropped_;
            return false;
        case backpressure_policy::close:
            fail_for_backpressure();
            ec = error::send_queue_full;
            return false;
        default:
            ec = error::send_queue_full;
            return false;
        }
    }

    void fail_for_backpressure() {
        error_ = error::send_queue_full;
        unsigned char payload[max_control_payload];
        std::error_code ignored;
        const std::size_t n = build_close(options_.backpressure_close_code, "send queue full", payload, ignored);
        out_.frame(opcode::close, true, 0, payload, n, payload_mode::copy);
        sent_code_ = options_.backpressure_close_code;
        state_ = connection_state::closing;
        heartbeat_.close_sent();
    }

    void queue_message(opcode op, const unsigned char* data, std::size_t size, payload_mode mode,
                       compress c) {
        std::uint8_t rsv = 0;
        if (extension_ && c == compress::allowed) {
            std::error_code ec;
            encoded_->clear();
            rsv = extension_->encode(op, data, size, *encoded_, ec);
            rsv &= extension_->rsv_bits(); // never a bit the peer did not agree to
            if (rsv != 0 && !ec) {
                data = encoded_->data();
                size = encoded_->size();
                mode = payload_mode::copy;
            } else {
                rsv = 0;
            }
        }
        out_.message(op, rsv, data, size, options_.fragment_size, mode);
        if (extension_)
            detail::release(*encoded_, keep_capacity);
    }

    void send_control(opcode op, const void* data, std::size_t size, std::error_code& ec) {
        ec.clear();
        if (state_ != connection_state::open)
            ec = closed_error();
        else if (size > max_control_payload)
            ec = error::control_too_long;
        else if (admit(ec, false))
            out_.frame(op, true, 0, static_cast<const unsigned char*>(data), size, payload_mode::copy);
    }

    static constexpr std::size_t keep_capacity = 64 * 1024;

    // The engine_options read after construction, packed: the timeouts are kept by the
    // heartbeat, the send queue's marks and the mask source by the frame writer.
    struct settings {
        std::size_t max_message_size;
        std::size_t max_frame_size;
        std::size_t fragment_size;
        close_code backpressure_close_code;
        backpressure_policy on_backpressure;
        bool auto_pong;
        bool stream_messages;
        bool validate_outgoing_utf8;
    };

    settings options_;
    heartbeat heartbeat_;
    std::unique_ptr<extension> extension_;
    frame_writer<Role> out_;
    detail::byte_buffer message_;  // a fragmented or transformed message being reassembled
    std::unique_ptr<extension_buffer> encoded_; // an outgoing message an extension transformed (with one)

    // The frame being read.
    frame_header header_;
    std::uint64_t remaining_ = 0; // payload bytes still to come
    std::size_t held_ = 0;        // bytes of the frame held in the caller's buffer (partial_frames::hold)
    std::unique_ptr<unsigned char[]> control_; // a control payload split across reads

    // The message being read.
    std::uint64_t message_size_ = 0;
    utf8_validator utf8_;

    // The message being sent in parts.
    utf8_validator out_utf8_;

    std::uint64_t dropped_ = 0;
    std::error_code error_;

    // The small fields, together in 33 bytes (spread between the larger ones they took 56).
    unsigned char spill_[max_header_size]; // a frame header split across reads
    close_code sent_code_ = close_code::no_status;
    close_code received_code_ = close_code::no_status;
    std::uint8_t spill_size_ = 0;
    std::uint8_t phase_ = 0;        // mask phase within the payload (0..3)
    std::uint8_t control_size_ = 0; // bytes of control_ filled (a control payload is <= 125)
    bool in_frame_ = false;
    bool in_message_ = false;
    bool first_frame_ = true; // the message's first frame is being read
    opcode message_op_ = opcode::text;
    std::uint8_t message_rsv_ = 0;
    header_rules rules_{Role, 0};
    bool sending_parts_ = false;
    bool first_part_ = false;
    opcode sending_op_ = opcode::text;
    connection_state state_ = connection_state::open;
    bool close_received_ = false;
};

using server_engine = engine<role::server>;
using client_engine = engine<role::client>;

} // namespace duplex
