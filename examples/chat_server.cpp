// chat_server — chat rooms over WebSocket, and the page that uses them, on one port.
//
//   chat_server [--address 127.0.0.1] [--port 8080] [--web examples/chat/web]
//               [--tokens FILE] [--token NAME=TOKEN ...] [--redis HOST:PORT]
//               [--ping-interval-ms 20000] [--auth-timeout-ms 10000] [--threads N]
//
// Every connection starts as HTTP: the server reads the request head itself (at most 8 KiB,
// within 10 s). A WebSocket upgrade of /ws is handed to duplex (stream::async_accept with the
// bytes already read); a GET or HEAD of / or of a file under --web serves that file; anything
// else gets 400, 404, 405 or 426, and the connection closes after every HTTP answer.
//
// Users: --tokens FILE holds NAME=TOKEN lines ('#' starts a comment), --token NAME=TOKEN adds
// one; names are 1-32 of [A-Za-z0-9_-], tokens 1-256 of [A-Za-z0-9._~+/=-]. A client proves who
// it is either at the handshake, with "Authorization: Bearer TOKEN" or the cookie
// chat_token=TOKEN (the cookie only from the page's own origin, against cross-site WebSocket
// hijacking), or with its first message. A wrong token at the handshake is refused with 401.
//
// Protocol: JSON text messages, each one object of string, number and boolean fields.
//   client -> server  {"type":"auth","token":T}            first, unless authenticated at the handshake
//                     {"type":"join","room":R}  {"type":"leave","room":R}
//                     {"type":"message","room":R,"text":T} (only in a room the client has joined)
//   server -> client  {"type":"auth_success","user":U}     also at once after a handshake login
//                     {"type":"auth_failed","reason":...}  then a close with 1008
//                     {"type":"members","room":R,"users":[...]} to a joiner: who is in R on this server
//                     {"type":"joined","room":R,"user":U}  {"type":"left","room":R,"user":U}
//                     {"type":"message","room":R,"user":U,"text":T}
//                     {"type":"error","reason":...}        a refused request; the connection stays
// Rooms are 1-64 of [A-Za-z0-9_-]; texts 1-4096 bytes of UTF-8; 16 rooms per connection; about 10
// messages a second per connection (bursts of 20). Before authentication, anything but a valid
// auth message, or no auth within --auth-timeout-ms, is answered with auth_failed and 1008.
// Room events reach the room's members only (duplex::asio::hub, one topic per room); leaving
// and disconnecting both send "left".
//
// With --redis HOST:PORT (in a build with hiredis and examples/chat/redis_relay.hpp) every room
// event is also published to Redis, and the events of other instances are delivered to this
// one's members; relay state changes are printed to stderr.
//
// Heartbeat: a ping every --ping-interval-ms; a peer that then sends nothing for as long is
// dropped. Prints one line when it is listening. On SIGINT or SIGTERM it closes every
// connection with 1001 (going away), waits for the close handshakes (at most the close timeout)
// and exits 0. With --threads N > 1 each connection runs on its own strand.
#include <duplex/asio.hpp>
#include <duplex/asio/hub.hpp>

#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/write.hpp>

#if DUPLEX_CHAT_REDIS
#include "chat/redis_relay.hpp"
#endif

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

// ---- A small, strict JSON reader and writer ----
//
// Reads one object whose fields are strings, numbers or booleans (RFC 8259 grammar for each);
// anything else (null, arrays, nested objects, duplicate names, trailing data, lone surrogates,
// control characters in strings) is refused with a reason. Bounded: 16 fields, names of 64
// bytes, strings of 64 KiB, numbers of 32 characters.
namespace json {

struct value {
    enum class kind : std::uint8_t { string, number, boolean };
    kind type = kind::string;
    std::string text; // a string, decoded to UTF-8
    double number = 0;
    bool boolean = false;
};

struct field {
    std::string name;
    value v;
};

using object = std::vector<field>;

class reader {
public:
    static constexpr std::size_t max_fields = 16;
    static constexpr std::size_t max_name = 64;
    static constexpr std::size_t max_string = 64 * 1024;
    static constexpr std::size_t max_number = 32;

    explicit reader(std::string_view in) : in_(in) {}

    bool read(object& out) {
        out.clear();
        skip_space();
        if (!eat('{'))
            return fail("expected a JSON object");
        skip_space();
        if (eat('}'))
            return at_end();
        for (;;) {
            if (out.size() == max_fields)
                return fail("too many fields");
            skip_space();
            field f;
            if (!eat('"'))
                return fail("expected a field name");
            if (!string_body(f.name, max_name))
                return false;
            for (const auto& g : out)
                if (g.name == f.name)
                    return fail("duplicate field name");
            skip_space();
            if (!eat(':'))
                return fail("expected ':' after a field name");
            skip_space();
            if (!scalar(f.v))
                return false;
            out.push_back(std::move(f));
            skip_space();
            if (eat(','))
                continue;
            if (eat('}'))
                return at_end();
            return fail("expected ',' or '}'");
        }
    }

    const char* why() const noexcept { return why_; }

private:
    bool fail(const char* why) {
        why_ = why;
        return false;
    }
    bool eat(char c) {
        if (pos_ < in_.size() && in_[pos_] == c) {
            ++pos_;
            return true;
        }
        return false;
    }
    void skip_space() {
        while (pos_ < in_.size() && (in_[pos_] == ' ' || in_[pos_] == '\t' || in_[pos_] == '\n' || in_[pos_] == '\r'))
            ++pos_;
    }
    bool at_end() {
        skip_space();
        return pos_ == in_.size() || fail("unexpected data after the object");
    }
    bool literal(std::string_view word) {
        if (in_.substr(pos_, word.size()) != word)
            return false;
        pos_ += word.size();
        return true;
    }

