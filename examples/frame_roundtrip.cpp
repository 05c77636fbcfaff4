// frame_roundtrip — the core codec end to end, without any I/O.
//
//   frame_roundtrip [TEXT]
//
// Plays a client that masks TEXT (default "Hello") into a text frame, then a server that
// decodes the header, unmasks the payload in place and validates it as UTF-8; then the same for
// a close frame. Prints the wire bytes and what the server saw; exits 1 on any failure.
#include <duplex/duplex.hpp>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

namespace {

void print_hex(const char* label, const std::vector<unsigned char>& wire) {
    std::printf("%-14s", label);
    for (std::size_t i = 0; i < wire.size() && i < 32; ++i)
        std::printf(" %02x", wire[i]);
    std::printf(wire.size() > 32 ? " ... (%zu bytes)\n" : "\n", wire.size());
}

// What a client does: header with a fresh key, then the masked payload.
std::vector<unsigned char> client_frame(duplex::opcode op, const void* data, std::size_t size,
                                        std::mt19937& rng) {
    duplex::frame_header h;
    h.op = op;
    h.payload_length = size;
    h.masked = true;
    for (auto& b : h.key)
        b = static_cast<unsigned char>(rng());
    std::vector<unsigned char> wire(duplex::max_header_size + size);
    const std::size_t n = duplex::encode_header(h, wire.data());
    duplex::copy_masked(wire.data() + n, data, size, h.key);
    wire.resize(n + size);
    return wire;
}

// What a server does: decode, unmask in place, return a view of the payload.
bool server_read(std::vector<unsigned char>& wire, duplex::frame_header& h, std::string& payload) {
    std::error_code ec;
    if (duplex::decode_header(wire.data(), wire.size(), h, ec) != duplex::decode_status::complete ||
        wire.size() - h.header_size != h.payload_length) {
        std::fprintf(stderr, "decode failed: %s\n", ec ? ec.message().c_str() : "incomplete frame");
        return false;
    }
    unsigned char* p = wire.data() + h.header_size;
    duplex::apply_mask(p, h.payload_length, h.key);
    payload.assign(reinterpret_cast<const char*>(p), h.payload_length);
    return true;
}

} // namespace

int main(int argc, char** argv) {
    const std::string text = argc > 1 ? argv[1] : "Hello";
    std::mt19937 rng(std::random_device{}());

    auto wire = client_frame(duplex::opcode::text, text.data(), text.size(), rng);
    print_hex("text frame:", wire);
    duplex::frame_header h;
    std::string payload;
    if (!server_read(wire, h, payload))
        return 1;
    const bool utf8 = duplex::is_valid_utf8(payload.data(), payload.size());
    std::printf("server read:   opcode=%u fin=%d masked=%d length=%llu header=%u bytes utf8=%s \"%s\"\n",
                static_cast<unsigned>(h.op), h.fin, h.masked,
                static_cast<unsigned long long>(h.payload_length), h.header_size,
                utf8 ? "valid" : "INVALID (a server closes with 1007)", payload.c_str());
    if (payload != text)
        return 1;

    unsigned char close_payload[duplex::max_control_payload];
    std::error_code ec;
    const std::size_t n = duplex::build_close(duplex::close_code::normal, "bye", close_payload, ec);
    if (ec) {
        std::fprintf(stderr, "build_close: %s\n", ec.message().c_str());
        return 1;
    }
    wire = client_frame(duplex::opcode::close, close_payload, n, rng);
    print_hex("close frame:", wire);
    if (!server_read(wire, h, payload))
        return 1;
    duplex::close_reason reason;
    if (!duplex::parse_close(payload.data(), payload.size(), reason, ec)) {
        std::fprintf(stderr, "parse_close: %s\n", ec.message().c_str());
        return 1;
    }
    std::printf("server read:   close code=%u (%s) reason=\"%.*s\"\n",
                static_cast<unsigned>(reason.code),
                std::string(duplex::close_code_name(reason.code)).c_str(),
                static_cast<int>(reason.reason.size()), reason.reason.data());
    return utf8 ? 0 : 1;
}
