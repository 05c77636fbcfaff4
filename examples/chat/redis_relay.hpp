// chat::redis_relay — shares chat rooms between several chat_server instances through Redis
// Pub/Sub, so a message posted on instance A reaches the subscribers of instance B.
//
// Design
//   Two TCP connections to one Redis server, both Asio sockets on the relay's executor (no
//   hiredis connection or event-loop adapter; hiredis is used only for its RESP reply parser):
//     subscriber: PSUBSCRIBE <escaped prefix>* — Redis dedicates a connection in subscribe mode
//                 to pushes, so it cannot also carry PUBLISH;
//     publisher:  PING once connected, then PUBLISH commands (each answered with an integer).
//   The link is "up" once the publisher answered its PING and the subscriber's PSUBSCRIBE is
//   confirmed: on_state(true, ...). Any failure (refused, closed, timed out, a RESP error reply,
//   an unexpected or malformed reply, a reply over the size limits) closes both connections,
//   reports on_state(false, reason) once per outage, and retries after a duplex::backoff
//   delay (exponential, with jitter; each retry is reported to on_retry). While up, a PING on
//   both connections every ping_interval detects a server that stopped answering. Messages are
//   delivered from the moment the subscription is confirmed, which may be just before
//   on_state(true). No AUTH, SELECT or TLS: a Redis on a trusted network.
//
// Wire format
//   channel: <channel_prefix><room>                     (both binary-safe)
//   message: <16 lowercase hex digits: instance id> <payload>   (one space, payload binary-safe)
//   The id is random per relay; a relay ignores messages carrying its own id (its own PUBLISHes
//   come back through its subscription) and messages not in this format. Every instance of one
//   deployment must use the same channel_prefix and the same size limits.
//
// Bounds
//   publish(): room <= max_room_bytes, payload <= max_payload_bytes, else dropped (counted).
//   Outgoing: at most max_queue_messages PUBLISHes unsent or unanswered and max_queue_bytes
//   unsent bytes; past that publish() drops (counted). While down, publish() drops (counted);
//   PUBLISHes not yet written when a connection fails are counted as dropped too.
//   Incoming: a reply may hold at most reply_limit() bytes (payload and room limits plus
//   framing) and 64 array elements; past that the connection is treated as failed. hiredis's
//   reader maxbuf only bounds the idle buffer kept between replies, not a reply's size, so the
//   relay counts the bytes of the reply in progress itself.
//   Setup (resolve, connect, PING and PSUBSCRIBE confirmed) is bounded by connect_timeout.
//
// Thread model
//   Everything runs on the executor given to the constructor: call start(), stop(), publish()
//   and the accessors from a thread running it (or asio::post to it); on_message, on_state and
//   on_retry are called there. Set the callbacks before start(). Do not destroy the relay from
//   inside one of its callbacks (call stop() there, or post the destruction). Destroying the
//   relay stops it; pending operations then complete as aborted and do nothing.
//   stop() reports nothing; after it, io_context::run() returns once the relay's own operations
//   have completed (at once for the timers and sockets it closes).
//
// Needs hiredis (Debian: libhiredis-dev; link -lhiredis) and a Redis server (redis-server).
// SPDX-License-Identifier: MIT
#pragma once

#include <duplex/core/backoff.hpp>

#include <asio/any_io_executor.hpp>
#include <asio/connect.hpp>
#include <asio/error.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>

#include <hiredis/read.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <new>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace chat {

/// Settings of a redis_relay.
struct redis_relay_options {
    /// Delays between connection attempts; the default: 250 ms doubling up to 10 s, +-20 %.
    duplex::backoff_options backoff = default_backoff();
    /// Bound on one attempt: resolve, both connects, PING answered, PSUBSCRIBE confirmed.
    std::chrono::milliseconds connect_timeout{5000};
    /// While up, PING both connections this often; one that owes a reply for longer than
    /// reply_timeout at such a check is treated as failed. 0: no PINGs.
    std::chrono::milliseconds ping_interval{5000};
    std::chrono::milliseconds reply_timeout{5000};
    std::size_t max_room_bytes = 1024;
    std::size_t max_payload_bytes = 1024 * 1024;
    std::size_t max_queue_messages = 10000; // commands (PUBLISH, PING) unsent or awaiting their reply
    std::size_t max_queue_bytes = 16 * 1024 * 1024; // unsent bytes

