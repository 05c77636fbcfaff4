// Tests for include/duplex/asio/proxy.hpp and async_connect through an HTTP proxy
// (include/duplex/asio/connect.hpp): against a real tinyproxy started here (apt-get install
// tinyproxy), and a scripted proxy for answers a real one does not give.
#include <duplex/asio/connect.hpp>
#include <duplex/asio/proxy.hpp>
#include <duplex/asio/tls.hpp>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/read_until.hpp>
#include <asio/redirect_error.hpp>
#include <asio/ssl.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <catch2/catch.hpp>

#include "echo_fixture.hpp"

#include <array>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

using asio::ip::tcp;
using duplex::close_code;
using duplex::error;
using namespace std::chrono_literals;
using namespace echo_fixture;

namespace {

using tls_stream = duplex::asio::stream<asio::ssl::stream<tcp::socket>>;

// A temporary directory, removed with its files.
struct temp_dir {
    std::string path;
    temp_dir() {
        char tmpl[] = "/tmp/duplex-proxy-XXXXXX";
        REQUIRE(mkdtemp(tmpl) != nullptr);
        path = tmpl;
    }
    ~temp_dir() { std::system(("rm -rf " + path).c_str()); }
};

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// A port nobody listens on right now: bind to port 0, note the port, close (tinyproxy has no
// "Port 0").
unsigned short free_port() {
    asio::io_context io;
    tcp::acceptor a(io, loopback());
    return a.local_endpoint().port();
}

std::string tinyproxy_path() {
    for (const char* p : {"/usr/bin/tinyproxy", "/usr/sbin/tinyproxy", "/usr/local/bin/tinyproxy"})
        if (access(p, X_OK) == 0)
            return p;
    return {};
}

// A real tinyproxy on 127.0.0.1, in the foreground as a child process, allowing CONNECT to
// `connect_ports` only, and asking for Basic credentials when `user` is not empty.
class tinyproxy {
public:
    explicit tinyproxy(const std::vector<unsigned short>& connect_ports, const std::string& user = {},
                       const std::string& pass = {}) {
        const std::string exe = tinyproxy_path();
        if (exe.empty())
            FAIL("tinyproxy not found: these tests need a real HTTP proxy (apt-get install tinyproxy)");
        // The free port may be taken between our check and tinyproxy's bind: try a few.
        for (int attempt = 0; attempt < 5 && pid_ <= 0; ++attempt) {
            port_ = free_port();
            std::ofstream conf(dir_.path + "/tinyproxy.conf");
            conf << "Port " << port_ << "\nListen 127.0.0.1\nTimeout 10\nAllow 127.0.0.1\nMaxClients 50\n"
                 << "LogLevel Info\n";
            for (unsigned short p : connect_ports)
                conf << "ConnectPort " << p << "\n";
            if (!user.empty())
                conf << "BasicAuth " << user << " " << pass << "\n";
            conf.close();
            start(exe);
        }
        if (pid_ <= 0)
            FAIL("tinyproxy did not start; its log:\n" << read_file(log()));
    }

    ~tinyproxy() {
        if (pid_ > 0) {
            kill(pid_, SIGTERM);
            int status = 0;
            waitpid(pid_, &status, 0);
        }
    }

