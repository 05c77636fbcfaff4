// Tests for include/duplex/asio/request.hpp: request_tracker against an in-process server that
// answers "id:N|delay:D|text" requests after D ms (so out of order), stays silent for
// "silent", and pushes unrelated "event|..." messages.
#include <duplex/asio/request.hpp>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/use_future.hpp>
#include <catch2/catch.hpp>

#include "echo_fixture.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

using asio::ip::tcp;
using duplex::close_code;
using duplex::error;
using duplex::opcode;
using namespace std::chrono_literals;
using namespace echo_fixture;

namespace {

using tracker = duplex::asio::request_tracker<std::uint64_t>;

// The id of "id:N|...", if the message has one.
std::optional<std::uint64_t> id_of(std::string_view m) {
    if (m.substr(0, 3) != "id:")
        return std::nullopt;
    std::uint64_t id = 0;
    std::size_t i = 3;
    for (; i < m.size() && m[i] >= '0' && m[i] <= '9'; ++i)
        id = id * 10 + static_cast<std::uint64_t>(m[i] - '0');
    if (i == 3)
        return std::nullopt;
    return id;
}

std::string request_text(std::uint64_t id, int delay_ms, const std::string& text) {
    return "id:" + std::to_string(id) + "|delay:" + std::to_string(delay_ms) + "|" + text;
}

std::string expected_reply(std::uint64_t id, const std::string& text) {
    return "id:" + std::to_string(id) + "|reply:" + text;
}

// The server, on its own thread. For "id:N|delay:D|text" it answers "id:N|reply:text" after
// D ms; "silent" texts get no answer; "push" texts are preceded by an unrelated "event|push".
class request_server {
public:
    request_server() : acceptor_(io_, loopback()) {
        accept();
        thread_ = std::thread([this] { io_.run(); });
    }
    ~request_server() {
        asio::post(io_, [this] {
            acceptor_.close();
            for (auto& w : sessions_)
                if (auto s = w.lock())
                    s->ws.async_close(close_code::going_away, "", [s](std::error_code) {});
        });
        thread_.join();
    }
    unsigned short port() const { return acceptor_.local_endpoint().port(); }

private:
    struct session : std::enable_shared_from_this<session> {
        explicit session(tcp::socket s) : ws(std::move(s)) {}
        void read() {
            ws.async_read([self = shared_from_this()](std::error_code ec, duplex::message m) {
                if (ec)
                    return;
                self->answer(std::string(m.data));
                self->read();
            });
        }
        void answer(const std::string& m) {
            const auto id = id_of(m);
            const std::size_t d = m.find("|delay:");
            const std::size_t bar = d == m.npos ? m.npos : m.find('|', d + 1);
            if (!id || bar == m.npos)
                return;
            const int delay = std::stoi(m.substr(d + 7, bar - d - 7));
            const std::string text = m.substr(bar + 1);
            if (text.rfind("silent", 0) == 0)
                return;
            if (text.rfind("push", 0) == 0)
                send("event|push for " + std::to_string(*id));
            auto timer = std::make_shared<asio::steady_timer>(ws.get_executor(), std::chrono::milliseconds(delay));
            auto reply = expected_reply(*id, text);
            timer->async_wait([self = shared_from_this(), timer, reply](std::error_code ec) {
                if (!ec)
                    self->send(reply);
            });
        }
        void send(const std::string& text) {
            std::error_code ec;
            ws.send(opcode::text, text.data(), text.size(), ec);
        }
        ws_stream ws;
    };

    void accept() {
        acceptor_.async_accept([this](std::error_code ec, tcp::socket socket) {
            if (ec)
                return;
            auto s = std::make_shared<session>(std::move(socket));
            sessions_.push_back(s);
            s->ws.async_accept([s](std::error_code ec) {
                if (!ec)
                    s->read();
            });
            accept();
        });
    }

