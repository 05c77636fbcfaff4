// permessage-deflate on duplex::asio::stream (include/duplex/asio/deflate.hpp), each role
// against a raw TCP peer written here that checks the bytes on the wire against RFC 7692.
#include <duplex/asio/deflate.hpp>

#include <asio/connect.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/read_until.hpp>
#include <asio/write.hpp>
#include <catch2/catch.hpp>

#include <string>
#include <thread>
#include <vector>

using asio::ip::tcp;
using bytes = std::vector<unsigned char>;

namespace {

const bytes hello_rfc = {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}; // RFC 7692 §7.2.3.1

std::string read_head(tcp::socket& s, std::string& extra) {
    std::string all;
    const std::size_t n = asio::read_until(s, asio::dynamic_buffer(all), "\r\n\r\n");
    extra = all.substr(n);
    return all.substr(0, n);
}

// Reads one frame (header of up to 14 bytes, then payload), unmasking it.
bytes read_frame(tcp::socket& s, std::string& pending, std::uint8_t& b0) {
    auto need = [&](std::size_t n) {
        while (pending.size() < n) {
            char tmp[4096];
            const std::size_t got = s.read_some(asio::buffer(tmp));
            pending.append(tmp, got);
        }
    };
    need(2);
    b0 = static_cast<std::uint8_t>(pending[0]);
    const auto b1 = static_cast<std::uint8_t>(pending[1]);
    std::size_t len = b1 & 0x7f;
    REQUIRE(len < 126);
    const bool masked = (b1 & 0x80) != 0;
    const std::size_t head = 2 + (masked ? 4 : 0);
    need(head + len);
    bytes payload(pending.begin() + static_cast<std::ptrdiff_t>(head),
                  pending.begin() + static_cast<std::ptrdiff_t>(head + len));
    for (std::size_t i = 0; masked && i < len; ++i)
        payload[i] ^= static_cast<unsigned char>(pending[2 + i % 4]);
    pending.erase(0, head + len);
    return payload;
}

} // namespace

TEST_CASE("asio: a server with enable_deflate answers the offer and compresses as RFC 7692 shows") {
    asio::io_context io;
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    duplex::asio::stream<tcp::socket> ws(io);
    duplex::server_handshake_options hs;
    duplex::asio::enable_deflate(ws, hs);
    std::error_code accepted = duplex::error::closed;
    std::string echoed;
    acceptor.async_accept(ws.next_layer(), [&](std::error_code ec) {
        REQUIRE_FALSE(ec);
        ws.async_accept(std::move(hs), [&](std::error_code ec) {
            accepted = ec;
            if (ec)
                return;
            ws.async_read([&](std::error_code ec, duplex::message m) {
                REQUIRE_FALSE(ec);
                echoed = std::string(m.data);
                ws.async_write_text(echoed, [](std::error_code) {});
            });
        });
    });

    std::string response;
    bytes reply;
    std::uint8_t reply_b0 = 0;
    std::thread peer([&, port = acceptor.local_endpoint().port()] {
        asio::io_context pio;
        tcp::socket s(pio);
        s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
        const std::string request = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                                    "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=20, "
                                    "permessage-deflate; client_max_window_bits\r\n\r\n";
        asio::write(s, asio::buffer(request));
        std::string pending;
        response = read_head(s, pending);
        // "Hello", compressed as RFC 7692 §7.2.3.1 shows, in a masked text frame with RSV1.
        bytes frame = {0xc1, static_cast<unsigned char>(0x80 | hello_rfc.size()), 1, 2, 3, 4};
        for (std::size_t i = 0; i < hello_rfc.size(); ++i)
            frame.push_back(hello_rfc[i] ^ static_cast<unsigned char>(i % 4 + 1));
        asio::write(s, asio::buffer(frame));
        reply = read_frame(s, pending, reply_b0);
    });
    io.run();
    peer.join();
    CHECK_FALSE(accepted);
    // The first offer has an invalid value and is declined; the second is answered.
    CHECK(response.find("\r\nSec-WebSocket-Extensions: permessage-deflate\r\n") != std::string::npos);
    CHECK(echoed == "Hello");
    CHECK(reply_b0 == 0xc1); // FIN, RSV1, text
    CHECK(reply == hello_rfc);
}