    unsigned short port() const { return port_; }
    std::string log() const { return dir_.path + "/tinyproxy.log"; }

private:
    // Spawns tinyproxy and waits (up to 5 s) until it accepts; leaves pid_ at 0 if it exited.
    void start(const std::string& exe) {
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 1, log().c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        posix_spawn_file_actions_adddup2(&actions, 1, 2);
        const std::string conf = dir_.path + "/tinyproxy.conf";
        std::vector<std::string> args = {exe, "-d", "-c", conf};
        std::vector<char*> argv;
        for (auto& a : args)
            argv.push_back(a.data());
        argv.push_back(nullptr);
        pid_t pid = 0;
        const int rc = posix_spawn(&pid, exe.c_str(), &actions, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        REQUIRE(rc == 0);
        const auto deadline = std::chrono::steady_clock::now() + 5s;
        while (std::chrono::steady_clock::now() < deadline) {
            int status = 0;
            if (waitpid(pid, &status, WNOHANG) == pid)
                return; // exited: the port was taken, or the configuration refused
            asio::io_context io;
            tcp::socket probe(io);
            std::error_code ec;
            probe.connect(loopback(port_), ec);
            if (!ec) {
                pid_ = pid;
                return;
            }
            std::this_thread::sleep_for(10ms);
        }
        kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
    }

    temp_dir dir_;
    unsigned short port_ = 0;
    pid_t pid_ = 0;
};

duplex::ws_url url_of(const std::string& text) {
    duplex::ws_url url;
    std::error_code ec;
    REQUIRE(duplex::parse_url(text, url, ec));
    return url;
}

duplex::asio::proxy_options proxy_at(unsigned short port) {
    duplex::asio::proxy_options p;
    p.host = "127.0.0.1";
    p.port = port;
    return p;
}

// Runs the coroutine made by f(io) on a fresh io_context, for at most 10 s; rethrows its
// exception and fails if it did not finish.
template <class F>
void run(F&& f) {
    asio::io_context io;
    std::exception_ptr failure;
    bool done = false;
    asio::co_spawn(io, f(io), [&](std::exception_ptr e) {
        failure = e;
        done = true;
    });
    io.run_for(10s);
    if (failure)
        std::rethrow_exception(failure);
    REQUIRE(done);
}

// Connects through `proxy` and echoes one message; returns the first error.
asio::awaitable<std::error_code> echo_through(asio::io_context& io, const duplex::ws_url& url,
                                              const duplex::asio::proxy_options& proxy) {
    ws_stream ws(io);
    std::error_code ec;
    co_await duplex::asio::async_connect(ws, url, proxy, asio::redirect_error(asio::use_awaitable, ec));
    if (ec)
        co_return ec;
    co_await ws.async_write_text("through the tunnel", asio::redirect_error(asio::use_awaitable, ec));
    if (ec)
        co_return ec;
    const duplex::message m = co_await ws.async_read(asio::redirect_error(asio::use_awaitable, ec));
    if (ec)
        co_return ec;
    if (m.data != "through the tunnel")
        co_return make_error_code(error::invalid_utf8); // any error: the echo came back wrong
    co_await ws.async_close(close_code::normal, "", asio::redirect_error(asio::use_awaitable, ec));
    co_return ec;
}

// ---- A scripted proxy: reads the CONNECT request, then does what the test says. ----

struct fake_proxy {
    explicit fake_proxy(asio::io_context& io) : acceptor(io, loopback()) {}
    unsigned short port() const { return acceptor.local_endpoint().port(); }

