// Tests for include/duplex/core/engine.hpp: the steady state of a connection allocates nothing.
//
// This file replaces the global operator new and delete (every overload, aligned ones included)
// with versions that count allocations while g_counting is on. The replacement is global, so it
// serves every test linked into the same binary: it only counts, it changes nothing else, and
// g_counting is on only around the engine calls measured here.
#include <duplex/core/engine.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string_view>
#include <system_error>
#include <vector>

#if defined(__GLIBC__) && defined(__has_include)
#if __has_include(<execinfo.h>)
#include <execinfo.h>
#define DUPLEX_ALLOC_TEST_BACKTRACE 1
#endif
#endif

namespace {

std::atomic<bool> g_counting{false};
std::atomic<std::size_t> g_allocations{0};

#ifdef DUPLEX_ALLOC_TEST_BACKTRACE
// The call stacks of the first few counted allocations, printed when a test finds any.
constexpr int max_frames = 24;
constexpr std::size_t max_traces = 4;
void* g_traces[max_traces][max_frames];
int g_trace_depth[max_traces];
#endif

void note_allocation() noexcept {
    if (!g_counting.load(std::memory_order_relaxed))
        return;
    const std::size_t n = g_allocations.fetch_add(1, std::memory_order_relaxed);
#ifdef DUPLEX_ALLOC_TEST_BACKTRACE
    if (n < max_traces)
        g_trace_depth[n] = backtrace(g_traces[n], max_frames); // malloc-free once warmed up
#else
    (void)n;
#endif
}

void* plain_alloc(std::size_t n) noexcept { return std::malloc(n == 0 ? 1 : n); }

// Over-aligned blocks: malloc more, align inside, and keep malloc's pointer just before.
void* aligned_alloc_impl(std::size_t n, std::align_val_t al) noexcept {
    const std::size_t align = static_cast<std::size_t>(al) < alignof(void*) ? alignof(void*)
                                                                             : static_cast<std::size_t>(al);
    void* raw = std::malloc(n + align + sizeof(void*));
    if (!raw)
        return nullptr;
    const auto base = reinterpret_cast<std::uintptr_t>(raw) + sizeof(void*);
    const std::uintptr_t aligned = (base + align - 1) & ~static_cast<std::uintptr_t>(align - 1);
    reinterpret_cast<void**>(aligned)[-1] = raw;
    return reinterpret_cast<void*>(aligned);
}

void aligned_free_impl(void* p) noexcept {
    if (p)
        std::free(reinterpret_cast<void**>(p)[-1]);
}

} // namespace

