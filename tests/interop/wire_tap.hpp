// wire_tap.hpp — a TCP socket for duplex::asio::stream that also watches the bytes going each
// way, for the interop programs. duplex's streams report a peer's close code but neither its
// close reason nor the pongs that arrive, and the interop checks want both, plus the frames a
// message really went out in. The tap parses both directions with its own small RFC 6455
// frame reader (not duplex's, so that it checks duplex rather than trusting it). For
// permessage-deflate (RFC 7692) it records whether each message was compressed (RSV1 on its
// first frame), rejects RSV1 anywhere else and RSV2/RSV3 everywhere, and keeps the HTTP head so
// that the negotiated Sec-WebSocket-Extensions can be read from the wire.
//
// tap_socket is an asio::ip::tcp::socket (so duplex::asio::async_connect accepts it) whose
// reads and writes, synchronous and asynchronous, pass through a frame_parser on the way.
#pragma once

#include <asio/async_result.hpp>
#include <asio/buffer.hpp>
#include <asio/ip/tcp.hpp>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace interop {

enum : std::uint8_t { op_continuation = 0, op_text = 1, op_binary = 2, op_close = 8, op_ping = 9, op_pong = 10 };

/// A control frame as seen on the wire, its payload unmasked.
struct control_frame {
    std::uint8_t op = 0;
    std::string payload;

    /// For a close frame: its code (1005 if it had none) and reason.
    unsigned close_code() const {
        if (payload.size() < 2)
            return 1005;
        return static_cast<unsigned>(static_cast<unsigned char>(payload[0]) << 8 |
                                     static_cast<unsigned char>(payload[1]));
    }
    std::string_view close_reason() const {
        return payload.size() <= 2 ? std::string_view{} : std::string_view(payload).substr(2);
    }
};

/// A whole data message as seen on the wire: its opcode, its size on the wire (compressed, if
/// it was), how many frames it took, and whether its first frame had RSV1 (compressed).
struct data_message {
    std::uint8_t op = 0;
    std::uint64_t size = 0;
    std::size_t frames = 0;
    bool compressed = false;
};

/// The value of the header field `name` (case-insensitive) in an HTTP head, several lines
/// joined with ", "; empty if absent.
inline std::string header_value(std::string_view head, std::string_view name) {
    std::string out;
    std::size_t at = head.find("\r\n");
    while (at != std::string_view::npos && at + 2 < head.size()) {
        const std::size_t begin = at + 2;
        const std::size_t end = head.find("\r\n", begin);
        const std::string_view line = head.substr(begin, end == std::string_view::npos ? end : end - begin);
        const std::size_t colon = line.find(':');
        if (colon == name.size() &&
            std::equal(name.begin(), name.end(), line.begin(), [](char a, char b) {
                return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
            })) {
            std::string_view v = line.substr(colon + 1);
            while (!v.empty() && (v.front() == ' ' || v.front() == '\t'))
                v.remove_prefix(1);
            while (!v.empty() && (v.back() == ' ' || v.back() == '\t'))
                v.remove_suffix(1);
            out += (out.empty() ? "" : ", ") + std::string(v);
        }
        at = end;
    }
    return out;
}

/// One direction of a connection: skips the HTTP head (up to the blank line), then reads frame
/// headers, keeps control payloads and counts the frames of each data message. Payload bytes
/// of data frames are skipped, never stored.
class frame_parser {
public:
    std::vector<control_frame> controls;
    std::vector<data_message> messages;
    std::string head;  // the HTTP head, up to and including its blank line (at most 16 KiB)
    std::string error; // set if the bytes were not well-formed frames; parsing stops
    std::size_t controls_inside_messages = 0; // control frames between a message's frames

    /// How many data messages had RSV1 (were compressed).
    std::size_t compressed_count() const {
        std::size_t n = 0;
        for (const auto& m : messages)
            n += m.compressed ? 1 : 0;
        return n;
    }

    void feed(const unsigned char* p, std::size_t n) {
        while (n > 0 && error.empty()) {
            if (in_head_) {
                if (head.size() < 16 * 1024)
                    head += static_cast<char>(*p);
                tail_ = tail_ << 8 | *p++;
                --n;
                if (tail_ == 0x0d0a0d0a)
                    in_head_ = false;
                continue;
            }
            if (!in_payload_) {
                head_[head_size_++] = *p++;
                --n;
                if (head_size_ >= 2 && head_size_ == header_size())
                    start_frame();
                continue;
            }
            const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, n));
            if (control_)
                current_.payload.append(reinterpret_cast<const char*>(p), take);
            p += take;
            n -= take;
            remaining_ -= take;
            if (remaining_ == 0)
                end_frame();
        }
    }

    /// The control frames with opcode `op`.
    std::vector<const control_frame*> find(std::uint8_t op) const {
        std::vector<const control_frame*> out;
        for (const auto& c : controls)
            if (c.op == op)
                out.push_back(&c);
        return out;
    }

    /// True if a control frame with opcode `op` and exactly `payload` was seen.
    bool saw(std::uint8_t op, std::string_view payload) const {
        for (const auto& c : controls)
            if (c.op == op && c.payload == payload)
                return true;
        return false;
    }

