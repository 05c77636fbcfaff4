// duplex fuzzing — the sans-IO protocol engine (RFC 6455 §5-§7), driven by a program.
// SPDX-License-Identifier: MIT
//
// Input: 11 configuration bytes, then a program: one operation byte at a time, each followed by
// its operands (missing bytes read as 0, so every input is a program).
//
//   config  c0 bit0 client (else server), bit1 stream_messages, bit2 auto_pong off,
//              bits3-4 backpressure policy (fail_send, drop, close, fail_send),
//              bit5 backpressure close code 1008 (else 1013), bits6-7 how a client picks keys
//           c1-c2 max_message_size, c3-c4 max_frame_size (each 0..70000, see pick_size)
//           c5 send_queue_limit, c6 send_queue_resume (a fraction of the limit)
//           c7 fragment_size (0, or 1..300), c8-c9 the four timeouts, c10 mask key seed
//   op & 15 0,1  frame: builds a frame from fuzzer-chosen fields (opcode, FIN, payload, key;
//                with op bit7 also RSV bits, a wrong mask bit, a non-minimal length) masked as
//                the engine's peer must, and appends it to the bytes to be received
//           2    raw: appends the next N input bytes (N: 1 byte, or 2 with op bit7)
//                (frame and raw with op bit6: received at once, as flush does)
//           3,4  flush: the bytes to be received go to the engine, cut into transport reads
//                as the next byte says (one read, fixed-size chunks, sizes from the input,
//                single bytes); each read is a copy in its own exactly-sized heap block, and
//                read() is called on it again and again until it has used all of it. With 4,
//                read() is told partial_frames::hold: a frame the engine holds stays, with
//                the bytes after it, and goes first into the next read's block (moved, as a
//                growing buffer moves it); a later flush 3 gives it back to be copied
//           5,6  send_text / send_binary (op bit7: payload_mode::borrow)
//           7    send() with any opcode          8  begin_message with a chosen opcode
//           9    send_part (op bit4: last)        10, 11  ping / pong, payload 0..130 bytes
//           12   close with a chosen code and reason (0..130 bytes, maybe not UTF-8)
//           13   consume some or all of the output; the buffers of what is left are then
//                kept as a write in flight
//           14   tick: the fake clock moves on by a chosen step
//           15   transport_closed() if op is 0xFF, else tick
//
// The harness keeps its own model of the connection and checks, after every call:
//   - read() uses at most the bytes given, and returns with an event, an error, or all bytes
//     used, or (partial_frames::hold only) holding a frame, with frame_wanted() more than the
//     bytes from where it stopped; frame_wanted() is 0 otherwise; an event uses at least one
//     byte and ends exactly at the byte that completes it.
//   - every event and error matches a reference receiver written here (header rules checked
//     byte by byte, fail-fast; fragmentation; limits; reference UTF-8 for text and close
//     reasons; close codes): messages are delivered whole and unchanged (or, streamed, in
//     pieces that add up to them), each error is one the bytes actually break. Event sizes
//     are bounded (max_message_size, 125 for control data, 123 for a close reason) and text
//     is valid UTF-8, checked on its own as well.
//   - after an error, a close frame or transport_closed() the state is closed for good, and
//     every send_* / ping / pong / close fails; error() does not change any more, and tick()
//     does nothing and returns no error.
//   - everything queued is RFC 6455 for the role, parsed here independently of duplex (mask
//     bit, no RSV bits, defined opcodes, control frames FIN and <= 125, minimal lengths,
//     continuation only inside a message, no new message inside one, UTF-8 text, close
//     payload empty or a valid code and UTF-8 reason, at most one close and nothing after it),
//     appended whole frames at a time, and is exactly what each call should queue: messages
//     byte-identical and in order (fragment_size respected), parts as one frame each, pings,
//     pongs and closes with their payloads, auto-pongs echoing the ping, a close echoing the
//     peer's code, a failure's close with the code RFC 6455 §7.4.1 gives it.
//   - each send call fails with an error its arguments or the state justify (set semantics:
//     any applicable error is accepted), or succeeds. Everything but a close frame is queued
//     only while the queue is under send_queue_limit: a whole message, a part, an application
//     ping or pong, an auto-pong and a heartbeat ping. At or over the limit a whole message is
//     refused (fail_send), dropped and counted (drop) or fails the connection with a close
//     frame carrying backpressure_close_code (close); a part, a ping or a pong is never
//     dropped: fail_send and drop refuse it with send_queue_full (a part: that error before
//     any other), close fails the connection; an auto-pong or a heartbeat ping is skipped.
//   - a part refused (backpressure, invalid UTF-8) changes nothing: the message stays open,
//     its UTF-8 state is that of the parts queued, and the same part can be sent again.
//   - buffered_amount() equals the bytes output() hands out and the bytes seen queued minus
//     those consumed; the bytes consumed are the bytes that were queued; buffers handed out
//     stay valid and unchanged, while more is queued, until consumed (a write in flight); a
//     borrowed payload is no longer read once written_total() passes the queued_total() read
//     after sending it (the harness then scribbles over it). The queue is bounded, with every
//     policy (fail_send and drop as well as close): buffered_amount() <= send_queue_limit - 1
//     + the largest frame burst admitted so far (a whole message with its fragments' headers,
//     a part, or a control frame) + the one close frame, if one was queued (nothing is queued
//     after it); 0 + the close frame while nothing was admitted (e.g. a limit of 0).
//   - tick() follows a reference heartbeat schedule (a model of heartbeat.hpp's documented
//     rules): the timeout it returns, whether it pings, and next_deadline() are exactly the
//     model's, and a heartbeat ping that falls due while the connection is closing or the
//     queue is at or over the limit is not queued but still counts as sent (the peer then
//     has pong_timeout to send anything). Independently of that model: next_deadline() is
//     max() once closed, and min(), max() or not before the last tick while open (while
//     closing it may lag only after a tick that returned a timeout early); a timeout is not
//     premature; a ping is never earlier than ping_interval after the last one; an idle
//     timeout closes with 1001.

#include "fuzz_check.hpp"

#include <duplex/core/buffer.hpp>
#include <duplex/core/close.hpp>
#include <duplex/core/engine.hpp>
#include <duplex/core/engine_options.hpp>
#include <duplex/core/error.hpp>
#include <duplex/core/event.hpp>
#include <duplex/core/frame.hpp>
#include <duplex/core/frame_writer.hpp>
#include <duplex/core/heartbeat.hpp>
#include <duplex/core/mask.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

// The harness's own per-byte work (payloads, reference models) is left out of the coverage
// instrumentation: it would slow every run down and add features that are not duplex's.
#if defined(__clang__)
#define NO_COVERAGE __attribute__((no_sanitize("coverage")))
#else
#define NO_COVERAGE
#endif

namespace {

using duplex::connection_state;
using duplex::error;
using duplex::event_type;
using time_point = duplex::heartbeat::time_point;
using std::chrono::milliseconds;

// ---- The input ------------------------------------------------------------------------------

class reader {
public:
    reader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}

    bool empty() const { return pos_ == size_; }
    std::uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }
    std::uint16_t u16() {
        const unsigned hi = byte();
        return static_cast<std::uint16_t>(hi << 8 | byte());
    }
    // Up to n bytes; fewer at the end of the input.
    std::string bytes(std::size_t n) {
        n = std::min(n, size_ - pos_);
        std::string s(reinterpret_cast<const char*>(data_ + pos_), n);
        pos_ += n;
        return s;
    }
    // n bytes: what the input has, then `fill` (so that short inputs reach long lengths).
    std::string padded(std::size_t n, char fill) {
        std::string s = bytes(n);
        s.resize(n, fill);
        return s;
    }

private:
    const std::uint8_t* data_;
    std::size_t size_;
    std::size_t pos_ = 0;
};

// ---- RFC 6455 and RFC 3629, written out independently of duplex ------------------------------

bool defined_opcode(unsigned op) { return op <= 2 || (op >= 8 && op <= 10); }
bool control_opcode(unsigned op) { return (op & 8) != 0; }