TEST_CASE("asio: a client with enable_deflate offers it and compresses as RFC 7692 shows") {
    asio::io_context io;
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    const auto endpoint = acceptor.local_endpoint();
    std::string request;
    bytes sent;
    std::uint8_t sent_b0 = 0;
    std::thread peer([&] {
        tcp::socket s = acceptor.accept();
        std::string pending;
        request = read_head(s, pending);
        const auto key_at = request.find("Sec-WebSocket-Key: ") + 19;
        const std::string key = request.substr(key_at, 24);
        const std::string response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                     "Sec-WebSocket-Accept: " + duplex::accept_key(key) + "\r\n"
                                     "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=10\r\n\r\n";
        asio::write(s, asio::buffer(response));
        sent = read_frame(s, pending, sent_b0);
        bytes frame = {0xc1, static_cast<unsigned char>(hello_rfc.size())};
        frame.insert(frame.end(), hello_rfc.begin(), hello_rfc.end());
        asio::write(s, asio::buffer(frame));
        std::uint8_t close_b0 = 0;
        read_frame(s, pending, close_b0); // the client's close
        const unsigned char close_frame[] = {0x88, 0x02, 0x03, 0xe8};
        asio::write(s, asio::buffer(close_frame));
    });

    duplex::asio::stream<tcp::socket> ws(io);
    duplex::client_handshake_options hs;
    duplex::asio::enable_deflate(ws, hs);
    std::string got;
    std::error_code handshake_ec = duplex::error::closed, close_ec = duplex::error::closed;
    ws.next_layer().async_connect(endpoint, [&](std::error_code ec) {
        REQUIRE_FALSE(ec);
        ws.async_handshake("127.0.0.1", "/", std::move(hs), [&](std::error_code ec) {
            handshake_ec = ec;
            if (ec)
                return;
            ws.async_write_text("Hello", [](std::error_code ec) { CHECK_FALSE(ec); });
            ws.async_read([&](std::error_code ec, duplex::message m) {
                REQUIRE_FALSE(ec);
                got = std::string(m.data);
                ws.async_close(duplex::close_code::normal, "", [&](std::error_code ec) { close_ec = ec; });
            });
        });
    });
    io.run();
    peer.join();
    CHECK_FALSE(handshake_ec);
    CHECK(request.find("\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n") !=
          std::string::npos);
    CHECK(sent_b0 == 0xc1);
    CHECK(sent == hello_rfc);
    CHECK(got == "Hello");
    CHECK_FALSE(close_ec);
}

TEST_CASE("asio: a client with enable_deflate fails the handshake on an answer it did not offer") {
    asio::io_context io;
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    const auto endpoint = acceptor.local_endpoint();
    std::thread peer([&] {
        tcp::socket s = acceptor.accept();
        std::string pending;
        const std::string request = read_head(s, pending);
        const std::string key = request.substr(request.find("Sec-WebSocket-Key: ") + 19, 24);
        const std::string response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                     "Sec-WebSocket-Accept: " + duplex::accept_key(key) + "\r\n"
                                     "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=12\r\n\r\n";
        asio::write(s, asio::buffer(response));
        char tmp[64];
        std::error_code ec;
        s.read_some(asio::buffer(tmp), ec); // the client hangs up
    });
    duplex::asio::stream<tcp::socket> ws(io);
    duplex::client_handshake_options hs;
    duplex::deflate_options d;
    d.offers = {duplex::deflate_parameters{false, false, 10, 0}};
    duplex::asio::enable_deflate(ws, hs, d);
    std::error_code handshake_ec;
    ws.next_layer().async_connect(endpoint, [&](std::error_code ec) {
        REQUIRE_FALSE(ec);
        ws.async_handshake("127.0.0.1", "/", std::move(hs), [&](std::error_code ec) { handshake_ec = ec; });
    });
    io.run();
    peer.join();
    CHECK(handshake_ec == duplex::error::handshake_bad_extension);
}
