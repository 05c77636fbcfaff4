// duplex::stream over Asio's synchronous ip::tcp::socket (include/duplex/asio/sync.hpp), on a
// real TCP connection on 127.0.0.1.
#include <duplex/asio/sync.hpp>

#include <asio/ip/tcp.hpp>
#include <asio/write.hpp>
#include <catch2/catch.hpp>

#include <future>
#include <string>

using asio::ip::tcp;
using duplex::close_code;

TEST_CASE("asio sync: echo over a real TCP socket, then a clean close") {
    asio::io_context io;
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    const auto port = acceptor.local_endpoint().port();

    auto served = std::async(std::launch::async, [&] {
        duplex::stream<tcp::socket> server(acceptor.accept());
        server.accept();
        std::error_code ec;
        for (;;) {
            const duplex::message m = server.read(ec);
            if (ec)
                break;
            server.write_binary(m.data.data(), m.data.size());
        }
        return std::make_pair(ec, server.received_close_code());
    });

    duplex::stream<tcp::socket> client(io);
    client.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    client.handshake("127.0.0.1:" + std::to_string(port), "/");
    const std::string big(300000, 'z');
    for (const std::string& payload : {std::string("tcp"), std::string(), big}) {
        client.write_binary(payload.data(), payload.size());
        const duplex::message m = client.read();
        CHECK_FALSE(m.is_text());
        CHECK((m.data == payload));
    }
    client.close(close_code::going_away, "done");
    const auto [server_ec, code] = served.get();
    CHECK(server_ec == duplex::error::closed);
    CHECK(code == close_code::going_away);
    CHECK(client.received_close_code() == close_code::going_away);
}

TEST_CASE("asio sync: close gives up at the close timeout when the peer never answers") {
    asio::io_context io;
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    const auto port = acceptor.local_endpoint().port();
    std::promise<void> done;
    auto served = std::async(std::launch::async, [&] {
        tcp::socket raw = acceptor.accept();
        duplex::server_handshake hs;
        std::error_code ec;
        char buf[4096];
        while (!hs.done())
            hs.feed(buf, raw.read_some(asio::buffer(buf), ec), ec);
        asio::write(raw, asio::buffer(hs.response().data(), hs.response().size()), ec);
        done.get_future().wait(); // read nothing more, answer nothing
    });
    duplex::stream<tcp::socket> client(io);
    client.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    duplex::engine_options options;
    options.timeouts.close_timeout = std::chrono::milliseconds(200);
    client.set_options(options);
    client.handshake("127.0.0.1", "/");
    std::error_code ec;
    client.close(close_code::normal, "", ec);
    CHECK(ec == duplex::error::close_timeout);
    done.set_value();
    served.get();
}