    static duplex::backoff_options default_backoff() {
        duplex::backoff_options o;
        o.initial_delay = std::chrono::milliseconds(250);
        o.multiplier = 2.0;
        o.max_delay = std::chrono::milliseconds(10000);
        o.jitter = 0.2;
        return o;
    }
};

namespace detail {

// ---- RESP replies, built by hiredis's reader through these object functions ----------------

// One reply or array element. type is REDIS_REPLY_*; str holds strings, statuses and errors.
struct resp_value {
    int type = 0;
    long long integer = 0;
    std::string str;
    std::vector<std::unique_ptr<resp_value>> elements; // REDIS_REPLY_ARRAY
};

// Replies the relay expects have at most 4 elements; a larger array is refused before hiredis
// allocates anything for it.
inline constexpr int resp_max_elements = 64;

// Stores v in its parent array (which owns it from then on) or returns it as a root reply.
inline void* resp_attach(const redisReadTask* task, std::unique_ptr<resp_value> v) noexcept {
    resp_value* raw = v.get();
    if (task->parent != nullptr) {
        auto* parent = static_cast<resp_value*>(task->parent->obj);
        if (parent == nullptr || task->idx < 0 || static_cast<std::size_t>(task->idx) >= parent->elements.size())
            return nullptr;
        parent->elements[static_cast<std::size_t>(task->idx)] = std::move(v);
    } else {
        v.release(); // owned by hiredis until redisReaderGetReply hands it back
    }
    return raw;
}

// hiredis treats a null result as out of memory and fails the reader: never throw into C.
inline void* resp_create_string(const redisReadTask* task, char* s, std::size_t n) noexcept {
    try {
        auto v = std::make_unique<resp_value>();
        v->type = task->type;
        v->str.assign(s, n);
        return resp_attach(task, std::move(v));
    } catch (...) {
        return nullptr;
    }
}

inline void* resp_create_array(const redisReadTask* task, int n) noexcept {
    if (n < 0 || n > resp_max_elements)
        return nullptr;
    try {
        auto v = std::make_unique<resp_value>();
        v->type = REDIS_REPLY_ARRAY;
        v->elements.resize(static_cast<std::size_t>(n));
        return resp_attach(task, std::move(v));
    } catch (...) {
        return nullptr;
    }
}

inline void* resp_create_integer(const redisReadTask* task, long long x) noexcept {
    try {
        auto v = std::make_unique<resp_value>();
        v->type = REDIS_REPLY_INTEGER;
        v->integer = x;
        return resp_attach(task, std::move(v));
    } catch (...) {
        return nullptr;
    }
}

inline void* resp_create_nil(const redisReadTask* task) noexcept {
    try {
        auto v = std::make_unique<resp_value>();
        v->type = REDIS_REPLY_NIL;
        return resp_attach(task, std::move(v));
    } catch (...) {
        return nullptr;
    }
}

// hiredis frees only root replies (a partial one on error); children go with their parent.
inline void resp_free(void* p) noexcept { delete static_cast<resp_value*>(p); }

inline redisReader* resp_reader_create() {
    static redisReplyObjectFunctions functions{resp_create_string, resp_create_array, resp_create_integer,
                                               resp_create_nil, resp_free};
    redisReader* r = redisReaderCreateWithFunctions(&functions);
    if (r == nullptr)
        throw std::bad_alloc();
    r->maxbuf = 64 * 1024; // free the reader's buffer between replies once it has grown past this
    return r;
}

// ---- RESP commands (arrays of bulk strings) -------------------------------------------------

// Appends one bulk string made of a then b.
inline void resp_append_bulk(std::string& out, std::string_view a, std::string_view b = {}) {
    out += '$';
    out += std::to_string(a.size() + b.size());
    out += "\r\n";
    out.append(a.data(), a.size());
    out.append(b.data(), b.size());
    out += "\r\n";
}

inline std::string resp_command(std::initializer_list<std::string_view> args) {
    std::string out = "*" + std::to_string(args.size()) + "\r\n";
    for (std::string_view a : args)
        resp_append_bulk(out, a);
    return out;
}

// A PSUBSCRIBE pattern matching every channel that starts with prefix.
inline std::string glob_prefix_pattern(std::string_view prefix) {
    std::string p;
    for (char c : prefix) {
        if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\')
            p += '\\';
        p += c;
    }
    p += '*';
    return p;
}

inline std::string random_instance_id() {
    std::random_device rd;
    const std::uint64_t x = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
    static const char hex[] = "0123456789abcdef";
    std::string id(16, '0');
    for (int i = 0; i < 16; ++i)
        id[static_cast<std::size_t>(i)] = hex[(x >> (60 - 4 * i)) & 0xF];
    return id;
}

// ---- one connection to Redis ------------------------------------------------------------------

struct redis_link {
    redis_link(const asio::any_io_executor& ex, const char* link_name)
        : socket(ex), reader(resp_reader_create()), name(link_name) {}
    ~redis_link() { redisReaderFree(reader); }
    redis_link(const redis_link&) = delete;
    redis_link& operator=(const redis_link&) = delete;

