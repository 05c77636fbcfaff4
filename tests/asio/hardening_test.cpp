// Hardening: hostile sizes rejected at their limits without allocating past them, slowloris
// clients dropped at the handshake timeout while a normal client still gets through, and
// connection churn that leaves memory where it started. Counts heap bytes by replacing the
// global operator new, so it is a binary of its own.
#include "echo_fixture.hpp"

#include <duplex/core/engine.hpp>
#include <duplex/core/http.hpp>

#include <asio/detached.hpp>
#include <asio/read.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <new>
#include <string>
#include <vector>

// ---- Heap accounting: bytes currently allocated, and the peak since reset_peak(). ----
namespace {
std::atomic<long long> live_bytes{0};
std::atomic<long long> peak_bytes{0};

void* tracked(std::size_t n) {
    void* p = std::malloc(n + 16);
    if (!p)
        throw std::bad_alloc();
    *static_cast<std::size_t*>(p) = n;
    const long long now = live_bytes += static_cast<long long>(n);
    long long peak = peak_bytes;
    while (now > peak && !peak_bytes.compare_exchange_weak(peak, now)) {
    }
    return static_cast<char*>(p) + 16;
}
void untracked(void* p) {
    if (!p)
        return;
    void* base = static_cast<char*>(p) - 16;
    live_bytes -= static_cast<long long>(*static_cast<std::size_t*>(base));
    std::free(base);
}
void reset_peak() { peak_bytes = live_bytes.load(); }
} // namespace

void* operator new(std::size_t n) { return tracked(n); }
void* operator new[](std::size_t n) { return tracked(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
    try {
        return tracked(n);
    } catch (...) {
        return nullptr;
    }
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
void operator delete(void* p) noexcept { untracked(p); }
void operator delete[](void* p) noexcept { untracked(p); }
void operator delete(void* p, std::size_t) noexcept { untracked(p); }
void operator delete[](void* p, std::size_t) noexcept { untracked(p); }

#if defined(__SANITIZE_ADDRESS__)
#define DUPLEX_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DUPLEX_TEST_ASAN 1
#endif
#endif
#ifdef DUPLEX_TEST_ASAN
constexpr bool rss_is_meaningful = false;
#else
constexpr bool rss_is_meaningful = true;
#endif

using namespace echo_fixture;
using namespace std::chrono_literals;
using bytes = std::vector<unsigned char>;

namespace {

// A masked client frame header (the payload, if any, is appended by the caller, masked with a
// zero key so it reads as itself).
bytes header(unsigned char b0, unsigned long long length) {
    bytes h = {b0};
    if (length < 126) {
        h.push_back(static_cast<unsigned char>(0x80 | length));
    } else if (length <= 0xFFFF) {
        h.push_back(0x80 | 126);
        h.push_back(static_cast<unsigned char>(length >> 8));
        h.push_back(static_cast<unsigned char>(length));
    } else {
        h.push_back(0x80 | 127);
        for (int i = 7; i >= 0; --i)
            h.push_back(static_cast<unsigned char>(length >> (8 * i)));
    }
    h.insert(h.end(), {0, 0, 0, 0});
    return h;
}

std::error_code feed(duplex::server_engine& e, bytes data) {
    std::error_code ec;
    std::size_t used = 0;
    while (used < data.size() && !ec) {
        duplex::event ev;
        used += e.read(data.data() + used, data.size() - used, ev, ec);
    }
    return ec;
}

long rss_kib() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("VmRSS:", 0) == 0)
            return std::atol(line.c_str() + 6);
    return -1;
}

} // namespace

TEST_CASE("hardening: a 2^63-1 byte frame header is refused at once, allocating nothing for it") {
    duplex::server_engine e;
    reset_peak();
    const long long before = live_bytes;
    const std::error_code ec = feed(e, header(0x82, 0x7FFFFFFFFFFFFFFFull));
    CHECK(ec == duplex::error::frame_too_big);
    CHECK(e.sent_close_code() == duplex::close_code::message_too_big);
    CHECK(peak_bytes - before < 64 * 1024); // the close frame's queue block, nothing like 2^63
}