void* operator new(std::size_t n) {
    note_allocation();
    if (void* p = plain_alloc(n))
        return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
    note_allocation();
    if (void* p = plain_alloc(n))
        return p;
    throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
    note_allocation();
    return plain_alloc(n);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
    note_allocation();
    return plain_alloc(n);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

void* operator new(std::size_t n, std::align_val_t al) {
    note_allocation();
    if (void* p = aligned_alloc_impl(n, al))
        return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t al) {
    note_allocation();
    if (void* p = aligned_alloc_impl(n, al))
        return p;
    throw std::bad_alloc();
}
void* operator new(std::size_t n, std::align_val_t al, const std::nothrow_t&) noexcept {
    note_allocation();
    return aligned_alloc_impl(n, al);
}
void* operator new[](std::size_t n, std::align_val_t al, const std::nothrow_t&) noexcept {
    note_allocation();
    return aligned_alloc_impl(n, al);
}
void operator delete(void* p, std::align_val_t) noexcept { aligned_free_impl(p); }
void operator delete[](void* p, std::align_val_t) noexcept { aligned_free_impl(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { aligned_free_impl(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { aligned_free_impl(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { aligned_free_impl(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { aligned_free_impl(p); }

namespace {

// Counts the allocations `f` makes into `total`.
template <class F>
void counted(std::size_t& total, F&& f) {
    const std::size_t before = g_allocations.load();
    g_counting.store(true);
    f();
    g_counting.store(false);
    total += g_allocations.load() - before;
}

// True if the replacement above is the operator new in effect (a sanitizer runtime could, in
// principle, keep its own). Calls the function directly: a new-expression may be elided.
bool counting_works() {
#ifdef DUPLEX_ALLOC_TEST_BACKTRACE
    void* warm[4];
    backtrace(warm, 4); // the first call loads the unwinder, which allocates
#endif
    std::size_t n = 0;
    counted(n, [] {
        void* volatile p = ::operator new(16);
        ::operator delete(p);
    });
    g_allocations.store(0);
    return n == 1;
}

void print_traces(const char* what, std::size_t count) {
    std::fprintf(stderr, "%s: %zu allocation(s); call stacks of the first ones:\n", what, count);
#ifdef DUPLEX_ALLOC_TEST_BACKTRACE
    for (std::size_t i = 0; i < count && i < max_traces; ++i) {
        std::fprintf(stderr, "-- allocation %zu\n", i + 1);
        backtrace_symbols_fd(g_traces[i], g_trace_depth[i], 2);
    }
    std::fprintf(stderr, "(resolve the +0x offsets with: addr2line -f -C -i -e <test binary> <offsets>)\n");
#endif
}

using bytes = std::vector<unsigned char>;

// One direction of the in-memory pipe: the writer's output is appended here, the reader reads
// it. Its capacity is reserved up front, so the pipe itself never allocates.
struct pipe_buffer {
    bytes data;
    std::size_t size = 0;
    pipe_buffer() { data.resize(64 * 1024); }
};

template <class Engine>
void drain(Engine& e, pipe_buffer& to, std::size_t& allocs) {
    while (e.wants_write()) {
        duplex::const_buffer bufs[8];
        std::size_t n = 0;
        counted(allocs, [&] { n = e.output(bufs, 8); });
        std::size_t total = 0;
        for (std::size_t i = 0; i < n; ++i) {
            if (to.size + bufs[i].size > to.data.size())
                FAIL("the test's pipe buffer is too small");
            std::memcpy(to.data.data() + to.size, bufs[i].data, bufs[i].size);
            to.size += bufs[i].size;
            total += bufs[i].size;
        }
        counted(allocs, [&] { e.consume(total); });
    }
}

// What a side saw in one read of the pipe.
struct seen {
    std::size_t messages = 0;
    std::size_t pongs = 0;
    std::size_t others = 0;
    bool text = false;
    std::string_view data;
};

template <class Engine>
seen read_all(Engine& e, pipe_buffer& from, std::size_t& allocs, std::error_code& ec) {
    seen s;
    std::size_t off = 0;
    while (off < from.size && !ec) {
        duplex::event ev;
        std::size_t n = 0;
        counted(allocs, [&] { n = e.read(from.data.data() + off, from.size - off, ev, ec); });
        off += n;
        if (ev.type == duplex::event_type::message) {
            ++s.messages;
            s.text = ev.is_text();
            s.data = ev.data;
        } else if (ev.type == duplex::event_type::pong) {
            ++s.pongs;
        } else if (ev) {
            ++s.others;
        }
    }
    from.size = 0;
    return s;
}

struct counts {
    std::size_t client_send = 0, client_read = 0, server_send = 0, server_read = 0;
    std::size_t failures = 0; // round trips that did not echo the message intact
};

// Client sends message k (text if k is even), the server echoes it, the client reads the echo.
// Every 50th round trip the client also pings, and reads the server's automatic pong.
void round_trip(duplex::client_engine& client, duplex::server_engine& server, pipe_buffer& c2s,
                pipe_buffer& s2c, const bytes& text_src, const bytes& binary_src, std::size_t k,
                std::size_t size, counts& c) {
    const bool text = k % 2 == 0;
    const bool ping = k % 50 == 0;
    const bytes& src = text ? text_src : binary_src;
    std::error_code ec;
    counted(c.client_send, [&] {
        if (text)
            client.send_text(std::string_view(reinterpret_cast<const char*>(src.data()), size), ec);
        else
            client.send_binary(src.data(), size, ec);
        if (ping && !ec)
            client.ping("hb", 2, ec);
    });
    c.failures += ec ? 1 : 0;
    drain(client, c2s, c.client_send);

    const seen at_server = read_all(server, c2s, c.server_read, ec);
    c.failures += ec || at_server.messages != 1 || at_server.text != text || at_server.data.size() != size ||
                  (size && std::memcmp(at_server.data.data(), src.data(), size) != 0);
    counted(c.server_send, [&] {
        if (at_server.text)
            server.send_text(at_server.data, ec);
        else
            server.send_binary(at_server.data.data(), at_server.data.size(), ec);
    });
    c.failures += ec ? 1 : 0;
    drain(server, s2c, c.server_send);

    const seen at_client = read_all(client, s2c, c.client_read, ec);
    c.failures += ec || at_client.messages != 1 || at_client.pongs != (ping ? 1u : 0u) ||
                  at_client.text != text || at_client.data.size() != size ||
                  (size && std::memcmp(at_client.data.data(), src.data(), size) != 0);
}

} // namespace

TEST_CASE("engine alloc: 10,000 echoed messages of 0-4096 bytes allocate nothing once warmed up") {
    if (!counting_works()) {
        WARN("the replacement operator new is not in effect in this build (a sanitizer runtime may "
             "provide its own); allocation counting is skipped here and runs in the plain build");
        return;
    }

    bytes text_src(4096), binary_src(4096);
    for (std::size_t i = 0; i < 4096; ++i) {
        text_src[i] = static_cast<unsigned char>('a' + (i * 7) % 26); // ASCII: valid UTF-8
        binary_src[i] = static_cast<unsigned char>(i * 131 + 17);
    }

    duplex::client_engine client;
    duplex::server_engine server;
    pipe_buffer c2s, s2c;

    // Warm-up: the largest messages of both types first, so every buffer reaches its final size,
    // then a few hundred of all sizes.
    counts warm;
    round_trip(client, server, c2s, s2c, text_src, binary_src, 0, 4096, warm);
    round_trip(client, server, c2s, s2c, text_src, binary_src, 1, 4096, warm);
    for (std::size_t k = 2; k < 400; ++k)
        round_trip(client, server, c2s, s2c, text_src, binary_src, k, (k * 97 + 13) % 4097, warm);
    REQUIRE(warm.failures == 0);

    // Measured: sizes (k * 97 + 13) mod 4097 visit every size from 0 to 4096 (97 and 4097 are
    // coprime), text and binary alike.
    g_allocations.store(0);
    counts c;
    for (std::size_t k = 400; k < 10400; ++k)
        round_trip(client, server, c2s, s2c, text_src, binary_src, k, (k * 97 + 13) % 4097, c);

    CHECK(c.failures == 0);
    if (c.client_read + c.server_read + c.client_send + c.server_send > 0)
        print_traces("engine alloc: steady state", c.client_read + c.server_read + c.client_send + c.server_send);
    CHECK(c.server_read == 0);
    CHECK(c.client_read == 0);
    CHECK(c.client_send == 0); // send_text/send_binary/ping, output() and consume()
    CHECK(c.server_send == 0); // send_text/send_binary, the automatic pong, output() and consume()
    CHECK(client.state() == duplex::connection_state::open);
    CHECK(server.state() == duplex::connection_state::open);
}

TEST_CASE("engine alloc: reassembling fragmented messages reuses its buffer once warmed up") {
    if (!counting_works()) {
        WARN("the replacement operator new is not in effect in this build; counting skipped");
        return;
    }
    bytes text_src(4096), binary_src(4096);
    for (std::size_t i = 0; i < 4096; ++i) {
        text_src[i] = static_cast<unsigned char>('A' + (i * 5) % 26);
        binary_src[i] = static_cast<unsigned char>(i * 29);
    }
    duplex::engine_options options;
    options.fragment_size = 700; // both sides send messages over 700 bytes in several frames
    duplex::client_engine client(options);
    duplex::server_engine server(options);
    pipe_buffer c2s, s2c;

    counts warm;
    round_trip(client, server, c2s, s2c, text_src, binary_src, 0, 4096, warm);
    round_trip(client, server, c2s, s2c, text_src, binary_src, 1, 4096, warm);
    for (std::size_t k = 2; k < 300; ++k)
        round_trip(client, server, c2s, s2c, text_src, binary_src, k, (k * 97 + 13) % 4097, warm);
    REQUIRE(warm.failures == 0);

    g_allocations.store(0);
    counts c;
    for (std::size_t k = 300; k < 2300; ++k)
        round_trip(client, server, c2s, s2c, text_src, binary_src, k, (k * 97 + 13) % 4097, c);
    CHECK(c.failures == 0);
    if (c.client_read + c.server_read + c.client_send + c.server_send > 0)
        print_traces("engine alloc: fragmented", c.client_read + c.server_read + c.client_send + c.server_send);
    CHECK(c.server_read == 0);
    CHECK(c.client_read == 0);
    CHECK(c.client_send == 0);
    CHECK(c.server_send == 0);
}

TEST_CASE("engine alloc: the counting operator new sees allocations, and only while counting") {
    if (!counting_works()) {
        WARN("the replacement operator new is not in effect in this build; counting skipped");
        return;
    }
    // Direct calls: a new-expression's allocation may be elided by the optimizer.
    std::size_t n = 0;
    bool aligned = false;
    counted(n, [&] {
        void* volatile a = ::operator new(10);
        void* volatile b = ::operator new[](20, std::nothrow);
        void* volatile c = ::operator new(64, std::align_val_t{64});
        aligned = reinterpret_cast<std::uintptr_t>(static_cast<void*>(c)) % 64 == 0;
        ::operator delete(a);
        ::operator delete[](b);
        ::operator delete(c, std::align_val_t{64});
    });
    CHECK(n == 3);
    CHECK(aligned);
    const std::size_t before = g_allocations.load();
    void* volatile d = ::operator new(10);
    ::operator delete(d);
    CHECK(g_allocations.load() == before);
}
