// Tests for include/duplex/asio/reconnecting_client.hpp: the backoff sequence on its own, then
// the client against a real echo server on 127.0.0.1 that dies or goes away and comes back on
// the same port.
#include <duplex/asio.hpp>
#include <duplex/asio/reconnecting_client.hpp>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/ssl.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <future>
#include <limits>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

using asio::ip::tcp;
using duplex::close_code;
using duplex::error;
using duplex::asio::backoff;
using duplex::asio::backoff_options;
using duplex::asio::client_state;
using duplex::asio::reconnect_options;
using duplex::asio::retry_info;
using duplex::asio::send_status;
using namespace std::chrono_literals;

namespace {

using clock_type = std::chrono::steady_clock;
using ws_stream = duplex::asio::stream<tcp::socket>;
using client = duplex::asio::reconnecting_client<tcp::socket>;

duplex::ws_url url_for(unsigned short port) {
    duplex::ws_url url;
    std::error_code ec;
    REQUIRE(duplex::parse_url("ws://127.0.0.1:" + std::to_string(port) + "/room", url, ec));
    return url;
}

// A port with no listener: connecting to it is refused.
unsigned short dead_port() {
    asio::io_context io;
    tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    return a.local_endpoint().port();
}

// An echo server on its own thread that records, per connection, the messages it received and
// the close codes clients sent. kill() ends it like a process that dies (sockets closed, no
// close frame); go_away() stops listening and closes live connections with 1001.
class test_server {
public:
    explicit test_server(unsigned short port = 0)
        : io_(std::make_unique<asio::io_context>()), acceptor_(std::make_unique<tcp::acceptor>(*io_)) {
        const tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);
        acceptor_->open(ep.protocol());
        acceptor_->set_option(asio::socket_base::reuse_address(true)); // rebind over TIME_WAIT
        acceptor_->bind(ep);
        acceptor_->listen();
        port_ = acceptor_->local_endpoint().port();
        accept();
        thread_ = std::thread([this] { io_->run(); });
    }
    ~test_server() { kill(); }

    unsigned short port() const { return port_; }

    void kill() {
        if (!thread_.joinable())
            return;
        io_->stop();
        thread_.join();
        acceptor_.reset();
        sessions_.clear();
        io_.reset(); // destroys the pending handlers, and with them the sessions and their sockets
    }

    // Returns once the port is no longer listening; the closing handshakes go on.
    void go_away() {
        std::promise<void> done;
        asio::post(*io_, [&] {
            acceptor_->close();
            for (auto& w : sessions_)
                if (auto s = w.lock())
                    s->ws.async_close(close_code::going_away, "restart", [s](std::error_code) {});
            done.set_value();
        });
        done.get_future().wait();
    }

    std::vector<std::vector<std::string>> messages() const {
        std::lock_guard<std::mutex> lock(m_);
        return messages_;
    }
    std::vector<close_code> close_codes() const {
        std::lock_guard<std::mutex> lock(m_);
        return closes_;
    }

private:
    struct session : std::enable_shared_from_this<session> {
        session(tcp::socket s, test_server& owner) : ws(std::move(s)), server(owner) {}
        void start() {
            ws.async_accept([self = shared_from_this()](std::error_code ec) {
                if (ec)
                    return;
                {
                    std::lock_guard<std::mutex> lock(self->server.m_);
                    self->index = self->server.messages_.size();
                    self->server.messages_.emplace_back();
                }
                self->read();
            });
        }
        void read() {
            ws.async_read_each(
                [this](const duplex::message& m) {
                    {
                        std::lock_guard<std::mutex> lock(server.m_);
                        server.messages_[index].emplace_back(m.data);
                    }
                    std::error_code ec;
                    ws.send(m.op, m.data.data(), m.data.size(), ec);
                },
                [self = shared_from_this()](std::error_code ec) {
                    if (ec == error::closed) {
                        std::lock_guard<std::mutex> lock(self->server.m_);
                        self->server.closes_.push_back(self->ws.received_close_code());
                    }
                });
        }
        ws_stream ws;
        test_server& server;
        std::size_t index = 0;
    };