TEST_CASE("hardening: a 1 GB message in 1 MiB frames is refused at the 16 MiB limit") {
    duplex::server_engine e;
    const bytes chunk(1 << 20, 'g');
    reset_peak();
    const long long before = live_bytes;
    std::error_code ec;
    std::size_t sent = 0;
    for (int i = 0; i < 1024 && !ec; ++i) { // 1024 frames of 1 MiB: a gigabyte, if allowed
        bytes frame = header(i == 0 ? 0x02 : 0x00, chunk.size());
        frame.insert(frame.end(), chunk.begin(), chunk.end());
        ec = feed(e, std::move(frame));
        sent += chunk.size();
    }
    CHECK(ec == duplex::error::message_too_big);
    CHECK(sent <= 17u << 20); // refused at the 17th frame's header
    // Reassembly holds at most the limit (with the vector's growth), never the gigabyte.
    CHECK(peak_bytes - before < 40ll << 20);
}

TEST_CASE("hardening: 10000 one-byte fragments reassemble in bounded memory, and fail at a small limit") {
    bytes stream;
    for (int i = 0; i < 10000; ++i) {
        bytes f = header(i == 0 ? 0x01 : (i == 9999 ? 0x80 : 0x00), 1);
        f.push_back('f');
        stream.insert(stream.end(), f.begin(), f.end());
    }
    {
        duplex::server_engine e;
        reset_peak();
        const long long before = live_bytes;
        std::error_code ec;
        std::size_t used = 0;
        std::size_t delivered = 0;
        while (used < stream.size() && !ec) {
            duplex::event ev;
            used += e.read(stream.data() + used, stream.size() - used, ev, ec);
            if (ev.type == duplex::event_type::message)
                delivered = ev.data.size();
        }
        CHECK_FALSE(ec);
        CHECK(delivered == 10000);
        CHECK(peak_bytes - before < 64 * 1024); // no per-fragment bookkeeping
    }
    duplex::engine_options small;
    small.max_message_size = 5000;
    duplex::server_engine limited(small);
    CHECK(feed(limited, stream) == duplex::error::message_too_big);
}

TEST_CASE("hardening: a 16 MiB frame's header reserves nothing - the read buffer grows as bytes arrive") {
    echo_server server(1);
    asio::io_context io;
    tcp::socket s(io);
    s.connect(loopback(server.port()));
    const std::string request = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    asio::write(s, asio::buffer(request));
    std::string response;
    while (response.find("\r\n\r\n") == std::string::npos) {
        char c;
        asio::read(s, asio::buffer(&c, 1));
        response += c;
    }
    REQUIRE(response.rfind("HTTP/1.1 101", 0) == 0);
    std::this_thread::sleep_for(100ms); // the server settles after the handshake
    const long long before = live_bytes;

    constexpr std::size_t size = 16u << 20; // the default max_message_size
    bytes start = header(0x82, size);
    start.insert(start.end(), 1000, 'x');
    asio::write(s, asio::buffer(start));
    std::this_thread::sleep_for(300ms);
    // One pooled read block at most: nothing sized by what the header claims.
    CHECK(live_bytes - before < 256 * 1024);

    bytes rest(size - 1000);
    for (std::size_t i = 0; i < rest.size(); ++i)
        rest[i] = static_cast<unsigned char>(i * 7);
    bytes echoed(size);
    unsigned char echo_header[10];
    const long long test_buffers = live_bytes - before;
    reset_peak();
    std::thread writer([&] { asio::write(s, asio::buffer(rest)); });
    asio::read(s, asio::buffer(echo_header));
    asio::read(s, asio::buffer(echoed));
    writer.join();
    CHECK(echo_header[0] == 0x82);
    CHECK(echo_header[1] == 127);
    unsigned long long length = 0;
    for (int i = 2; i < 10; ++i)
        length = length << 8 | echo_header[i];
    CHECK(length == size);
    CHECK(std::equal(echoed.begin(), echoed.begin() + 1000, start.end() - 1000));
    CHECK(std::equal(echoed.begin() + 1000, echoed.end(), rest.begin()));
    // The server's peak: the message whole in the read buffer, one growth step in flight and
    // its echo in the send queue: a small multiple of the message, not of what a header claims.
    CHECK(peak_bytes - before - test_buffers < 40ll << 20);
    s.close();
    server.stop();
}