    asio::io_context io_;
    tcp::acceptor acceptor_;
    std::vector<std::weak_ptr<session>> sessions_;
    std::thread thread_;
};

// A connected client with the usual read loop: each message goes to the tracker first, and to
// `unmatched` if the tracker does not claim it; when the loop ends it fails what is pending.
struct client {
    client(asio::io_context& io, unsigned short port, tracker& t) : ws(io), calls(t) {
        ws.next_layer().connect(loopback(port));
        std::error_code ec = error::closed;
        ws.async_handshake("127.0.0.1", "/", [&](std::error_code e) { ec = e; });
        io.run();
        io.restart();
        REQUIRE_FALSE(ec);
    }

    void read_loop() {
        ws.async_read([this](std::error_code ec, duplex::message m) {
            if (ec) {
                ended = ec;
                calls.fail_all(ec);
                return;
            }
            const auto id = id_of(m.data);
            if (!id || !calls.deliver(*id, m.data))
                unmatched.emplace_back(m.data);
            read_loop();
        });
    }

    ws_stream ws;
    tracker& calls;
    std::vector<std::string> unmatched;
    std::error_code ended;
};

// One request's outcome, counted: a handler called twice would show.
struct outcome {
    int calls = 0;
    std::error_code ec;
    std::string reply;
    std::chrono::steady_clock::time_point at;
};

auto record(outcome& o) {
    return [&o](std::error_code ec, std::string reply) {
        ++o.calls;
        o.ec = ec;
        o.reply = std::move(reply);
        o.at = std::chrono::steady_clock::now();
    };
}

} // namespace

TEST_CASE("request: replies are matched to their requests when the server answers out of order") {
    request_server server;
    asio::io_context io;
    tracker calls;
    client c(io, server.port(), calls);
    c.read_loop();
    constexpr int count = 20;
    std::vector<outcome> results(count);
    std::vector<int> order; // request indexes in completion order
    for (int i = 0; i < count; ++i) {
        const std::uint64_t id = 1000 + static_cast<std::uint64_t>(i);
        const std::string text = (i % 5 == 0 ? "push " : "text ") + std::to_string(i);
        // The first request gets the longest delay: replies come back in reverse order.
        calls.async_request(c.ws, id, opcode::text, request_text(id, (count - i) * 10, text), 5s,
                            [&, i](std::error_code ec, std::string reply) {
                                record(results[static_cast<std::size_t>(i)])(ec, std::move(reply));
                                order.push_back(i);
                                if (order.size() == count)
                                    c.ws.async_close(close_code::normal, "", [](std::error_code) {});
                            });
    }
    CHECK_FALSE(calls.deliver(424242, "id:424242|nobody asked")); // unknown id: not claimed
    io.run_for(10s);
    for (int i = 0; i < count; ++i) {
        const auto& r = results[static_cast<std::size_t>(i)];
        INFO("request " << i);
        CHECK(r.calls == 1);
        CHECK_FALSE(r.ec);
        CHECK(r.reply == expected_reply(1000 + static_cast<std::uint64_t>(i),
                                        (i % 5 == 0 ? "push " : "text ") + std::to_string(i)));
    }
    REQUIRE(order.size() == count);
    CHECK(order.front() == count - 1); // really out of order
    CHECK(order.back() == 0);
    // The pushed events were not claimed by the tracker: they reached the application.
    CHECK(c.unmatched == std::vector<std::string>{"event|push for 1000", "event|push for 1005",
                                                  "event|push for 1010", "event|push for 1015"});
    CHECK(calls.pending() == 0);
}

