// Test helpers: zlib itself as the independent peer of duplex's permessage-deflate, and the
// compressed "bomb" (1 GiB of zeros).
#pragma once

#include <zlib.h>

#include <cstddef>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace zlib_peer {

using bytes = std::vector<unsigned char>;

inline bytes b(const std::string& s) { return bytes(s.begin(), s.end()); }
inline std::string s(const bytes& v) { return std::string(v.begin(), v.end()); }

// A raw DEFLATE compressor sending messages as RFC 7692 §7.2.1 says, written directly on zlib.
class compressor {
public:
    explicit compressor(int bits = 15, int level = 6) {
        if (deflateInit2(&z_, level, Z_DEFLATED, -bits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
            throw std::runtime_error("deflateInit2");
    }
    ~compressor() { deflateEnd(&z_); }
    compressor(const compressor&) = delete;
    compressor& operator=(const compressor&) = delete;

    // One message, sync-flushed, 00 00 ff ff removed.
    bytes message(const bytes& in) {
        bytes out(in.size() + in.size() / 10 + 64);
        z_.next_in = const_cast<unsigned char*>(in.data());
        z_.avail_in = static_cast<uInt>(in.size());
        std::size_t used = 0;
        do {
            if (out.size() - used < 64)
                out.resize(out.size() * 2);
            z_.next_out = out.data() + used;
            z_.avail_out = static_cast<uInt>(out.size() - used);
            deflate(&z_, Z_SYNC_FLUSH);
            used = out.size() - z_.avail_out;
        } while (z_.avail_out == 0);
        if (used < 4 || std::memcmp(out.data() + used - 4, "\0\0\xff\xff", 4) != 0)
            throw std::runtime_error("no sync flush marker");
        out.resize(used - 4);
        return out;
    }

    void reset() { deflateReset(&z_); }

private:
    z_stream z_{};
};

// A raw DEFLATE decompressor receiving messages as RFC 7692 §7.2.2 says.
class decompressor {
public:
    explicit decompressor(int bits = 15) {
        if (inflateInit2(&z_, -bits) != Z_OK)
            throw std::runtime_error("inflateInit2");
    }
    ~decompressor() { inflateEnd(&z_); }
    decompressor(const decompressor&) = delete;
    decompressor& operator=(const decompressor&) = delete;

    // Throws on a stream zlib rejects (for example a distance beyond its window).
    bytes message(bytes in) {
        in.insert(in.end(), {0x00, 0x00, 0xff, 0xff});
        bytes out;
        unsigned char buf[16384];
        z_.next_in = in.data();
        z_.avail_in = static_cast<uInt>(in.size());
        for (;;) {
            z_.next_out = buf;
            z_.avail_out = sizeof buf;
            const int r = inflate(&z_, Z_SYNC_FLUSH);
            out.insert(out.end(), buf, buf + (sizeof buf - z_.avail_out));
            if (r != Z_OK && r != Z_BUF_ERROR)
                throw std::runtime_error("inflate: " + std::to_string(r));
            if (z_.avail_in == 0 && z_.avail_out != 0)
                return out;
        }
    }

private:
    z_stream z_{};
};

// 1 GiB of zeros as one compressed message (about 1 MiB), made once.
inline const bytes& bomb() {
    static const bytes made = [] {
        z_stream z{};
        deflateInit2(&z, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY);
        const bytes zeros(1 << 20, 0);
        bytes out(2 << 20);
        std::size_t used = 0;
        for (int i = 0; i < 1024; ++i) {
            z.next_in = const_cast<unsigned char*>(zeros.data());
            z.avail_in = static_cast<uInt>(zeros.size());
            const int flush = i == 1023 ? Z_SYNC_FLUSH : Z_NO_FLUSH;
            do {
                if (out.size() - used < 4096)
                    out.resize(out.size() * 2);
                z.next_out = out.data() + used;
                z.avail_out = static_cast<uInt>(out.size() - used);
                deflate(&z, flush);
                used = out.size() - z.avail_out;
            } while (z.avail_in != 0 || z.avail_out == 0);
        }
        deflateEnd(&z);
        out.resize(used - 4); // drop 00 00 ff ff
        return out;
    }();
    return made;
}

} // namespace zlib_peer