    void accept() {
        acceptor_->async_accept([this](std::error_code ec, tcp::socket socket) {
            if (ec)
                return;
            auto s = std::make_shared<session>(std::move(socket), *this);
            sessions_.push_back(s);
            s->start();
            accept();
        });
    }

    std::unique_ptr<asio::io_context> io_;
    std::unique_ptr<tcp::acceptor> acceptor_;
    unsigned short port_ = 0;
    std::vector<std::weak_ptr<session>> sessions_; // on the server's thread
    std::thread thread_;
    mutable std::mutex m_;
    std::vector<std::vector<std::string>> messages_;
    std::vector<close_code> closes_;
};

// Runs the client's io_context; true if it ran out of work (everything ended) in time.
bool run_until_idle(asio::io_context& io, std::chrono::seconds limit = 5s) {
    io.run_for(limit);
    return io.stopped();
}

// Waits (bounded) until `pred` holds: for what the server records on its own thread.
template <class Pred>
bool eventually(Pred pred) {
    for (int i = 0; i < 400 && !pred(); ++i)
        std::this_thread::sleep_for(5ms);
    return pred();
}

reconnect_options fast_options() {
    reconnect_options o;
    o.backoff.initial_delay = 20ms;
    o.backoff.multiplier = 2.0;
    o.backoff.max_delay = 160ms;
    o.backoff.jitter = 0.25;
    return o;
}

std::chrono::microseconds base_delay(unsigned k) { // k-th delay of fast_options, from 0
    const std::chrono::milliseconds d = 20ms * (1 << std::min(k, 3u));
    return std::min<std::chrono::microseconds>(d, 160ms);
}

bool within_jitter(std::chrono::microseconds delay, std::chrono::microseconds base, double jitter) {
    const auto b = static_cast<double>(base.count());
    const auto d = static_cast<double>(delay.count());
    return d >= b * (1 - jitter) - 1 && d <= b * (1 + jitter);
}

} // namespace

// ---- The delay sequence ----

TEST_CASE("backoff: without jitter the delays grow by the multiplier up to the cap, and reset starts over") {
    backoff_options o;
    o.initial_delay = 20ms;
    o.multiplier = 2.0;
    o.max_delay = 160ms;
    o.jitter = 0;
    backoff b(o);
    const std::chrono::microseconds expected[] = {20ms, 40ms, 80ms, 160ms, 160ms, 160ms};
    for (auto e : expected)
        CHECK(b.next() == e);
    CHECK(b.count() == 6);
    b.reset();
    CHECK(b.count() == 0);
    CHECK(b.next() == 20ms);

    o.multiplier = 1.5;
    o.initial_delay = 100ms;
    o.max_delay = 300ms;
    backoff c(o);
    CHECK(c.next() == 100ms);
    CHECK(c.next() == 150ms);
    CHECK(c.next() == 225ms);
    CHECK(c.next() == 300ms); // 337.5 capped
}

TEST_CASE("backoff: jittered delays stay in [base*(1-j), base*(1+j)], cover the range, and differ per seed") {
    backoff_options o;
    o.initial_delay = 1000ms;
    o.max_delay = 1000ms;
    o.jitter = 0.25;
    o.seed = 7;
    backoff b(o);
    auto lo = std::chrono::microseconds::max(), hi = std::chrono::microseconds::zero();
    for (int i = 0; i < 2000; ++i) {
        const auto d = b.next();
        REQUIRE(d >= 750ms);
        REQUIRE(d <= 1250ms);
        lo = std::min(lo, d);
        hi = std::max(hi, d);
    }
    CHECK(lo < 760ms); // uniform over the whole range, not bunched
    CHECK(hi > 1240ms);

    // The same seed gives the same delays; unseeded sources (std::random_device) differ.
    backoff x(o), y(o);
    for (int i = 0; i < 10; ++i)
        CHECK(x.next() == y.next());
    o.seed.reset();
    backoff p(o), q(o);
    std::vector<std::chrono::microseconds> ps, qs;
    for (int i = 0; i < 10; ++i) {
        ps.push_back(p.next());
        qs.push_back(q.next());
    }
    CHECK(ps != qs);

    // Full jitter range: [0, 2*base].
    o.jitter = 1.0;
    backoff f(o);
    for (int i = 0; i < 100; ++i)
        CHECK(f.next() <= 2000ms);
}

