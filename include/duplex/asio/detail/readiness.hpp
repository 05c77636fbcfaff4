// duplex — read readiness for many sockets through one epoll set of our own. Internal.
//
// Waiting for a socket to become readable through Asio (async_wait, or async_read_some,
// whose first attempt is a read that fails when nothing has arrived) costs one system call
// more per received message than a hand-written epoll loop: async_wait re-registers the
// socket each time (epoll_ctl), async_read_some tries a read first (EAGAIN). For a server
// that answers small messages, that is a third of its system calls.
//
// This service keeps the connections' sockets in an epoll set of its own, registered once,
// edge-triggered. Asio waits on that set's descriptor (one wait per batch of ready sockets);
// when it is readable, the service collects the ready sockets and tells each connection, on
// the connection's executor. A connection reads until a read comes back short, then waits for
// the next notice: no buffer and no pending Asio operation while it is idle.
//
// A socket in this set is also taken out of Asio's own epoll set (where Asio puts every socket
// it opens): otherwise every segment that arrives wakes both sets, and each wait on Asio's set
// hands back every busy socket for Asio to look at and find nothing to do. Out of it, the
// socket's reactor state (Asio's, about 170 bytes) is freed too. Asio operations on the socket
// would fail with bad_descriptor, so the connection puts it back for the one it still starts
// (a write the socket did not take at once) and takes it out again when that completes.
// Synchronous calls (read_some, write_some, shutdown, options, close) do not involve the
// reactor. This reaches into Asio's implementation (the epoll reactor and a socket's reactor
// data), which has been stable for years; it is compiled only for the epoll reactor.
//
// Linux only, and only for connections on an io_context (the service needs its executor);
// define DUPLEX_NO_READINESS_SERVICE to wait through Asio instead.
// SPDX-License-Identifier: MIT
#pragma once

#if defined(__linux__) && !defined(ASIO_NO_TS_EXECUTORS) && !defined(DUPLEX_NO_READINESS_SERVICE)

#include <duplex/asio/detail/prelude.hpp>
#include <duplex/asio/detail/service.hpp>

#include <asio/error.hpp>
#include <asio/execution_context.hpp>
#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/any_io_executor.hpp>
#include <asio/basic_socket.hpp>
#include <asio/detail/reactor.hpp>
#include <asio/strand.hpp>

#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <mutex>
#include <optional>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace duplex {
namespace asio {
namespace detail {

#define DUPLEX_HAS_READINESS_SERVICE 1

// Takes a socket out of Asio's epoll set and puts it back, for sockets with Asio's reactive
// implementation (basic_socket and what derives from it, e.g. ip::tcp::socket) under the epoll
// reactor. `supported` is false for other types and reactors: they stay in both sets.
template <class Socket, class = void>
struct reactor_registration {
    static constexpr bool supported = false;
    static void detach(Socket&, ::asio::io_context&) {}
    static std::error_code attach(Socket&, ::asio::io_context&) { return {}; }
};

#if defined(ASIO_HAS_EPOLL) && !defined(ASIO_HAS_IO_URING_AS_DEFAULT) && !defined(ASIO_HAS_IOCP)
template <class Socket>
struct reactor_registration<
    Socket, std::enable_if_t<std::is_base_of_v<
                ::asio::basic_socket<typename Socket::protocol_type, typename Socket::executor_type>, Socket>>>
    : Socket { // only to name the socket's protected implementation; never constructed
    static constexpr bool supported = true;

    // Out of Asio's set; its reactor state goes back to Asio's pool. No Asio operation may be
    // pending on the socket.
    static void detach(Socket& s, ::asio::io_context& io) {
        auto& reactor = ::asio::use_service<::asio::detail::epoll_reactor>(io);
        auto& impl = implementation(s);
        if (impl.reactor_data_ == nullptr)
            return;
        reactor.deregister_descriptor(impl.socket_, impl.reactor_data_, false);
        reactor.cleanup_descriptor_data(impl.reactor_data_);
    }

    // Back in Asio's set, as when the socket was opened.
    static std::error_code attach(Socket& s, ::asio::io_context& io) {
        auto& reactor = ::asio::use_service<::asio::detail::epoll_reactor>(io);
        auto& impl = implementation(s);
        if (impl.reactor_data_ != nullptr || impl.socket_ == -1)
            return {};
        if (const int err = reactor.register_descriptor(impl.socket_, impl.reactor_data_))
            return std::error_code(err, ::asio::error::get_system_category());
        return {};
    }

private:
    static auto& implementation(Socket& s) { return (s.*(&reactor_registration::impl_)).get_implementation(); }
};
#endif

class readiness_service : public ::asio::execution_context::service {
public:
    using key_type = readiness_service;
    static inline ::asio::execution_context::id id;

    // One registered socket: its owner's on_readiness is called, from the thread that
    // collected the event (it should go on on the owner's executor). 24 bytes: one per
    // connection, so the socket is not kept here (remove() is given it).
    using owner_type = connection_service::member;
    struct registration {
        std::weak_ptr<owner_type> owner;
        readiness_service* service = nullptr;
    };

