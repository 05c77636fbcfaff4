// Uses duplex through its public umbrella header; exits 0 only if a frame round-trips.
#include <duplex/duplex.hpp>

#include <cstdio>
#include <cstring>

int main() {
    duplex::frame_header h;
    h.op = duplex::opcode::text;
    h.payload_length = 5;
    h.masked = true;
    h.key = {0x37, 0xfa, 0x21, 0x3d};
    unsigned char wire[duplex::max_header_size + 5];
    std::size_t n = duplex::encode_header(h, wire);
    std::memcpy(wire + n, "Hello", 5);
    duplex::apply_mask(wire + n, 5, h.key);

    duplex::frame_header got;
    std::error_code ec;
    if (duplex::decode_header(wire, sizeof wire, got, ec) != duplex::decode_status::complete)
        return std::puts(ec.message().c_str()), 1;
    duplex::apply_mask(wire + got.header_size, got.payload_length, got.key);
    if (std::memcmp(wire + got.header_size, "Hello", 5) != 0)
        return std::puts("payload did not round-trip"), 1;
    std::puts("consumer ok");
    return 0;
}
