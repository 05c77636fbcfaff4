// Tests for include/duplex/asio/hub.hpp: topics over real connections on a server run by
// several threads (a strand per connection), with clients on their own io_context.
#include "echo_fixture.hpp"

#include <duplex/asio/hub.hpp>

#include <asio/detached.hpp>
#include <asio/read_until.hpp>
#include <asio/streambuf.hpp>
#include <asio/write.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace echo_fixture;
using namespace std::chrono_literals;
using duplex::asio::hub;
using duplex::asio::hub_options;
using duplex::asio::slow_subscriber;

namespace {

// Polls `done` every millisecond until it holds or `limit` passes.
bool eventually(const std::function<bool()>& done, std::chrono::milliseconds limit = 20s) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() > end)
            return false;
        std::this_thread::sleep_for(1ms);
    }
    return true;
}

// A server whose connections send "join:T" and "leave:T" (answered "joined:T:1" or ":0" with
// subscribe's result, "left:T:1" or ":0") and "pub:T:text" (published to T). Each connection
// has a strand; `threads` threads run it.
class pubsub_server {
public:
    pubsub_server(unsigned threads, hub_options ho, std::size_t send_buffer = 0)
        : hub_(ho), acceptor_(asio::make_strand(io_), loopback()), send_buffer_(send_buffer) {
        duplex::asio::stream_options o;
        o.engine.timeouts.close_timeout = 300ms;
        options_ = o;
        accept();
        for (unsigned i = 0; i < threads; ++i)
            threads_.emplace_back([this] { io_.run(); });
    }
    ~pubsub_server() { stop(); }

    unsigned short port() const { return acceptor_.local_endpoint().port(); }
    hub<tcp::socket>& topics() { return hub_; }

    void stop() { stop_server(io_, acceptor_, threads_); }

    // The largest send queue seen on any subscriber of the topic "slow".
    std::size_t slow_peak() const { return slow_peak_.load(); }
    std::atomic<int> ended{0};

private:
    struct session : std::enable_shared_from_this<session> {
        session(tcp::socket s, pubsub_server& owner) : ws(std::move(s)), server(owner) {}
        void run() {
            ws.async_read_each(
                [this](const duplex::message& m) { on_message(std::string(m.data)); },
                [self = shared_from_this()](std::error_code) { ++self->server.ended; });
        }
        void on_message(const std::string& text) {
            auto& h = server.hub_;
            std::error_code ec;
            if (text.rfind("join:", 0) == 0) {
                const std::string topic = text.substr(5);
                const bool ok = h.subscribe(ws, topic);
                const std::string answer = "joined:" + topic + (ok ? ":1" : ":0");
                ws.send(duplex::opcode::text, answer.data(), answer.size(), ec);
                if (topic == "slow")
                    server.watch(shared_from_this());
            } else if (text.rfind("leave:", 0) == 0) {
                const std::string topic = text.substr(6);
                const bool ok = h.unsubscribe(ws, topic);
                const std::string answer = "left:" + topic + (ok ? ":1" : ":0");
                ws.send(duplex::opcode::text, answer.data(), answer.size(), ec);
            } else if (text.rfind("pub:", 0) == 0) {
                const auto colon = text.find(':', 4);
                h.publish(text.substr(4, colon - 4), text.substr(colon + 1), ec);
            }
        }
        ws_stream ws;
        pubsub_server& server;
    };

    void accept() {
        acceptor_.async_accept(asio::make_strand(io_), [this](std::error_code ec, tcp::socket socket) {
            if (ec)
                return;
            if (send_buffer_)
                socket.set_option(asio::socket_base::send_buffer_size(static_cast<int>(send_buffer_)));
            auto s = std::make_shared<session>(std::move(socket), *this);
            s->ws.set_options(options_);
            s->ws.async_accept([s](std::error_code ec) {
                if (!ec)
                    s->run();
            });
            accept();
        });
    }

    // Samples the send queue of a subscriber of "slow" every millisecond, on its strand.
    void watch(std::shared_ptr<session> s) {
        auto timer = std::make_shared<asio::steady_timer>(s->ws.get_executor(), 1ms);
        timer->async_wait([this, s, timer](std::error_code) {
            slow_peak_ = std::max(slow_peak_.load(), s->ws.buffered_amount());
            if (s->ws.state() == duplex::connection_state::open)
                watch(s);
        });
    }