    bool scalar(value& v) {
        if (pos_ == in_.size())
            return fail("expected a value");
        const char c = in_[pos_];
        if (c == '"') {
            ++pos_;
            v.type = value::kind::string;
            return string_body(v.text, max_string);
        }
        if (c == '-' || (c >= '0' && c <= '9')) {
            v.type = value::kind::number;
            return number(v.number);
        }
        if (literal("true") || literal("false")) {
            v.type = value::kind::boolean;
            v.boolean = c == 't';
            return true;
        }
        if (c == '{' || c == '[')
            return fail("nested objects and arrays are not supported");
        if (literal("null"))
            return fail("null is not supported");
        return fail("expected a string, number or boolean");
    }

    bool number(double& out) {
        const std::size_t start = pos_;
        auto digits = [&] {
            const std::size_t from = pos_;
            while (pos_ < in_.size() && in_[pos_] >= '0' && in_[pos_] <= '9')
                ++pos_;
            return pos_ - from;
        };
        eat('-');
        if (eat('0')) {
            if (pos_ < in_.size() && in_[pos_] >= '0' && in_[pos_] <= '9')
                return fail("a number may not have leading zeros");
        } else if (digits() == 0) {
            return fail("malformed number");
        }
        if (eat('.') && digits() == 0)
            return fail("malformed number");
        if (eat('e') || eat('E')) {
            if (!eat('+'))
                eat('-');
            if (digits() == 0)
                return fail("malformed number");
        }
        if (pos_ - start > max_number)
            return fail("number too long");
        const std::string copy(in_.substr(start, pos_ - start));
        out = std::strtod(copy.c_str(), nullptr);
        return true;
    }

    static int hex(char c) {
        if (c >= '0' && c <= '9')
            return c - '0';
        if (c >= 'a' && c <= 'f')
            return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
            return c - 'A' + 10;
        return -1;
    }

    bool hex4(unsigned& out) {
        if (in_.size() - pos_ < 4)
            return fail("truncated \\u escape");
        out = 0;
        for (int i = 0; i < 4; ++i) {
            const int h = hex(in_[pos_++]);
            if (h < 0)
                return fail("malformed \\u escape");
            out = out * 16 + static_cast<unsigned>(h);
        }
        return true;
    }

    static void put_utf8(std::string& out, unsigned cp) {
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (cp >> 18));
            out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        }
    }

    // After the opening quote, up to and including the closing one. The input's own UTF-8 is
    // copied as it is (a WebSocket text message has been validated already).
    bool string_body(std::string& out, std::size_t limit) {
        for (;;) {
            if (pos_ == in_.size())
                return fail("unterminated string");
            if (out.size() > limit)
                return fail("string too long");
            const char c = in_[pos_++];
            if (c == '"')
                return true;
            if (static_cast<unsigned char>(c) < 0x20)
                return fail("control character in a string");
            if (c != '\\') {
                out += c;
                continue;
            }
            if (pos_ == in_.size())
                return fail("unterminated string");
            switch (in_[pos_++]) {
            case '"': out += '"'; break;
            case '\\': out += '\\'; break;
            case '/': out += '/'; break;
            case 'b': out += '\b'; break;
            case 'f': out += '\f'; break;
            case 'n': out += '\n'; break;
            case 'r': out += '\r'; break;
            case 't': out += '\t'; break;
            case 'u': {
                unsigned cp = 0;
                if (!hex4(cp))
                    return false;
                if (cp >= 0xDC00 && cp <= 0xDFFF)
                    return fail("lone low surrogate");
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    unsigned low = 0;
                    if (!literal("\\u") || !hex4(low) || low < 0xDC00 || low > 0xDFFF)
                        return fail("lone high surrogate");
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                }
                put_utf8(out, cp);
                break;
            }
            default: return fail("unknown escape in a string");
            }
        }
    }

    std::string_view in_;
    std::size_t pos_ = 0;
    const char* why_ = "";
};

/// The string field `name`, or nullptr if it is absent or not a string.
inline const std::string* get_string(const object& o, std::string_view name) {
    for (const auto& f : o)
        if (f.name == name)
            return f.v.type == value::kind::string ? &f.v.text : nullptr;
    return nullptr;
}

/// Appends `s` (UTF-8) as a JSON string.
inline void append_string(std::string& out, std::string_view s) {
    out += '"';
    for (const char c : s) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
                char esc[8];
                std::snprintf(esc, sizeof esc, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
                out += esc;
            } else {
                out += c;
            }
        }
    }
    out += '"';
}

/// Builds one object: writer().add("type", "joined").add("room", r).str().
class writer {
public:
    writer& add(std::string_view name, std::string_view text) {
        key(name);
        append_string(out_, text);
        return *this;
    }
    writer& add(std::string_view name, const std::vector<std::string>& list) {
        key(name);
        out_ += '[';
        for (std::size_t i = 0; i < list.size(); ++i) {
            if (i)
                out_ += ',';
            append_string(out_, list[i]);
        }
        out_ += ']';
        return *this;
    }
    std::string str() const { return out_ + '}'; }

private:
    void key(std::string_view name) {
        out_ += out_.size() == 1 ? "" : ",";
        append_string(out_, name);
        out_ += ':';
    }
    std::string out_ = "{";
};

} // namespace json

