// Test helpers: two engines joined by an in-memory pipe, with control over how the bytes are
// cut into reads, and the events each side saw, copied out.
#pragma once

#include <duplex/core/engine.hpp>

#include <catch2/catch.hpp>

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace engine_pipe {

using bytes = std::vector<unsigned char>;

struct received {
    duplex::event_type type;
    duplex::opcode op;
    std::string data;
    duplex::close_code code;
    bool last;
};

inline bool operator==(const received& a, const received& b) {
    return a.type == b.type && a.op == b.op && a.data == b.data && a.code == b.code && a.last == b.last;
}

inline received message(duplex::opcode op, std::string data) {
    return {duplex::event_type::message, op, std::move(data), duplex::close_code::no_status, true};
}
inline received text(std::string data) { return message(duplex::opcode::text, std::move(data)); }
inline received binary(std::string data) { return message(duplex::opcode::binary, std::move(data)); }
inline received ping(std::string data) {
    return {duplex::event_type::ping, duplex::opcode::text, std::move(data), duplex::close_code::no_status, true};
}
inline received pong(std::string data) {
    return {duplex::event_type::pong, duplex::opcode::text, std::move(data), duplex::close_code::no_status, true};
}
inline received closed(duplex::close_code code, std::string reason = "") {
    return {duplex::event_type::close, duplex::opcode::text, std::move(reason), code, true};
}

// Takes everything `from` has queued, as one byte string (and tells it all was written).
template <class Engine>
bytes take_output(Engine& from) {
    bytes wire;
    std::vector<duplex::const_buffer> buffers(from.output(nullptr, 0) + 64);
    for (;;) {
        const std::size_t n = from.output(buffers.data(), buffers.size());
        if (n == 0)
            break;
        std::size_t total = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const auto* p = static_cast<const unsigned char*>(buffers[i].data);
            wire.insert(wire.end(), p, p + buffers[i].size);
            total += buffers[i].size;
        }
        from.consume(total);
    }
    return wire;
}

// How to cut a byte string into reads: the size of the next read given the bytes left.
using chunker = std::function<std::size_t(std::size_t left)>;
inline chunker whole() {
    return [](std::size_t left) { return left; };
}
inline chunker every(std::size_t n) {
    return [n](std::size_t left) { return left < n ? left : n; };
}

struct read_result {
    std::vector<received> events;
    std::error_code ec;
};

// Feeds `wire` to `to` in reads cut by `cut`, each read copied into its own buffer (as a socket
// read would fill one), collecting events until the bytes run out or an error.
template <class Engine>
read_result feed(Engine& to, const bytes& wire, const chunker& cut = whole()) {
    read_result r;
    std::size_t pos = 0;
    while (pos < wire.size()) {
        const std::size_t n = cut(wire.size() - pos);
        bytes chunk(wire.begin() + static_cast<std::ptrdiff_t>(pos),
                    wire.begin() + static_cast<std::ptrdiff_t>(pos + n));
        pos += n;
        std::size_t used = 0;
        while (used < chunk.size()) {
            duplex::event ev;
            used += to.read(chunk.data() + used, chunk.size() - used, ev, r.ec);
            if (ev)
                r.events.push_back({ev.type, ev.op, std::string(ev.data), ev.code, ev.last});
            if (r.ec)
                return r;
        }
    }
    return r;
}

// Moves what `from` queued to `to`.
template <class From, class To>
read_result transfer(From& from, To& to, const chunker& cut = whole()) {
    return feed(to, take_output(from), cut);
}

} // namespace engine_pipe
