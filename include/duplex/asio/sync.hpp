// duplex — lets duplex::stream run over Asio's synchronous sockets (and any Asio
// SyncReadStream/SyncWriteStream), e.g. duplex::stream<::asio::ip::tcp::socket>.
// SPDX-License-Identifier: MIT
#pragma once

#include <duplex/stream.hpp>

#include <asio/buffer.hpp>
#include <asio/error.hpp>

#include <chrono>
#include <cstddef>
#include <system_error>
#include <type_traits>
#include <utility>

#if defined(_WIN32)
#include <winsock2.h>
#else
#include <cerrno>
#include <poll.h>
#endif

namespace duplex {
namespace detail {

template <class T, class = void>
struct has_native_handle : std::false_type {};
template <class T>
struct has_native_handle<T, std::void_t<decltype(std::declval<T&>().native_handle())>> : std::true_type {};

} // namespace detail

/// stream_io for types with Asio's read_some(MutableBufferSequence, error_code&) and
/// write_some(ConstBufferSequence, error_code&). Asio's end of file becomes a plain 0-byte
/// read. For a socket (one with native_handle()) a read timeout waits with poll() before
/// reading, since Asio's blocking reads retry through SO_RCVTIMEO.
template <class S>
struct stream_io<S, std::void_t<decltype(std::declval<S&>().read_some(std::declval<::asio::mutable_buffer>(),
                                                                      std::declval<::asio::error_code&>())),
                                decltype(std::declval<S&>().write_some(std::declval<::asio::const_buffer>(),
                                                                       std::declval<::asio::error_code&>()))>> {
    std::size_t read_some(S& s, void* data, std::size_t size, std::error_code& ec) {
        if constexpr (detail::has_native_handle<S>::value) {
            if (timeout_.count() > 0 && !readable(s.native_handle(), ec))
                return 0;
        }
        ::asio::error_code aec;
        const std::size_t n = s.read_some(::asio::buffer(data, size), aec);
        if (aec == ::asio::error::eof)
            return 0;
        ec = aec;
        return n;
    }

    std::size_t write_some(S& s, const void* data, std::size_t size, std::error_code& ec) {
        ::asio::error_code aec;
        const std::size_t n = s.write_some(::asio::buffer(data, size), aec);
        ec = aec;
        return n;
    }

    void set_read_timeout(S&, std::chrono::milliseconds t) { timeout_ = t; }

private:
    // Waits up to the timeout for the socket to become readable (or closed).
    template <class Handle>
    bool readable(Handle fd, std::error_code& ec) {
        pollfd p{};
        p.fd = fd;
        p.events = POLLIN;
        for (;;) {
#if defined(_WIN32)
            const int r = ::WSAPoll(&p, 1, static_cast<int>(timeout_.count()));
#else
            const int r = ::poll(&p, 1, static_cast<int>(timeout_.count()));
#endif
            if (r > 0)
                return true;
            if (r == 0) {
                ec = std::make_error_code(std::errc::timed_out);
                return false;
            }
#if !defined(_WIN32)
            if (errno == EINTR)
                continue;
#endif
            ec = std::error_code(errno, std::generic_category());
            return false;
        }
    }

    std::chrono::milliseconds timeout_{0};
};

} // namespace duplex