    hub<tcp::socket> hub_;
    asio::io_context io_;
    tcp::acceptor acceptor_;
    duplex::asio::stream_options options_;
    std::size_t send_buffer_;
    std::vector<std::thread> threads_;
    std::atomic<std::size_t> slow_peak_{0};
};

// Joins `topic` and waits for the answer; returns it.
asio::awaitable<std::string> join(ws_stream& ws, const std::string& topic) {
    co_await ws.async_write_text("join:" + topic, asio::use_awaitable);
    const duplex::message m = co_await ws.async_read(asio::use_awaitable);
    co_return std::string(m.data);
}

// Runs an io_context on a thread until destroyed.
struct client_thread {
    asio::io_context io;
    asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(io);
    std::thread t{[this] { io.run(); }};
    ~client_thread() {
        work.reset();
        t.join();
    }
};

} // namespace

TEST_CASE("hub: 1000 subscribers across 10 topics get exactly their topic's messages, in order") {
    pubsub_server server(4, {});
    constexpr int clients = 1000, topics = 10, per_publisher = 20, publishers = 2;
    std::atomic<int> ready{0}, finished{0}, wrong{0};
    std::vector<std::vector<std::string>> got(clients);
    {
        client_thread ct;
        for (int i = 0; i < clients; ++i)
            asio::co_spawn(
                ct.io,
                [&, i]() -> asio::awaitable<void> {
                    ws_stream ws(co_await asio::this_coro::executor);
                    co_await connect(ws, server.port());
                    const std::string topic = "t" + std::to_string(i % topics);
                    if (co_await join(ws, topic) != "joined:" + topic + ":1")
                        ++wrong;
                    ++ready;
                    while (got[i].size() < per_publisher * publishers) {
                        const duplex::message m = co_await ws.async_read(asio::use_awaitable);
                        got[i].emplace_back(m.data);
                    }
                    co_await ws.async_close(close_code::normal, "", asio::use_awaitable);
                    ++finished;
                },
                [&](std::exception_ptr e) {
                    if (e)
                        ++wrong;
                });
        REQUIRE(eventually([&] { return ready + wrong == clients; }));
        REQUIRE(wrong == 0);
        for (int t = 0; t < topics; ++t)
            CHECK(server.topics().subscribers("t" + std::to_string(t)) == clients / topics);

        // Two threads publish at once, each to every topic in turn.
        std::vector<std::thread> pubs;
        for (int p = 0; p < publishers; ++p)
            pubs.emplace_back([&, p] {
                for (int n = 0; n < per_publisher; ++n)
                    for (int t = 0; t < topics; ++t) {
                        std::error_code ec;
                        const std::string topic = "t" + std::to_string(t);
                        const auto handed = server.topics().publish(
                            topic, topic + "/p" + std::to_string(p) + "/" + std::to_string(n), ec);
                        if (ec || handed != clients / topics)
                            ++wrong;
                    }
            });
        for (auto& t : pubs)
            t.join();
        CHECK(eventually([&] { return finished + wrong >= clients; }, 60s));
    }
    CHECK(wrong == 0);
    // Each client: only its topic, every message of both publishers, each publisher's in order.
    for (int i = 0; i < clients; ++i) {
        INFO("client " << i);
        const std::string topic = "t" + std::to_string(i % topics);
        REQUIRE(got[i].size() == per_publisher * publishers);
        std::vector<int> next(publishers, 0);
        for (const auto& m : got[i]) {
            const auto a = m.find('/'), b = m.find('/', a + 1);
            REQUIRE(m.substr(0, a) == topic);
            const int p = std::stoi(m.substr(a + 2, b - a - 2));
            CHECK(std::stoi(m.substr(b + 1)) == next[p]++);
        }
    }
    // Everyone closed: every topic is empty again.
    CHECK(eventually([&] { return server.topics().topic_count() == 0; }));
}

