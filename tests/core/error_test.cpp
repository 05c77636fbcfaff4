// Tests for include/duplex/core/error.hpp: the error enum and its std::error_category.
#include <duplex/core/error.hpp>

#include <catch2/catch.hpp>

#include <set>
#include <string>

TEST_CASE("error: each value converts to a std::error_code in the duplex category") {
    std::error_code ec = duplex::error::invalid_utf8;
    CHECK(ec);
    CHECK(ec.category() == duplex::error_category());
    CHECK(std::string(ec.category().name()) == "duplex");
    CHECK(ec == duplex::error::invalid_utf8);
    CHECK(ec != duplex::error::reserved_bits);
    CHECK(ec.value() == static_cast<int>(duplex::error::invalid_utf8));
}

TEST_CASE("error: values run from 1 without gaps, each with its own message") {
    // Walk the values until the category stops knowing them; new values are appended, so
    // this covers every value without a list to keep in sync.
    std::set<std::string> messages;
    int v = 1;
    for (;; ++v) {
        const std::string m = duplex::make_error_code(static_cast<duplex::error>(v)).message();
        if (m == "unknown duplex error")
            break;
        INFO("value " << v << ": " << m);
        CHECK(m.size() > 10);
        messages.insert(m);
    }
    const int count = v - 1;
    CHECK(count >= static_cast<int>(duplex::error::message_too_big));
    CHECK(messages.size() == static_cast<std::size_t>(count));
    for (int after = v; after < v + 100; ++after)
        CHECK(duplex::error_category().message(after) == "unknown duplex error");
    CHECK(duplex::error_category().message(0) == "unknown duplex error");
}

TEST_CASE("error: a cleared error_code is not a duplex error") {
    std::error_code ec = duplex::error::frame_too_big;
    ec.clear();
    CHECK_FALSE(ec);
    CHECK(ec != duplex::error::frame_too_big);
}