    struct outgoing {
        std::string data;
        bool is_publish;
    };

    asio::ip::tcp::socket socket;
    redisReader* reader;
    const char* name; // "subscriber" or "publisher", for reports
    std::vector<char> rbuf = std::vector<char>(64 * 1024);
    std::size_t partial = 0; // bytes of the reply in progress received so far
    std::deque<outgoing> out; // unsent commands; the first `writing` are being written
    std::size_t out_bytes = 0;
    std::size_t writing = 0;
    std::vector<asio::const_buffer> wbufs;
    std::size_t owed = 0; // replies expected (pushed pmessages not counted)
    std::chrono::steady_clock::time_point owed_since;
    bool ready = false; // publisher: PING answered; subscriber: PSUBSCRIBE confirmed
};

// The relay's state, shared with the handlers of its pending operations through weak pointers
// (and the links through shared pointers, so sockets and buffers outlive their operations).
class relay_state final : public std::enable_shared_from_this<relay_state> {
public:
    using message_fn = std::function<void(std::string_view, std::string_view)>;
    using state_fn = std::function<void(bool, std::string_view)>;
    using retry_fn = std::function<void(unsigned, std::chrono::milliseconds, std::string_view)>;

    relay_state(asio::any_io_executor ex, std::string host, unsigned short port, std::string prefix,
                redis_relay_options options)
        : ex_(std::move(ex)), host_(std::move(host)), port_(port), prefix_(std::move(prefix)),
          options_(std::move(options)), backoff_(options_.backoff), resolver_(ex_), deadline_(ex_),
          retry_timer_(ex_), ping_timer_(ex_), id_(random_instance_id()) {
        if (host_.empty())
            throw std::invalid_argument("chat::redis_relay: empty host");
        if (port_ == 0)
            throw std::invalid_argument("chat::redis_relay: port 0");
        if (options_.connect_timeout.count() <= 0 || options_.reply_timeout.count() <= 0 ||
            options_.ping_interval.count() < 0)
            throw std::invalid_argument("chat::redis_relay: connect_timeout and reply_timeout must be positive");
        id_space_ = id_ + ' ';
        pattern_ = glob_prefix_pattern(prefix_);
        endpoint_text_ = host_ + ":" + std::to_string(port_);
        // A pmessage: *4, "pmessage", pattern, channel, message, each with its $<len> line.
        reply_limit_ = options_.max_payload_bytes + id_space_.size() + options_.max_room_bytes +
                       prefix_.size() + pattern_.size() + 128;
    }

    ~relay_state() { close_links(); }

    void attach(const message_fn* m, const state_fn* s, const retry_fn* r) {
        on_message_ = m;
        on_state_ = s;
        on_retry_ = r;
    }
    void detach() { attach(nullptr, nullptr, nullptr); }

    void start() {
        if (running_)
            return;
        running_ = true;
        down_reported_ = false;
        backoff_.reset();
        connect();
    }

    void stop() {
        if (!running_)
            return;
        running_ = false;
        close_links();
        retry_timer_.cancel();
    }