namespace {

// A subscriber that never reads: a raw socket with a small receive buffer that shakes hands,
// joins "slow", and then reads nothing.
struct lazy_subscriber {
    tcp::socket socket;
    explicit lazy_subscriber(asio::io_context& io, unsigned short port) : socket(io) {
        socket.open(tcp::v4());
        socket.set_option(asio::socket_base::receive_buffer_size(4096));
        socket.connect(loopback(port));
        duplex::client_handshake hs;
        std::error_code ec;
        asio::write(socket, asio::buffer(std::string(hs.start("127.0.0.1", "/", ec))));
        asio::streambuf response;
        asio::read_until(socket, response, "\r\n\r\n");
        duplex::client_engine e;
        e.send_text("join:slow", ec);
        duplex::const_buffer out[4];
        const std::size_t n = e.output(out, 4);
        for (std::size_t i = 0; i < n; ++i)
            asio::write(socket, asio::buffer(out[i].data, out[i].size));
    }
};

// A 64 KiB limit on subscribers' queues, and what to do past it.
hub_options slow_limit(slow_subscriber policy) {
    hub_options o;
    o.max_buffered = 64 * 1024;
    o.on_slow = policy;
    return o;
}

// Three clients that read everything on "slow" and one lazy_subscriber; publishes `batches`
// batches of 32 1-KiB messages, waiting after each until the readers have it all, and checks
// that each reader got every message, in order.
void publish_past_a_lazy_subscriber(pubsub_server& server, int batches) {
    constexpr int readers = 3, batch = 32;
    std::vector<int> received(readers, 0);
    std::atomic<int> ready{0}, disorder{0};
    client_thread ct;
    for (int r = 0; r < readers; ++r)
        asio::co_spawn(
            ct.io,
            [&, r]() -> asio::awaitable<void> {
                ws_stream ws(co_await asio::this_coro::executor);
                co_await connect(ws, server.port());
                co_await join(ws, "slow");
                ++ready;
                for (;;) {
                    const duplex::message m = co_await ws.async_read(asio::use_awaitable);
                    if (std::stoi(std::string(m.data.substr(0, m.data.find(' ')))) != received[r])
                        ++disorder;
                    ++received[r];
                }
            },
            asio::detached);
    REQUIRE(eventually([&] { return ready == readers; }));
    asio::io_context lazy_io;
    lazy_subscriber lazy(lazy_io, server.port());
    REQUIRE(eventually([&] { return server.topics().subscribers("slow") == readers + 1; }));

    const std::string filler(1000, 'x');
    for (int b = 0; b < batches; ++b) {
        for (int i = 0; i < batch; ++i) {
            std::error_code ec;
            server.topics().publish("slow", std::to_string(b * batch + i) + " " + filler, ec);
            REQUIRE_FALSE(ec);
        }
        // Waits on the readers only: the lazy subscriber must not hold them up.
        const int want = (b + 1) * batch;
        REQUIRE(eventually([&] { // received[] belongs to ct's thread: read it there
            std::promise<bool> p;
            auto f = p.get_future();
            asio::post(ct.io, [&] {
                bool all = true;
                for (int r = 0; r < readers; ++r)
                    all = all && received[r] >= want;
                p.set_value(all);
            });
            return f.get();
        }));
    }
    CHECK(disorder == 0);
    std::promise<std::vector<int>> result;
    auto f = result.get_future();
    asio::post(ct.io, [&] { result.set_value(received); });
    for (int count : f.get())
        CHECK(count == batches * batch);
    ct.io.stop();
}

} // namespace

TEST_CASE("hub: a subscriber that does not read is skipped - the others get every message") {
    pubsub_server server(2, slow_limit(slow_subscriber::skip), 64 * 1024);
    constexpr int batches = 100;
    publish_past_a_lazy_subscriber(server, batches);
    // The lazy one missed most of it, and no queue grew past the limit by more than a message.
    CHECK(server.topics().skipped() > batches * 32 / 2);
    CHECK(server.slow_peak() > 0);
    CHECK(server.slow_peak() <= slow_limit(slow_subscriber::skip).max_buffered + 1024 + 14);
    CHECK(server.topics().closed_slow() == 0);
}