TEST_CASE("backoff and reconnecting_client: invalid options are refused with a clear error") {
    auto refused = [](auto mutate, const char* field) {
        reconnect_options o;
        mutate(o);
        asio::io_context io;
        INFO(field);
        CHECK_THROWS_WITH(client(io.get_executor(), url_for(1), o), Catch::Contains(field));
        CHECK_THROWS_AS(backoff(o.backoff), std::invalid_argument);
    };
    refused([](reconnect_options& o) { o.backoff.multiplier = 0.5; }, "multiplier");
    refused([](reconnect_options& o) { o.backoff.multiplier = std::numeric_limits<double>::infinity(); }, "multiplier");
    refused([](reconnect_options& o) { o.backoff.initial_delay = 0ms; }, "initial_delay");
    refused([](reconnect_options& o) { o.backoff.initial_delay = 5s; o.backoff.max_delay = 1s; }, "max_delay");
    refused([](reconnect_options& o) { o.backoff.max_delay = std::chrono::hours(25); }, "max_delay");
    refused([](reconnect_options& o) { o.backoff.jitter = -0.1; }, "jitter");
    refused([](reconnect_options& o) { o.backoff.jitter = 1.5; }, "jitter");
    refused([](reconnect_options& o) { o.backoff.jitter = std::numeric_limits<double>::quiet_NaN(); }, "jitter");

    asio::io_context io;
    reconnect_options o;
    o.connect_timeout = -1ms;
    CHECK_THROWS_WITH(client(io.get_executor(), url_for(1), o), Catch::Contains("connect_timeout"));
    o = {};
    o.stream.engine.timeouts.close_timeout = 0ms;
    CHECK_THROWS_WITH(client(io.get_executor(), url_for(1), o), Catch::Contains("close_timeout"));

    // The URL's scheme must match the stream.
    duplex::ws_url secure;
    std::error_code ec;
    REQUIRE(duplex::parse_url("wss://127.0.0.1:1/", secure, ec));
    CHECK_THROWS_WITH(client(io.get_executor(), secure), Catch::Contains("TLS"));
    asio::ssl::context tls(asio::ssl::context::tls_client);
    using tls_client = duplex::asio::reconnecting_client<asio::ssl::stream<tcp::socket>>;
    CHECK_THROWS_WITH(tls_client(io.get_executor(), tls, url_for(1)), Catch::Contains("wss://"));
    CHECK_NOTHROW(tls_client(io.get_executor(), tls, secure));
}

// ---- Against a server that goes away and comes back ----