namespace {

// ---- Names, tokens and settings ----

bool all_of_chars(std::string_view s, std::string_view extra) {
    return std::all_of(s.begin(), s.end(), [&](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               extra.find(c) != extra.npos;
    });
}
bool valid_user(std::string_view s) { return !s.empty() && s.size() <= 32 && all_of_chars(s, "_-"); }
bool valid_room(std::string_view s) { return !s.empty() && s.size() <= 64 && all_of_chars(s, "_-"); }
bool valid_token(std::string_view s) { return !s.empty() && s.size() <= 256 && all_of_chars(s, "._~+/=-"); }

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
        s.remove_suffix(1);
    return s;
}

// User name -> token. Lookups compare against every token, each in time that depends only on
// the stored token's length, so timing tells nothing about which prefix matched.
class token_table {
public:
    bool add(std::string_view user, std::string_view token, std::string& why) {
        if (!valid_user(user) || !valid_token(token)) {
            why = "bad user name or token (names: 1-32 of A-Za-z0-9_-; tokens: 1-256 of A-Za-z0-9._~+/=-)";
            return false;
        }
        for (const auto& [u, t] : entries_) {
            if (u == user || t == token) {
                why = "user " + std::string(user) + " or its token is given twice";
                return false;
            }
        }
        entries_.emplace_back(user, token);
        return true;
    }

    std::optional<std::string> user_for(std::string_view token) const {
        const std::string* found = nullptr;
        for (const auto& [user, stored] : entries_)
            if (same(token, stored))
                found = &user;
        return found ? std::optional<std::string>(*found) : std::nullopt;
    }

    std::size_t size() const noexcept { return entries_.size(); }

private:
    static bool same(std::string_view given, std::string_view stored) {
        unsigned char diff = given.size() != stored.size();
        for (std::size_t i = 0; i < stored.size(); ++i)
            diff |= static_cast<unsigned char>(stored[i] ^ (i < given.size() ? given[i] : 0));
        return diff == 0;
    }

    std::vector<std::pair<std::string, std::string>> entries_;
};

struct settings {
    std::string address = "127.0.0.1";
    unsigned short port = 8080;
    std::string web = "examples/chat/web";
    unsigned threads = 1;
    std::chrono::milliseconds ping_interval{20000};
    std::chrono::milliseconds auth_timeout{10000};
    std::string redis_host;
    unsigned short redis_port = 0;
    token_table tokens;
};

void usage(const char* argv0) {
    std::fprintf(stderr,
                 "usage: %s [--address 127.0.0.1] [--port 8080] [--web examples/chat/web]\n"
                 "          [--tokens FILE] [--token NAME=TOKEN ...] [--redis HOST:PORT]\n"
                 "          [--ping-interval-ms 20000] [--auth-timeout-ms 10000] [--threads N]\n"
                 "  --web DIR            the page's files (index.html, ...), served on plain GET\n"
                 "  --tokens FILE        NAME=TOKEN lines; --token adds one (at least one is needed)\n"
                 "  --redis HOST:PORT    relay room events to other instances through Redis\n"
                 "  --ping-interval-ms   heartbeat: ping this often, drop a peer silent for as long\n"
                 "  --auth-timeout-ms    close (1008) a connection that has not authenticated by then\n",
                 argv0);
}

bool parse_number(const char* text, unsigned long min, unsigned long max, unsigned long& out) {
    if (!text || *text < '0' || *text > '9')
        return false;
    char* end = nullptr;
    errno = 0;
    out = std::strtoul(text, &end, 10);
    return errno == 0 && *end == '\0' && out >= min && out <= max;
}

bool add_token(settings& s, std::string_view line, std::string& why) {
    const std::size_t eq = line.find('=');
    if (eq == line.npos) {
        why = "expected NAME=TOKEN";
        return false;
    }
    return s.tokens.add(trim(line.substr(0, eq)), trim(line.substr(eq + 1)), why);
}

bool load_tokens(settings& s, const std::string& path) {
    std::ifstream in(path);
    if (!in) {
        std::fprintf(stderr, "chat_server: cannot read --tokens %s\n", path.c_str());
        return false;
    }
    std::string line;
    for (unsigned number = 1; std::getline(in, line); ++number) {
        const std::string_view l = trim(line);
        if (l.empty() || l.front() == '#')
            continue;
        std::string why;
        if (!add_token(s, l, why)) {
            std::fprintf(stderr, "chat_server: %s:%u: %s\n", path.c_str(), number, why.c_str());
            return false;
        }
    }
    return true;
}