    void publish(std::string_view room, std::string_view payload) {
        if (!up_ || room.size() > options_.max_room_bytes || payload.size() > options_.max_payload_bytes) {
            ++dropped_;
            return;
        }
        redis_link& l = *pub_;
        std::string cmd;
        cmd.reserve(64 + prefix_.size() + room.size() + id_space_.size() + payload.size());
        cmd += "*3\r\n$7\r\nPUBLISH\r\n";
        resp_append_bulk(cmd, prefix_, room);
        resp_append_bulk(cmd, id_space_, payload);
        if (l.owed >= options_.max_queue_messages || // every command unsent or unanswered
            l.out_bytes + cmd.size() > options_.max_queue_bytes) {
            ++dropped_;
            return;
        }
        ++published_;
        send(pub_, std::move(cmd), true);
    }

    bool up() const noexcept { return up_; }
    bool running() const noexcept { return running_; }
    std::uint64_t dropped() const noexcept { return dropped_; }
    std::uint64_t published() const noexcept { return published_; }
    std::uint64_t received() const noexcept { return received_; }
    std::uint64_t own_echoes() const noexcept { return own_echoes_; }
    std::uint64_t ignored() const noexcept { return ignored_; }
    const std::string& id() const noexcept { return id_; }
    std::size_t reply_limit() const noexcept { return reply_limit_; }
    const redis_relay_options& options() const noexcept { return options_; }

private:
    using link_ptr = std::shared_ptr<redis_link>;

    bool current(const link_ptr& l) const noexcept { return l && (l == sub_ || l == pub_); }

    // ---- connection setup ----

    void connect() {
        const std::uint64_t e = ++epoch_;
        deadline_.expires_after(options_.connect_timeout);
        deadline_.async_wait([w = weak_from_this(), e](std::error_code ec) {
            auto s = w.lock();
            if (!ec && s && s->epoch_ == e && !s->up_)
                s->fail("timed out after " + std::to_string(s->options_.connect_timeout.count()) +
                        " ms connecting to Redis at " + s->endpoint_text_);
        });
        resolver_.async_resolve(host_, std::to_string(port_), asio::ip::tcp::resolver::numeric_service,
                                [w = weak_from_this(), e](std::error_code ec, asio::ip::tcp::resolver::results_type r) {
                                    auto s = w.lock();
                                    if (s && s->epoch_ == e)
                                        s->on_resolved(ec, r);
                                });
    }

    void on_resolved(std::error_code ec, const asio::ip::tcp::resolver::results_type& results) {
        if (ec) {
            fail("cannot resolve " + host_ + ": " + ec.message());
            return;
        }
        sub_ = std::make_shared<redis_link>(ex_, "subscriber");
        pub_ = std::make_shared<redis_link>(ex_, "publisher");
        for (const link_ptr& l : {sub_, pub_}) {
            asio::async_connect(l->socket, results,
                                [w = weak_from_this(), l](std::error_code cec, const asio::ip::tcp::endpoint&) {
                                    auto s = w.lock();
                                    if (s && s->current(l))
                                        s->on_connected(l, cec);
                                });
        }
    }

    void on_connected(const link_ptr& l, std::error_code ec) {
        if (ec) {
            fail(std::string(l->name) + " connection to Redis at " + endpoint_text_ + ": " + ec.message());
            return;
        }
        std::error_code ignored;
        l->socket.set_option(asio::ip::tcp::no_delay(true), ignored);
        l->socket.set_option(asio::socket_base::keep_alive(true), ignored);
        if (l == sub_)
            send(l, resp_command({"PSUBSCRIBE", pattern_}), false);
        else
            send(l, resp_command({"PING"}), false);
        read(l);
    }

    void check_up() {
        if (up_ || !sub_ || !pub_ || !sub_->ready || !pub_->ready)
            return;
        up_ = true;
        down_reported_ = false;
        deadline_.cancel();
        backoff_.reset();
        arm_ping(epoch_);
        report_state(true, "connected to Redis at " + endpoint_text_ + ", subscribed to " + pattern_);
    }

    // ---- failure, retry, stop ----

