// duplex — time without a clock: when to ping, when a peer is dead, when a close or an idle
// connection has waited too long. The caller passes the time in; nothing here reads a clock.
// SPDX-License-Identifier: MIT
#pragma once

#include <chrono>
#include <cstdint>

namespace duplex {

/// How long things may take. A zero duration turns that check off.
struct timeouts {
    /// Send a ping this often (RFC 6455 §5.5.2 keep-alive). Off by default; 30 s is common.
    std::chrono::milliseconds ping_interval{0};
    /// After a ping, give up on a peer that sends nothing at all for this long.
    std::chrono::milliseconds pong_timeout{30000};
    /// After sending a close frame, give up waiting for the peer's after this long.
    std::chrono::milliseconds close_timeout{5000};
    /// Start a close (1001) when nothing has been received for this long. Off by default.
    std::chrono::milliseconds idle_timeout{0};
};

/// The schedule behind engine::tick(). Every time it is told is a time_point of the caller's
/// clock (std::chrono::steady_clock).
class heartbeat {
public:
    using clock = std::chrono::steady_clock;
    using time_point = clock::time_point;

    enum class action : std::uint8_t {
        none,
        ping,          // send a ping now
        peer_dead,     // a ping went unanswered (nothing received) for pong_timeout
        close_expired, // our close frame went unanswered for close_timeout
        idle,          // nothing received for idle_timeout
    };

    explicit heartbeat(const timeouts& t = {}) noexcept : t_(t) {}

    /// Something arrived from the peer: it is alive. (Only the idle timeout and the heartbeat
    /// care; without them there is nothing to note, and no tick is asked for.)
    void received() noexcept {
        if (t_.idle_timeout.count() > 0 || t_.ping_interval.count() > 0)
            received_ = true;
    }

    /// We sent a close frame; the close timeout starts at the next tick.
    void close_sent() noexcept {
        if (close_deadline_ == time_point::max())
            arm_close_ = true;
    }

    /// What is due at `now`, at most one action per call (call again until none).
    action tick(time_point now) noexcept {
        if (!started_) {
            started_ = true;
            last_seen_ = last_ping_ = now;
        }
        if (received_) {
            received_ = false;
            last_seen_ = now;
            awaiting_pong_ = false;
        }
        if (arm_close_) {
            arm_close_ = false;
            close_deadline_ = t_.close_timeout.count() > 0 ? now + t_.close_timeout : time_point::max();
        }
        if (now >= close_deadline_) {
            close_deadline_ = time_point::max();
            return action::close_expired;
        }
        if (t_.idle_timeout.count() > 0 && !idle_reported_ && now - last_seen_ >= t_.idle_timeout) {
            idle_reported_ = true;
            return action::idle;
        }
        if (t_.ping_interval.count() > 0) {
            if (awaiting_pong_) {
                if (t_.pong_timeout.count() > 0 && now - last_ping_ >= t_.pong_timeout)
                    return action::peer_dead;
            } else if (now - last_ping_ >= t_.ping_interval) {
                last_ping_ = now;
                awaiting_pong_ = true;
                return action::ping;
            }
        }
        return action::none;
    }

    /// When tick() should next be called: time_point::min() means now (something must be
    /// armed), time_point::max() means only when something changes.
    time_point next_deadline() const noexcept {
        if (!started_ || arm_close_ || received_)
            return time_point::min();
        time_point next = close_deadline_;
        if (t_.idle_timeout.count() > 0 && !idle_reported_)
            next = earliest(next, last_seen_ + t_.idle_timeout);
        if (t_.ping_interval.count() > 0) {
            if (!awaiting_pong_)
                next = earliest(next, last_ping_ + t_.ping_interval);
            else if (t_.pong_timeout.count() > 0)
                next = earliest(next, last_ping_ + t_.pong_timeout);
        }
        return next;
    }

    const timeouts& settings() const noexcept { return t_; }

private:
    static time_point earliest(time_point a, time_point b) noexcept { return a < b ? a : b; }

    timeouts t_;
    time_point last_seen_{};
    time_point last_ping_{};
    time_point close_deadline_ = time_point::max();
    bool started_ = false;
    bool received_ = false;
    bool awaiting_pong_ = false;
    bool arm_close_ = false;
    bool idle_reported_ = false;
};

} // namespace duplex