// Returns 0 to run, -1 after --help, else the exit status (2: usage).
int parse_args(int argc, char** argv, settings& s) {
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
        const char* v = nullptr;
        unsigned long n = 0;
        std::string why;
        if (arg == "--help" || arg == "-h") {
            usage(argv[0]);
            return -1;
        }
        if (arg == "--address" && (v = value())) {
            s.address = v;
        } else if (arg == "--port" && parse_number(value(), 0, 65535, n)) {
            s.port = static_cast<unsigned short>(n);
        } else if (arg == "--web" && (v = value())) {
            s.web = v;
        } else if (arg == "--threads" && parse_number(value(), 1, 256, n)) {
            s.threads = static_cast<unsigned>(n);
        } else if (arg == "--ping-interval-ms" && parse_number(value(), 100, 3600000, n)) {
            s.ping_interval = std::chrono::milliseconds(n);
        } else if (arg == "--auth-timeout-ms" && parse_number(value(), 100, 3600000, n)) {
            s.auth_timeout = std::chrono::milliseconds(n);
        } else if (arg == "--tokens" && (v = value())) {
            if (!load_tokens(s, v))
                return 2;
        } else if (arg == "--token" && (v = value())) {
            if (!add_token(s, v, why)) {
                std::fprintf(stderr, "chat_server: --token %s: %s\n", v, why.c_str());
                return 2;
            }
        } else if (arg == "--redis" && (v = value())) {
            const std::string_view hp = v;
            const std::size_t colon = hp.rfind(':');
            std::string port(colon == hp.npos ? "" : hp.substr(colon + 1));
            std::string_view host = colon == hp.npos ? hp : hp.substr(0, colon);
            if (host.size() > 2 && host.front() == '[' && host.back() == ']') // [::1]:6379
                host = host.substr(1, host.size() - 2);
            if (host.empty() || !parse_number(port.c_str(), 1, 65535, n)) {
                std::fprintf(stderr, "chat_server: --redis takes HOST:PORT, e.g. 127.0.0.1:6379\n");
                return 2;
            }
            s.redis_host = std::string(host);
            s.redis_port = static_cast<unsigned short>(n);
        } else {
            std::fprintf(stderr, "chat_server: bad or incomplete argument: %s\n", arg.c_str());
            usage(argv[0]);
            return 2;
        }
    }
    if (s.tokens.size() == 0) {
        std::fprintf(stderr, "chat_server: no users: give --tokens FILE or --token NAME=TOKEN\n");
        usage(argv[0]);
        return 2;
    }
#if !DUPLEX_CHAT_REDIS
    if (!s.redis_host.empty()) {
        std::fprintf(stderr, "chat_server: --redis: this build has no Redis relay (it needs hiredis, "
                             "libhiredis-dev, and examples/chat/redis_relay.hpp at configure time)\n");
        return 2;
    }
#endif
    return 0;
}

// ---- Live connections, for shutdown ----

// Every connection object (HTTP front or chat session) registers, so that a signal can close
// them all and the program can stop once none is left.
class registry {
public:
    class member {
    public:
        virtual std::shared_ptr<void> hold() noexcept = 0; // null once it is being destroyed
        virtual void close_soon() = 0;                      // from any thread

    protected:
        ~member() = default;
    };

    // False once shutting down: the caller then closes at once.
    bool add(member* m) {
        std::lock_guard<std::mutex> lock(m_);
        if (closing_)
            return false;
        members_.insert(m);
        return true;
    }

    void remove(member* m) {
        std::function<void()> done;
        {
            std::lock_guard<std::mutex> lock(m_);
            if (members_.erase(m) == 0)
                return;
            if (members_.empty())
                done = std::exchange(on_empty_, nullptr);
        }
        if (done)
            done();
    }

    // Closes every member; calls `done` once none is left.
    void close_all(std::function<void()> done) {
        std::vector<std::pair<member*, std::shared_ptr<void>>> live;
        {
            std::lock_guard<std::mutex> lock(m_);
            closing_ = true;
            if (!members_.empty()) {
                on_empty_ = std::move(done);
                done = nullptr;
                for (member* m : members_)
                    if (auto held = m->hold())
                        live.emplace_back(m, std::move(held));
            }
        }
        if (done) // none was left
            return done();
        for (auto& [m, held] : live)
            m->close_soon();
    }

private:
    std::mutex m_;
    std::unordered_set<member*> members_;
    std::function<void()> on_empty_;
    bool closing_ = false;
};

// Who is in which room on this server (for the "members" answer to a join). A user connected
// twice counts twice and is listed once.
class roster {
public:
    void add(const std::string& room, const std::string& user) {
        std::lock_guard<std::mutex> lock(m_);
        ++rooms_[room][user];
    }
    void remove(const std::string& room, const std::string& user) {
        std::lock_guard<std::mutex> lock(m_);
        auto r = rooms_.find(room);
        if (r == rooms_.end())
            return;
        auto u = r->second.find(user);
        if (u != r->second.end() && --u->second == 0)
            r->second.erase(u);
        if (r->second.empty())
            rooms_.erase(r);
    }
    std::vector<std::string> users(const std::string& room) const {
        std::lock_guard<std::mutex> lock(m_);
        std::vector<std::string> out;
        auto r = rooms_.find(room);
        if (r != rooms_.end())
            for (const auto& [user, count] : r->second)
                out.push_back(user);
        return out;
    }

private:
    mutable std::mutex m_;
    std::unordered_map<std::string, std::map<std::string, unsigned>> rooms_;
};

// ---- The server's shared state ----

constexpr std::size_t max_connections = 4096;
constexpr std::size_t max_rooms_per_connection = 16;
constexpr std::size_t max_text = 4096;
constexpr std::size_t max_static_file = 1024 * 1024;
constexpr auto head_timeout = 10s;

struct server {
    settings cfg;
    std::filesystem::path web_root; // canonical
    duplex::asio::stream_options ws_options;
    duplex::asio::hub<tcp::socket> hub{[] {
        duplex::asio::hub_options o;
        o.max_buffered = 1024 * 1024;
        o.on_slow = duplex::asio::slow_subscriber::close; // a chat must not silently lose lines
        return o;
    }()};
    roster rooms;
    registry live;
    std::atomic<std::size_t> connections{0};
    // Set with --redis: hands an event to the relay (from any thread).
    std::function<void(std::string room, std::string payload)> relay_publish;