    tcp::acceptor acceptor;
    std::string request; // the client's request head, as received
    int connections = 0;
};

// Accepts one connection, reads the request head into fp.request and calls
// script(socket); the socket stays open until the script returns.
template <class Script>
void serve_once(fake_proxy& fp, Script script) {
    asio::co_spawn(
        fp.acceptor.get_executor(),
        [&fp, script]() mutable -> asio::awaitable<void> {
            tcp::socket s = co_await fp.acceptor.async_accept(asio::use_awaitable);
            ++fp.connections;
            s.set_option(tcp::no_delay(true));
            std::error_code ec;
            const std::size_t n = co_await asio::async_read_until(s, asio::dynamic_buffer(fp.request), "\r\n\r\n",
                                                                  asio::redirect_error(asio::use_awaitable, ec));
            if (ec)
                co_return;
            fp.request.resize(n);
            co_await script(s);
        },
        asio::detached);
}

// Copies bytes from one socket to the other until either ends.
asio::awaitable<void> pipe(std::shared_ptr<tcp::socket> from, std::shared_ptr<tcp::socket> to) {
    std::array<char, 4096> buf;
    for (;;) {
        std::error_code ec;
        const std::size_t n =
            co_await from->async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
        if (ec)
            break;
        co_await asio::async_write(*to, asio::buffer(buf.data(), n), asio::redirect_error(asio::use_awaitable, ec));
        if (ec)
            break;
    }
    std::error_code ignored;
    to->shutdown(tcp::socket::shutdown_send, ignored);
}

// Sends `answer` (in pieces of `piece` bytes, each its own write, when piece > 0), then relays
// between the client and 127.0.0.1:`target` until both sides end.
auto answer_then_relay(std::string answer, unsigned short target, std::size_t piece = 0) {
    return [answer, target, piece](tcp::socket& s) -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        if (piece == 0) {
            co_await asio::async_write(s, asio::buffer(answer), asio::use_awaitable);
        } else {
            asio::steady_timer pause(ex);
            for (std::size_t i = 0; i < answer.size(); i += piece) {
                co_await asio::async_write(s, asio::buffer(answer.data() + i, std::min(piece, answer.size() - i)),
                                           asio::use_awaitable);
                pause.expires_after(1ms);
                co_await pause.async_wait(asio::use_awaitable);
            }
        }
        auto client = std::make_shared<tcp::socket>(std::move(s));
        auto server = std::make_shared<tcp::socket>(ex);
        co_await server->async_connect(loopback(target), asio::use_awaitable);
        asio::co_spawn(ex, pipe(client, server), asio::detached);
        co_await pipe(server, client);
    };
}

// Sends `answer` and keeps the connection open for `hold`.
auto answer_and_hold(std::string answer, std::chrono::milliseconds hold = 2s) {
    return [answer, hold](tcp::socket& s) -> asio::awaitable<void> {
        std::error_code ec;
        co_await asio::async_write(s, asio::buffer(answer), asio::redirect_error(asio::use_awaitable, ec));
        asio::steady_timer t(co_await asio::this_coro::executor, hold);
        co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    };
}

// Connects through the fake proxy with `proxy`'s settings; returns the error.
std::error_code connect_via(asio::io_context& io, ws_stream& ws, const duplex::ws_url& url,
                            const duplex::asio::proxy_options& proxy) {
    std::error_code result = make_error_code(asio::error::would_block);
    duplex::asio::async_connect(ws, url, proxy, [&](std::error_code ec) {
        result = ec;
        io.stop(); // the scripted proxy may still be holding its connection open
    });
    io.run_for(10s);
    return result;
}

} // namespace

// ---------------------------------------------------------------------------------------------
// The request and the proxy URL, without I/O.

TEST_CASE("proxy: parse_proxy_url takes http://[user[:password]@]host[:port] and nothing else") {
    duplex::asio::proxy_options p;
    std::error_code ec;
    REQUIRE(duplex::asio::parse_proxy_url("http://proxy.example:3128", p, ec));
    CHECK(p.host == "proxy.example");
    CHECK(p.port == 3128);
    CHECK(p.username.empty());
    CHECK(p.password.empty());

    REQUIRE(duplex::asio::parse_proxy_url("HTTP://al%40ice:p%3Ass%3a@10.0.0.1/", p, ec));
    CHECK(p.host == "10.0.0.1");
    CHECK(p.port == 80); // the http scheme's default
    CHECK(p.username == "al@ice");
    CHECK(p.password == "p:ss:");

    REQUIRE(duplex::asio::parse_proxy_url("http://u@[::1]:8080", p, ec));
    CHECK(p.host == "::1");
    CHECK(p.port == 8080);
    CHECK(p.username == "u");
    CHECK(p.password.empty());

    const char* bad[] = {
        "https://proxy:443",          // TLS to the proxy is not supported
        "socks5://proxy:1080",
        "proxy:3128",                 // no scheme
        "http://",                    // no host
        "http://:3128",
        "http://proxy:0",
        "http://proxy:65536",
        "http://proxy:",
        "http://proxy:31x8",
        "http://proxy/path",          // a path means something else
        "http://proxy?x=1",
        "http://pro xy:3128",
        "http://pro\r\nxy:3128",
        "http://user:pa%0D%0Ass@proxy:3128", // CR LF smuggled through an escape
        "http://us%3Aer:pass@proxy:3128",    // ':' in the user name
        "http://user:pass%2@proxy:3128",     // truncated escape
        "http://user:pass%zz@proxy:3128",
        "http://[::1:3128",
        "http://[nothex]:3128",
        "http://pro_xy!:3128",
    };
    for (const char* text : bad) {
        INFO(text);
        duplex::asio::proxy_options untouched;
        untouched.host = "keep";
        CHECK_FALSE(duplex::asio::parse_proxy_url(text, untouched, ec));
        CHECK(ec == error::proxy_bad_url);
        CHECK(untouched.host == "keep");
    }
}