TEST_CASE("reconnecting_client: backs off with jitter while the server is down, resumes, re-authenticates, "
          "sends the queue in order and resets the backoff") {
    asio::io_context io;
    auto server = std::make_unique<test_server>();
    const unsigned short port = server->port();
    std::vector<std::unique_ptr<test_server>> retired;

    reconnect_options o = fast_options();
    o.backoff.seed = 12345;
    client c(io.get_executor(), url_for(port), o);

    int opens = 0;
    std::vector<std::string> received;
    std::vector<std::pair<std::error_code, close_code>> disconnects;
    std::vector<retry_info> retries;
    std::vector<clock_type::time_point> retry_times;
    std::vector<send_status> offline_sends;
    int callbacks_after_stop = 0;
    bool stopped = false;

    c.on_open([&] {
        callbacks_after_stop += stopped;
        ++opens;
        CHECK(c.state() == client_state::open);
        CHECK(c.send_text("auth-" + std::to_string(opens)) == send_status::sent);
        if (opens == 1)
            CHECK(c.send_text("first") == send_status::sent);
    });
    c.on_message([&](const duplex::message& m) {
        callbacks_after_stop += stopped;
        received.emplace_back(m.data);
        if (m.data == "first" || (opens == 2 && m.data == "q3")) {
            server->kill(); // the server dies: no close frame
            retired.push_back(std::move(server));
        }
    });
    c.on_disconnect([&](std::error_code ec, close_code code) {
        callbacks_after_stop += stopped;
        disconnects.emplace_back(ec, code);
        CHECK(c.state() == client_state::waiting);
        if (disconnects.size() == 1)
            for (const char* q : {"q1", "q2", "q3"})
                offline_sends.push_back(c.send_text(q));
    });
    c.on_retry([&](const retry_info& r) {
        callbacks_after_stop += stopped;
        retries.push_back(r);
        retry_times.push_back(clock_type::now());
        if (retries.size() == 6) // the server comes back before the 6th attempt
            server = std::make_unique<test_server>(port);
        if (retries.size() == 7) { // the first retry after the second drop
            c.stop();
            stopped = true;
        }
    });
    c.start();
    CHECK(c.state() == client_state::connecting);
    REQUIRE(run_until_idle(io));
    CHECK(c.state() == client_state::stopped);
    CHECK(callbacks_after_stop == 0);

    // Both connections: the re-authentication first, then the queue, in order.
    CHECK(opens == 2);
    CHECK(c.connections() == 2);
    REQUIRE(retired.size() == 2);
    CHECK(retired[0]->messages() == std::vector<std::vector<std::string>>{{"auth-1", "first"}});
    CHECK(retired[1]->messages() == std::vector<std::vector<std::string>>{{"auth-2", "q1", "q2", "q3"}});
    CHECK(received == std::vector<std::string>{"auth-1", "first", "auth-2", "q1", "q2", "q3"});
    CHECK(offline_sends == std::vector<send_status>(3, send_status::queued));
    CHECK(c.dropped_messages() == 0);
    CHECK(c.queued_messages() == 0);

    REQUIRE(disconnects.size() == 2);
    for (const auto& [ec, code] : disconnects) {
        CHECK(ec == error::abnormal_closure);
        CHECK(code == close_code::abnormal);
    }

    // The delays while the server was down: 20, 40, 80, 160, 160, 160 ms, each within 25 %.
    REQUIRE(retries.size() == 7);
    for (unsigned k = 0; k < 6; ++k) {
        INFO("retry " << k << ": " << retries[k].delay.count() << " us");
        CHECK(retries[k].attempt == k + 1);
        CHECK(within_jitter(retries[k].delay, base_delay(k), 0.25));
        CHECK(retries[k].error == (k == 0 ? std::error_code(error::abnormal_closure)
                                          : std::error_code(asio::error::connection_refused)));
    }
    // Each attempt started no sooner than its delay (the next report comes after it failed).
    for (unsigned k = 0; k + 1 < 6; ++k)
        CHECK(retry_times[k + 1] - retry_times[k] >= retries[k].delay);
    // Jitter: the three delays at the cap differ, and no delay is exactly its base.
    const std::set<std::int64_t> capped{retries[3].delay.count(), retries[4].delay.count(), retries[5].delay.count()};
    CHECK(capped.size() == 3);
    std::set<double> ratios;
    for (unsigned k = 0; k < 6; ++k)
        ratios.insert(static_cast<double>(retries[k].delay.count()) / static_cast<double>(base_delay(k).count()));
    CHECK(ratios.size() == 6);

    // After the reconnection the backoff started over: attempt 1, about 20 ms.
    CHECK(retries[6].attempt == 1);
    CHECK(within_jitter(retries[6].delay, 20ms, 0.25));
}