    // A room event made here: to this server's members, and to the other instances.
    void publish(const std::string& room, const std::string& payload) {
        std::error_code ec; // only for invalid UTF-8, which events built here never hold
        hub.publish(room, payload, ec);
        if (relay_publish)
            relay_publish(room, payload);
    }

    // A room event from another instance: checked, then to this server's members only.
    void publish_remote(std::string_view room, std::string_view payload) {
        if (!valid_room(room) || payload.size() > 64 * 1024)
            return;
        json::object o;
        if (!json::reader(payload).read(o))
            return;
        const std::string* type = json::get_string(o, "type");
        const std::string* in = json::get_string(o, "room");
        if (!type || !in || *in != room || (*type != "joined" && *type != "left" && *type != "message"))
            return;
        std::error_code ec; // invalid UTF-8: dropped
        hub.publish(room, payload, ec);
    }
};

// Counts a live TCP connection for as long as it is held; moves from the HTTP front to the
// chat session with the socket.
class connection_slot {
public:
    explicit connection_slot(std::atomic<std::size_t>& n) : n_(&n) { n_->fetch_add(1); }
    connection_slot(connection_slot&& o) noexcept : n_(std::exchange(o.n_, nullptr)) {}
    connection_slot& operator=(connection_slot&&) = delete;
    ~connection_slot() {
        if (n_)
            n_->fetch_sub(1);
    }

private:
    std::atomic<std::size_t>* n_;
};

std::string event(std::string_view type, std::string_view room, std::string_view user) {
    return json::writer().add("type", type).add("room", room).add("user", user).str();
}

// ---- A chat connection (after the HTTP head said "upgrade") ----

class chat_session final : public std::enable_shared_from_this<chat_session>, public registry::member {
public:
    chat_session(tcp::socket socket, server& srv, connection_slot slot)
        : ws_(std::move(socket)), auth_timer_(ws_.get_executor()), srv_(srv), slot_(std::move(slot)) {
        ws_.set_options(srv.ws_options);
    }
    ~chat_session() { srv_.live.remove(this); }

    // `request` holds the head (and anything after it) as read by the HTTP front.
    void start(const std::string& request) {
        if (!srv_.live.add(this))
            return; // shutting down: the socket closes with this object
        duplex::server_handshake_options o;
        o.accept = [this](const duplex::upgrade_request& r, duplex::rejection& reject) { return authorize(r, reject); };
        ws_.async_accept(std::move(o), request, [self = shared_from_this()](std::error_code ec) {
            if (ec)
                return self->finish();
            self->opened();
        });
    }

