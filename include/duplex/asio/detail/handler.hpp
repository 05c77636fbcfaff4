// duplex — a move-only, type-erased completion handler that keeps its executor busy until it
// is invoked, and is invoked on that executor. Internal to the Asio glue.
// SPDX-License-Identifier: MIT
#pragma once

#include <duplex/asio/detail/prelude.hpp>

#include <asio/associated_executor.hpp>
#include <asio/dispatch.hpp>
#include <asio/execution/outstanding_work.hpp>
#include <asio/post.hpp>
#include <asio/prefer.hpp>
#include <asio/recycling_allocator.hpp>

#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>

namespace duplex {
namespace asio {
namespace detail {

/// Marks a handler that may stay pending for the life of a connection (async_read_each's
/// completion): it is allocated at its own size with operator new, not from Asio's per-thread
/// recycling cache, whose blocks are sized for the largest operation seen and would waste
/// hundreds of bytes on every idle connection.
struct long_lived_t {};
inline constexpr long_lived_t long_lived{};

template <class... Args>
class any_handler {
public:
    any_handler() = default;

    // Takes the handler; `fallback` is the stream's executor, used when the handler has none.
    // Its storage comes from Asio's per-thread recycling allocator, as Asio's own operations'
    // does: in steady traffic a pending operation costs no malloc.
    template <class Handler, class Executor>
    any_handler(Handler&& h, const Executor& fallback) {
        make<model<std::decay_t<Handler>, Executor, true>>(std::forward<Handler>(h), fallback);
    }

    template <class Handler, class Executor>
    any_handler(Handler&& h, const Executor& fallback, long_lived_t) {
        make<model<std::decay_t<Handler>, Executor, false>>(std::forward<Handler>(h), fallback);
    }

    explicit operator bool() const noexcept { return impl_ != nullptr; }

    // Runs the handler on its executor: inline if we are already there, else queued. Empty after.
    void dispatch(Args... args) {
        auto p = std::move(impl_);
        p->dispatch(std::move(p), std::move(args)...);
    }

    // Always queues the handler (for completing from inside an initiating function).
    void post(Args... args) {
        auto p = std::move(impl_);
        p->post(std::move(p), std::move(args)...);
    }

private:
    struct concept_t;
    struct destroyer {
        void operator()(concept_t* p) const noexcept { p->destroy(); }
    };
    using pointer = std::unique_ptr<concept_t, destroyer>;

    struct concept_t {
        virtual void dispatch(pointer self, Args... args) = 0;
        virtual void post(pointer self, Args... args) = 0;
        virtual void destroy() noexcept = 0; // destructs and frees, with the right allocator

    protected:
        ~concept_t() = default;
    };

    template <class Handler, class Executor, bool Recycled>
    struct model final : concept_t {
        using allocator = std::conditional_t<Recycled, ::asio::recycling_allocator<model>, std::allocator<model>>;

        using handler_executor = ::asio::associated_executor_t<Handler, Executor>;
        using work_executor = std::decay_t<decltype(::asio::prefer(
            std::declval<handler_executor>(), ::asio::execution::outstanding_work.tracked))>;

        model(Handler h, const Executor& fallback)
            : work(::asio::prefer(::asio::get_associated_executor(h, fallback),
                                  ::asio::execution::outstanding_work.tracked)),
              handler(std::move(h)) {}

        void destroy() noexcept override {
            allocator alloc;
            this->~model();
            alloc.deallocate(this, 1);
        }

        void dispatch(pointer self, Args... args) override {
            auto ex = work;
            ::asio::dispatch(ex, bound(std::move(self), std::move(args)...));
        }
        void post(pointer self, Args... args) override {
            auto ex = work;
            ::asio::post(ex, bound(std::move(self), std::move(args)...));
        }

        // The call, owning this model until it runs.
        auto bound(pointer self, Args... args) {
            return [self = std::move(self), t = std::make_tuple(std::move(args)...)]() mutable {
                auto* m = static_cast<model*>(self.get());
                Handler h = std::move(m->handler);
                self.reset(); // release the work before the handler runs, as Asio does
                std::apply(std::move(h), std::move(t));
            };
        }

        work_executor work;
        Handler handler;
    };

    template <class M, class Handler, class Executor>
    void make(Handler&& h, const Executor& fallback) {
        typename M::allocator alloc;
        M* p = alloc.allocate(1);
        try {
            ::new (static_cast<void*>(p)) M(std::forward<Handler>(h), fallback);
        } catch (...) {
            alloc.deallocate(p, 1);
            throw;
        }
        impl_.reset(p);
    }

    pointer impl_;
};

} // namespace detail
} // namespace asio
} // namespace duplex