TEST_CASE("request: unanswered requests time out, and a late reply goes to the application, not to them") {
    request_server server;
    asio::io_context io;
    tracker calls;
    client c(io, server.port(), calls);
    c.read_loop();
    outcome silent, late, quick;
    const auto start = std::chrono::steady_clock::now();
    calls.async_request(c.ws, 1, opcode::text, request_text(1, 0, "silent"), 150ms, record(silent));
    calls.async_request(c.ws, 2, opcode::text, request_text(2, 400, "late"), 150ms, record(late));
    calls.async_request(c.ws, 3, opcode::binary, request_text(3, 0, "quick"), 150ms, record(quick));
    CHECK(calls.pending() == 0); // not yet: requests start on the executor (dispatch from outside it)
    asio::steady_timer stop(io, 800ms);
    stop.async_wait([&](std::error_code) { c.ws.async_close(close_code::normal, "", [](std::error_code) {}); });
    io.run_for(10s);
    CHECK(silent.calls == 1);
    CHECK(silent.ec == error::request_timeout);
    CHECK(silent.reply.empty());
    CHECK(silent.at - start >= 140ms);
    CHECK(late.calls == 1);
    CHECK(late.ec == error::request_timeout);
    CHECK(quick.calls == 1);
    CHECK_FALSE(quick.ec);
    CHECK(quick.reply == expected_reply(3, "quick"));
    // Request 2's reply came after its timeout: deliver() refused it, the application got it.
    CHECK(c.unmatched == std::vector<std::string>{expected_reply(2, "late")});
    CHECK(calls.pending() == 0);
}

TEST_CASE("request: fail_all at the end of the read loop completes every pending request once") {
    request_server server;
    asio::io_context io;
    tracker calls;
    client c(io, server.port(), calls);
    c.read_loop();
    std::vector<outcome> results(10);
    for (std::uint64_t i = 0; i < results.size(); ++i)
        calls.async_request(c.ws, i, opcode::text, request_text(i, 0, "silent"), 0ms, record(results[i]));
    // The server goes away: the read loop ends with error::closed and calls fail_all.
    asio::steady_timer t(io, 100ms);
    t.async_wait([&](std::error_code) {
        CHECK(calls.pending() == 10);
        c.ws.async_close(close_code::normal, "", [](std::error_code) {});
    });
    io.run_for(10s);
    CHECK(c.ended == error::closed);
    for (const auto& r : results) {
        CHECK(r.calls == 1);
        CHECK(r.ec == error::closed);
    }
    CHECK(calls.pending() == 0);

    // A request on the closed stream fails with the write's error.
    outcome after;
    calls.async_request(c.ws, 99, opcode::text, request_text(99, 0, "x"), 1s, record(after));
    io.restart();
    io.run_for(5s);
    CHECK(after.calls == 1);
    CHECK(after.ec == error::closed);
    CHECK(calls.pending() == 0);
}

TEST_CASE("request: destroying the tracker aborts what is pending") {
    request_server server;
    asio::io_context io;
    auto calls = std::make_unique<tracker>();
    client c(io, server.port(), *calls);
    outcome a, b;
    calls->async_request(c.ws, 1, opcode::text, request_text(1, 0, "silent"), 0ms, record(a));
    calls->async_request(c.ws, 2, opcode::text, request_text(2, 0, "silent"), 10s, record(b));
    io.poll();
    CHECK(calls->pending() == 2);
    calls.reset();
    io.restart();
    io.run_for(1s); // the aborted timer and the completions run; nothing waits 10 s
    CHECK(a.calls == 1);
    CHECK(a.ec == asio::error::operation_aborted);
    CHECK(b.calls == 1);
    CHECK(b.ec == asio::error::operation_aborted);
}