    std::shared_ptr<void> hold() noexcept override { return weak_from_this().lock(); }
    void close_soon() override {
        asio::post(ws_.get_executor(), [self = shared_from_this()] { self->going_away(); });
    }

private:
    // The handshake hook: the path, and credentials if the request carries any.
    bool authorize(const duplex::upgrade_request& r, duplex::rejection& reject) {
        if (r.path != "/ws") {
            reject.status = 404;
            reject.reason = "no WebSocket endpoint here: use /ws";
            return false;
        }
        auto bad_token = [&](const char* why) {
            reject.status = 401;
            reject.reason = why;
            reject.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"duplex-chat\", error=\"invalid_token\"");
            return false;
        };
        std::string_view token;
        if (const std::string_view authz = r.header("Authorization"); !authz.empty()) {
            const std::size_t sp = authz.find(' ');
            if (sp == authz.npos || !iequals(authz.substr(0, sp), "Bearer"))
                return bad_token("Authorization must be \"Bearer TOKEN\"");
            token = trim(authz.substr(sp + 1));
        } else if (token = cookie(r, "chat_token"); !token.empty()) {
            // Browsers send cookies with any page's WebSocket to this host: only this server's
            // own pages (or clients that send no Origin) may log in with one.
            const bool same_origin = r.origin.empty() || iequals(r.origin, "http://" + std::string(r.host)) ||
                                     iequals(r.origin, "https://" + std::string(r.host));
            if (!same_origin) {
                reject.status = 403;
                reject.reason = "cookie login from another origin";
                return false;
            }
        } else {
            return true; // the first message must authenticate
        }
        auto user = srv_.cfg.tokens.user_for(token);
        if (!user)
            return bad_token("invalid token");
        user_ = std::move(*user);
        return true;
    }

    // The value of cookie `name` in the request's Cookie fields, or an empty view.
    static std::string_view cookie(const duplex::upgrade_request& r, std::string_view name) {
        for (const auto& f : r.head->fields) {
            if (!iequals(f.name, "Cookie"))
                continue;
            std::string_view rest = f.value;
            while (!rest.empty()) {
                const std::size_t semi = rest.find(';');
                const std::string_view pair = trim(rest.substr(0, semi));
                rest = semi == rest.npos ? std::string_view{} : rest.substr(semi + 1);
                const std::size_t eq = pair.find('=');
                if (eq == pair.npos || trim(pair.substr(0, eq)) != name)
                    continue;
                std::string_view v = trim(pair.substr(eq + 1));
                if (v.size() >= 2 && v.front() == '"' && v.back() == '"')
                    v = v.substr(1, v.size() - 2);
                return v;
            }
        }
        return {};
    }

    void opened() {
        opened_ = true;
        if (!user_.empty()) {
            send(json::writer().add("type", "auth_success").add("user", user_).str());
        } else {
            auth_timer_.expires_after(srv_.cfg.auth_timeout);
            auth_timer_.async_wait([self = shared_from_this()](std::error_code ec) {
                if (!ec && self->user_.empty())
                    self->refuse("authentication timed out");
            });
        }
        ws_.async_read_each([this](const duplex::message& m) { on_message(m); },
                            [self = shared_from_this()](std::error_code) { self->finish(); });
    }

    void send(const std::string& text) {
        std::error_code ec; // fails only once the connection is closing
        ws_.send(duplex::opcode::text, text.data(), text.size(), ec);
    }

    void error(std::string_view reason) { send(json::writer().add("type", "error").add("reason", reason).str()); }

    // Authentication failed: say why, then close with 1008.
    void refuse(std::string_view reason) {
        if (closing_)
            return;
        closing_ = true;
        auth_timer_.cancel();
        send(json::writer().add("type", "auth_failed").add("reason", reason).str());
        ws_.async_close(duplex::close_code::policy_violation, "authentication failed",
                        [self = shared_from_this()](std::error_code) { self->finish(); });
    }

    // About 10 messages a second, in bursts of up to 20.
    bool within_rate() {
        const auto now = std::chrono::steady_clock::now();
        const std::chrono::duration<double> elapsed = now - last_;
        last_ = now;
        budget_ = std::min(20.0, budget_ + elapsed.count() * 10.0);
        if (budget_ < 1.0)
            return false;
        budget_ -= 1.0;
        return true;
    }

    void on_message(const duplex::message& m) {
        if (closing_)
            return;
        const bool authenticated = !user_.empty();
        if (!m.is_text())
            return authenticated ? error("send JSON text messages") : refuse("send JSON text messages");
        json::object o;
        json::reader in(m.data);
        if (!in.read(o)) {
            const std::string why = std::string("bad JSON: ") + in.why();
            return authenticated ? error(why) : refuse(why);
        }
        const std::string* type = json::get_string(o, "type");
        if (!type)
            return authenticated ? error("no \"type\"") : refuse("no \"type\"");
        if (!authenticated) {
            if (*type != "auth")
                return refuse("authenticate first: {\"type\":\"auth\",\"token\":...}");
            const std::string* token = json::get_string(o, "token");
            auto user = token ? srv_.cfg.tokens.user_for(*token) : std::nullopt;
            if (!user)
                return refuse(token ? "invalid token" : "no \"token\"");
            user_ = std::move(*user);
            auth_timer_.cancel();
            return send(json::writer().add("type", "auth_success").add("user", user_).str());
        }
        if (!within_rate())
            return error("too many messages: this one was dropped");
        const std::string* room = json::get_string(o, "room");
        if (*type == "auth")
            return error("already authenticated");
        if (*type != "join" && *type != "leave" && *type != "message")
            return error("unknown \"type\": " + type->substr(0, 32));
        if (!room || !valid_room(*room))
            return error("\"room\" must be 1-64 characters of A-Z a-z 0-9 _ -");
        if (*type == "join")
            return join(*room);
        if (*type == "leave")
            return leave(*room);
        const std::string* text = json::get_string(o, "text");
        if (!text || text->empty() || text->size() > max_text)
            return error("\"text\" must be a string of 1-4096 bytes");
        if (rooms_.count(*room) == 0)
            return error("join " + *room + " before posting in it");
        srv_.publish(*room, json::writer()
                                .add("type", "message")
                                .add("room", *room)
                                .add("user", user_)
                                .add("text", *text)
                                .str());
    }

    void join(const std::string& room) {
        if (rooms_.count(room))
            return error("already in " + room);
        if (rooms_.size() == max_rooms_per_connection)
            return error("too many rooms: leave one first");
        srv_.hub.subscribe(ws_, room);
        rooms_.insert(room);
        srv_.rooms.add(room, user_);
        send(json::writer().add("type", "members").add("room", room).add("users", srv_.rooms.users(room)).str());
        srv_.publish(room, event("joined", room, user_));
    }

    void leave(const std::string& room) {
        if (rooms_.erase(room) == 0)
            return error("not in " + room);
        srv_.publish(room, event("left", room, user_)); // the leaver is still subscribed: it sees it too
        srv_.hub.unsubscribe(ws_, room);
        srv_.rooms.remove(room, user_);
    }

    void going_away() {
        if (finished_ || closing_)
            return;
        if (!opened_) { // still in the handshake: cut it off
            std::error_code ignored;
            ws_.next_layer().close(ignored);
            return;
        }
        closing_ = true;
        ws_.async_close(duplex::close_code::going_away, "server shutting down",
                        [self = shared_from_this()](std::error_code) { self->finish(); });
    }

    // The connection is over (or never opened): leave every room, once.
    void finish() {
        if (finished_)
            return;
        finished_ = true;
        closing_ = true;
        auth_timer_.cancel();
        srv_.hub.unsubscribe_all(ws_);
        for (const auto& room : rooms_) {
            srv_.publish(room, event("left", room, user_));
            srv_.rooms.remove(room, user_);
        }
        rooms_.clear();
        srv_.live.remove(this);
    }

    duplex::asio::stream<tcp::socket> ws_;
    asio::steady_timer auth_timer_;
    server& srv_;
    connection_slot slot_;
    std::string user_; // empty until authenticated
    std::set<std::string> rooms_;
    double budget_ = 20.0;
    std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
    bool opened_ = false;
    bool closing_ = false;
    bool finished_ = false;
};

// ---- The HTTP front: reads the request head, then serves a file or hands over ----