    // Closes both connections and cancels the attempt's timers; stale handlers see epoch_ or
    // the link pointers changed and do nothing.
    void close_links() {
        ++epoch_;
        up_ = false;
        std::error_code ignored;
        deadline_.cancel();
        ping_timer_.cancel();
        resolver_.cancel();
        for (link_ptr* lp : {&sub_, &pub_}) {
            if (link_ptr l = std::move(*lp)) {
                for (const auto& o : l->out)
                    if (o.is_publish)
                        ++dropped_;
                l->out.clear();
                l->socket.close(ignored);
            }
        }
    }

    void fail(const std::string& reason) {
        if (!running_)
            return;
        close_links();
        const std::uint64_t e = epoch_;
        if (!down_reported_) {
            down_reported_ = true;
            report_state(false, reason);
            if (!running_ || epoch_ != e) // the callback stopped or restarted the relay
                return;
        }
        const auto delay = backoff_.next();
        const auto delay_ms = std::chrono::duration_cast<std::chrono::milliseconds>(delay);
        if (on_retry_ && *on_retry_) {
            auto keep = shared_from_this();
            (*on_retry_)(backoff_.count(), delay_ms, reason);
            if (!running_ || epoch_ != e)
                return;
        }
        retry_timer_.expires_after(delay);
        retry_timer_.async_wait([w = weak_from_this(), e](std::error_code ec) {
            auto s = w.lock();
            if (!ec && s && s->running_ && s->epoch_ == e)
                s->connect();
        });
    }

    void report_state(bool is_up, const std::string& detail) {
        if (on_state_ && *on_state_) {
            auto keep = shared_from_this();
            (*on_state_)(is_up, detail);
        }
    }

    // ---- health check ----

    void arm_ping(std::uint64_t e) {
        if (options_.ping_interval.count() == 0)
            return;
        ping_timer_.expires_after(options_.ping_interval);
        ping_timer_.async_wait([w = weak_from_this(), e](std::error_code ec) {
            auto s = w.lock();
            if (!ec && s && s->epoch_ == e && s->up_)
                s->on_ping_timer(e);
        });
    }

    void on_ping_timer(std::uint64_t e) {
        const auto now = std::chrono::steady_clock::now();
        for (const link_ptr& l : {sub_, pub_}) {
            if (l->owed > 0 && now - l->owed_since > options_.reply_timeout) {
                fail(std::string(l->name) + " connection: no reply from Redis for " +
                     std::to_string(options_.reply_timeout.count()) + " ms");
                return;
            }
        }
        send(sub_, resp_command({"PING"}), false);
        send(pub_, resp_command({"PING"}), false);
        arm_ping(e);
    }

    // ---- writing ----

    void send(const link_ptr& l, std::string cmd, bool is_publish) {
        l->out_bytes += cmd.size();
        l->out.push_back({std::move(cmd), is_publish});
        if (l->owed++ == 0)
            l->owed_since = std::chrono::steady_clock::now();
        write(l);
    }

    void write(const link_ptr& l) {
        if (l->writing != 0 || l->out.empty())
            return;
        l->wbufs.clear();
        for (const auto& o : l->out) {
            if (l->wbufs.size() == 64)
                break;
            l->wbufs.push_back(asio::buffer(o.data));
        }
        l->writing = l->wbufs.size();
        asio::async_write(l->socket, l->wbufs, [w = weak_from_this(), l](std::error_code ec, std::size_t) {
            auto s = w.lock();
            if (!s || !s->current(l))
                return;
            if (ec) {
                s->fail(std::string(l->name) + " connection: write: " + ec.message());
                return;
            }
            for (; l->writing > 0; --l->writing) {
                l->out_bytes -= l->out.front().data.size();
                l->out.pop_front();
            }
            s->write(l);
        });
    }

    // ---- reading ----

    void read(const link_ptr& l) {
        l->socket.async_read_some(asio::buffer(l->rbuf), [w = weak_from_this(), l](std::error_code ec, std::size_t n) {
            auto s = w.lock();
            if (s && s->current(l))
                s->on_read(l, ec, n);
        });
    }

