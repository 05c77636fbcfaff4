// Test helper: a blocking in-memory byte stream, two ends joined like a socket pair, for
// duplex::stream. Thread-safe: one thread per end.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <system_error>
#include <utility>

namespace memory_stream_test {

// One direction of the pipe.
struct channel {
    std::mutex m;
    std::condition_variable cv;
    std::deque<unsigned char> bytes;
    bool closed = false; // the writer hung up: reads drain what is left, then see EOF
};

class memory_stream {
public:
    memory_stream(std::shared_ptr<channel> in, std::shared_ptr<channel> out)
        : in_(std::move(in)), out_(std::move(out)) {}
    memory_stream(memory_stream&&) = default;
    ~memory_stream() { close(); }

    // Blocks until bytes arrive, the other end hangs up (returns 0), or the read timeout.
    std::size_t read_some(void* data, std::size_t size, std::error_code& ec) {
        std::unique_lock<std::mutex> lock(in_->m);
        auto ready = [&] { return !in_->bytes.empty() || in_->closed; };
        if (timeout_.count() > 0) {
            if (!in_->cv.wait_for(lock, timeout_, ready)) {
                ec = std::make_error_code(std::errc::timed_out);
                return 0;
            }
        } else {
            in_->cv.wait(lock, ready);
        }
        const std::size_t n = std::min(size, in_->bytes.size());
        auto* p = static_cast<unsigned char*>(data);
        for (std::size_t i = 0; i < n; ++i) {
            p[i] = in_->bytes.front();
            in_->bytes.pop_front();
        }
        return n;
    }

    std::size_t write_some(const void* data, std::size_t size, std::error_code& ec) {
        std::lock_guard<std::mutex> lock(out_->m);
        if (out_->closed) {
            ec = std::make_error_code(std::errc::broken_pipe);
            return 0;
        }
        const auto* p = static_cast<const unsigned char*>(data);
        out_->bytes.insert(out_->bytes.end(), p, p + size);
        out_->cv.notify_all();
        return size;
    }

    void set_read_timeout(std::chrono::milliseconds t) { timeout_ = t; }

    // Hangs up this end's writing side, like shutdown(SHUT_WR) and close.
    void close() {
        if (!out_)
            return;
        std::lock_guard<std::mutex> lock(out_->m);
        out_->closed = true;
        out_->cv.notify_all();
    }

private:
    std::shared_ptr<channel> in_;
    std::shared_ptr<channel> out_;
    std::chrono::milliseconds timeout_{0};
};

inline std::pair<memory_stream, memory_stream> make_pipe() {
    auto a = std::make_shared<channel>();
    auto b = std::make_shared<channel>();
    return {memory_stream(a, b), memory_stream(b, a)};
}

} // namespace memory_stream_test