std::string_view content_type(const std::filesystem::path& file) {
    const std::string ext = file.extension().string();
    if (ext == ".html")
        return "text/html; charset=utf-8";
    if (ext == ".js")
        return "text/javascript; charset=utf-8";
    if (ext == ".css")
        return "text/css; charset=utf-8";
    if (ext == ".svg")
        return "image/svg+xml";
    if (ext == ".png")
        return "image/png";
    if (ext == ".ico")
        return "image/x-icon";
    if (ext == ".json")
        return "application/json";
    if (ext == ".txt")
        return "text/plain; charset=utf-8";
    return "application/octet-stream";
}

class http_front final : public std::enable_shared_from_this<http_front>, public registry::member {
public:
    http_front(tcp::socket socket, server& srv)
        : socket_(std::move(socket)), timer_(socket_.get_executor()), srv_(srv), slot_(srv.connections),
          parser_(duplex::http_parser::kind::request, duplex::http_limits{}) {}
    ~http_front() { srv_.live.remove(this); }

    void start() {
        if (!srv_.live.add(this))
            return;
        timer_.expires_after(head_timeout);
        timer_.async_wait([self = shared_from_this()](std::error_code ec) {
            if (!ec)
                self->reply(duplex::build_rejection(408, "the request head took too long"));
        });
        read();
    }

    std::shared_ptr<void> hold() noexcept override { return weak_from_this().lock(); }
    void close_soon() override {
        asio::post(socket_.get_executor(), [self = shared_from_this()] { self->close(); });
    }

private:
    void read() {
        socket_.async_read_some(asio::buffer(buffer_), [self = shared_from_this()](std::error_code ec, std::size_t n) {
            self->on_read(ec, n);
        });
    }

    void on_read(std::error_code ec, std::size_t n) {
        if (replying_) // the 408 is on its way
            return;
        if (ec)
            return close();
        request_.append(buffer_.data(), n);
        parser_.feed(buffer_.data(), n, ec);
        if (ec)
            return reply(duplex::build_rejection(duplex::http_status(ec), ec.message()));
        if (!parser_.done())
            return read();
        timer_.cancel();
        const duplex::http_head& head = parser_.head();
        if (head.has_token("Upgrade", "websocket")) {
            // duplex parses the head again from `request_` and answers the upgrade.
            std::make_shared<chat_session>(std::move(socket_), srv_, std::move(slot_))->start(request_);
            return close();
        }
        serve(head);
    }

    void serve(const duplex::http_head& head) {
        if (head.method != "GET" && head.method != "HEAD")
            return reply(duplex::build_rejection(405, "only GET and HEAD", {{"Allow", "GET, HEAD"}}));
        const std::string_view target = head.target;
        const std::string_view path = target.substr(0, target.find('?'));
        if (path == "/ws")
            return reply(duplex::build_rejection(426, "this is the WebSocket endpoint"));
        std::filesystem::path file;
        if (const unsigned status = resolve(path, file))
            return reply(duplex::build_rejection(status, status == 400 ? "bad path" : "not found"));
        std::ifstream in(file, std::ios::binary);
        if (!in)
            return reply(duplex::build_rejection(500, "cannot read the file"));
        const std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        std::string out = "HTTP/1.1 200 OK\r\nContent-Type: ";
        out += content_type(file);
        out += "\r\nContent-Length: " + std::to_string(body.size()) +
               "\r\nConnection: close\r\nCache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\n"
               "Referrer-Policy: no-referrer\r\n"
               "Content-Security-Policy: default-src 'self'; connect-src 'self'; frame-ancestors 'none'\r\n\r\n";
        if (head.method == "GET")
            out += body;
        reply(std::move(out));
    }

    // Maps a request path to a regular file under the web root; 0, or the status to answer.
    unsigned resolve(std::string_view path, std::filesystem::path& out) const {
        if (path.empty() || path.front() != '/' || path.size() > 256)
            return 400;
        if (path == "/")
            path = "/index.html";
        std::filesystem::path rel;
        for (std::string_view rest = path.substr(1); !rest.empty();) {
            const std::size_t slash = rest.find('/');
            const std::string_view part = rest.substr(0, slash);
            rest = slash == rest.npos ? std::string_view{} : rest.substr(slash + 1);
            // No "..", no "%2e%2e", no backslashes: segments of plain characters only.
            if (part.empty() || part == "." || part == ".." || !all_of_chars(part, "._-"))
                return 400;
            if (part.front() == '.')
                return 404; // hidden files are not served
            rel /= std::string(part);
        }
        std::error_code ec;
        const std::filesystem::path real = std::filesystem::canonical(srv_.web_root / rel, ec);
        if (ec || !std::filesystem::is_regular_file(real, ec))
            return 404;
        // Symbolic links may not lead out of the web root.
        const auto root_end =
            std::mismatch(srv_.web_root.begin(), srv_.web_root.end(), real.begin(), real.end()).first;
        if (root_end != srv_.web_root.end() || std::filesystem::file_size(real, ec) > max_static_file || ec)
            return 404;
        out = real;
        return 0;
    }

    // Writes an answer, then closes.
    void reply(std::string response) {
        if (replying_)
            return;
        replying_ = true;
        timer_.cancel();
        response_ = std::move(response);
        asio::async_write(socket_, asio::buffer(response_), [self = shared_from_this()](std::error_code, std::size_t) {
            std::error_code ignored;
            self->socket_.shutdown(tcp::socket::shutdown_send, ignored);
            self->close();
        });
    }

    void close() {
        std::error_code ignored;
        timer_.cancel();
        socket_.close(ignored);
        srv_.live.remove(this);
    }