    void on_read(const link_ptr& l, std::error_code ec, std::size_t n) {
        const std::string who = std::string(l->name) + " connection: ";
        if (ec) {
            fail(who + (ec == asio::error::eof ? std::string("Redis closed the connection") : "read: " + ec.message()));
            return;
        }
        if (redisReaderFeed(l->reader, l->rbuf.data(), n) != REDIS_OK) {
            fail(who + "reply parser: " + l->reader->errstr);
            return;
        }
        l->partial += n;
        auto keep = shared_from_this(); // callbacks below may drop the owner's reference
        for (;;) {
            void* raw = nullptr;
            if (redisReaderGetReply(l->reader, &raw) != REDIS_OK) {
                fail(who + (l->reader->err == REDIS_ERR_OOM
                                ? std::string("reply over the limits (more than ") +
                                      std::to_string(resp_max_elements) + " elements) or out of memory"
                                : "malformed reply: " + std::string(l->reader->errstr)));
                return;
            }
            if (raw == nullptr)
                break;
            std::unique_ptr<resp_value> v(static_cast<resp_value*>(raw));
            l->partial = l->reader->len - l->reader->pos; // what was fed after this reply
            if (l == sub_)
                on_subscriber_reply(l, *v);
            else
                on_publisher_reply(l, *v);
            if (!current(l)) // failed, stopped or restarted meanwhile
                return;
        }
        if (l->partial > reply_limit_) {
            fail(who + "reply over the limit of " + std::to_string(reply_limit_) + " bytes");
            return;
        }
        read(l);
    }

    // A reply answers the oldest command; false if none was sent.
    bool settle(const link_ptr& l) {
        if (l->owed == 0)
            return false;
        --l->owed;
        l->owed_since = std::chrono::steady_clock::now();
        return true;
    }

    static bool is_string(const std::unique_ptr<resp_value>& v) { return v && v->type == REDIS_REPLY_STRING; }

    static std::string describe(const resp_value& v) {
        switch (v.type) {
        case REDIS_REPLY_ARRAY: return "an array of " + std::to_string(v.elements.size());
        case REDIS_REPLY_INTEGER: return "the integer " + std::to_string(v.integer);
        case REDIS_REPLY_NIL: return "nil";
        case REDIS_REPLY_STATUS: return "the status '" + v.str.substr(0, 64) + "'";
        default: return "a string of " + std::to_string(v.str.size()) + " bytes";
        }
    }

    void on_subscriber_reply(const link_ptr& l, const resp_value& v) {
        if (v.type == REDIS_REPLY_ERROR) {
            fail("subscriber connection: Redis error: " + v.str.substr(0, 200));
            return;
        }
        if (v.type == REDIS_REPLY_ARRAY && !v.elements.empty() && is_string(v.elements[0])) {
            const std::string& kind = v.elements[0]->str;
            if (kind == "pmessage" && v.elements.size() == 4 && is_string(v.elements[2]) && is_string(v.elements[3]) &&
                l->ready) {
                on_pmessage(v.elements[2]->str, v.elements[3]->str);
                return;
            }
            if (kind == "psubscribe" && v.elements.size() == 3 && !l->ready && settle(l)) {
                l->ready = true;
                check_up();
                return;
            }
            if (kind == "pong" && l->ready && settle(l))
                return;
        }
        fail("subscriber connection: unexpected reply from Redis: " + describe(v));
    }

    void on_publisher_reply(const link_ptr& l, const resp_value& v) {
        if (v.type == REDIS_REPLY_ERROR) {
            fail("publisher connection: Redis error: " + v.str.substr(0, 200));
            return;
        }
        if (v.type == REDIS_REPLY_INTEGER && l->ready && settle(l))
            return; // a PUBLISH's receiver count
        if (v.type == REDIS_REPLY_STATUS && v.str == "PONG" && settle(l)) {
            if (!l->ready) {
                l->ready = true;
                check_up();
            }
            return;
        }
        fail("publisher connection: unexpected reply from Redis: " + describe(v));
    }

    void on_pmessage(const std::string& channel, const std::string& message) {
        if (channel.compare(0, prefix_.size(), prefix_) != 0 || message.size() < id_space_.size() ||
            message[id_space_.size() - 1] != ' ') {
            ++ignored_; // not in the relay's format
            return;
        }
        if (message.compare(0, id_.size(), id_) == 0) {
            ++own_echoes_;
            return;
        }
        ++received_;
        if (on_message_ && *on_message_) {
            const std::string_view room = std::string_view(channel).substr(prefix_.size());
            const std::string_view payload = std::string_view(message).substr(id_space_.size());
            (*on_message_)(room, payload);
        }
    }