// §7.4.1-7.4.2 and the IANA registry: the close codes that may appear in a close frame.
bool code_may_be_sent(unsigned code) {
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

// The code at the front of a close payload of at least 2 bytes (big-endian).
unsigned code_of(std::string_view payload) {
    return static_cast<unsigned>(static_cast<unsigned char>(payload[0])) << 8 |
           static_cast<unsigned char>(payload[1]);
}

// UTF-8 fed a byte at a time, straight from the ABNF of RFC 3629 §4: it fails at the first
// byte no valid continuation could follow.
//   UTF8-2 = %xC2-DF UTF8-tail
//   UTF8-3 = %xE0 %xA0-BF UTF8-tail / %xE1-EC 2( UTF8-tail ) /
//            %xED %x80-9F UTF8-tail / %xEE-EF 2( UTF8-tail )
//   UTF8-4 = %xF0 %x90-BF 2( UTF8-tail ) / %xF1-F3 3( UTF8-tail ) / %xF4 %x80-8F 2( UTF8-tail )
class utf8_stream {
public:
    NO_COVERAGE bool feed(unsigned char b) {
        if (failed_)
            return false;
        if (need_ == 0) {
            if (b <= 0x7F)
                return true;
            if (b >= 0xC2 && b <= 0xDF) {
                need_ = 1;
            } else if (b >= 0xE0 && b <= 0xEF) {
                need_ = 2;
                lo_ = b == 0xE0 ? 0xA0 : 0x80;
                hi_ = b == 0xED ? 0x9F : 0xBF;
            } else if (b >= 0xF0 && b <= 0xF4) {
                need_ = 3;
                lo_ = b == 0xF0 ? 0x90 : 0x80;
                hi_ = b == 0xF4 ? 0x8F : 0xBF;
            } else {
                failed_ = true; // 80-C1 (a tail, or an overlong lead) and F5-FF start nothing
            }
            return !failed_;
        }
        if (b < lo_ || b > hi_) {
            failed_ = true;
            return false;
        }
        lo_ = 0x80; // only the byte after the lead has a narrower range
        hi_ = 0xBF;
        --need_;
        return true;
    }
    NO_COVERAGE bool feed(std::string_view s) {
        for (const char c : s)
            if (!feed(static_cast<unsigned char>(c)))
                return false;
        return true;
    }
    bool failed() const { return failed_; }
    bool complete() const { return !failed_ && need_ == 0; }

private:
    int need_ = 0;
    unsigned char lo_ = 0x80;
    unsigned char hi_ = 0xBF;
    bool failed_ = false;
};

bool valid_utf8(std::string_view s) {
    utf8_stream u;
    return u.feed(s) && u.complete();
}

// Errors as a set: one bit per duplex::error value.
using error_set = std::uint64_t;
static_assert(static_cast<int>(error::abnormal_closure) < 64, "error_set needs more bits");
error_set bit(error e) { return error_set{1} << static_cast<int>(e); }
bool in_set(error_set set, const std::error_code& ec) {
    return ec.category() == duplex::error_category() && ec.value() > 0 && ec.value() < 64 &&
           (set & (error_set{1} << ec.value())) != 0;
}

// The close code §7.4.1 gives a failure: 1007 for data not consistent with its type, 1009 for
// data too big to process, 1002 for every other protocol error.
unsigned code_for_failure(const std::error_code& ec) {
    if (ec == error::invalid_utf8 || ec == error::close_reason_utf8)
        return 1007;
    if (ec == error::frame_too_big || ec == error::message_too_big)
        return 1009;
    return 1002;
}

// ---- The receiving side's reference ---------------------------------------------------------

struct model_event {
    event_type type;
    unsigned op = 0;      // message: 1 text, 2 binary
    std::string data;     // message (not streamed), ping or pong payload, close reason
    unsigned code = 0;    // close: 1005 when the payload was empty
    std::size_t at = 0;   // offset of the byte that completed it in what feed() was given
};

// A strict receiver: takes the peer's bytes one at a time and says what they are. A header
// rule fails at the first byte after which no completion could obey it; the rules that need
// the whole header (fragmentation, limits) are applied when it is complete, as are close
// payloads; text fails at its first byte that cannot be UTF-8, or at the end of a message
// that stops inside a character. Every rule broken at that byte goes into errors().
class receive_model {
public:
    receive_model(bool expect_masked, std::size_t max_frame, std::size_t max_message, bool stream)
        : expect_masked_(expect_masked), max_frame_(max_frame), max_message_(max_message),
          stream_(stream) {}

    bool stopped() const { return closed_ || failed_; }
    bool failed() const { return failed_; }
    error_set errors() const { return errors_; }
    void stop() { closed_ = true; } // the engine stops reading (closed some other way)
    bool in_message() const { return in_message_; }
    unsigned message_op() const { return message_op_; }
    std::string& undelivered() { return undelivered_; } // streamed payload not yet delivered

    NO_COVERAGE std::size_t feed(const unsigned char* p, std::size_t n,
                                 std::vector<model_event>& out) {
        std::size_t i = 0;
        for (; i < n && !stopped(); ++i) {
            if (in_payload_)
                payload_byte(p[i], i, out);
            else
                header_byte(p[i], i, out);
        }
        return i;
    }

private:
    void fail(error_set set) {
        failed_ = true;
        errors_ = set;
    }

    NO_COVERAGE void header_byte(unsigned char b, std::size_t at, std::vector<model_event>& out) {
        hdr_[hlen_++] = b;
        error_set set = 0;
        if (hlen_ == 1) {
            op_ = b & 0x0Fu;
            fin_ = (b & 0x80) != 0;
            if (b & 0x70)
                set |= bit(error::reserved_bits);
            if (!defined_opcode(op_))
                set |= bit(error::reserved_opcode);
            if (control_opcode(op_) && !fin_)
                set |= bit(error::fragmented_control);
        } else if (hlen_ == 2) {
            masked_ = (b & 0x80) != 0;
            const unsigned len7 = b & 0x7Fu;
            if (masked_ != expect_masked_)
                set |= bit(masked_ ? error::masked_frame : error::unmasked_frame);
            if (control_opcode(op_) && len7 > 125)
                set |= bit(error::control_too_long);
            ext_ = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
            total_ = 2 + ext_ + (masked_ ? 4 : 0);
            length_ = len7;
        } else if (hlen_ <= 2 + ext_) {
            if (ext_ == 2 && hlen_ == 4) {
                length_ = std::uint64_t{hdr_[2]} << 8 | hdr_[3];
                if (length_ < 126)
                    set |= bit(error::non_minimal_length);
            } else if (ext_ == 8) {
                if (hlen_ == 3 && (hdr_[2] & 0x80))
                    set |= bit(error::length_high_bit);
                bool zero = true; // bytes 2-7 all zero: the value cannot exceed 0xFFFF
                for (std::size_t i = 2; i < 8 && i < hlen_; ++i)
                    zero = zero && hdr_[i] == 0;
                if (hlen_ == 8 && zero)
                    set |= bit(error::non_minimal_length);
                if (hlen_ == 10) {
                    length_ = 0;
                    for (std::size_t i = 2; i < 10; ++i)
                        length_ = length_ << 8 | hdr_[i];
                    if (length_ <= 0xFFFF)
                        set |= bit(error::non_minimal_length);
                }
            }
        } else {
            key_[hlen_ - 3 - ext_] = b;
        }
        if (set)
            return fail(set);
        if (hlen_ == total_)
            begin_frame(at, out);
    }

    NO_COVERAGE void begin_frame(std::size_t at, std::vector<model_event>& out) {
        hlen_ = 0;
        if (!control_opcode(op_)) {
            if (op_ == 0 && !in_message_)
                return fail(bit(error::unexpected_continuation));
            if (op_ != 0 && in_message_)
                return fail(bit(error::expected_continuation));
            if (op_ != 0) {
                in_message_ = true;
                message_op_ = op_;
                message_size_ = 0;
                text_ = utf8_stream{};
                whole_.clear();
            }
            error_set set = 0;
            if (length_ > max_frame_)
                set |= bit(error::frame_too_big);
            if (length_ > max_message_ - message_size_)
                set |= bit(error::message_too_big);
            if (set)
                return fail(set);
        }
        remaining_ = length_;
        phase_ = 0;
        control_.clear();
        in_payload_ = true;
        if (remaining_ == 0)
            end_frame(at, out);
    }

    NO_COVERAGE void payload_byte(unsigned char b, std::size_t at, std::vector<model_event>& out) {
        if (masked_)
            b = static_cast<unsigned char>(b ^ key_[phase_ & 3]);
        ++phase_;
        --remaining_;
        if (control_opcode(op_)) {
            control_.push_back(static_cast<char>(b));
        } else {
            ++message_size_;
            (stream_ ? undelivered_ : whole_).push_back(static_cast<char>(b));
            if (message_op_ == 1 && !text_.feed(b))
                return fail(bit(error::invalid_utf8));
        }
        if (remaining_ == 0)
            end_frame(at, out);
    }

    NO_COVERAGE void end_frame(std::size_t at, std::vector<model_event>& out) {
        in_payload_ = false;
        if (op_ == 9 || op_ == 10) {
            out.push_back({op_ == 9 ? event_type::ping : event_type::pong, 0, control_, 0, at});
            return;
        }
        if (op_ == 8) {
            if (control_.size() == 1)
                return fail(bit(error::close_payload_one_byte));
            unsigned code = 1005;
            std::string reason;
            if (control_.size() >= 2) {
                code = code_of(control_);
                reason = control_.substr(2);
                error_set set = 0;
                if (!code_may_be_sent(code))
                    set |= bit(error::invalid_close_code);
                if (!valid_utf8(reason))
                    set |= bit(error::close_reason_utf8);
                if (set)
                    return fail(set);
            }
            out.push_back({event_type::close, 0, reason, code, at});
            closed_ = true;
            return;
        }
        if (!fin_)
            return;
        if (message_op_ == 1 && !text_.complete())
            return fail(bit(error::invalid_utf8));
        in_message_ = false;
        out.push_back({stream_ ? event_type::message_part : event_type::message, message_op_,
                       stream_ ? std::string() : whole_, 0, at});
        whole_.clear();
    }

    const bool expect_masked_;
    const std::uint64_t max_frame_;
    const std::uint64_t max_message_;
    const bool stream_;

    unsigned char hdr_[14] = {};
    std::size_t hlen_ = 0;
    std::size_t ext_ = 0;
    std::size_t total_ = 2;
    unsigned op_ = 0;
    bool fin_ = false;
    bool masked_ = false;
    unsigned char key_[4] = {};
    std::uint64_t length_ = 0;
    std::uint64_t remaining_ = 0;
    std::uint64_t phase_ = 0;
    bool in_payload_ = false;
    std::string control_;

    bool in_message_ = false;
    unsigned message_op_ = 0;
    std::uint64_t message_size_ = 0;
    utf8_stream text_;
    std::string whole_;
    std::string undelivered_;

    bool closed_ = false;
    bool failed_ = false;
    error_set errors_ = 0;
};

// ---- The sending side's reference -----------------------------------------------------------

struct out_frame {
    unsigned op;
    bool fin;
    std::string payload; // unmasked
};

// Parses what an endpoint of one role sends, strictly, across calls: whole frames only.
class wire_checker {
public:
    explicit wire_checker(bool masked) : masked_(masked) {}

    NO_COVERAGE void parse(const unsigned char* p, std::size_t n,
                           std::vector<out_frame>& frames) {
        std::size_t i = 0;
        while (i < n) {
            FUZZ_CHECK(n - i >= 2);
            const unsigned b0 = p[i], b1 = p[i + 1];
            const unsigned op = b0 & 0x0F;
            const bool fin = (b0 & 0x80) != 0;
            FUZZ_CHECK((b0 & 0x70) == 0); // no extension in this harness
            FUZZ_CHECK(defined_opcode(op));
            FUZZ_CHECK(((b1 & 0x80) != 0) == masked_);
            std::size_t pos = i + 2;
            std::uint64_t length = b1 & 0x7Fu;
            if (length == 126) {
                FUZZ_CHECK(n - pos >= 2);
                length = std::uint64_t{p[pos]} << 8 | p[pos + 1];
                FUZZ_CHECK(length >= 126); // minimal encoding
                pos += 2;
            } else if (length == 127) {
                FUZZ_CHECK(n - pos >= 8);
                length = 0;
                for (std::size_t k = 0; k < 8; ++k)
                    length = length << 8 | p[pos + k];
                FUZZ_CHECK((length >> 63) == 0);
                FUZZ_CHECK(length > 0xFFFF); // minimal encoding
                pos += 8;
            }
            unsigned char key[4] = {0, 0, 0, 0};
            if (masked_) {
                FUZZ_CHECK(n - pos >= 4);
                std::memcpy(key, p + pos, 4);
                pos += 4;
            }
            FUZZ_CHECK(n - pos >= length); // frames are queued whole
            out_frame f{op, fin, std::string(reinterpret_cast<const char*>(p + pos),
                                              static_cast<std::size_t>(length))};
            for (std::size_t k = 0; k < f.payload.size(); ++k)
                f.payload[k] = static_cast<char>(f.payload[k] ^ static_cast<char>(key[k & 3]));
            pos += static_cast<std::size_t>(length);
            check_frame(f);
            frames.push_back(std::move(f));
            i = pos;
        }
    }

private:
    NO_COVERAGE void check_frame(const out_frame& f) {
        FUZZ_CHECK(!close_sent_); // nothing after a close frame, and only one close
        if (control_opcode(f.op)) {
            FUZZ_CHECK(f.fin && f.payload.size() <= 125);
            if (f.op == 8) {
                close_sent_ = true;
                FUZZ_CHECK(f.payload.size() != 1);
                if (f.payload.size() >= 2) {
                    FUZZ_CHECK(code_may_be_sent(code_of(f.payload)));
                    FUZZ_CHECK(valid_utf8(std::string_view(f.payload).substr(2)));
                }
            }
            return;
        }
        if (f.op == 0) {
            FUZZ_CHECK(in_message_); // a continuation only inside a fragmented message
        } else {
            FUZZ_CHECK(!in_message_); // a new message only once the previous one is finished
            in_message_ = true;
            text_message_ = f.op == 1;
            text_ = utf8_stream{};
        }
        if (text_message_) {
            FUZZ_CHECK(text_.feed(f.payload));
            if (f.fin)
                FUZZ_CHECK(text_.complete());
        }
        if (f.fin)
            in_message_ = false;
    }

    const bool masked_;
    bool in_message_ = false;
    bool text_message_ = false;
    utf8_stream text_;
    bool close_sent_ = false;
};

// ---- Time's reference -----------------------------------------------------------------------

// The heartbeat schedule as heartbeat.hpp documents it, kept from what the harness does: the
// clock starts at the first tick; bytes received count at the next tick (the peer is alive:
// no pong is awaited any more), when there is an idle timeout or a heartbeat to care; a ping falls due ping_interval after the last one (or the
// start) unless one is awaited, and the peer is dead pong_timeout after an awaited ping; a
// close frame sent arms close_timeout at the next tick; idle_timeout after the last bytes
// seen, once. At most one of close_timeout, idle, peer_dead per tick, in that order, each
// stopping the tick before a ping. A ping counts as sent whether or not it was queued.
class heartbeat_model {
public:
    enum class outcome { none, ping, peer_dead, close_expired, idle };

    explicit heartbeat_model(const duplex::timeouts& t) : t_(t) {}

    void received() {
        if (t_.idle_timeout.count() > 0 || t_.ping_interval.count() > 0)
            received_ = true; // nothing to note without an idle timeout or a heartbeat
    }
    void close_sent() {
        if (close_deadline_ == time_point::max())
            arm_close_ = true;
    }

    outcome tick(time_point now) {
        if (!started_) {
            started_ = true;
            last_seen_ = last_ping_ = now;
        }
        if (received_) {
            received_ = false;
            last_seen_ = now;
            awaiting_ = false;
        }
        if (arm_close_) {
            arm_close_ = false;
            close_deadline_ = t_.close_timeout.count() > 0 ? now + t_.close_timeout : time_point::max();
        }
        if (now >= close_deadline_) {
            close_deadline_ = time_point::max();
            return outcome::close_expired;
        }
        if (t_.idle_timeout.count() > 0 && !idle_done_ && now - last_seen_ >= t_.idle_timeout) {
            idle_done_ = true;
            return outcome::idle;
        }
        if (t_.ping_interval.count() == 0)
            return outcome::none;
        if (awaiting_)
            return t_.pong_timeout.count() > 0 && now - last_ping_ >= t_.pong_timeout
                       ? outcome::peer_dead
                       : outcome::none;
        if (now - last_ping_ < t_.ping_interval)
            return outcome::none;
        last_ping_ = now;
        awaiting_ = true;
        return outcome::ping;
    }

    time_point next_deadline() const {
        if (!started_ || arm_close_ || received_)
            return time_point::min();
        time_point next = close_deadline_;
        if (t_.idle_timeout.count() > 0 && !idle_done_)
            next = std::min(next, last_seen_ + t_.idle_timeout);
        if (t_.ping_interval.count() > 0) {
            if (!awaiting_)
                next = std::min(next, last_ping_ + t_.ping_interval);
            else if (t_.pong_timeout.count() > 0)
                next = std::min(next, last_ping_ + t_.pong_timeout);
        }
        return next;
    }

private:
    const duplex::timeouts t_;
    bool started_ = false;
    bool received_ = false;
    bool awaiting_ = false;
    bool arm_close_ = false;
    bool idle_done_ = false;
    time_point last_seen_{};
    time_point last_ping_{};
    time_point close_deadline_ = time_point::max();
};

// ---- Configuration --------------------------------------------------------------------------

// 0..70000, steered to the places that matter: unlimited for this harness, around the 125/126
// and 65535/65536 length encodings, and anywhere up to 16383.
std::size_t pick_size(reader& r) {
    const unsigned a = r.byte(), b = r.byte();
    const unsigned low = (a & 0x3Fu) << 8 | b;
    switch (a >> 6) {
    case 0: return 70000;
    case 1: return b;
    case 2: return low;
    default: return 65536 + low % 4465;
    }
}

milliseconds pick_timeout(unsigned sel) {
    static const unsigned table[16] = {0,    0,    0,    0,    1,     5,     10,    50,
                                       100,  250,  1000, 2500, 5000,  10000, 30000, 60000};
    return milliseconds(table[sel & 15]);
}

struct key_source {
    unsigned mode = 0;
    std::uint32_t state = 1;
    duplex::mask_key next() {
        if (mode == 1)
            return {0, 0, 0, 0};
        if (mode == 2)
            return {0x37, 0xfa, 0x21, 0x3d};
        state ^= state << 13; // xorshift32
        state ^= state >> 17;
        state ^= state << 5;
        return {static_cast<std::uint8_t>(state), static_cast<std::uint8_t>(state >> 8),
                static_cast<std::uint8_t>(state >> 16), static_cast<std::uint8_t>(state >> 24)};
    }
};

struct config {
    bool client = false;
    duplex::engine_options options;
    key_source keys;
};

config read_config(reader& r) {
    config c;
    duplex::engine_options& o = c.options;
    const std::uint8_t c0 = r.byte();
    c.client = c0 & 1;
    o.stream_messages = (c0 & 2) != 0;
    o.auto_pong = (c0 & 4) == 0;
    static const duplex::backpressure_policy policies[4] = {
        duplex::backpressure_policy::fail_send, duplex::backpressure_policy::drop,
        duplex::backpressure_policy::close, duplex::backpressure_policy::fail_send};
    o.on_backpressure = policies[(c0 >> 3) & 3];
    o.backpressure_close_code =
        (c0 & 0x20) ? duplex::close_code::policy_violation : duplex::close_code::try_again_later;
    c.keys.mode = (c0 >> 6) & 3;
    o.max_message_size = pick_size(r);
    o.max_frame_size = pick_size(r);
    const unsigned q = r.byte();
    switch (q >> 5) {
    case 0: o.send_queue_limit = std::size_t{1} << 30; break;
    case 1: o.send_queue_limit = 0; break;
    case 2: o.send_queue_limit = q & 31; break;
    case 3: o.send_queue_limit = (q & 31) * 8; break;
    case 4: o.send_queue_limit = (q & 31) * 64; break;
    case 5: o.send_queue_limit = (q & 31) * 1024; break;
    case 6: o.send_queue_limit = 200; break;
    default: o.send_queue_limit = 4096; break;
    }
    o.send_queue_resume = o.send_queue_limit / 255 * r.byte();
    const unsigned f = r.byte();
    switch (f >> 6) {
    case 0: o.fragment_size = f & 63; break; // 0: one frame per message
    case 1: o.fragment_size = 1; break;
    case 2: o.fragment_size = (f & 63) + 100; break;
    default: o.fragment_size = 300 - (f & 63); break;
    }
    const unsigned t1 = r.byte(), t2 = r.byte();
    o.timeouts.ping_interval = pick_timeout(t1);
    o.timeouts.pong_timeout = pick_timeout(t1 >> 4);
    o.timeouts.close_timeout = pick_timeout(t2);
    o.timeouts.idle_timeout = pick_timeout(t2 >> 4);
    c.keys.state = 0x9E3779B9u ^ r.byte();
    o.validate_outgoing_utf8 = true;
    return c;
}

// ---- Payloads -------------------------------------------------------------------------------

constexpr std::size_t generated_budget = std::size_t{1} << 18; // bytes per input, to stay fast

// Raw input bytes, or generated ones (ASCII, UTF-8 maybe cut inside a character, a repeated
// input pattern) of lengths reaching the 16- and 64-bit length encodings.
NO_COVERAGE std::string gen_payload(reader& r, std::size_t max, std::size_t& budget) {
    const unsigned m = r.byte();
    if ((m & 3) == 0)
        return r.bytes(std::min<std::size_t>(r.byte(), max));
    std::size_t len = r.byte();
    if (m & 0x10)
        len = len << 8 | r.byte();
    if (m & 0x20)
        len += 65000;
    len = std::min({len, max, budget});
    budget -= len;
    std::string s;
    s.reserve(len);
    switch (m & 3) {
    case 1:
        while (s.size() < len)
            s.append("abcdefghijklmnopqrstuvwxyz", std::min<std::size_t>(26, len - s.size()));
        break;
    case 2: {
        static const std::string_view pieces[4] = {"x", "\xc3\xa9", "\xe2\x82\xac",
                                                   "\xf0\x9f\x98\x80"};
        for (std::size_t i = 0; s.size() < len; ++i) {
            const std::string_view piece = pieces[(i + (m >> 6)) & 3];
            if (s.size() + piece.size() > len && (m & 0x08))
                break; // keep it valid: no character cut at the end
            s.append(piece.data(), std::min(piece.size(), len - s.size()));
        }
        break;
    }
    default: {
        const std::string seed = r.bytes(((m >> 2) & 3) + 1);
        if (seed.empty())
            break;
        for (std::size_t i = 0; i < len; ++i)
            s.push_back(seed[i % seed.size()]);
        break;
    }
    }
    return s;
}

unsigned pick_close_code(reader& r) {
    static const unsigned table[] = {1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008,
                                     1009, 1010, 1011, 1012, 1013, 1014, 1015, 1016, 999,
                                     0,    2999, 3000, 3999, 4000, 4999, 5000, 65535};
    const unsigned c = r.byte();
    if (c >= 0xE0)
        return r.u16();
    return table[c % (sizeof table / sizeof table[0])];
}

NO_COVERAGE void append_masked(std::string& out, std::string_view payload,
                               const unsigned char* key) {
    const std::size_t at = out.size();
    out += payload;
    if (key)
        for (std::size_t k = 0; k < payload.size(); ++k)
            out[at + k] = static_cast<char>(out[at + k] ^ static_cast<char>(key[k & 3]));
}

// ---- The session ----------------------------------------------------------------------------

template <duplex::role Role>
class session {
public:
    session(config& c, reader& r)
        : opt_(c.options), r_(r), eng_(make_options(c)),
          rx_(!is_client, opt_.max_frame_size, opt_.max_message_size, opt_.stream_messages),
          wire_(is_client), hb_(opt_.timeouts) {}

    void run() {
        for (std::size_t ops = 0; !r_.empty() && ops < 4096; ++ops) {
            const std::uint8_t o = r_.byte();
            switch (o & 15) {
            case 0:
            case 1: op_frame(o); break;
            case 2: op_raw(o); break;
            case 3: flush(r_.byte()); break;
            case 4: flush(r_.byte(), true); break;
            case 5: op_send(o, 1); break;
            case 6: op_send(o, 2); break;
            case 7: op_send(o, r_.byte() & 15u); break;
            case 8: op_begin(o); break;
            case 9: op_part(o); break;
            case 10: op_control(9); break;
            case 11: op_control(10); break;
            case 12: op_close(); break;
            case 13: op_consume(o); break;
            case 14: op_tick(); break;
            default:
                if (o == 0xFF)
                    op_transport_closed();
                else
                    op_tick();
                break;
            }
            check_common();
        }
        flush(0);
        check_common();
        consume_bytes(model_q()); // every byte queued is checked once more as it leaves
        check_common();
    }

private:
    static constexpr bool is_client = Role == duplex::role::client;

    static duplex::engine_options make_options(config& c) {
        duplex::engine_options o = c.options;
        key_source* keys = &c.keys;
        o.mask_source = [keys] { return keys->next(); };
        return o;
    }

    // ---- Output: what was queued, checked against what should have been ----

    std::size_t model_q() const { return pending_.size() - pending_front_; }

    std::vector<duplex::const_buffer> buffers() const {
        std::vector<duplex::const_buffer> b(16);
        for (;;) {
            const std::size_t n = eng_.output(b.data(), b.size());
            FUZZ_CHECK(n <= b.size());
            if (n < b.size()) {
                b.resize(n);
                return b;
            }
            b.resize(b.size() * 2);
        }
    }

    // The frames queued since the last call.
    std::vector<out_frame> take_output() {
        const std::vector<duplex::const_buffer> bufs = buffers();
        std::size_t total = 0;
        for (const auto& b : bufs) {
            FUZZ_CHECK(b.size > 0 && b.data != nullptr);
            total += b.size;
        }
        FUZZ_CHECK(total == eng_.buffered_amount());
        FUZZ_CHECK(eng_.wants_write() == (total > 0));
        const std::size_t old = model_q();
        FUZZ_CHECK(total >= old);
        const std::size_t added = total - old;
        FUZZ_CHECK(eng_.queued_total() == seen_total_ + added);
        FUZZ_CHECK(eng_.written_total() == consumed_total_);
        seen_total_ += added;

        std::string fresh;
        fresh.reserve(added);
        std::size_t skip = old;
        for (const auto& b : bufs) {
            const auto* p = static_cast<const char*>(b.data);
            if (skip >= b.size) {
                skip -= b.size;
                continue;
            }
            fresh.append(p + skip, b.size - skip);
            skip = 0;
        }
        pending_ += fresh;
        std::vector<out_frame> frames;
        wire_.parse(reinterpret_cast<const unsigned char*>(fresh.data()), fresh.size(), frames);

        // The bound on the queue. Every frame but a close is admitted only while the queue is
        // under the limit (checked exactly where each is queued: a message, a part, a ping or
        // pong asked for, an auto-pong, a heartbeat ping), so right after one such burst the
        // queue holds at most limit - 1 + its size. A close frame (at most one, and nothing
        // after it) comes on top, whatever the queue holds.
        std::size_t close_bytes = 0;
        for (const out_frame& f : frames)
            if (f.op == 8)
                close_bytes += 2 + (is_client ? 4 : 0) + f.payload.size(); // payload <= 125
        FUZZ_CHECK(close_bytes <= added);
        if (added > close_bytes) {
            admitted_any_ = true;
            max_burst_ = std::max(max_burst_, added - close_bytes);
        }
        close_queued_ += close_bytes;
        const std::size_t bound =
            (admitted_any_ ? opt_.send_queue_limit - 1 + max_burst_ : 0) + close_queued_;
        FUZZ_CHECK(model_q() <= bound);
        if (model_q() > opt_.send_queue_limit)
            FUZZ_CHECK(eng_.backpressured());
        return frames;
    }

    static void expect_frame(const out_frame& f, unsigned op, bool fin, std::string_view payload) {
        FUZZ_CHECK(f.op == op);
        FUZZ_CHECK(f.fin == fin);
        FUZZ_CHECK(f.payload == payload);
    }

    static void expect_close_code(const out_frame& f, unsigned code) {
        FUZZ_CHECK(f.op == 8 && f.payload.size() >= 2);
        FUZZ_CHECK(code_of(f.payload) == code);
    }

    // One message: its frames carry the payload unchanged and in order, each at most
    // fragment_size (when set), the first with the message's opcode, the rest continuations.
    NO_COVERAGE void expect_message(const std::vector<out_frame>& frames, unsigned op,
                                    std::string_view payload) {
        FUZZ_CHECK(!frames.empty());
        std::size_t at = 0;
        for (std::size_t i = 0; i < frames.size(); ++i) {
            const out_frame& f = frames[i];
            FUZZ_CHECK(f.op == (i == 0 ? op : 0u));
            FUZZ_CHECK(f.fin == (i + 1 == frames.size()));
            if (opt_.fragment_size > 0) {
                FUZZ_CHECK(f.payload.size() <= opt_.fragment_size);
                if (!payload.empty())
                    FUZZ_CHECK(!f.payload.empty());
            }
            FUZZ_CHECK(payload.substr(at, f.payload.size()) == f.payload);
            at += f.payload.size();
        }
        FUZZ_CHECK(at == payload.size());
    }

    // ---- Receiving ----

    void op_frame(std::uint8_t o) {
        const unsigned f = r_.byte();
        unsigned op;
        switch (f & 7) {
        case 0: op = 0; break;
        case 1: op = 1; break;
        case 2: op = 2; break;
        case 3: op = 8; break;
        case 4: op = 9; break;
        case 5: op = 10; break;
        case 6: op = frames_in_message_ ? 0 : (f & 0x40) ? 2 : 1; break; // what fits next
        default: op = r_.byte() & 15u; break;
        }
        const bool fin = (f & 8) == 0;
        unsigned rsv = 0;
        bool wrong_mask = false;
        unsigned length_form = 0; // 0 minimal, 1 16-bit, 2 64-bit, 3 64-bit with the top bit
        if (f & 0x80) {
            const unsigned x = r_.byte();
            rsv = x & 0x70;
            wrong_mask = (x & 1) != 0;
            length_form = (x >> 1) & 3;
        }
        std::string payload;
        if (op == 8 && (f & 0x10)) { // a close payload: a chosen code and a short reason
            const unsigned code = pick_close_code(r_);
            payload.push_back(static_cast<char>(code >> 8));
            payload.push_back(static_cast<char>(code & 0xFF));
            payload += r_.bytes(r_.byte() % 16);
        } else {
            payload = gen_payload(r_, control_opcode(op) ? 130 : 70100, budget_);
        }
        const bool masked = !is_client != wrong_mask; // a server must receive masked frames
        unsigned char key[4] = {0, 0, 0, 0};
        if (masked)
            for (auto& k : key)
                k = r_.byte();

        std::string& in = incoming_;
        in.push_back(static_cast<char>((fin ? 0x80 : 0) | rsv | op));
        const std::uint64_t n = payload.size();
        const unsigned mask_bit = masked ? 0x80 : 0;
        if (length_form == 0 && n < 126) {
            in.push_back(static_cast<char>(mask_bit | n));
        } else if (length_form <= 1 && n <= 0xFFFF) {
            in.push_back(static_cast<char>(mask_bit | 126));
            in.push_back(static_cast<char>(n >> 8));
            in.push_back(static_cast<char>(n & 0xFF));
        } else {
            in.push_back(static_cast<char>(mask_bit | 127));
            const std::uint64_t wire = length_form == 3 ? (n | (std::uint64_t{1} << 63)) : n;
            for (int k = 7; k >= 0; --k)
                in.push_back(static_cast<char>((wire >> (8 * k)) & 0xFF));
        }
        if (masked)
            in.append(reinterpret_cast<const char*>(key), 4);
        append_masked(in, payload, masked ? key : nullptr);

        if (!control_opcode(op)) // what the peer would send next, for "what fits next"
            frames_in_message_ = !fin;
        if (o & 0x40)
            flush(r_.byte());
    }

    void op_raw(std::uint8_t o) {
        std::size_t n = r_.byte();
        if (o & 0x80)
            n = n << 8 | r_.byte();
        incoming_ += r_.bytes(n);
        if (o & 0x40)
            flush(r_.byte());
    }

    // The bytes to be received go to the engine in transport reads cut as `split` says.
    void flush(unsigned split, bool hold = false) {
        const std::string in = std::move(incoming_);
        incoming_.clear();
        std::size_t at = 0;
        std::size_t reads = 0;
        do {
            const std::size_t rest = in.size() - at;
            std::size_t n = rest;
            if (++reads <= 512) {
                switch (split & 3) {
                case 0: break;
                case 1: n = (split >> 2) + 1; break;
                case 2: n = r_.empty() ? rest : r_.byte(); break; // 0: an empty read
                default: n = 1; break;
                }
            }
            n = std::min(n, rest);
            transport_read(reinterpret_cast<const unsigned char*>(in.data()) + at, n, hold);
            at += n;
        } while (at < in.size());
    }

    // One read from the transport: its own heap block of exactly the bytes the engine holds
    // (as it left them) and the n new ones, given to read() until it has used them all or
    // holds a frame again.
    void transport_read(const unsigned char* src, std::size_t n, bool hold) {
        const std::string original = held_original_ + std::string(reinterpret_cast<const char*>(src), n);
        const std::size_t total = original.size();
        std::unique_ptr<unsigned char[]> block(new unsigned char[total]);
        if (!held_.empty())
            std::memcpy(block.get(), held_.data(), held_.size());
        if (n > 0)
            std::memcpy(block.get() + held_.size(), src, n);
        held_.clear();
        held_original_.clear();
        std::size_t at = 0;
        do {
            bool holds = false;
            at += one_read(block.get() + at, reinterpret_cast<const unsigned char*>(original.data()) + at,
                           total - at, hold, holds);
            if (holds) {
                held_.assign(reinterpret_cast<const char*>(block.get()) + at, total - at);
                held_original_ = original.substr(at);
                return;
            }
        } while (at < total);
    }

    std::size_t one_read(unsigned char* p, const unsigned char* original, std::size_t n, bool hold, bool& holds) {
        const connection_state before = state_;
        const std::size_t q_before = model_q();
        duplex::event ev;
        std::error_code ec;
        const std::size_t used =
            eng_.read(p, n, ev, ec, hold ? duplex::partial_frames::hold : duplex::partial_frames::copy);
        FUZZ_CHECK(used <= n);
        if (n > 0) {
            last_received_ = now_;
            received_ = true;
            hb_.received();
        }
        if (before == connection_state::closed) { // bytes after the end are ignored
            FUZZ_CHECK(used == n && !ev && !ec);
            FUZZ_CHECK(take_output().empty());
            return used;
        }
        FUZZ_CHECK(!(ev && ec));
        holds = !ev && !ec && used < n;
        if (holds) { // the one other reason to stop early: a frame held whole for later
            FUZZ_CHECK(hold);
            FUZZ_CHECK(eng_.frame_wanted() > n - used);
        } else {
            FUZZ_CHECK(eng_.frame_wanted() == 0);
        }

        std::vector<model_event> mev;
        if (ec) {
            rx_.feed(original, n, mev);
            FUZZ_CHECK(mev.empty()); // events before a violation come first, in earlier reads
            FUZZ_CHECK(rx_.failed()); // the bytes do break a rule...
            FUZZ_CHECK(in_set(rx_.errors(), ec)); // ...and this one
            FUZZ_CHECK(eng_.error() == ec);
            FUZZ_CHECK(eng_.received_close_code() == duplex::close_code::abnormal);
            const std::vector<out_frame> frames = take_output();
            if (before == connection_state::open) {
                FUZZ_CHECK(frames.size() == 1);
                expect_close_code(frames[0], code_for_failure(ec));
                FUZZ_CHECK(static_cast<unsigned>(eng_.sent_close_code()) == code_for_failure(ec));
            } else {
                FUZZ_CHECK(frames.empty()); // our close frame went out already
            }
            become_closed();
            return used;
        }

        FUZZ_CHECK(rx_.feed(original, used, mev) == used);
        FUZZ_CHECK(!rx_.failed());
        if (opt_.stream_messages && ev.type != event_type::message_part)
            FUZZ_CHECK(rx_.undelivered().empty()); // streamed bytes are delivered at once
        if (!ev) {
            FUZZ_CHECK(mev.empty());
            FUZZ_CHECK(take_output().empty());
            return used;
        }
        FUZZ_CHECK(used > 0);
        check_event(ev);

        if (ev.type == event_type::message_part) {
            FUZZ_CHECK(opt_.stream_messages);
            FUZZ_CHECK(ev.data == rx_.undelivered());
            rx_.undelivered().clear();
            if (ev.last) {
                FUZZ_CHECK(mev.size() == 1 && mev[0].type == event_type::message_part);
                FUZZ_CHECK(mev[0].at == used - 1);
                FUZZ_CHECK(static_cast<unsigned>(ev.op) == mev[0].op);
            } else {
                FUZZ_CHECK(mev.empty() && !ev.data.empty() && rx_.in_message());
                FUZZ_CHECK(static_cast<unsigned>(ev.op) == rx_.message_op());
            }
            FUZZ_CHECK(take_output().empty());
            return used;
        }

        FUZZ_CHECK(mev.size() == 1);
        const model_event& m = mev[0];
        FUZZ_CHECK(m.type == ev.type);
        FUZZ_CHECK(m.at == used - 1); // the read stops right after the event's last byte
        FUZZ_CHECK(m.data == ev.data);
        switch (ev.type) {
        case event_type::message:
            FUZZ_CHECK(static_cast<unsigned>(ev.op) == m.op);
            FUZZ_CHECK(take_output().empty());
            break;
        case event_type::ping: {
            const bool answer = before == connection_state::open && opt_.auto_pong &&
                                q_before < opt_.send_queue_limit;
            const std::vector<out_frame> frames = take_output();
            if (answer) {
                FUZZ_CHECK(frames.size() == 1);
                expect_frame(frames[0], 10, true, m.data);
            } else {
                FUZZ_CHECK(frames.empty());
            }
            break;
        }
        case event_type::pong:
            FUZZ_CHECK(take_output().empty());
            break;
        case event_type::close: {
            FUZZ_CHECK(static_cast<unsigned>(ev.code) == m.code);
            FUZZ_CHECK(eng_.received_close_code() == ev.code);
            const std::vector<out_frame> frames = take_output();
            if (before == connection_state::open) { // echo the code (none if there was none)
                FUZZ_CHECK(frames.size() == 1);
                std::string echo;
                if (m.code != 1005) {
                    echo.push_back(static_cast<char>(m.code >> 8));
                    echo.push_back(static_cast<char>(m.code & 0xFF));
                }
                expect_frame(frames[0], 8, true, echo);
            } else {
                FUZZ_CHECK(frames.empty());
            }
            become_closed();
            break;
        }
        default:
            FUZZ_CHECK(false);
        }
        return used;
    }

    // What an event may hold, checked on its own (not through the model).
    void check_event(const duplex::event& ev) {
        switch (ev.type) {
        case event_type::message:
            FUZZ_CHECK(ev.data.size() <= opt_.max_message_size);
            FUZZ_CHECK(ev.op == duplex::opcode::text || ev.op == duplex::opcode::binary);
            if (ev.is_text())
                FUZZ_CHECK(valid_utf8(ev.data));
            break;
        case event_type::message_part:
            if (!streaming_) {
                streaming_ = true;
                stream_op_ = ev.op;
                stream_size_ = 0;
                stream_text_ = utf8_stream{};
            }
            FUZZ_CHECK(ev.op == stream_op_);
            FUZZ_CHECK(ev.op == duplex::opcode::text || ev.op == duplex::opcode::binary);
            stream_size_ += ev.data.size();
            FUZZ_CHECK(stream_size_ <= opt_.max_message_size);
            if (ev.is_text()) {
                FUZZ_CHECK(stream_text_.feed(ev.data));
                if (ev.last)
                    FUZZ_CHECK(stream_text_.complete());
            }
            if (ev.last)
                streaming_ = false;
            break;
        case event_type::ping:
        case event_type::pong:
            FUZZ_CHECK(ev.data.size() <= 125);
            break;
        case event_type::close: {
            const auto code = static_cast<unsigned>(ev.code);
            FUZZ_CHECK(ev.data.size() <= 123);
            FUZZ_CHECK(valid_utf8(ev.data));
            FUZZ_CHECK(code == 1005 ? ev.data.empty() : code_may_be_sent(code));
            break;
        }
        default:
            FUZZ_CHECK(false);
        }
    }

    void become_closed() {
        state_ = connection_state::closed;
        rx_.stop();
        closed_error_ = eng_.error();
    }

    // ---- Sending ----

    error_set closed_errors(connection_state s) const {
        if (s == connection_state::closing)
            return bit(error::close_sent);
        if (s == connection_state::closed)
            return bit(error::closed);
        return 0;
    }

    // A send call's outcome: an error the call may give, a drop, or its frames (checked by
    // `check_frames`). Returns true if it was queued. Only whole messages are `droppable`:
    // a part, a ping or a pong at or over the limit is refused under policy drop too.
    template <class CheckFrames>
    bool check_send(const std::error_code& ec, error_set problems, std::size_t q_before,
                    std::uint64_t dropped_before, bool droppable, CheckFrames check_frames) {
        const bool full = q_before >= opt_.send_queue_limit;
        const auto policy = opt_.on_backpressure;
        const bool may_drop = droppable && policy == duplex::backpressure_policy::drop;
        if (ec) {
            error_set allowed = problems;
            if (full && !may_drop)
                allowed |= bit(error::send_queue_full);
            FUZZ_CHECK(in_set(allowed, ec));
            FUZZ_CHECK(eng_.dropped_messages() == dropped_before);
            const std::vector<out_frame> frames = take_output();
            if (ec == error::send_queue_full && policy == duplex::backpressure_policy::close) {
                FUZZ_CHECK(frames.size() == 1);
                expect_close_code(frames[0], static_cast<unsigned>(opt_.backpressure_close_code));
                FUZZ_CHECK(eng_.error() == error::send_queue_full);
                note_close_sent();
            } else {
                FUZZ_CHECK(frames.empty());
            }
            return false;
        }
        FUZZ_CHECK(problems == 0);
        if (full) { // only drop lets a whole message over the limit "succeed"
            FUZZ_CHECK(may_drop);
            FUZZ_CHECK(eng_.dropped_messages() == dropped_before + 1);
            FUZZ_CHECK(take_output().empty());
            return false;
        }
        FUZZ_CHECK(eng_.dropped_messages() == dropped_before);
        check_frames(take_output());
        return true;
    }

    std::string& keep(std::string s) {
        kept_.push_back(std::move(s)); // stays alive: a borrowed payload may be referenced
        return kept_.back();
    }

    // After a borrowed payload was queued: once written_total() reaches queued_total() as it is
    // now, the caller may reuse its memory; scribbling over it then must change nothing sent.
    void lend(duplex::payload_mode mode, std::string& payload) {
        if (mode == duplex::payload_mode::borrow && !payload.empty())
            lent_.push_back({eng_.queued_total(), &payload});
    }

    void return_lent() {
        while (!lent_.empty() && eng_.written_total() >= lent_.front().until) {
            std::string& p = *lent_.front().payload;
            std::memset(&p[0], 0xEE, p.size());
            lent_.pop_front();
        }
    }

    void op_send(std::uint8_t o, unsigned op) {
        const auto mode = (o & 0x80) ? duplex::payload_mode::borrow : duplex::payload_mode::copy;
        // Fragments of at most 300 bytes never need a 64-bit length: a few thousand will do.
        const std::size_t max =
            opt_.fragment_size ? std::min<std::size_t>(70100, opt_.fragment_size * 1024) : 70100;
        std::string& payload = keep(gen_payload(r_, max, budget_));
        const std::size_t q_before = model_q();
        const std::uint64_t dropped_before = eng_.dropped_messages();
        std::error_code ec;
        if ((o & 15) == 5)
            eng_.send_text(payload, ec, mode);
        else if ((o & 15) == 6)
            eng_.send_binary(payload.data(), payload.size(), ec, mode);
        else
            eng_.send(static_cast<duplex::opcode>(op), payload.data(), payload.size(), ec, mode);

        error_set problems = closed_errors(state_);
        if (op != 1 && op != 2)
            problems |= bit(error::bad_opcode);
        if (parts_)
            problems |= bit(error::message_in_progress);
        if (op == 1 && !valid_utf8(payload))
            problems |= bit(error::invalid_utf8);
        if (check_send(ec, problems, q_before, dropped_before, true,
                       [&](const std::vector<out_frame>& f) { expect_message(f, op, payload); }))
            lend(mode, payload);
    }

    void op_begin(std::uint8_t o) {
        const unsigned sel = (o >> 4) & 7;
        const unsigned op = sel < 3 ? 1 : sel < 6 ? 2 : sel == 6 ? 0 : (r_.byte() & 15u);
        std::error_code ec;
        eng_.begin_message(static_cast<duplex::opcode>(op), ec);
        error_set problems = closed_errors(state_);
        if (op != 1 && op != 2)
            problems |= bit(error::bad_opcode);
        if (parts_)
            problems |= bit(error::message_in_progress);
        if (ec) {
            FUZZ_CHECK(in_set(problems, ec));
        } else {
            FUZZ_CHECK(problems == 0);
            parts_ = true;
            part_op_ = op;
            first_part_ = true;
            part_text_ = utf8_stream{};
        }
        FUZZ_CHECK(take_output().empty());
    }

    void op_part(std::uint8_t o) {
        const bool last = (o & 0x10) != 0;
        const auto mode = (o & 0x80) ? duplex::payload_mode::borrow : duplex::payload_mode::copy;
        std::string& payload = keep(gen_payload(r_, 70100, budget_));
        const std::size_t q_before = model_q();
        const std::uint64_t dropped_before = eng_.dropped_messages();
        std::error_code ec;
        eng_.send_part(payload.data(), payload.size(), last, ec, mode);

        error_set problems = 0;
        utf8_stream text = part_text_; // the parts queued so far, then this one
        if (!parts_) {
            problems |= state_ == connection_state::open ? bit(error::no_message_in_progress)
                                                          : closed_errors(state_);
        } else {
            problems |= closed_errors(state_);
            if (part_op_ == 1 && (!text.feed(payload) || (last && !text.complete())))
                problems |= bit(error::invalid_utf8);
            // Backpressure is checked first: at or over the limit the part is refused (or the
            // connection failed) whatever it holds, and never dropped.
            if (state_ == connection_state::open && q_before >= opt_.send_queue_limit)
                FUZZ_CHECK(ec == error::send_queue_full);
        }
        const unsigned op = first_part_ ? part_op_ : 0;
        const bool queued = check_send(ec, problems, q_before, dropped_before, false,
                                       [&](const std::vector<out_frame>& f) {
                                           FUZZ_CHECK(f.size() == 1);
                                           expect_frame(f[0], op, last, payload);
                                       });
        if (queued) { // a refused part changes nothing: it may be sent again
            lend(mode, payload);
            part_text_ = text;
            first_part_ = false;
            parts_ = !last;
        }
    }

    void op_control(unsigned op) {
        const std::string payload = r_.padded(r_.byte() % 131u, 'p');
        const std::size_t q_before = model_q();
        const std::uint64_t dropped_before = eng_.dropped_messages();
        std::error_code ec;
        if (op == 9)
            eng_.ping(payload.data(), payload.size(), ec);
        else
            eng_.pong(payload.data(), payload.size(), ec);
        error_set problems = closed_errors(state_);
        if (payload.size() > 125)
            problems |= bit(error::control_too_long);
        check_send(ec, problems, q_before, dropped_before, false,
                   [&](const std::vector<out_frame>& f) {
                       FUZZ_CHECK(f.size() == 1);
                       expect_frame(f[0], op, true, payload);
                   });
    }

    void op_close() {
        const unsigned code = pick_close_code(r_);
        const std::string reason = r_.padded(r_.byte() % 131u, 'r');
        std::error_code ec;
        eng_.close(static_cast<duplex::close_code>(code), reason, ec);
        error_set problems = closed_errors(state_);
        std::string payload; // what the frame should carry
        if (!(code == 1005 && reason.empty())) {
            if (!code_may_be_sent(code))
                problems |= bit(error::invalid_close_code);
            if (reason.size() > 123)
                problems |= bit(error::close_reason_too_long);
            if (!valid_utf8(reason))
                problems |= bit(error::close_reason_utf8);
            payload.push_back(static_cast<char>(code >> 8));
            payload.push_back(static_cast<char>(code & 0xFF));
            payload += reason;
        }
        const std::vector<out_frame> frames = take_output();
        if (ec) {
            FUZZ_CHECK(in_set(problems, ec));
            FUZZ_CHECK(frames.empty());
            return;
        }
        FUZZ_CHECK(problems == 0);
        FUZZ_CHECK(frames.size() == 1);
        expect_frame(frames[0], 8, true, payload);
        FUZZ_CHECK(static_cast<unsigned>(eng_.sent_close_code()) == code);
        note_close_sent();
    }

    // We started the closing handshake: the close timeout is armed at the next tick.
    void note_close_sent() {
        state_ = connection_state::closing;
        close_sent_at_ = now_;
        close_sent_ = true;
        hb_.close_sent();
    }

    // ---- Output consumed ----

    void op_consume(std::uint8_t o) {
        const unsigned how = o >> 4;
        std::size_t n = model_q();
        if (how != 0)
            n = std::min<std::size_t>(n, how < 8 ? r_.byte() : r_.u16());
        consume(n);
    }

    void consume(std::size_t n) {
        consume_bytes(n);
        // A write of what is left starts: its buffers must survive what happens until it is
        // consumed (more frames queued, partial consumes).
        in_flight_ = buffers();
        in_flight_bytes_.assign(pending_, pending_front_, std::string::npos);
        in_flight_done_ = 0;
    }

    void consume_bytes(std::size_t n) {
        // The bytes handed out are the bytes that were queued, unchanged.
        std::size_t at = pending_front_;
        for (const auto& b : buffers()) {
            FUZZ_CHECK(at + b.size <= pending_.size());
            FUZZ_CHECK(std::memcmp(b.data, pending_.data() + at, b.size) == 0);
            at += b.size;
        }
        FUZZ_CHECK(at == pending_.size());
        eng_.consume(n);
        consumed_total_ += n;
        pending_front_ += n;
        in_flight_done_ += n;
        return_lent();
        if (pending_front_ > 65536 && pending_front_ * 2 > pending_.size()) {
            pending_.erase(0, pending_front_);
            pending_front_ = 0;
        }
        FUZZ_CHECK(take_output().empty());
        if (model_q() <= opt_.send_queue_resume)
            FUZZ_CHECK(!eng_.backpressured());
    }

    // ---- Time ----

    void op_tick() {
        static const unsigned steps[16] = {0,   1,    2,    5,    10,    50,    100,   250,
                                           500, 1000, 2500, 5000, 10000, 30000, 60000, 120000};
        const unsigned b = r_.byte();
        now_ += milliseconds(steps[b & 15] + (b >> 4));
        if (!ticked_) {
            ticked_ = true;
            first_tick_ = last_ping_ = now_;
        }
        const connection_state before = state_;
        const std::size_t q_before = model_q();
        const std::error_code ec = eng_.tick(now_);
        tick_stopped_early_ = static_cast<bool>(ec);
        const std::vector<out_frame> frames = take_output();
        const auto& t = opt_.timeouts;
        // The heartbeat learns of received bytes at a tick, and its clock starts at the first.
        const time_point seen = received_ ? std::max(first_tick_, last_received_) : first_tick_;

        if (before == connection_state::closed) { // nothing is left to time out, or to send
            FUZZ_CHECK(frames.empty());
            FUZZ_CHECK(!ec); // and error() stays put (check_common)
            return;
        }

        // What the schedule says is due; a ping is queued only while open and under the limit.
        const heartbeat_model::outcome due = hb_.tick(now_);
        switch (due) {
        case heartbeat_model::outcome::none:
        case heartbeat_model::outcome::ping: FUZZ_CHECK(!ec); break;
        case heartbeat_model::outcome::peer_dead: FUZZ_CHECK(ec == error::peer_timeout); break;
        case heartbeat_model::outcome::close_expired: FUZZ_CHECK(ec == error::close_timeout); break;
        case heartbeat_model::outcome::idle: FUZZ_CHECK(ec == error::idle_timeout); break;
        }
        const bool ping_queued = due == heartbeat_model::outcome::ping &&
                                 before == connection_state::open &&
                                 q_before < opt_.send_queue_limit;

        std::size_t i = 0;
        for (; i < frames.size() && frames[i].op == 9; ++i) { // heartbeat pings
            FUZZ_CHECK(frames[i].payload.empty());
            FUZZ_CHECK(before == connection_state::open && t.ping_interval.count() > 0);
            FUZZ_CHECK(now_ - last_ping_ >= t.ping_interval); // the ones queued, at least
            last_ping_ = now_;
        }
        FUZZ_CHECK(i == (ping_queued ? 1u : 0u));
        const bool idle_close = ec == error::idle_timeout && before == connection_state::open;
        FUZZ_CHECK(frames.size() - i == (idle_close ? 1u : 0u));
        if (idle_close)
            expect_close_code(frames[i], 1001);

        if (!ec) {
            FUZZ_CHECK(eng_.state() == before);
        } else if (ec == error::peer_timeout) {
            FUZZ_CHECK(t.ping_interval.count() > 0 && t.pong_timeout.count() > 0);
            FUZZ_CHECK(eng_.received_close_code() == duplex::close_code::abnormal);
            FUZZ_CHECK(now_ - seen >= t.pong_timeout);
            FUZZ_CHECK(eng_.error() == ec);
            become_closed();
        } else if (ec == error::close_timeout) {
            FUZZ_CHECK(close_sent_ && t.close_timeout.count() > 0);
            FUZZ_CHECK(eng_.received_close_code() == duplex::close_code::abnormal);
            FUZZ_CHECK(now_ - close_sent_at_ >= t.close_timeout);
            FUZZ_CHECK(eng_.error() == ec);
            become_closed();
        } else {
            FUZZ_CHECK(ec == error::idle_timeout);
            FUZZ_CHECK(t.idle_timeout.count() > 0 && now_ - seen >= t.idle_timeout);
            if (idle_close)
                note_close_sent();
        }
    }

    void op_transport_closed() {
        const connection_state before = state_;
        const std::error_code ec = eng_.transport_closed();
        FUZZ_CHECK(take_output().empty());
        if (before == connection_state::closed) {
            FUZZ_CHECK(!ec);
            return;
        }
        FUZZ_CHECK(ec == error::abnormal_closure);
        FUZZ_CHECK(eng_.received_close_code() == duplex::close_code::abnormal);
        become_closed();
    }

    // The buffers handed out at the last consume still hold their bytes (the first 64 KiB
    // not consumed since: enough to see a block moved or reused).
    NO_COVERAGE void check_in_flight() const {
        std::size_t skip = in_flight_done_;
        std::size_t at = in_flight_done_;
        std::size_t budget = 65536;
        for (const auto& b : in_flight_) {
            if (at >= in_flight_bytes_.size() || budget == 0)
                break;
            if (skip >= b.size) {
                skip -= b.size;
                continue;
            }
            const std::size_t n = std::min(b.size - skip, budget);
            FUZZ_CHECK(at + n <= in_flight_bytes_.size());
            FUZZ_CHECK(std::memcmp(static_cast<const char*>(b.data) + skip,
                                   in_flight_bytes_.data() + at, n) == 0);
            at += n;
            budget -= n;
            skip = 0;
        }
    }

    // After every operation.
    void check_common() {
        check_in_flight();
        FUZZ_CHECK(eng_.state() == state_);
        const time_point d = eng_.next_deadline();
        if (state_ == connection_state::closed) {
            FUZZ_CHECK(d == time_point::max());
            FUZZ_CHECK(eng_.error() == closed_error_); // the reason it ended stays put
            return;
        }
        FUZZ_CHECK(d == hb_.next_deadline());
        if (d != time_point::min() && d != time_point::max() && d < now_) {
            // In the past: only while closing, after a tick that stopped early to report a
            // timeout and left other work due (tick() does one reportable action per call).
            FUZZ_CHECK(state_ == connection_state::closing && tick_stopped_early_);
        }
    }

    const duplex::engine_options& opt_;
    reader& r_;
    duplex::engine<Role> eng_;
    receive_model rx_;
    wire_checker wire_;
    heartbeat_model hb_;

    connection_state state_ = connection_state::open;
    std::error_code closed_error_;
    std::size_t budget_ = generated_budget;
    std::deque<std::string> kept_;
    struct lent_payload {
        std::uint64_t until; // queued_total() right after it was queued
        std::string* payload;
    };
    std::deque<lent_payload> lent_;

    std::string incoming_;            // bytes built, not yet given to the engine
    std::string held_;                // the frame the engine holds (partial_frames::hold), as it left it
    std::string held_original_;       // the same bytes as they came
    bool frames_in_message_ = false;  // the frames built so far leave a message open

    std::string pending_;             // bytes queued and not consumed: from pending_front_
    std::size_t pending_front_ = 0;
    std::uint64_t seen_total_ = 0;
    std::uint64_t consumed_total_ = 0;
    bool admitted_any_ = false;       // a frame other than a close was queued
    std::size_t max_burst_ = 0;       // the most bytes one call queued, close frames aside
    std::size_t close_queued_ = 0;    // the bytes of the close frame, once queued
    std::vector<duplex::const_buffer> in_flight_; // handed out at the last consume
    std::string in_flight_bytes_;                 // what they held then
    std::size_t in_flight_done_ = 0;              // consumed since

    bool parts_ = false;              // a message sent in parts is open
    unsigned part_op_ = 1;
    bool first_part_ = false;
    utf8_stream part_text_;

    bool streaming_ = false;          // a streamed message is being delivered
    duplex::opcode stream_op_ = duplex::opcode::text;
    std::size_t stream_size_ = 0;
    utf8_stream stream_text_;

    time_point now_ = time_point{} + std::chrono::hours(1);
    bool ticked_ = false;
    bool tick_stopped_early_ = false; // the last tick returned a timeout
    time_point first_tick_{};
    time_point last_ping_{};
    bool received_ = false;
    time_point last_received_{};
    bool close_sent_ = false;
    time_point close_sent_at_{};
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    reader r(data, size);
    config c = read_config(r);
    if (c.client) {
        session<duplex::role::client> s(c, r);
        s.run();
    } else {
        session<duplex::role::server> s(c, r);
        s.run();
    }
    return 0;
}
