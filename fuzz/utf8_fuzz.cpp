// duplex fuzzing — streaming UTF-8 validation (RFC 3629), differential against a reference.
// SPDX-License-Identifier: MIT
//
// Input: the low 4 bits of byte 0 say how many chunk-length bytes follow it (0-15); the rest is
// the text. The text is fed to duplex::utf8_validator whole, one byte at a time, and in chunks
// whose lengths cycle through the chunk-length bytes (a 0 makes an empty feed). After every
// feed, its result, failed(), position() and complete() must match what the reference decoder in
// fuzz_check.hpp says of the bytes fed so far; is_valid_utf8 must agree with it on the whole.
// Each of these runs twice: through feed() (the AVX2 path for feeds of 64 bytes and more, on CPUs
// that have it) and through detail::utf8_feed_portable() (the scalar DFA only).

#include "fuzz_check.hpp"

#include <duplex/core/utf8.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace {

using duplex_fuzz::utf8_verdict;

using feed_fn = bool (*)(duplex::utf8_validator&, const void*, std::size_t);

bool feed_public(duplex::utf8_validator& v, const void* data, std::size_t size) { return v.feed(data, size); }
bool feed_portable(duplex::utf8_validator& v, const void* data, std::size_t size) {
    return duplex::detail::utf8_feed_portable(v, data, size);
}

// Feeds `text` in pieces of the given lengths (cycled; an empty list means one piece) and checks
// the validator's state after each one against the reference verdict.
void check_chunked(feed_fn feed, const std::uint8_t* text, std::size_t n, const utf8_verdict& ref,
                   const std::uint8_t* lengths, std::size_t count) {
    duplex::utf8_validator v;
    std::size_t fed = 0;
    std::size_t next = 0;
    // Bounded, so all-zero lengths cannot loop forever; whatever is left goes in one last feed.
    for (std::size_t round = 0; fed < n && round < n + 2 * count + 2; ++round) {
        std::size_t len = count == 0 ? n - fed : lengths[next++ % count];
        if (len > n - fed)
            len = n - fed;
        const bool was_failed = v.failed();
        const bool ok = feed(v, text + fed, len);
        if (ref.invalid && ref.fail_at < fed + len) {
            // This feed holds (or follows) the first bad byte.
            FUZZ_CHECK(!ok && v.failed() && !v.complete());
            FUZZ_CHECK(v.position() == ref.fail_at);
        } else {
            FUZZ_CHECK(ok && !was_failed && !v.failed());
            FUZZ_CHECK(v.position() == fed + len);
            FUZZ_CHECK(v.complete() == ref.boundary[fed + len]);
        }
        fed += len;
    }
    if (fed < n) {
        const bool ok = feed(v, text + fed, n - fed);
        FUZZ_CHECK(ok == !ref.invalid);
    }
    FUZZ_CHECK(v.failed() == ref.invalid);
    FUZZ_CHECK(v.position() == (ref.invalid ? ref.fail_at : n));
    FUZZ_CHECK(v.complete() == (!ref.invalid && ref.boundary[n]));

    // Once failed, the validator stays failed and its position stays put.
    if (ref.invalid) {
        static const std::uint8_t ascii[] = {'o', 'k'};
        FUZZ_CHECK(!feed(v, ascii, sizeof ascii) && !feed(v, ascii, 0));
        FUZZ_CHECK(v.failed() && v.position() == ref.fail_at);
    }
    // reset() forgets everything.
    v.reset();
    FUZZ_CHECK(!v.failed() && v.complete() && v.position() == 0);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1)
        return 0;
    std::size_t count = data[0] & 0x0F;
    if (count > size - 1)
        count = size - 1;
    const std::uint8_t* lengths = data + 1;
    const std::uint8_t* text = data + 1 + count;
    const std::size_t n = size - 1 - count;

    const utf8_verdict ref = duplex_fuzz::reference_utf8(text, n);
    FUZZ_CHECK(duplex::is_valid_utf8(text, n) == (!ref.invalid && ref.boundary[n]));

    static const std::uint8_t one[] = {1};
    for (const feed_fn feed : {feed_public, feed_portable}) {
        check_chunked(feed, text, n, ref, nullptr, 0);      // whole
        check_chunked(feed, text, n, ref, one, 1);          // byte by byte
        check_chunked(feed, text, n, ref, lengths, count);  // as the fuzzer chose
    }
    return 0;
}
