// duplex — unpredictable masking keys for clients (RFC 6455 §5.3, §10.3).
// SPDX-License-Identifier: MIT
#pragma once

#include <duplex/core/mask.hpp>

#include <cstddef>
#include <cstdint>
#include <random>

namespace duplex {

/// Masking keys from the ChaCha20 block function (RFC 8439 §2.3), keyed once from
/// std::random_device. RFC 6455 §10.3 asks for keys an attacker cannot predict from earlier
/// ones, which a plain PRNG such as rand() or a Mersenne Twister does not give. One block
/// yields 16 keys, so a key costs a few nanoseconds.
class mask_generator {
public:
    /// Keyed from std::random_device.
    mask_generator() {
        std::random_device rd;
        for (auto& w : key_)
            w = rd();
        nonce_[0] = rd();
        nonce_[1] = rd();
        nonce_[2] = rd();
    }

    /// Keyed from caller-chosen words, as RFC 8439 §2.3 lays out the ChaCha20 state (tests, or
    /// an application with its own entropy source).
    mask_generator(const std::uint32_t (&key)[8], const std::uint32_t (&nonce)[3],
                   std::uint32_t counter = 0) noexcept
        : counter_(counter) {
        for (std::size_t i = 0; i < 8; ++i)
            key_[i] = key[i];
        for (std::size_t i = 0; i < 3; ++i)
            nonce_[i] = nonce[i];
    }

    mask_key next() noexcept {
        if (used_ == 16) {
            refill();
            used_ = 0;
        }
        const std::uint32_t w = block_[used_++];
        return {static_cast<std::uint8_t>(w), static_cast<std::uint8_t>(w >> 8),
                static_cast<std::uint8_t>(w >> 16), static_cast<std::uint8_t>(w >> 24)};
    }

private:
    static std::uint32_t rotl(std::uint32_t x, int n) noexcept { return (x << n) | (x >> (32 - n)); }

    static void quarter(std::uint32_t* s, int a, int b, int c, int d) noexcept {
        s[a] += s[b]; s[d] = rotl(s[d] ^ s[a], 16);
        s[c] += s[d]; s[b] = rotl(s[b] ^ s[c], 12);
        s[a] += s[b]; s[d] = rotl(s[d] ^ s[a], 8);
        s[c] += s[d]; s[b] = rotl(s[b] ^ s[c], 7);
    }

    void refill() noexcept {
        std::uint32_t in[16] = {0x61707865, 0x3320646e, 0x79622d32, 0x6b206574};
        for (std::size_t i = 0; i < 8; ++i)
            in[4 + i] = key_[i];
        in[12] = counter_++;
        in[13] = nonce_[0];
        in[14] = nonce_[1];
        in[15] = nonce_[2];
        if (counter_ == 0)
            ++nonce_[2]; // 2^32 blocks used: move to a fresh stream rather than repeat
        std::uint32_t s[16];
        for (std::size_t i = 0; i < 16; ++i)
            s[i] = in[i];
        for (int round = 0; round < 10; ++round) {
            quarter(s, 0, 4, 8, 12);
            quarter(s, 1, 5, 9, 13);
            quarter(s, 2, 6, 10, 14);
            quarter(s, 3, 7, 11, 15);
            quarter(s, 0, 5, 10, 15);
            quarter(s, 1, 6, 11, 12);
            quarter(s, 2, 7, 8, 13);
            quarter(s, 3, 4, 9, 14);
        }
        for (std::size_t i = 0; i < 16; ++i)
            block_[i] = s[i] + in[i];
    }

    std::uint32_t key_[8] = {};
    std::uint32_t nonce_[3] = {};
    std::uint32_t counter_ = 0;
    std::uint32_t block_[16] = {};
    std::size_t used_ = 16;
};

} // namespace duplex