TEST_CASE("proxy: make_connect_request writes CONNECT, Host and Basic credentials, IPv6 in brackets") {
    duplex::asio::proxy_options p = proxy_at(3128);
    std::error_code ec;
    CHECK(duplex::asio::make_connect_request(p, url_of("wss://example.com/chat"), ec) ==
          "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
    CHECK_FALSE(ec);

    p.username = "Aladdin";
    p.password = "open sesame"; // RFC 7617's example
    p.headers = {{"User-Agent", "duplex-test"}};
    CHECK(duplex::asio::make_connect_request(p, url_of("ws://[2001:db8::1]:8080/"), ec) ==
          "CONNECT [2001:db8::1]:8080 HTTP/1.1\r\nHost: [2001:db8::1]:8080\r\n"
          "Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\nUser-Agent: duplex-test\r\n\r\n");
    CHECK_FALSE(ec);

    p = proxy_at(3128);
    p.headers = {{"Proxy-Authorization", "Bearer abc"}}; // allowed without username and password
    CHECK(duplex::asio::make_connect_request(p, url_of("ws://h:1/"), ec) ==
          "CONNECT h:1 HTTP/1.1\r\nHost: h:1\r\nProxy-Authorization: Bearer abc\r\n\r\n");
}

TEST_CASE("proxy: make_connect_request refuses CR, LF and other header injection") {
    const duplex::ws_url target = url_of("ws://example.com:9000/");
    std::error_code ec;
    auto refused = [&](const duplex::asio::proxy_options& p, const duplex::ws_url& u, error expected) {
        const std::string out = duplex::asio::make_connect_request(p, u, ec);
        return out.empty() && ec == expected;
    };
    duplex::asio::proxy_options p = proxy_at(3128);
    p.username = "user\r\nX-Injected: 1";
    p.password = "pass";
    CHECK(refused(p, target, error::proxy_bad_url));
    p.username = "user";
    p.password = "pass\nX-Injected: 1";
    CHECK(refused(p, target, error::proxy_bad_url));
    p.password = std::string("pa\0ss", 5);
    CHECK(refused(p, target, error::proxy_bad_url));
    p.username = "us:er"; // Basic cannot carry ':' in the user name
    p.password = "pass";
    CHECK(refused(p, target, error::proxy_bad_url));

    p = proxy_at(3128);
    p.host = "proxy\r\n";
    CHECK(refused(p, target, error::proxy_bad_url));
    p = proxy_at(0);
    CHECK(refused(p, target, error::proxy_bad_url));

    p = proxy_at(3128);
    duplex::ws_url evil = target;
    evil.host = "example.com:80 HTTP/1.1\r\nX-Injected: 1\r\n\r\nGET /";
    CHECK(refused(p, evil, error::url_bad_host));
    evil.host = "::1"; // an IPv6 literal must be flagged as one (it gets brackets)
    CHECK(refused(p, evil, error::url_bad_host));
    evil.ipv6 = true;
    CHECK(duplex::asio::make_connect_request(p, evil, ec).rfind("CONNECT [::1]:9000 HTTP/1.1\r\n", 0) == 0);
    evil.port = 0;
    CHECK(refused(p, evil, error::url_bad_port));

    p.headers = {{"X-Ok", "fine"}, {"X-Bad", "a\r\nX-Injected: 1"}};
    CHECK(refused(p, target, error::bad_header_field));
    p.headers = {{"Bad Name", "v"}};
    CHECK(refused(p, target, error::bad_header_field));
    p.headers = {{"host", "other:1"}};
    CHECK(refused(p, target, error::bad_header_field));
    p.username = "u";
    p.headers = {{"Proxy-Authorization", "Basic eA=="}}; // would duplicate ours
    CHECK(refused(p, target, error::bad_header_field));
}

// ---------------------------------------------------------------------------------------------
// A real proxy: tinyproxy.

TEST_CASE("proxy: ws:// echo through tinyproxy, without credentials") {
    echo_server server;
    tinyproxy proxy({server.port()});
    duplex::asio::proxy_options p = proxy_at(proxy.port());
    unsigned status = 0;
    std::string agent;
    p.on_response = [&](const duplex::http_head& head) {
        status = head.status;
        agent = std::string(head.get("Proxy-agent"));
    };
    std::error_code result = error::closed;
    run([&](asio::io_context& io) -> asio::awaitable<void> {
        result = co_await echo_through(io, url_of("ws://127.0.0.1:" + std::to_string(server.port()) + "/x"), p);
    });
    INFO(read_file(proxy.log()));
    CHECK_FALSE(result);
    CHECK(status == 200);
    CHECK(agent.find("tinyproxy") != std::string::npos); // the answer came from tinyproxy
    server.stop();
    CHECK(server.accepted == 1);
    CHECK(server.closed_normally == 1);
}

TEST_CASE("proxy: tinyproxy with BasicAuth: right credentials echo, wrong or none get proxy_auth_required") {
    echo_server server;
    tinyproxy proxy({server.port()}, "user", "s3cret");
    const duplex::ws_url url = url_of("ws://127.0.0.1:" + std::to_string(server.port()) + "/");
    duplex::asio::proxy_options good;
    std::error_code ec;
    REQUIRE(duplex::asio::parse_proxy_url("http://user:s3cret@127.0.0.1:" + std::to_string(proxy.port()), good, ec));
    duplex::asio::proxy_options wrong = good;
    wrong.password = "guess";
    duplex::asio::proxy_options none = proxy_at(proxy.port());
    std::string challenge;
    unsigned wrong_status = 0;
    wrong.on_response = [&](const duplex::http_head& head) {
        wrong_status = head.status;
        // tinyproxy 1.11 answers wrong credentials with 401 and WWW-Authenticate.
        challenge = std::string(head.get(head.status == 407 ? "Proxy-Authenticate" : "WWW-Authenticate"));
    };

    std::error_code good_result = error::closed, wrong_result, none_result;
    run([&](asio::io_context& io) -> asio::awaitable<void> {
        good_result = co_await echo_through(io, url, good);
        wrong_result = co_await echo_through(io, url, wrong);
        none_result = co_await echo_through(io, url, none);
    });
    INFO(read_file(proxy.log()));
    CHECK_FALSE(good_result);
    CHECK(wrong_result == error::proxy_auth_required);
    CHECK(none_result == error::proxy_auth_required);
    CHECK((wrong_status == 407 || wrong_status == 401));
    CHECK(challenge.rfind("Basic", 0) == 0);
    server.stop();
    CHECK(server.accepted == 1); // only the right credentials reached the server
}

TEST_CASE("proxy: tinyproxy refusing the target port gives proxy_refused with its status") {
    echo_server server;
    tinyproxy proxy({static_cast<unsigned short>(server.port() == 443 ? 444 : 443)}); // not the server's port
    duplex::asio::proxy_options p = proxy_at(proxy.port());
    unsigned status = 0;
    p.on_response = [&](const duplex::http_head& head) { status = head.status; };
    std::error_code result;
    run([&](asio::io_context& io) -> asio::awaitable<void> {
        result = co_await echo_through(io, url_of("ws://127.0.0.1:" + std::to_string(server.port()) + "/"), p);
    });
    CHECK(result == error::proxy_refused);
    CHECK(status == 403);
    server.stop();
    CHECK(server.accepted == 0);
}

TEST_CASE("proxy: wss:// through tinyproxy: TLS with SNI and verification for the target host") {
    test_certificate cert;
    asio::io_context io;
    asio::ssl::context server_ctx(asio::ssl::context::tls_server);
    server_ctx.use_certificate_chain_file(cert.cert);
    server_ctx.use_private_key_file(cert.key, asio::ssl::context::pem);
    asio::ssl::context client_ctx = duplex::asio::make_tls_client_context();
    client_ctx.load_verify_file(cert.cert);

    // A one-connection TLS echo server on `io`; it records the SNI it was sent.
    tcp::acceptor acceptor(io, loopback());
    tls_stream server(tcp::socket(io), server_ctx);
    std::string sni;
    std::string echoed;
    acceptor.async_accept(server.next_layer().next_layer(), [&](std::error_code ec) {
        if (ec)
            return;
        server.next_layer().async_handshake(asio::ssl::stream_base::server, [&](std::error_code ec) {
            if (ec)
                return;
            const char* name = SSL_get_servername(server.next_layer().native_handle(), TLSEXT_NAMETYPE_host_name);
            sni = name ? name : "";
            server.async_accept([&](std::error_code ec) {
                if (ec)
                    return;
                server.async_read([&](std::error_code ec, duplex::message m) {
                    if (ec)
                        return;
                    echoed = std::string(m.data);
                    server.async_write(m.op, echoed.data(), echoed.size(), [&](std::error_code ec) {
                        if (!ec)
                            server.async_read([](std::error_code, duplex::message) {}); // takes the close
                    });
                });
            });
        });
    });

    tinyproxy proxy({acceptor.local_endpoint().port()});
    const duplex::ws_url url = url_of("wss://localhost:" + std::to_string(acceptor.local_endpoint().port()) + "/");
    std::error_code result = error::closed;
    std::string reply;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            tls_stream ws(tcp::socket(io), client_ctx);
            std::error_code ec;
            // The proxy is 127.0.0.1; the certificate names localhost only: verification
            // passes only if it checks the target's name.
            co_await duplex::asio::async_connect(ws, url, proxy_at(proxy.port()),
                                                 asio::redirect_error(asio::use_awaitable, ec));
            if (ec) {
                result = ec;
                acceptor.close();
                co_return;
            }
            co_await ws.async_write_text("secret", asio::use_awaitable);
            const duplex::message m = co_await ws.async_read(asio::use_awaitable);
            reply = std::string(m.data);
            co_await ws.async_close(close_code::normal, "", asio::redirect_error(asio::use_awaitable, result));
        },
        asio::detached);
    io.run_for(10s);
    INFO(read_file(proxy.log()));
    CHECK_FALSE(result);
    CHECK(sni == "localhost");
    CHECK(echoed == "secret");
    CHECK(reply == "secret");
}

