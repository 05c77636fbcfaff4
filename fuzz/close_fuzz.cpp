// duplex fuzzing — close frame payloads (RFC 6455 §5.5.1, §7.4).
// SPDX-License-Identifier: MIT
//
// Input: a close frame payload. Properties checked:
//   - parse_close succeeds exactly when the payload is empty, or is 2-125 bytes holding a code
//     allowed on the wire and a valid UTF-8 reason; otherwise it reports one of the rules the
//     payload breaks and leaves its output alone.
//   - on success the code passes is_valid_close_code (or is no_status for an empty payload), the
//     reason is valid UTF-8 of at most 123 bytes viewing the payload, and build_close(code,
//     reason) gives back the exact payload.
//   - build_close, given the input's first two bytes as a code and the rest as a reason, writes
//     within its 125 bytes and fails exactly when a rule is broken.

#include "fuzz_check.hpp"

#include <duplex/core/close.hpp>
#include <duplex/core/error.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>
#include <system_error>

namespace {

// RFC 6455 §7.4.1-7.4.2 spelled out: the codes that may be sent in a close frame.
bool reference_code_ok(std::uint16_t code) {
    switch (code) {
    case 1000: case 1001: case 1002: case 1003:                      // defined in §7.4.1
    case 1007: case 1008: case 1009: case 1010: case 1011:           // defined in §7.4.1
    case 1012: case 1013: case 1014:                                 // IANA registry
        return true;
    case 1004: case 1005: case 1006: case 1015:                      // reserved, never sent
        return false;
    default:
        return code >= 3000 && code < 5000;                          // libraries, applications
    }
}

void check_parse(const std::uint8_t* data, std::size_t size) {
    const std::string_view sentinel_reason = "untouched";
    const auto sentinel_code = static_cast<duplex::close_code>(0xBEEF);
    duplex::close_reason out{sentinel_code, sentinel_reason};
    std::error_code ec;
    const bool ok = duplex::parse_close(data, size, out, ec);

    // The rules the payload breaks, by the reference.
    const bool one_byte = size == 1;
    const bool too_long = size > duplex::max_control_payload;
    const std::uint16_t code = size >= 2 ? static_cast<std::uint16_t>(data[0] << 8 | data[1]) : 0;
    const bool bad_code = size >= 2 && !reference_code_ok(code);
    const bool bad_utf8 = size >= 2 && !duplex_fuzz::reference_valid_utf8(data + 2, size - 2);
    const bool broken = one_byte || too_long || bad_code || bad_utf8;

    FUZZ_CHECK(ok == !broken);
    if (!ok) {
        FUZZ_CHECK((one_byte && ec == duplex::error::close_payload_one_byte) ||
                   (too_long && ec == duplex::error::control_too_long) ||
                   (bad_code && ec == duplex::error::invalid_close_code) ||
                   (bad_utf8 && ec == duplex::error::close_reason_utf8));
        FUZZ_CHECK(out.code == sentinel_code && out.reason.data() == sentinel_reason.data() &&
                   out.reason.size() == sentinel_reason.size());
        return;
    }

    FUZZ_CHECK(!ec);
    unsigned char rebuilt[duplex::max_control_payload];
    if (size == 0) {
        FUZZ_CHECK(out.code == duplex::close_code::no_status && out.reason.empty());
        FUZZ_CHECK(duplex::build_close(out.code, out.reason, rebuilt, ec) == 0 && !ec);
        return;
    }
    const auto value = static_cast<std::uint16_t>(out.code);
    FUZZ_CHECK(value == code);
    FUZZ_CHECK(duplex::is_valid_close_code(out.code) && duplex::is_valid_close_code(value));
    FUZZ_CHECK(out.reason.size() == size - 2 && out.reason.size() <= duplex::max_close_reason);
    FUZZ_CHECK(reinterpret_cast<const std::uint8_t*>(out.reason.data()) == data + 2);
    FUZZ_CHECK(duplex::is_valid_utf8(out.reason.data(), out.reason.size()));
    FUZZ_CHECK(!duplex::close_code_name(out.code).empty());

    FUZZ_CHECK(duplex::build_close(out.code, out.reason, rebuilt, ec) == size && !ec);
    FUZZ_CHECK(std::memcmp(rebuilt, data, size) == 0);
}

void check_build(const std::uint8_t* data, std::size_t size) {
    if (size < 2)
        return;
    const auto value = static_cast<std::uint16_t>(data[0] << 8 | data[1]);
    const auto code = static_cast<duplex::close_code>(value);
    const std::string_view reason(reinterpret_cast<const char*>(data + 2), size - 2);

    // Exactly the documented room: ASan reports any write past it.
    const std::unique_ptr<unsigned char[]> out(new unsigned char[duplex::max_control_payload]);
    std::error_code ec;
    const std::size_t n = duplex::build_close(code, reason, out.get(), ec);

    if (code == duplex::close_code::no_status && reason.empty()) {
        FUZZ_CHECK(n == 0 && !ec); // the empty payload
        return;
    }
    const bool bad_code = !reference_code_ok(value);
    const bool too_long = reason.size() > duplex::max_close_reason;
    const bool bad_utf8 = !duplex_fuzz::reference_valid_utf8(data + 2, size - 2);
    if (bad_code || too_long || bad_utf8) {
        FUZZ_CHECK(n == 0);
        FUZZ_CHECK((bad_code && ec == duplex::error::invalid_close_code) ||
                   (too_long && ec == duplex::error::close_reason_too_long) ||
                   (bad_utf8 && ec == duplex::error::close_reason_utf8));
        return;
    }
    FUZZ_CHECK(!ec && n == size && std::memcmp(out.get(), data, size) == 0);

    // What was built parses back to the same code and reason.
    duplex::close_reason back;
    FUZZ_CHECK(duplex::parse_close(out.get(), n, back, ec) && !ec);
    FUZZ_CHECK(back.code == code && back.reason == reason);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    check_parse(data, size);
    check_build(data, size);
    return 0;
}