private:
    std::size_t header_size() const {
        const unsigned len7 = head_[1] & 0x7f;
        return 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((head_[1] & 0x80) ? 4 : 0);
    }

    void start_frame() {
        const bool fin = (head_[0] & 0x80) != 0;
        const bool rsv1 = (head_[0] & 0x40) != 0;
        const std::uint8_t op = head_[0] & 0x0f;
        if ((head_[0] & 0x30) != 0)
            return fail("RSV2 or RSV3 set (no extension defines them)");
        const bool masked = (head_[1] & 0x80) != 0;
        const unsigned len7 = head_[1] & 0x7f;
        std::uint64_t length = len7;
        std::size_t at = 2;
        if (len7 >= 126) {
            const std::size_t bytes = len7 == 126 ? 2 : 8;
            length = 0;
            for (std::size_t i = 0; i < bytes; ++i)
                length = length << 8 | head_[at++];
        }
        if (masked)
            for (std::size_t i = 0; i < 4; ++i)
                key_[i] = head_[at++];
        masked_ = masked;
        head_size_ = 0;
        fin_ = fin;
        control_ = (op & 0x08) != 0;
        if (control_) {
            if (!fin || length > 125)
                return fail("control frame fragmented or over 125 bytes");
            if (rsv1)
                return fail("RSV1 on a control frame");
            current_ = control_frame{op, {}};
            if (in_message_)
                ++controls_inside_messages;
        } else if (op == op_continuation) {
            if (!in_message_)
                return fail("continuation frame with no message in progress");
            if (rsv1)
                return fail("RSV1 on a continuation frame (RFC 7692 §6: first frame only)");
        } else if (op == op_text || op == op_binary) {
            if (in_message_)
                return fail("new data message before the last one ended");
            in_message_ = true;
            message_ = data_message{op, 0, 0, rsv1};
        } else {
            return fail("reserved opcode " + std::to_string(op));
        }
        if (!control_) {
            message_.size += length;
            ++message_.frames;
        }
        remaining_ = length;
        in_payload_ = true;
        if (remaining_ == 0)
            end_frame();
    }

    void end_frame() {
        in_payload_ = false;
        if (control_) {
            if (masked_)
                for (std::size_t i = 0; i < current_.payload.size(); ++i)
                    current_.payload[i] = static_cast<char>(current_.payload[i] ^ key_[i % 4]);
            controls.push_back(std::move(current_));
            current_ = {};
        } else if (fin_) {
            messages.push_back(message_);
            in_message_ = false;
        }
    }

    void fail(std::string why) { error = std::move(why); }

    bool in_head_ = true;
    std::uint32_t tail_ = 0;
    unsigned char head_[14] = {};
    std::size_t head_size_ = 0;
    bool in_payload_ = false;
    bool control_ = false;
    bool fin_ = false;
    bool masked_ = false;
    unsigned char key_[4] = {};
    std::uint64_t remaining_ = 0;
    control_frame current_;
    bool in_message_ = false;
    data_message message_;
};

/// Feeds the first `n` bytes of a buffer sequence to `parser`.
template <class Buffers>
void feed_buffers(frame_parser& parser, const Buffers& buffers, std::size_t n) {
    for (auto it = asio::buffer_sequence_begin(buffers); n > 0 && it != asio::buffer_sequence_end(buffers); ++it) {
        const asio::const_buffer b(*it);
        const std::size_t take = std::min(n, b.size());
        parser.feed(static_cast<const unsigned char*>(b.data()), take);
        n -= take;
    }
}

/// A TCP socket whose reads feed `in` and whose writes feed `out`. Its read_some,
/// async_read_some, write_some and async_write_some hide the base class's, which is what
/// duplex::asio::stream<tap_socket> calls through its NextLayer type.
class tap_socket : public asio::ip::tcp::socket {
    using base = asio::ip::tcp::socket;

public:
    explicit tap_socket(const executor_type& ex) : base(ex) {}
    explicit tap_socket(base&& socket) : base(std::move(socket)) {}

    frame_parser in;  // what the peer sent
    frame_parser out; // what we sent

    template <class MutableBuffers>
    std::size_t read_some(const MutableBuffers& buffers, std::error_code& ec) {
        const std::size_t n = base::read_some(buffers, ec);
        feed_buffers(in, buffers, n);
        return n;
    }

    template <class ConstBuffers>
    std::size_t write_some(const ConstBuffers& buffers, std::error_code& ec) {
        const std::size_t n = base::write_some(buffers, ec);
        feed_buffers(out, buffers, n);
        return n;
    }

    template <class MutableBuffers, class Token>
    auto async_read_some(const MutableBuffers& buffers, Token&& token) {
        return asio::async_initiate<Token, void(std::error_code, std::size_t)>(
            [this](auto handler, const MutableBuffers& b) {
                base::async_read_some(b, [this, b, h = std::move(handler)](std::error_code ec, std::size_t n) mutable {
                    feed_buffers(in, b, n);
                    std::move(h)(ec, n);
                });
            },
            token, buffers);
    }

    template <class ConstBuffers, class Token>
    auto async_write_some(const ConstBuffers& buffers, Token&& token) {
        return asio::async_initiate<Token, void(std::error_code, std::size_t)>(
            [this](auto handler, const ConstBuffers& b) {
                base::async_write_some(b, [this, b, h = std::move(handler)](std::error_code ec, std::size_t n) mutable {
                    feed_buffers(out, b, n);
                    std::move(h)(ec, n);
                });
            },
            token, buffers);
    }
};

} // namespace interop