// ---------------------------------------------------------------------------------------------
// A scripted proxy: what a real one does not do.

TEST_CASE("proxy: a 100 then a 200 written one byte at a time open the tunnel, and the request is exact") {
    echo_server server;
    asio::io_context io;
    fake_proxy fp(io);
    serve_once(fp, answer_then_relay("HTTP/1.1 100 Continue\r\n\r\n"
                                     "HTTP/1.1 200 Connection established\r\nProxy-Agent: fake\r\n\r\n",
                                     server.port(), 1));
    duplex::asio::proxy_options p = proxy_at(fp.port());
    p.username = "u";
    p.password = "p";
    unsigned status = 0;
    p.on_response = [&](const duplex::http_head& head) { status = head.status; };
    std::error_code result = error::closed;
    const std::string target = "127.0.0.1:" + std::to_string(server.port());
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> { result = co_await echo_through(io, url_of("ws://" + target + "/"), p); },
        asio::detached);
    io.run_for(10s);
    CHECK_FALSE(result);
    CHECK(status == 200); // the 100 was skipped, not judged
    CHECK(fp.request == "CONNECT " + target + " HTTP/1.1\r\nHost: " + target +
                            "\r\nProxy-Authorization: Basic dTpw\r\n\r\n");
    server.stop();
    CHECK(server.closed_normally == 1);
}

