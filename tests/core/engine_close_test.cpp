// Tests for include/duplex/core/engine.hpp: the closing handshake and everything the engine
// does with time (heartbeat, close and idle timeouts), with a fake clock.
#include "engine_pipe.hpp"

#include <duplex/core/engine.hpp>

#include <catch2/catch.hpp>

#include <chrono>

using namespace engine_pipe;
using duplex::client_engine;
using duplex::close_code;
using duplex::connection_state;
using duplex::error;
using duplex::server_engine;

TEST_CASE("engine: the closing handshake, started by either side") {
    client_engine client;
    server_engine server;
    std::error_code ec;
    client.close(close_code::going_away, "leaving", ec);
    REQUIRE_FALSE(ec);
    CHECK(client.state() == connection_state::closing);
    CHECK(client.sent_close_code() == close_code::going_away);
    // No more messages or pings after a close frame (RFC 6455 §5.5.1).
    client.send_text("late", ec);
    CHECK(ec == error::close_sent);
    client.ping("", 0, ec);
    CHECK(ec == error::close_sent);
    client.close(close_code::normal, "", ec);
    CHECK(ec == error::close_sent);

    auto r = transfer(client, server);
    REQUIRE(r.events.size() == 1);
    CHECK(r.events[0] == closed(close_code::going_away, "leaving"));
    CHECK(server.state() == connection_state::closed);
    CHECK(server.received_close_code() == close_code::going_away);
    server.send_text("late", ec);
    CHECK(ec == error::closed);

    r = transfer(server, client); // the echo
    REQUIRE(r.events.size() == 1);
    CHECK(r.events[0] == closed(close_code::going_away));
    CHECK(client.state() == connection_state::closed);
    CHECK(client.received_close_code() == close_code::going_away);
    CHECK_FALSE(client.wants_write()); // the client does not answer the answer
}

TEST_CASE("engine: both sides closing at once each send one close frame and end closed") {
    client_engine client;
    server_engine server;
    std::error_code ec;
    client.close(close_code::normal, "c", ec);
    server.close(close_code::going_away, "s", ec);
    const bytes to_server = take_output(client);
    const bytes to_client = take_output(server);
    auto r = feed(server, to_server);
    REQUIRE(r.events.size() == 1);
    CHECK(r.events[0] == closed(close_code::normal, "c"));
    r = feed(client, to_client);
    REQUIRE(r.events.size() == 1);
    CHECK(r.events[0] == closed(close_code::going_away, "s"));
    CHECK(client.state() == connection_state::closed);
    CHECK(server.state() == connection_state::closed);
    CHECK_FALSE(client.wants_write()); // neither answers: each already sent its close
    CHECK_FALSE(server.wants_write());
}

TEST_CASE("engine: data sent before a close still arrives - data after the peer's close is ignored") {
    client_engine client;
    server_engine server;
    std::error_code ec;
    client.send_text("first", ec);
    client.close(close_code::normal, "", ec);
    bytes wire = take_output(client);
    // A misbehaving peer's frame after its close frame: appended by hand (masked text "x").
    const unsigned char after[] = {0x81, 0x81, 0, 0, 0, 0, 'x'};
    wire.insert(wire.end(), after, after + sizeof after);
    const auto r = feed(server, wire);
    REQUIRE(r.events.size() == 2);
    CHECK(r.events[0] == text("first"));
    CHECK(r.events[1].type == duplex::event_type::close);
}

TEST_CASE("engine: a transport that ends without a close is reported as 1006") {
    server_engine server;
    CHECK(server.transport_closed() == error::abnormal_closure);
    CHECK(server.state() == connection_state::closed);
    CHECK(server.received_close_code() == close_code::abnormal);
    // After a complete closing handshake, EOF is the normal end.
    client_engine client;
    server_engine s2;
    std::error_code ec;
    client.close(close_code::normal, "", ec);
    transfer(client, s2);
    transfer(s2, client);
    CHECK_FALSE(client.transport_closed());
    CHECK(client.received_close_code() == close_code::normal);
}

