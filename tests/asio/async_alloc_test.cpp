// Counts heap allocations in the Asio stream's steady state: an echo over a real TCP socket,
// client and server on one io_context, callbacks. Replaces the global operator new, so it is
// a binary of its own.
#include <duplex/asio.hpp>

#include <asio/ip/tcp.hpp>
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <functional>
#include <new>
#include <string>

namespace {
std::atomic<bool> counting{false};
std::atomic<long> allocations{0};

void* counted(std::size_t n) {
    if (counting)
        ++allocations;
    if (void* p = std::malloc(n ? n : 1))
        return p;
    throw std::bad_alloc();
}
} // namespace

void* operator new(std::size_t n) { return counted(n); }
void* operator new[](std::size_t n) { return counted(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return counting ? (++allocations, std::malloc(n ? n : 1)) : std::malloc(n ? n : 1); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return operator new(n, std::nothrow); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

using asio::ip::tcp;

TEST_CASE("asio alloc: an echo round trip allocates nothing once warmed up") {
    asio::io_context io(1);
    tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
    duplex::asio::stream<tcp::socket> server(io), client(io);
    const std::string payload(200, 'p');
    constexpr int warm_up = 300, measured = 3000;
    int round = 0;
    long during = -1;

    // Server: read, echo (borrowing the read buffer), read again.
    std::function<void()> serve = [&] {
        server.async_read([&](std::error_code ec, duplex::message m) {
            if (ec)
                return;
            server.async_write(m.op, m.data.data(), m.data.size(), [&](std::error_code ec) {
                if (!ec)
                    serve();
            });
        });
    };
    // Client: write, read the echo, repeat; count allocations over the measured rounds.
    std::function<void()> ping_pong = [&] {
        if (round == warm_up) {
            allocations = 0;
            counting = true;
        }
        if (round == warm_up + measured) {
            counting = false;
            during = allocations;
            client.async_close(duplex::close_code::normal, "", [](std::error_code) {});
            return;
        }
        ++round;
        client.async_write_text(payload, [&](std::error_code ec) { REQUIRE_FALSE(ec); });
        client.async_read([&](std::error_code ec, duplex::message m) {
            REQUIRE_FALSE(ec);
            CHECK(m.data.size() == payload.size());
            ping_pong();
        });
    };
    acceptor.async_accept(server.next_layer(), [&](std::error_code ec) {
        REQUIRE_FALSE(ec);
        server.async_accept([&](std::error_code ec) {
            REQUIRE_FALSE(ec);
            serve();
        });
    });
    client.next_layer().async_connect(acceptor.local_endpoint(), [&](std::error_code ec) {
        REQUIRE_FALSE(ec);
        client.async_handshake("127.0.0.1", "/", [&](std::error_code ec) {
            REQUIRE_FALSE(ec);
            ping_pong();
        });
    });
    io.run();
    REQUIRE(round == warm_up + measured);
    INFO("allocations in " << measured << " round trips (a write, a read and an echo each)");
    CHECK(during == 0);
}