TEST_CASE("proxy: an answer over the size limit, or a garbage status line, is proxy_bad_response") {
    const duplex::ws_url url = url_of("ws://127.0.0.1:9/");
    SECTION("oversized head, never ending") {
        asio::io_context io;
        fake_proxy fp(io);
        std::string huge = "HTTP/1.1 200 OK\r\n";
        while (huge.size() < 64 * 1024)
            huge += "X-Filler: " + std::string(100, 'f') + "\r\n";
        serve_once(fp, answer_and_hold(huge));
        ws_stream ws(io);
        const auto start = std::chrono::steady_clock::now();
        CHECK(connect_via(io, ws, url, proxy_at(fp.port())) == error::proxy_bad_response);
        CHECK(std::chrono::steady_clock::now() - start < 1500ms); // at the limit, not at the hold's end
    }
    SECTION("a smaller limit of our own") {
        asio::io_context io;
        fake_proxy fp(io);
        serve_once(fp, answer_and_hold("HTTP/1.1 200 OK\r\nX-Filler: " + std::string(600, 'f') + "\r\n\r\n"));
        duplex::asio::proxy_options p = proxy_at(fp.port());
        p.max_response_size = 512;
        ws_stream ws(io);
        CHECK(connect_via(io, ws, url, p) == error::proxy_bad_response);
    }
    SECTION("interim answers count toward the limit") {
        asio::io_context io;
        fake_proxy fp(io);
        std::string many;
        for (int i = 0; i < 1000; ++i)
            many += "HTTP/1.1 100 Continue\r\n\r\n";
        serve_once(fp, answer_and_hold(many));
        ws_stream ws(io);
        CHECK(connect_via(io, ws, url, proxy_at(fp.port())) == error::proxy_bad_response);
    }
    const char* garbage[] = {
        "SSH-2.0-OpenSSH_9.2\r\n\r\n",
        "HTTP/1.1 2OO OK\r\n\r\n",
        "HTTP/2 200\r\n\r\n",
        "HTTP/1.1 200 OK\nBare: lf\n\n",
        "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
    };
    for (const char* answer : garbage) {
        INFO(answer);
        asio::io_context io;
        fake_proxy fp(io);
        serve_once(fp, answer_and_hold(answer));
        ws_stream ws(io);
        CHECK(connect_via(io, ws, url, proxy_at(fp.port())) == error::proxy_bad_response);
    }
}

