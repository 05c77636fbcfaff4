// duplex fuzzing — payload masking (RFC 6455 §5.3), against a byte-by-byte reference.
// SPDX-License-Identifier: MIT
//
// Input layout:
//   bytes 0-3  the masking key
//   byte  4    the starting phase (any value: only its value mod 4 may matter)
//   byte  5    low 4 bits: the source's offset from a 64-byte boundary; high 4 bits: the
//              destination's
//   byte  6    low 3 bits: how many chunk-length bytes follow (0-7)
//   then       the chunk lengths (cycled; 0 gives an empty call), then the payload
// apply_mask and copy_masked, whole and chunk by chunk (carrying the returned phase), must give
// payload[i] ^ key[(phase + i) % 4], return (phase + size) % 4, touch no byte outside the
// destination and leave copy_masked's source alone. Masking twice restores the payload.

#include "fuzz_check.hpp"

#include <duplex/core/mask.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

namespace {

constexpr std::uint8_t guard = 0xA5;

// A payload starting `offset` bytes past a 64-byte boundary inside a heap block, with guard
// bytes before and after it that must survive (ASan also reports writes past the block).
class placed_buffer {
public:
    placed_buffer(std::size_t offset, std::size_t size) {
        storage_.reset(new unsigned char[63 + offset + size]);
        const auto addr = reinterpret_cast<std::uintptr_t>(storage_.get());
        lead_ = static_cast<std::size_t>((64 - addr % 64) % 64) + offset;
        std::memset(storage_.get(), guard, lead_);
        data_ = storage_.get() + lead_;
        // The block's last 63 - (lead_ - offset) bytes lie past the payload: guard them too.
        tail_ = 63 + offset + size - lead_ - size;
        std::memset(data_ + size, guard, tail_);
    }

    unsigned char* data() noexcept { return data_; }

    bool guards_intact(std::size_t size) const noexcept {
        for (std::size_t i = 0; i < lead_; ++i)
            if (storage_[i] != guard)
                return false;
        for (std::size_t i = 0; i < tail_; ++i)
            if (data_[size + i] != guard)
                return false;
        return true;
    }

private:
    std::unique_ptr<unsigned char[]> storage_;
    unsigned char* data_ = nullptr;
    std::size_t lead_ = 0;
    std::size_t tail_ = 0;
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 7)
        return 0;
    const duplex::mask_key key = {data[0], data[1], data[2], data[3]};
    const std::size_t phase = data[4];
    const std::size_t src_off = data[5] & 0x0F;
    const std::size_t dst_off = data[5] >> 4;
    std::size_t count = data[6] & 0x07;
    if (count > size - 7)
        count = size - 7;
    const std::uint8_t* lengths = data + 7;
    const std::uint8_t* payload = data + 7 + count;
    const std::size_t n = size - 7 - count;

    std::vector<unsigned char> expected(n);
    for (std::size_t i = 0; i < n; ++i)
        expected[i] = static_cast<unsigned char>(payload[i] ^ key[(phase + i) % 4]);
    const std::size_t end_phase = (phase + n) % 4;

    // apply_mask in place, in one call.
    {
        placed_buffer buf(src_off, n);
        if (n != 0)
            std::memcpy(buf.data(), payload, n);
        FUZZ_CHECK(duplex::apply_mask(buf.data(), n, key, phase) == end_phase);
        FUZZ_CHECK(n == 0 || std::memcmp(buf.data(), expected.data(), n) == 0);
        FUZZ_CHECK(buf.guards_intact(n));
        // Masking again restores the payload; a phase that differs by a multiple of 4 is the same
        // phase.
        const std::size_t same_phase = (SIZE_MAX & ~std::size_t{3}) + (phase & 3);
        FUZZ_CHECK(duplex::apply_mask(buf.data(), n, key, same_phase) == end_phase);
        FUZZ_CHECK(n == 0 || std::memcmp(buf.data(), payload, n) == 0);
        FUZZ_CHECK(buf.guards_intact(n));
    }

    // copy_masked between two buffers, in one call; then with source and destination equal.
    {
        placed_buffer src(src_off, n), dst(dst_off, n);
        if (n != 0)
            std::memcpy(src.data(), payload, n);
        FUZZ_CHECK(duplex::copy_masked(dst.data(), src.data(), n, key, phase) == end_phase);
        FUZZ_CHECK(n == 0 || std::memcmp(dst.data(), expected.data(), n) == 0);
        FUZZ_CHECK(n == 0 || std::memcmp(src.data(), payload, n) == 0);
        FUZZ_CHECK(dst.guards_intact(n) && src.guards_intact(n));

        FUZZ_CHECK(duplex::copy_masked(src.data(), src.data(), n, key, phase) == end_phase);
        FUZZ_CHECK(n == 0 || std::memcmp(src.data(), expected.data(), n) == 0);
        FUZZ_CHECK(src.guards_intact(n));
    }

    // Chunk by chunk, carrying the phase each call returns.
    if (count != 0) {
        placed_buffer in_place(src_off, n), src(src_off, n), dst(dst_off, n);
        if (n != 0) {
            std::memcpy(in_place.data(), payload, n);
            std::memcpy(src.data(), payload, n);
        }
        std::size_t done = 0;
        std::size_t apply_phase = phase;
        std::size_t copy_phase = phase;
        // At least one call, even for an empty payload: its result must be reduced mod 4 too.
        for (std::size_t round = 0; (round == 0 || done < n) && round < n + 2 * count + 2;
             ++round) {
            std::size_t len = lengths[round % count];
            if (len > n - done)
                len = n - done;
            apply_phase = duplex::apply_mask(in_place.data() + done, len, key, apply_phase);
            copy_phase = duplex::copy_masked(dst.data() + done, src.data() + done, len, key,
                                             copy_phase);
            done += len;
            FUZZ_CHECK(apply_phase == (phase + done) % 4 && copy_phase == apply_phase);
        }
        if (done < n) {
            apply_phase = duplex::apply_mask(in_place.data() + done, n - done, key, apply_phase);
            copy_phase =
                duplex::copy_masked(dst.data() + done, src.data() + done, n - done, key, copy_phase);
        }
        FUZZ_CHECK(apply_phase == end_phase && copy_phase == end_phase);
        FUZZ_CHECK(n == 0 || std::memcmp(in_place.data(), expected.data(), n) == 0);
        FUZZ_CHECK(n == 0 || std::memcmp(dst.data(), expected.data(), n) == 0);
        FUZZ_CHECK(n == 0 || std::memcmp(src.data(), payload, n) == 0);
        FUZZ_CHECK(in_place.guards_intact(n) && src.guards_intact(n) && dst.guards_intact(n));
    }
    return 0;
}