TEST_CASE("engine: heartbeat pings on schedule and gives up on a silent peer") {
    using namespace std::chrono_literals;
    duplex::engine_options options;
    options.timeouts.ping_interval = 30s;
    options.timeouts.pong_timeout = 10s;
    client_engine client(options);
    server_engine server;
    const auto t0 = duplex::heartbeat::time_point{} + 1000s;

    CHECK(client.next_deadline() == duplex::heartbeat::time_point::min()); // needs a first tick
    CHECK_FALSE(client.tick(t0));
    CHECK(client.next_deadline() == t0 + 30s);
    CHECK_FALSE(client.tick(t0 + 29s));
    CHECK_FALSE(client.wants_write());
    CHECK_FALSE(client.tick(t0 + 30s));
    auto r = transfer(client, server);
    REQUIRE(r.events.size() == 1);
    CHECK(r.events[0].type == duplex::event_type::ping);
    CHECK(client.next_deadline() == t0 + 40s);

    // The pong arrives: the peer is alive, the next ping is due 30 s after the last.
    transfer(server, client);
    CHECK_FALSE(client.tick(t0 + 39s));
    CHECK(client.next_deadline() == t0 + 60s);
    CHECK_FALSE(client.tick(t0 + 60s));
    take_output(client); // the second ping, never answered
    CHECK_FALSE(client.tick(t0 + 69s));
    CHECK(client.tick(t0 + 70s) == error::peer_timeout);
    CHECK(client.state() == connection_state::closed);
    CHECK(client.next_deadline() == duplex::heartbeat::time_point::max());
}

TEST_CASE("engine: a close the peer never answers ends at the close timeout") {
    using namespace std::chrono_literals;
    duplex::engine_options options;
    options.timeouts.close_timeout = 2s;
    server_engine server(options);
    const auto t0 = duplex::heartbeat::time_point{} + 50s;
    CHECK_FALSE(server.tick(t0));
    CHECK(server.next_deadline() == duplex::heartbeat::time_point::max()); // nothing scheduled
    std::error_code ec;
    server.close(close_code::normal, "", ec);
    CHECK(server.next_deadline() == duplex::heartbeat::time_point::min()); // arm it now
    CHECK_FALSE(server.tick(t0 + 1s));
    CHECK(server.next_deadline() == t0 + 3s);
    CHECK_FALSE(server.tick(t0 + 2s));
    CHECK(server.tick(t0 + 3s) == error::close_timeout);
    CHECK(server.state() == connection_state::closed);
    CHECK(server.received_close_code() == close_code::abnormal);
}

TEST_CASE("engine: an idle timeout starts a close with 1001") {
    using namespace std::chrono_literals;
    duplex::engine_options options;
    options.timeouts.idle_timeout = 60s;
    server_engine server(options);
    client_engine client;
    const auto t0 = duplex::heartbeat::time_point{} + 5s;
    server.tick(t0);
    std::error_code ec;
    client.send_text("still here", ec);
    transfer(client, server);
    CHECK_FALSE(server.tick(t0 + 50s)); // activity at 50 s (seen at this tick)
    CHECK_FALSE(server.tick(t0 + 109s));
    CHECK(server.tick(t0 + 110s) == error::idle_timeout);
    CHECK(server.state() == connection_state::closing);
    const auto r = transfer(server, client);
    REQUIRE(r.events.size() == 1);
    CHECK(r.events[0] == closed(close_code::going_away, "idle timeout"));
}

TEST_CASE("engine: once closed, tick does nothing and the error stays") {
    using namespace std::chrono_literals;
    duplex::engine_options options;
    options.timeouts.ping_interval = 1s;
    options.timeouts.close_timeout = 1s;
    options.timeouts.idle_timeout = 1s;
    client_engine client(options);
    server_engine server;
    const auto t0 = duplex::heartbeat::time_point{} + 10s;
    client.tick(t0);
    std::error_code ec;
    client.close(close_code::normal, "", ec);
    transfer(client, server);
    transfer(server, client); // the echo: closed cleanly
    REQUIRE(client.state() == connection_state::closed);
    CHECK_FALSE(client.tick(t0 + 100s));
    CHECK_FALSE(client.error());
    CHECK_FALSE(client.wants_write());
    CHECK(client.received_close_code() == close_code::normal);
}