TEST_CASE("proxy: bytes after the 200, a proxy that hangs up, and other statuses") {
    const duplex::ws_url url = url_of("ws://127.0.0.1:9/");
    struct expectation {
        std::string answer;
        error expected;
        bool hang_up = false; // close right after the answer
    };
    const expectation cases[] = {
        // Nothing may come through the tunnel before the client speaks: refused, not fed on.
        {"HTTP/1.1 200 OK\r\n\r\nHTTP/1.1 101 Switching Protocols\r\n", error::proxy_bad_response},
        {"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody", error::proxy_bad_response},
        {"HTTP/1.1 200 Conn", error::proxy_bad_response, true},
        {"", error::proxy_bad_response, true},
        {"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"x\"\r\n\r\n",
         error::proxy_auth_required},
        {"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"x\"\r\n\r\n", error::proxy_auth_required},
        {"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n", error::proxy_refused},
        {"HTTP/1.1 101 Switching Protocols\r\n\r\n", error::proxy_refused},
        {"HTTP/1.1 301 Moved Permanently\r\nLocation: http://elsewhere/\r\n\r\n", error::proxy_refused},
    };
    for (const auto& c : cases) {
        INFO(c.answer);
        asio::io_context io;
        fake_proxy fp(io);
        serve_once(fp, answer_and_hold(c.answer, c.hang_up ? 0ms : 2s));
        ws_stream ws(io);
        unsigned status = 0;
        duplex::asio::proxy_options p = proxy_at(fp.port());
        p.on_response = [&](const duplex::http_head& head) { status = head.status; };
        CHECK(connect_via(io, ws, url, p) == c.expected);
        if (c.expected != error::proxy_bad_response)
            CHECK(status == std::stoul(c.answer.substr(9, 3)));
    }
}