    asio::any_io_executor ex_;
    std::string host_;
    unsigned short port_;
    std::string prefix_;
    redis_relay_options options_;
    duplex::backoff backoff_;
    asio::ip::tcp::resolver resolver_;
    asio::steady_timer deadline_;    // connect_timeout of the attempt in progress
    asio::steady_timer retry_timer_; // backoff delay
    asio::steady_timer ping_timer_;  // health check while up
    std::string id_;
    std::string id_space_; // id_ + ' ', the message prefix
    std::string pattern_;
    std::string endpoint_text_;
    std::size_t reply_limit_ = 0;

    link_ptr sub_;
    link_ptr pub_;
    std::uint64_t epoch_ = 0; // bumped whenever the links are closed or an attempt starts
    bool running_ = false;
    bool up_ = false;
    bool down_reported_ = false; // on_state(false) sent for the current outage

    std::uint64_t dropped_ = 0;
    std::uint64_t published_ = 0;
    std::uint64_t received_ = 0;
    std::uint64_t own_echoes_ = 0;
    std::uint64_t ignored_ = 0;

    const message_fn* on_message_ = nullptr;
    const state_fn* on_state_ = nullptr;
    const retry_fn* on_retry_ = nullptr;
};

} // namespace detail

/// Relays chat messages between server instances through Redis Pub/Sub (see the top of this
/// file). Not copyable or movable; all calls on the executor given here.
class redis_relay {
public:
    /// Throws std::invalid_argument for an empty host, port 0 or inconsistent options.
    redis_relay(asio::any_io_executor ex, std::string host, unsigned short port,
                std::string channel_prefix = "duplex-chat:", redis_relay_options options = {})
        : state_(std::make_shared<detail::relay_state>(std::move(ex), std::move(host), port,
                                                       std::move(channel_prefix), std::move(options))) {
        state_->attach(&on_message, &on_state, &on_retry);
    }

    ~redis_relay() {
        state_->detach();
        state_->stop();
    }

    redis_relay(const redis_relay&) = delete;
    redis_relay& operator=(const redis_relay&) = delete;

    /// Connects; reconnects with backoff while running. No effect while running.
    void start() { state_->start(); }
    /// Closes both connections and cancels the timers; reports nothing. start() may follow.
    void stop() { state_->stop(); }

    /// Sends to the other instances. Dropped (counted in dropped()) while down, when over the
    /// room or payload limits, or when the outgoing queue is full.
    void publish(std::string_view room, std::string_view payload) { state_->publish(room, payload); }

    /// Another instance's message, on the executor.
    std::function<void(std::string_view room, std::string_view payload)> on_message;
    /// The link went up (both connections ready, subscription confirmed) or down (once per
    /// outage, with the reason), for logging.
    std::function<void(bool up, std::string_view detail)> on_state;
    /// A reconnection attempt is scheduled: its number in this outage (from 1), the delay before
    /// it, and the failure that led to it.
    std::function<void(unsigned attempt, std::chrono::milliseconds delay, std::string_view reason)> on_retry;

    bool up() const noexcept { return state_->up(); }
    bool running() const noexcept { return state_->running(); }
    /// publish() calls discarded (while down, over a limit, queue full, unsent when a link failed).
    std::uint64_t dropped() const noexcept { return state_->dropped(); }
    /// publish() calls handed to the publisher connection.
    std::uint64_t published() const noexcept { return state_->published(); }
    /// Messages from other instances passed to on_message.
    std::uint64_t received() const noexcept { return state_->received(); }
    /// This instance's own messages, back from Redis and ignored.
    std::uint64_t own_echoes() const noexcept { return state_->own_echoes(); }
    /// Messages on the relay's channels not in its format, ignored.
    std::uint64_t ignored() const noexcept { return state_->ignored(); }
    /// The random 16-hex-digit id carried by this instance's messages.
    const std::string& instance_id() const noexcept { return state_->id(); }
    /// The largest reply accepted from Redis, in bytes.
    std::size_t reply_limit() const noexcept { return state_->reply_limit(); }
    const redis_relay_options& options() const noexcept { return state_->options(); }

private:
    std::shared_ptr<detail::relay_state> state_;
};

} // namespace chat