    explicit readiness_service(::asio::execution_context& ctx)
        : ::asio::execution_context::service(ctx) {}

    ~readiness_service() override {
        for (registration* r : dead_)
            delete r;
    }

    // The service for the io_context behind `ex` (an io_context executor or a strand of one,
    // possibly inside an any_io_executor), or nullptr for other executors or when the epoll
    // set cannot be made: the caller then waits through Asio.
    template <class Executor>
    static readiness_service* of(const Executor& ex) {
        ::asio::io_context* io = io_context_of(ex);
        if (io == nullptr)
            return nullptr;
        auto& svc = ::asio::use_service<readiness_service>(*io);
        return svc.open(*io) ? &svc : nullptr;
    }

    // Registers `fd`; returns nullptr if epoll refuses it (the caller waits through Asio).
    registration* add(int fd, std::weak_ptr<owner_type> owner) {
        auto* r = new registration{std::move(owner), this};
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
        ev.data.ptr = r;
        if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
            delete r;
            return nullptr;
        }
        return r;
    }

    ::asio::io_context& context() const noexcept { return *io_; }

    // Unregisters `r`, made for socket `fd`; call before closing the socket. The registration
    // is freed at the start of the next batch, when no event being handled can point at it.
    void remove(registration* r, int fd) {
        std::lock_guard<std::mutex> lock(m_);
        epoll_event ev{};
        if (epoll_fd_ != -1)
            ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, &ev);
        r->owner.reset();
        dead_.push_back(r);
    }

private:
    using io_executor = ::asio::io_context::executor_type;

    template <class Executor>
    static ::asio::io_context* io_context_of(const Executor& ex) {
        if constexpr (std::is_same_v<Executor, ::asio::any_io_executor>) {
            if (const auto* e = ex.template target<io_executor>())
                return &e->context();
            if (const auto* s = ex.template target<::asio::strand<io_executor>>())
                return &s->get_inner_executor().context();
            return nullptr;
        } else if constexpr (std::is_same_v<Executor, io_executor>) {
            return &ex.context();
        } else if constexpr (std::is_same_v<Executor, ::asio::strand<io_executor>>) {
            return &ex.get_inner_executor().context();
        } else {
            return nullptr;
        }
    }

    // Makes the epoll set and starts waiting on it, once.
    bool open(::asio::io_context& io) {
        std::lock_guard<std::mutex> lock(m_);
        if (epoll_fd_ == -1 && !failed_) {
            epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
            io_ = &io;
            if (epoll_fd_ != -1)
                set_.emplace(io, epoll_fd_); // owns it from now on
            failed_ = epoll_fd_ == -1;
            if (!failed_)
                wait();
        }
        return !failed_ && !shut_down_;
    }

    // The wait on the set is not work of its own: io_context::run() returns when nothing else
    // is pending, as without this service (a connection waiting to read holds its read
    // handler, which counts as work). So the wait's count is given back once it is started,
    // and taken again in the handler, before the scheduler gives it back itself.
    void wait() {
        set_->async_wait(::asio::posix::stream_descriptor::wait_read, [this](std::error_code ec) {
            io_->get_executor().on_work_started();
            if (ec)
                return; // the context is shutting down
            collect();
            wait();
        });
        io_->get_executor().on_work_finished();
    }

    // Tells every connection whose socket became readable. Batches run one at a time, and a
    // removed socket is out of the epoll set, so the registrations removed so far are
    // unreachable once the previous batch is over: they are freed here.
    void collect() {
        {
            std::lock_guard<std::mutex> lock(m_);
            for (registration* r : dead_)
                delete r;
            dead_.clear();
        }
        epoll_event events[256];
        for (;;) {
            const int n = ::epoll_wait(epoll_fd_, events, 256, 0);
            if (n < 0 && errno == EINTR)
                continue;
            for (int i = 0; i < n; ++i) {
                auto* r = static_cast<registration*>(events[i].data.ptr);
                std::shared_ptr<owner_type> owner;
                {
                    std::lock_guard<std::mutex> lock(m_);
                    owner = r->owner.lock();
                }
                if (owner_type* o = owner.get())
                    o->on_readiness(std::move(owner));
            }
            if (n < 256)
                break;
        }
    }

    void shutdown() override {
        std::lock_guard<std::mutex> lock(m_);
        shut_down_ = true;
        // Destroyed here, while the descriptor service it belongs to still exists (services
        // are all shut down before any is destroyed); this closes the epoll set.
        set_.reset();
        epoll_fd_ = -1;
    }

    std::mutex m_;
    ::asio::io_context* io_ = nullptr;
    int epoll_fd_ = -1;
    bool failed_ = false;
    bool shut_down_ = false;
    std::optional<::asio::posix::stream_descriptor> set_; // the epoll set, as Asio waits on it
    std::vector<registration*> dead_;                      // removed since the last batch
};

} // namespace detail
} // namespace asio
} // namespace duplex

#endif