TEST_CASE("reconnecting_client: with offline_policy::drop, messages sent while the server restarts are dropped") {
    asio::io_context io;
    auto server = std::make_unique<test_server>();
    const unsigned short port = server->port();
    std::unique_ptr<test_server> second;

    reconnect_options o = fast_options();
    o.offline = duplex::asio::offline_policy::drop;
    client c(io.get_executor(), url_for(port), o);
    int opens = 0;
    std::vector<std::pair<std::error_code, close_code>> disconnects;
    send_status while_down = send_status::sent;
    c.on_open([&] {
        ++opens;
        c.send_text("auth-" + std::to_string(opens));
    });
    c.on_message([&](const duplex::message& m) {
        if (m.data == "auth-1")
            server->go_away(); // closes with 1001, like a server restarting
        if (m.data == "auth-2")
            c.stop();
    });
    c.on_disconnect([&](std::error_code ec, close_code code) {
        disconnects.emplace_back(ec, code);
        while_down = c.send_text("lost");
        second = std::make_unique<test_server>(port);
    });
    CHECK(c.send_text("before start") == send_status::dropped);
    c.start();
    REQUIRE(run_until_idle(io));

    CHECK(opens == 2);
    REQUIRE(disconnects.size() == 1);
    CHECK(disconnects[0].first == error::closed);
    CHECK(disconnects[0].second == close_code::going_away);
    CHECK(while_down == send_status::dropped);
    CHECK(c.dropped_messages() == 2);
    REQUIRE(second);
    CHECK(server->messages() == std::vector<std::vector<std::string>>{{"auth-1"}});
    CHECK(second->messages() == std::vector<std::vector<std::string>>{{"auth-2"}});
    // stop() closed the second connection with 1000.
    CHECK(eventually([&] { return second->close_codes().size() == 1; }));
    CHECK(second->close_codes() == std::vector<close_code>{close_code::normal});
}

TEST_CASE("reconnecting_client: the offline queue's limits drop the oldest or refuse the newest") {
    test_server server;
    struct limits_case {
        duplex::asio::overflow_policy overflow;
        std::size_t max_messages, max_bytes;
        std::vector<send_status> statuses;
        std::vector<std::string> delivered;
        std::uint64_t dropped;
    };
    using duplex::asio::overflow_policy;
    const limits_case cases[] = {
        {overflow_policy::drop_oldest, 2, 0,
         {send_status::queued, send_status::queued, send_status::queued, send_status::queued},
         {"auth", "ccc", "dddd"}, 2},
        {overflow_policy::drop_newest, 2, 0,
         {send_status::queued, send_status::queued, send_status::dropped, send_status::dropped},
         {"auth", "a", "bb"}, 2},
        // 6 bytes: "a" + "bb" + "ccc" fit; "dddd" pushes out all three (3 + 4 > 6).
        {overflow_policy::drop_oldest, 0, 6,
         {send_status::queued, send_status::queued, send_status::queued, send_status::queued},
         {"auth", "dddd"}, 3},
        {overflow_policy::drop_newest, 0, 6,
         {send_status::queued, send_status::queued, send_status::queued, send_status::dropped},
         {"auth", "a", "bb", "ccc"}, 1},
    };
    for (const auto& k : cases) {
        asio::io_context io;
        reconnect_options o = fast_options();
        o.overflow = k.overflow;
        o.queue_max_messages = k.max_messages;
        o.queue_max_bytes = k.max_bytes;
        client c(io.get_executor(), url_for(server.port()), o);
        std::vector<send_status> statuses;
        for (const char* m : {"a", "bb", "ccc", "dddd"})
            statuses.push_back(c.send_text(m)); // before start(): disconnected
        CHECK(statuses == k.statuses);
        CHECK(c.dropped_messages() == k.dropped);
        std::vector<std::string> received;
        c.on_open([&] { c.send_text("auth"); });
        c.on_message([&](const duplex::message& m) {
            received.emplace_back(m.data);
            if (received.size() == k.delivered.size())
                c.stop();
        });
        c.start();
        REQUIRE(run_until_idle(io));
        CHECK(received == k.delivered);
        CHECK(c.queued_messages() == 0);
    }
}