TEST_CASE("hardening: a 1 MB request head is refused at 8 KiB, buffering no more") {
    std::string head = "GET / HTTP/1.1\r\nHost: h\r\nX-Pad: " + std::string(1 << 20, 'p') + "\r\n\r\n";
    duplex::http_parser parser;
    reset_peak();
    const long long before = live_bytes;
    std::error_code ec;
    parser.feed(head.data(), head.size(), ec);
    CHECK(ec == duplex::error::http_head_too_large);
    CHECK(parser.buffered() <= 8 * 1024);
    CHECK(peak_bytes - before <= 16 * 1024);
}

TEST_CASE("hardening: slowloris clients are dropped at the handshake timeout - others still get in") {
    duplex::asio::stream_options options;
    options.handshake_timeout = 1500ms;
    echo_server server(2, options);
    asio::io_context io;
    constexpr int slow_clients = 500;
    const std::string request = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    std::atomic<int> dropped{0};
    std::vector<std::unique_ptr<tcp::socket>> sockets;
    for (int i = 0; i < slow_clients; ++i) {
        sockets.push_back(std::make_unique<tcp::socket>(io));
        asio::co_spawn(
            io,
            [&, s = sockets.back().get()]() -> asio::awaitable<void> {
                co_await s->async_connect(loopback(server.port()), asio::use_awaitable);
                asio::steady_timer t(io);
                // One byte every 100 ms: the whole request would take about 15 s.
                for (std::size_t i = 0; i < request.size(); ++i) {
                    std::error_code ec;
                    co_await asio::async_write(*s, asio::buffer(&request[i], 1), asio::redirect_error(asio::use_awaitable, ec));
                    if (ec)
                        break;
                    t.expires_after(100ms);
                    co_await t.async_wait(asio::use_awaitable);
                    if (s->available(ec) > 0 || ec) // the server answered (an error) or hung up
                        break;
                }
                char c;
                std::error_code ec;
                co_await s->async_read_some(asio::buffer(&c, 1), asio::redirect_error(asio::use_awaitable, ec));
                if (ec == asio::error::eof || ec == asio::error::connection_reset)
                    ++dropped;
            },
            asio::detached);
    }
    // Meanwhile a normal client connects and echoes.
    bool echoed = false;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            asio::steady_timer t(io);
            t.expires_after(300ms); // while every slow client is connected
            co_await t.async_wait(asio::use_awaitable);
            ws_stream ws(io);
            co_await connect(ws, server.port());
            co_await ws.async_write_text("still served", asio::use_awaitable);
            const duplex::message m = co_await ws.async_read(asio::use_awaitable);
            echoed = m.data == "still served";
            co_await ws.async_close(close_code::normal, "", asio::use_awaitable);
        },
        asio::detached);
    const auto start = std::chrono::steady_clock::now();
    io.run_for(20s);
    const auto took = std::chrono::steady_clock::now() - start;
    CHECK(echoed);
    CHECK(dropped == slow_clients);
    CHECK(took < 10s); // dropped at about 1.5 s, long before their requests could finish
    server.stop();
}

TEST_CASE("hardening: 20000 connect-echo-close cycles leave memory where it started") {
    echo_server server(1);
    auto cycles = [&](int n) {
        asio::io_context io;
        int ok = 0;
        asio::co_spawn(
            io,
            [&]() -> asio::awaitable<void> {
                for (int i = 0; i < n; ++i) {
                    ws_stream ws(io);
                    co_await connect(ws, server.port());
                    co_await ws.async_write_text("churn", asio::use_awaitable);
                    const duplex::message m = co_await ws.async_read(asio::use_awaitable);
                    ok += m.data == "churn";
                    co_await ws.async_close(close_code::normal, "", asio::use_awaitable);
                }
            },
            asio::detached);
        io.run();
        return ok;
    };
    CHECK(cycles(1000) == 1000); // warm up: pools, caches, the allocator's arenas
    const long long heap_before = live_bytes;
    const long rss_before = rss_kib();
    CHECK(cycles(20000) == 20000);
    // Let the server finish closing the last connections.
    for (int i = 0; i < 100 && live_bytes > heap_before + (64 << 10); ++i)
        std::this_thread::sleep_for(20ms);
    const long long heap_growth = live_bytes - heap_before;
    const long rss_growth = rss_kib() - rss_before;
    WARN("after 20000 cycles: heap growth " << heap_growth << " bytes, RSS growth " << rss_growth << " KiB");
    CHECK(heap_growth < 256 * 1024);
    if (rss_is_meaningful) // ASan's quarantine keeps freed memory resident on purpose
        CHECK(rss_growth < 4 * 1024);
    server.stop();
}
