// duplex — the delays between reconnection attempts: exponential backoff with random jitter,
// so that clients that lost the same server do not all come back in the same instant. No I/O
// and no clock: the caller waits the delays. Used by duplex::asio::reconnecting_client.
// SPDX-License-Identifier: MIT
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <optional>
#include <random>
#include <stdexcept>

namespace duplex {

/// How long to wait before each reconnection attempt.
///
/// The k-th delay since the last reset has the base min(initial_delay * multiplier^k, max_delay)
/// (k from 0) and is drawn uniformly from [base * (1 - jitter), base * (1 + jitter)], so no delay
/// exceeds max_delay * (1 + jitter). Jitter spreads out clients that lost the same server at the
/// same moment, so they do not all come back in the same instant.
struct backoff_options {
    std::chrono::milliseconds initial_delay{1000}; // > 0
    double multiplier = 2.0;                       // >= 1
    std::chrono::milliseconds max_delay{30000};    // >= initial_delay, at most 24 hours
    double jitter = 0.2;                           // 0 to 1: the fraction of the base drawn at random
    std::optional<std::uint64_t> seed;             // fixed seed for reproducible delays (tests); else random
};

/// The delay sequence of backoff_options, with its own random source (SplitMix64: statistical
/// quality is plenty for jitter; it is not a secret). Not thread-safe.
class backoff final {
public:
    /// Throws std::invalid_argument if the options are inconsistent (see validate()).
    explicit backoff(const backoff_options& options = {})
        : options_(checked(options)), base_us_(micros(options.initial_delay)),
          state_(options.seed ? *options.seed : random_seed()) {}

    /// The next delay, then the base grows by the multiplier up to max_delay. Whole
    /// microseconds, rounded down.
    std::chrono::microseconds next() noexcept {
        const double j = options_.jitter;
        const double d = base_us_ * (1.0 - j + 2.0 * j * uniform());
        base_us_ = std::min(base_us_ * options_.multiplier, micros(options_.max_delay));
        ++count_;
        return std::chrono::microseconds(static_cast<std::int64_t>(d));
    }

    /// Starts again from initial_delay (after a successful connection).
    void reset() noexcept {
        base_us_ = micros(options_.initial_delay);
        count_ = 0;
    }

    /// Delays drawn since the last reset.
    unsigned count() const noexcept { return count_; }
    const backoff_options& options() const noexcept { return options_; }

    /// Throws std::invalid_argument naming the first bad field.
    static void validate(const backoff_options& o) {
        if (o.initial_delay.count() <= 0)
            throw std::invalid_argument("duplex backoff: initial_delay must be positive");
        if (o.max_delay < o.initial_delay)
            throw std::invalid_argument("duplex backoff: max_delay must not be less than initial_delay");
        if (o.max_delay > std::chrono::hours(24))
            throw std::invalid_argument("duplex backoff: max_delay must be at most 24 hours");
        if (!(o.multiplier >= 1.0) || !std::isfinite(o.multiplier))
            throw std::invalid_argument("duplex backoff: multiplier must be a finite number >= 1");
        if (!(o.jitter >= 0.0 && o.jitter <= 1.0))
            throw std::invalid_argument("duplex backoff: jitter must be between 0 and 1");
    }

private:
    static const backoff_options& checked(const backoff_options& o) {
        validate(o);
        return o;
    }
    static double micros(std::chrono::milliseconds d) noexcept { return static_cast<double>(d.count()) * 1000.0; }

    static std::uint64_t random_seed() {
        std::random_device rd;
        return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
    }

    // SplitMix64 (Steele, Lea, Flood 2014); uniform() is in [0, 1) with 53 random bits.
    std::uint64_t next64() noexcept {
        std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
    }
    double uniform() noexcept { return static_cast<double>(next64() >> 11) * (1.0 / 9007199254740992.0); }

    backoff_options options_;
    double base_us_;
    std::uint64_t state_;
    unsigned count_ = 0;
};

} // namespace duplex