TEST_CASE("reconnecting_client: gives up after max_attempts, and two clients draw different jitter") {
    asio::io_context io;
    const unsigned short port = dead_port();
    reconnect_options o = fast_options();
    o.max_attempts = 4;
    client a(io.get_executor(), url_for(port), o), b(io.get_executor(), url_for(port), o);
    std::vector<retry_info> ra, rb;
    std::vector<std::error_code> gave_up;
    a.on_retry([&](const retry_info& r) { ra.push_back(r); });
    b.on_retry([&](const retry_info& r) { rb.push_back(r); });
    a.on_give_up([&](std::error_code ec) { gave_up.push_back(ec); });
    b.on_give_up([&](std::error_code ec) { gave_up.push_back(ec); });
    a.send_text("never sent");
    a.start();
    b.start();
    REQUIRE(run_until_idle(io));

    REQUIRE(gave_up.size() == 2);
    for (const auto& ec : gave_up)
        CHECK(ec == asio::error::connection_refused);
    CHECK(a.state() == client_state::stopped);
    CHECK(a.attempts() == 4);
    CHECK(a.queued_messages() == 0);
    REQUIRE(ra.size() == 3); // attempt 1 at once, then 3 delays
    REQUIRE(rb.size() == 3);
    std::vector<std::int64_t> da, db;
    for (unsigned k = 0; k < 3; ++k) {
        CHECK(within_jitter(ra[k].delay, base_delay(k), 0.25));
        CHECK(within_jitter(rb[k].delay, base_delay(k), 0.25));
        CHECK(ra[k].attempt == k + 2);
        da.push_back(ra[k].delay.count());
        db.push_back(rb[k].delay.count());
    }
    CHECK(da != db); // each client draws its own jitter
    CHECK(a.send_text("after") == send_status::dropped);
}

TEST_CASE("reconnecting_client: stop() during the backoff cancels the retry, and nothing runs after it") {
    asio::io_context io;
    reconnect_options o = fast_options();
    o.backoff.initial_delay = 2s; // a retry that stop() failed to cancel would keep run() busy
    o.backoff.max_delay = 2s;
    client c(io.get_executor(), url_for(dead_port()), o);
    int retries = 0, after_stop = 0;
    bool stopped = false;
    asio::steady_timer later(io);
    c.on_retry([&](const retry_info&) {
        after_stop += stopped;
        ++retries;
        later.expires_after(20ms);
        later.async_wait([&](std::error_code) {
            CHECK(c.state() == client_state::waiting);
            c.stop();
            stopped = true;
        });
    });
    c.on_open([&] { ++after_stop; });
    c.on_give_up([&](std::error_code) { ++after_stop; });
    c.start();
    REQUIRE(run_until_idle(io)); // a retry not cancelled would keep the client going past the limit
    CHECK(retries == 1);
    CHECK(after_stop == 0);
    CHECK(c.state() == client_state::stopped);
    CHECK(c.send_text("x") == send_status::dropped);
}