    tcp::socket socket_;
    asio::steady_timer timer_;
    server& srv_;
    connection_slot slot_;
    duplex::http_parser parser_;
    std::array<char, 4096> buffer_{};
    std::string request_;  // every byte read: the head, and any the client sent after it
    std::string response_;
    bool replying_ = false;
};

} // namespace

int main(int argc, char** argv) {
    server srv;
    if (const int status = parse_args(argc, argv, srv.cfg))
        return status < 0 ? 0 : status;
    settings& s = srv.cfg;
    {
        std::error_code ec;
        srv.web_root = std::filesystem::canonical(s.web, ec);
        if (ec || !std::filesystem::is_directory(srv.web_root)) {
            std::fprintf(stderr, "chat_server: --web %s is not a directory (run from the source tree, or pass "
                                 "--web PATH/examples/chat/web)\n", s.web.c_str());
            return 2;
        }
    }
    auto& e = srv.ws_options.engine;
    e.max_message_size = 64 * 1024; // a 4 KiB text, escaped, fits
    e.max_frame_size = 64 * 1024;
    e.send_queue_limit = 4 * 1024 * 1024;
    e.send_queue_resume = 2 * 1024 * 1024;
    e.timeouts.ping_interval = s.ping_interval;
    e.timeouts.pong_timeout = s.ping_interval;

    asio::io_context io(static_cast<int>(s.threads));

#if DUPLEX_CHAT_REDIS
    // The relay runs on a strand of its own; every call to it is posted there.
    auto relay_ex = asio::make_strand(io);
    std::optional<chat::redis_relay> relay;
    if (!s.redis_host.empty()) {
        try {
            relay.emplace(relay_ex, s.redis_host, s.redis_port);
        } catch (const std::exception& x) {
            std::fprintf(stderr, "chat_server: --redis: %s\n", x.what());
            return 2;
        }
        relay->on_state = [](bool up, std::string_view detail) {
            std::fprintf(stderr, "chat_server: redis relay %s: %.*s\n", up ? "up" : "down",
                         static_cast<int>(detail.size()), detail.data());
        };
        relay->on_message = [&srv](std::string_view room, std::string_view payload) {
            srv.publish_remote(room, payload);
        };
        srv.relay_publish = [r = &*relay, relay_ex](std::string room, std::string payload) {
            asio::post(relay_ex, [r, room = std::move(room), payload = std::move(payload)] { r->publish(room, payload); });
        };
        asio::post(relay_ex, [r = &*relay] { r->start(); });
    }
#endif

    tcp::acceptor acceptor(io);
    std::error_code ec;
    const tcp::endpoint endpoint(asio::ip::make_address(s.address, ec), s.port);
    if (!ec)
        acceptor.open(endpoint.protocol(), ec);
    if (!ec)
        acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec)
        acceptor.bind(endpoint, ec);
    if (!ec)
        acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        std::fprintf(stderr, "chat_server: cannot listen on %s:%u: %s\n", s.address.c_str(), s.port,
                     ec.message().c_str());
        return 1;
    }

    asio::steady_timer accept_pause(io);
    std::function<void()> accept_next = [&] {
        // A strand per connection when several threads run the io_context.
        auto ex = s.threads > 1 ? asio::any_io_executor(asio::make_strand(io)) : asio::any_io_executor(io.get_executor());
        acceptor.async_accept(ex, [&](std::error_code ec, tcp::socket socket) {
            if (ec == asio::error::operation_aborted || !acceptor.is_open())
                return;
            if (ec) { // e.g. out of file descriptors: pause rather than spin
                accept_pause.expires_after(100ms);
                accept_pause.async_wait([&](std::error_code e) {
                    if (!e)
                        accept_next();
                });
                return;
            }
            if (srv.connections.load() < max_connections) {
                socket.set_option(tcp::no_delay(true), ec);
                std::make_shared<http_front>(std::move(socket), srv)->start();
            } // else the socket closes here
            accept_next();
        });
    };
    accept_next();

    asio::signal_set signals(io, SIGINT, SIGTERM);
    asio::steady_timer deadline(io);
    signals.async_wait([&](std::error_code, int) {
        acceptor.close();
        accept_pause.cancel();
#if DUPLEX_CHAT_REDIS
        if (relay)
            asio::post(relay_ex, [r = &*relay] { r->stop(); });
#endif
        srv.live.close_all([&] { asio::post(io, [&] { io.stop(); }); });
        // Peers that never answer are cut off at the close timeout, plus a margin.
        deadline.expires_after(srv.ws_options.engine.timeouts.close_timeout + 1s);
        deadline.async_wait([&](std::error_code e) {
            if (!e)
                io.stop();
        });
    });

    std::printf("chat_server listening on %s:%u (web %s, %zu users, %u thread%s, ping every %lld ms%s)\n",
                s.address.c_str(), acceptor.local_endpoint().port(), srv.web_root.c_str(), s.tokens.size(),
                s.threads, s.threads == 1 ? "" : "s", static_cast<long long>(s.ping_interval.count()),
                s.redis_host.empty() ? "" : ", redis relay");
    std::fflush(stdout);

    std::vector<std::thread> pool;
    for (unsigned i = 1; i < s.threads; ++i)
        pool.emplace_back([&] { io.run(); });
    io.run();
    for (auto& t : pool)
        t.join();
    srv.relay_publish = nullptr; // it holds the relay's strand, which must go before io
    return 0;
}
