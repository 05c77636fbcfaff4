// duplex fuzzing — the permessage-deflate decompressor (RFC 7692 §7.2.2) with a tiny limit.
// SPDX-License-Identifier: MIT
//
// Input: byte 0 = flags (bits 0-2: window bits 8 + n; bit 3: no context takeover; bits 4-7:
// piece size - 1), byte 1 = limit (0-255 bytes of output), the rest = one compressed message
// payload. Properties checked:
//   - the output never grows past the limit, and at most one byte past it is ever inflated;
//   - the only failures are message_too_big and extension_failed;
//   - fed in pieces or whole, the result (error and bytes) is the same;
//   - it agrees with zlib inflating the payload plus 00 00 ff ff directly: the same bytes
//     when zlib succeeds within the limit, message_too_big when zlib produces more than the
//     limit before any error, extension_failed when zlib fails first (inputs whose DEFLATE
//     stream ends with a BFINAL block are left out of this comparison);
//   - a second message (the payload again) decodes without crashing, and what decoded
//     compresses and decodes back to itself.

#include "fuzz_check.hpp"

#include <duplex/deflate.hpp>

#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <system_error>
#include <vector>

namespace {

using bytes = std::vector<unsigned char>;

struct outcome {
    std::error_code ec;
    bytes out;
};

outcome run(duplex::permessage_deflate& d, const unsigned char* p, std::size_t n, std::size_t piece,
            std::size_t limit) {
    outcome r;
    duplex::extension_buffer out;
    std::size_t at = 0;
    do {
        const std::size_t k = std::min(piece, n - at);
        r.ec = d.decode(duplex::rsv1_bit, p + at, k, at + k == n, out, limit);
        at += k;
        FUZZ_CHECK(out.size() <= limit);
    } while (!r.ec && at < n);
    r.out.assign(out.begin(), out.end());
    return r;
}

enum class verdict { ok, too_big, failed, skip };

// zlib on its own: the payload and the tail, output counted up to limit + 1.
verdict reference(const unsigned char* p, std::size_t n, int bits, std::size_t limit, bytes& out) {
    if (n == 0)
        return verdict::ok;
    z_stream z{};
    if (inflateInit2(&z, -bits) != Z_OK)
        return verdict::skip;
    bytes in(p, p + n);
    in.insert(in.end(), {0x00, 0x00, 0xff, 0xff});
    z.next_in = in.data();
    z.avail_in = static_cast<uInt>(in.size());
    verdict v = verdict::ok;
    unsigned char buf[512];
    for (;;) {
        z.next_out = buf;
        z.avail_out = sizeof buf;
        const int r = inflate(&z, Z_SYNC_FLUSH);
        out.insert(out.end(), buf, buf + (sizeof buf - z.avail_out));
        if (out.size() > limit) {
            v = verdict::too_big;
            break;
        }
        if (r == Z_STREAM_END) {
            v = verdict::skip;
            break;
        }
        if (r != Z_OK && r != Z_BUF_ERROR) {
            v = verdict::failed;
            break;
        }
        if (z.avail_in == 0 && z.avail_out != 0)
            break;
        if (r == Z_BUF_ERROR && z.avail_out != 0) {
            v = verdict::failed;
            break;
        }
    }
    inflateEnd(&z);
    return v;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2)
        return 0;
    const int bits = 8 + (data[0] & 7);
    const bool reset = (data[0] & 8) != 0;
    const std::size_t piece = static_cast<std::size_t>(data[0] >> 4) + 1;
    const std::size_t limit = data[1];
    const unsigned char* p = data + 2;
    const std::size_t n = size - 2;

    duplex::deflate_agreement a;
    a.client_max_window_bits = bits;
    a.client_no_context_takeover = reset;
    duplex::permessage_deflate whole(duplex::role::server, a);
    duplex::permessage_deflate pieces(duplex::role::server, a);
    const outcome w = run(whole, p, n, n == 0 ? 1 : n, limit);
    const outcome c = run(pieces, p, n, piece, limit);

    for (const outcome* o : {&w, &c})
        FUZZ_CHECK(!o->ec || o->ec == duplex::error::message_too_big || o->ec == duplex::error::extension_failed);
    FUZZ_CHECK(w.ec == c.ec);
    FUZZ_CHECK(w.out == c.out);
    FUZZ_CHECK(whole.inflated_total() <= limit + 1);

    bytes ref;
    switch (reference(p, n, bits, limit, ref)) {
    case verdict::ok:
        FUZZ_CHECK(!w.ec);
        FUZZ_CHECK(w.out == ref);
        break;
    case verdict::too_big: FUZZ_CHECK(w.ec == duplex::error::message_too_big); break;
    case verdict::failed: FUZZ_CHECK(w.ec == duplex::error::extension_failed); break;
    case verdict::skip: break;
    }

    if (!w.ec) {
        run(whole, p, n, piece, limit); // a second message on the same stream: no crash
        duplex::permessage_deflate sender(duplex::role::client, a);
        duplex::permessage_deflate receiver(duplex::role::server, a);
        duplex::extension_buffer packed;
        std::error_code ec;
        const std::uint8_t rsv = sender.encode(duplex::opcode::binary, w.out.data(), w.out.size(), packed, ec);
        FUZZ_CHECK(!ec && rsv == duplex::rsv1_bit);
        const outcome back = run(receiver, packed.data(), packed.size(), packed.empty() ? 1 : packed.size(), limit);
        FUZZ_CHECK(!back.ec);
        FUZZ_CHECK(back.out == w.out);
    }
    return 0;
}