TEST_CASE("reconnecting_client: connect_timeout ends an attempt the server never answers, and so does "
          "stop() while connecting") {
    // A listening socket that never accepts: the kernel completes TCP connections into its
    // backlog, and the WebSocket handshake gets no answer.
    asio::io_context silent_io;
    tcp::acceptor silent(silent_io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));

    SECTION("timeout") {
        asio::io_context io;
        reconnect_options o = fast_options();
        o.connect_timeout = 100ms;
        client c(io.get_executor(), url_for(silent.local_endpoint().port()), o);
        std::vector<retry_info> retries;
        const auto t0 = clock_type::now();
        clock_type::duration first_failure{};
        c.on_retry([&](const retry_info& r) {
            retries.push_back(r);
            first_failure = clock_type::now() - t0;
            c.stop();
        });
        c.start();
        REQUIRE(run_until_idle(io));
        REQUIRE(retries.size() == 1);
        CHECK(retries[0].error == asio::error::timed_out);
        CHECK(first_failure >= 100ms);
    }
    SECTION("stop") {
        asio::io_context io;
        client c(io.get_executor(), url_for(silent.local_endpoint().port()), fast_options());
        int callbacks = 0;
        c.on_retry([&](const retry_info&) { ++callbacks; });
        c.on_open([&] { ++callbacks; });
        asio::steady_timer later(io);
        later.expires_after(50ms);
        later.async_wait([&](std::error_code) {
            CHECK(c.state() == client_state::connecting);
            c.stop();
        });
        c.start();
        REQUIRE(run_until_idle(io)); // the default 10 s connect timeout did not have to pass
        CHECK(callbacks == 0);
    }
}

TEST_CASE("reconnecting_client: stop() while connected closes with 1000, and so does destroying the "
          "client in a callback") {
    test_server server;
    SECTION("stop") {
        asio::io_context io;
        client c(io.get_executor(), url_for(server.port()), fast_options());
        int disconnects = 0, retries = 0;
        c.on_disconnect([&](std::error_code, close_code) { ++disconnects; });
        c.on_retry([&](const retry_info&) { ++retries; });
        c.on_open([&] {
            CHECK(c.connection() != nullptr);
            c.send_text("bye");
            c.stop();
            CHECK(c.connection() == nullptr);
        });
        c.start();
        REQUIRE(run_until_idle(io));
        CHECK(disconnects == 0);
        CHECK(retries == 0);
        CHECK(eventually([&] { return server.close_codes().size() == 1; }));
    }
    SECTION("destroy") {
        asio::io_context io;
        auto c = std::make_unique<client>(io.get_executor(), url_for(server.port()), fast_options());
        int calls = 0;
        c->on_disconnect([&](std::error_code, close_code) { ++calls; });
        c->on_retry([&](const retry_info&) { ++calls; });
        c->on_message([&](const duplex::message&) {
            c.reset(); // destroyed inside its own callback
        });
        c->on_open([&] { c->send_text("hi"); });
        c->start();
        REQUIRE(run_until_idle(io));
        CHECK(!c);
        CHECK(calls == 0);
        CHECK(eventually([&] { return server.close_codes().size() == 1; }));
    }
    CHECK(server.close_codes() == std::vector<close_code>{close_code::normal});
    CHECK(server.messages().size() == 1);
}

TEST_CASE("reconnecting_client: on a strand run by two threads, with sends posted from another thread") {
    test_server server;
    asio::io_context io;
    auto strand = asio::make_strand(io);
    client c(strand, url_for(server.port()), fast_options());
    std::promise<void> opened;
    std::vector<std::string> received; // touched on the strand only
    constexpr int count = 100;
    c.on_open([&] { opened.set_value(); });
    c.on_message([&](const duplex::message& m) {
        received.emplace_back(m.data);
        if (received.size() == count)
            c.stop();
    });
    asio::post(strand, [&] { c.start(); });
    std::thread t1([&] { io.run(); }), t2([&] { io.run(); });
    REQUIRE(opened.get_future().wait_for(5s) == std::future_status::ready);
    for (int i = 0; i < count; ++i)
        asio::post(strand, [&c, i] { CHECK(c.send_text(std::to_string(i)) == send_status::sent); });
    t1.join();
    t2.join();
    REQUIRE(received.size() == count);
    for (int i = 0; i < count; ++i)
        CHECK(received[static_cast<std::size_t>(i)] == std::to_string(i));
}