TEST_CASE("proxy: a proxy that accepts and never answers fails at the handshake timeout") {
    asio::io_context io;
    fake_proxy fp(io);
    serve_once(fp, answer_and_hold("", 5s));
    ws_stream ws(io);
    duplex::asio::stream_options options;
    options.handshake_timeout = 300ms;
    ws.set_options(options);
    const auto start = std::chrono::steady_clock::now();
    const std::error_code result = connect_via(io, ws, url_of("ws://127.0.0.1:9/"), proxy_at(fp.port()));
    const auto waited = std::chrono::steady_clock::now() - start;
    CHECK(result == error::proxy_timeout);
    CHECK(fp.connections == 1);
    CHECK(waited >= 250ms);
    CHECK(waited < 3s);
    CHECK_FALSE(ws.next_layer().is_open()); // the timeout closed the socket
}

TEST_CASE("proxy: a tunnel that opens but never carries the TLS handshake fails at the timeout") {
    asio::io_context io;
    fake_proxy fp(io);
    serve_once(fp, answer_and_hold("HTTP/1.1 200 OK\r\n\r\n", 5s));
    asio::ssl::context client_ctx = duplex::asio::make_tls_client_context();
    tls_stream ws(tcp::socket(io), client_ctx);
    duplex::asio::stream_options options;
    options.handshake_timeout = 300ms;
    ws.set_options(options);
    std::error_code result = make_error_code(asio::error::would_block);
    const auto start = std::chrono::steady_clock::now();
    duplex::asio::async_connect(ws, url_of("wss://localhost:9/"), proxy_at(fp.port()), [&](std::error_code ec) {
        result = ec;
        io.stop();
    });
    io.run_for(10s);
    const auto waited = std::chrono::steady_clock::now() - start;
    CHECK(result == error::handshake_timeout);
    CHECK(waited >= 250ms);
    CHECK(waited < 3s);
}

TEST_CASE("proxy: invalid proxy settings fail before connecting, and the direct API is unchanged") {
    asio::io_context io;
    fake_proxy fp(io);
    serve_once(fp, answer_and_hold("HTTP/1.1 200 OK\r\n\r\n"));
    duplex::asio::proxy_options p = proxy_at(fp.port());
    p.password = "x\r\nInjected: 1";
    ws_stream ws(io);
    bool called_inline = true;
    std::error_code result;
    duplex::asio::async_connect(ws, url_of("ws://127.0.0.1:9/"), p, [&](std::error_code ec) {
        called_inline = false;
        result = ec;
    });
    const bool inline_check = called_inline; // never completes inside the initiating call
    io.run_for(300ms);
    CHECK(inline_check);
    CHECK(result == error::proxy_bad_url);
    CHECK(fp.connections == 0);

    // A wss:// URL on a plain TCP stream, through a proxy too: url_bad_scheme.
    asio::io_context io2;
    ws_stream other(io2);
    std::error_code scheme;
    duplex::asio::async_connect(other, url_of("wss://localhost:9/"), proxy_at(1),
                                [&](std::error_code ec) { scheme = ec; });
    io2.run();
    CHECK(scheme == error::url_bad_scheme);

    // The direct overloads still connect directly.
    echo_server server;
    std::error_code direct = error::closed;
    run([&](asio::io_context& io3) -> asio::awaitable<void> {
        ws_stream ws3(io3);
        co_await duplex::asio::async_connect(ws3, url_of("ws://127.0.0.1:" + std::to_string(server.port()) + "/"),
                                             asio::redirect_error(asio::use_awaitable, direct));
        if (!direct)
            co_await ws3.async_close(close_code::normal, "", asio::redirect_error(asio::use_awaitable, direct));
    });
    CHECK_FALSE(direct);
}