TEST_CASE("hub: with slow_subscriber::close, the one that does not read is closed and leaves") {
    pubsub_server server(2, slow_limit(slow_subscriber::close), 64 * 1024);
    publish_past_a_lazy_subscriber(server, 40);
    CHECK(server.topics().closed_slow() == 1);
    CHECK(server.topics().skipped() == 0);
    // It never answers the close, so it ends at the close timeout and leaves the topic; the
    // readers' sockets closed with their io_context.
    CHECK(eventually([&] { return server.topics().subscribers("slow") == 0; }));
}
TEST_CASE("hub: subscribe, unsubscribe and disconnect keep the topic table exact") {
    pubsub_server server(2, {});
    client_thread ct;
    std::promise<std::vector<std::string>> answers;
    auto f = answers.get_future();
    auto ws = std::make_shared<ws_stream>(asio::make_strand(ct.io));
    auto other = std::make_shared<ws_stream>(asio::make_strand(ct.io));
    asio::co_spawn(
        ct.io,
        [&]() -> asio::awaitable<void> {
            std::vector<std::string> a;
            co_await connect(*ws, server.port());
            co_await connect(*other, server.port());
            a.push_back(co_await join(*ws, "a"));
            a.push_back(co_await join(*ws, "a")); // already subscribed
            a.push_back(co_await join(*ws, "b"));
            a.push_back(co_await join(*other, "b"));
            co_await ws->async_write_text("leave:a", asio::use_awaitable);
            a.emplace_back((co_await ws->async_read(asio::use_awaitable)).data);
            co_await ws->async_write_text("leave:a", asio::use_awaitable);
            a.emplace_back((co_await ws->async_read(asio::use_awaitable)).data);
            // A message published by one member reaches both members of "b".
            co_await ws->async_write_text("pub:b:hello b", asio::use_awaitable);
            a.emplace_back((co_await ws->async_read(asio::use_awaitable)).data);
            a.emplace_back((co_await other->async_read(asio::use_awaitable)).data);
            answers.set_value(a);
        },
        asio::detached);
    REQUIRE(f.wait_for(20s) == std::future_status::ready);
    CHECK(f.get() == std::vector<std::string>{"joined:a:1", "joined:a:0", "joined:b:1", "joined:b:1",
                                              "left:a:1", "left:a:0", "hello b", "hello b"});
    CHECK(server.topics().subscribers("a") == 0);
    CHECK(server.topics().subscribers("b") == 2);
    CHECK(server.topics().topic_count() == 1);

    // One disconnects without a close handshake: it leaves "b".
    asio::post(ws->get_executor(), [ws] { ws->next_layer().close(); });
    CHECK(eventually([&] { return server.topics().subscribers("b") == 1; }));
    asio::post(other->get_executor(), [other] { other->next_layer().close(); });
    CHECK(eventually([&] { return server.topics().topic_count() == 0; }));
    asio::post(ct.io, [ws, other]() mutable {
        ws.reset();
        other.reset();
    });
}

TEST_CASE("hub: a hub destroyed before its subscribers, and publish errors") {
    asio::io_context io;
    tcp::acceptor acceptor(io, loopback());
    ws_stream server_side(io), client_side(io);
    auto h = std::make_unique<hub<tcp::socket>>();
    bool subscribed = false;
    acceptor.async_accept(server_side.next_layer(), [&](std::error_code ec) {
        REQUIRE_FALSE(ec);
        server_side.async_accept([&](std::error_code ec) {
            REQUIRE_FALSE(ec);
            subscribed = h->subscribe(server_side, "room");
        });
    });
    client_side.next_layer().async_connect(acceptor.local_endpoint(), [&](std::error_code ec) {
        REQUIRE_FALSE(ec);
        client_side.async_handshake("127.0.0.1", "/", [](std::error_code ec) { REQUIRE_FALSE(ec); });
    });
    io.run_for(2s);
    io.restart();
    REQUIRE(subscribed);
    std::error_code ec;
    CHECK(h->publish("room", std::string("\xFF"), ec) == 0);
    CHECK(ec == error::invalid_utf8);
    CHECK(h->publish("room", duplex::opcode::ping, "x", 1, ec) == 0);
    CHECK(ec == error::bad_opcode);
    CHECK(h->publish("nobody", "x", ec) == 0);
    CHECK(h->publish("room", "last words", ec) == 1);
    std::string got;
    client_side.async_read([&](std::error_code ec, duplex::message m) {
        REQUIRE_FALSE(ec);
        got = std::string(m.data);
    });
    io.run_for(2s);
    io.restart();
    CHECK(got == "last words");
    h.reset(); // the subscriber outlives the hub: its end hook finds nothing to do
    server_side.async_close(close_code::normal, "", [](std::error_code) {});
    client_side.async_read([](std::error_code, duplex::message) {});
    io.run_for(2s);
    CHECK(server_side.state() == duplex::connection_state::closed);
}