TEST_CASE("request: duplicate ids and the pending limit are refused without disturbing others") {
    request_server server;
    asio::io_context io;
    tracker calls(2);
    client c(io, server.port(), calls);
    c.read_loop();
    outcome first, second, duplicate, over, reused;
    calls.async_request(c.ws, 7, opcode::text, request_text(7, 100, "first"), 5s, record(first));
    calls.async_request(c.ws, 8, opcode::text, request_text(8, 100, "second"), 5s, record(second));
    calls.async_request(c.ws, 7, opcode::text, request_text(7, 0, "dup"), 5s, record(duplicate));
    calls.async_request(c.ws, 9, opcode::text, request_text(9, 0, "over"), 5s, record(over));
    io.poll();
    CHECK(calls.pending() == 2);
    asio::steady_timer t(io, 300ms);
    t.async_wait([&](std::error_code) {
        // Id 7 completed: it may be used again.
        auto then_close = [&](std::error_code ec, std::string r) {
            record(reused)(ec, std::move(r));
            c.ws.async_close(close_code::normal, "", [](std::error_code) {});
        };
        calls.async_request(c.ws, 7, opcode::text, request_text(7, 0, "again"), 5s, then_close);
    });
    io.run_for(10s);
    CHECK(duplicate.calls == 1);
    CHECK(duplicate.ec == error::request_duplicate_id);
    CHECK(over.calls == 1);
    CHECK(over.ec == error::request_limit);
    CHECK(first.calls == 1);
    CHECK(first.reply == expected_reply(7, "first")); // not "dup": that one was never sent
    CHECK(second.reply == expected_reply(8, "second"));
    CHECK(reused.calls == 1);
    CHECK(reused.reply == expected_reply(7, "again"));
    CHECK(c.unmatched.empty());
}

TEST_CASE("request: 1000 concurrent requests with use_awaitable all get their own reply") {
    request_server server;
    asio::io_context io;
    tracker calls(1000);
    client c(io, server.port(), calls);
    c.read_loop();
    constexpr int count = 1000;
    int ok = 0, done = 0;
    for (int i = 0; i < count; ++i) {
        asio::co_spawn(
            io,
            [&, i]() -> asio::awaitable<void> {
                const auto id = static_cast<std::uint64_t>(i) * 7919; // ids need not be dense
                const std::string text = "n" + std::to_string(i);
                std::error_code ec;
                const std::string reply = co_await calls.async_request(
                    c.ws, id, opcode::text, request_text(id, (i * 37) % 50, text), 5s,
                    asio::redirect_error(asio::use_awaitable, ec));
                if (!ec && reply == expected_reply(id, text))
                    ++ok;
                if (++done == count)
                    c.ws.async_close(close_code::normal, "", [](std::error_code) {});
            },
            asio::detached);
    }
    io.run_for(10s);
    CHECK(done == count);
    CHECK(ok == count);
    CHECK(calls.pending() == 0);
    CHECK(c.unmatched.empty());
}

TEST_CASE("request: use_future from another thread, with the stream on a strand") {
    request_server server;
    asio::io_context io;
    auto work = asio::make_work_guard(io);
    std::thread runner([&] { io.run(); });
    tracker calls;
    ws_stream ws(asio::make_strand(io));
    ws.next_layer().async_connect(loopback(server.port()), asio::use_future).get();
    ws.async_handshake("127.0.0.1", "/", asio::use_future).get();
    // The read loop, on the stream's strand.
    std::function<void()> loop = [&] {
        ws.async_read([&](std::error_code ec, duplex::message m) {
            if (ec)
                return calls.fail_all(ec);
            if (const auto id = id_of(m.data))
                calls.deliver(*id, m.data);
            loop();
        });
    };
    asio::dispatch(ws.get_executor(), loop);
    auto f1 = calls.async_request(ws, 1, opcode::text, request_text(1, 50, "one"), 5s, asio::use_future);
    auto f2 = calls.async_request(ws, 2, opcode::text, request_text(2, 0, "two"), 5s, asio::use_future);
    auto f3 = calls.async_request(ws, 3, opcode::text, request_text(3, 0, "silent"), 100ms, asio::use_future);
    CHECK(f1.get() == expected_reply(1, "one"));
    CHECK(f2.get() == expected_reply(2, "two"));
    try {
        f3.get();
        FAIL("a silent request must time out");
    } catch (const std::system_error& e) {
        CHECK(e.code() == error::request_timeout);
    }
    ws.async_close(close_code::normal, "", asio::use_future).get();
    work.reset();
    runner.join();
    loop = nullptr;
}
