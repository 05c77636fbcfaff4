// Tests for include/duplex/core/send_queue.hpp: copied and borrowed bytes, in order, through
// any pattern of partial writes.
#include <duplex/core/send_queue.hpp>

#include <catch2/catch.hpp>

#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace {

// The bytes the queue would write next, concatenated from its gather buffers.
std::string pending(const duplex::send_queue& q) {
    std::vector<duplex::const_buffer> b(q.buffer_count());
    const std::size_t n = q.buffers(b.data(), b.size());
    std::string out;
    for (std::size_t i = 0; i < n; ++i)
        out.append(static_cast<const char*>(b[i].data), b[i].size);
    return out;
}

} // namespace

TEST_CASE("send_queue: copies and references come out in order, copies merged into one buffer") {
    duplex::send_queue q;
    const std::string borrowed(2000, 'B');
    q.append_copy("ab", 2);
    q.append_copy("cd", 2);
    q.append_ref(borrowed.data(), borrowed.size());
    std::memcpy(q.append_space(3), "xyz", 3);
    CHECK(q.size() == 2007);
    CHECK(q.buffer_count() == 3);
    duplex::const_buffer b[2];
    REQUIRE(q.buffers(b, 2) == 2); // limited to what the caller has room for
    CHECK(std::string(static_cast<const char*>(b[0].data), b[0].size) == "abcd");
    CHECK(b[1].data == borrowed.data());
    CHECK(pending(q) == "abcd" + borrowed + "xyz");
    q.consume(3);
    CHECK(pending(q) == "d" + borrowed + "xyz");
    q.consume(1 + 1999);
    CHECK(pending(q) == "Bxyz");
    q.consume(4);
    CHECK(q.empty());
    CHECK(q.queued_total() == 2007);
    CHECK(q.written_total() == 2007);
    CHECK(q.buffer_count() == 0);
}

TEST_CASE("send_queue: any interleaving of appends and partial writes keeps the byte stream") {
    std::mt19937 rng(11);
    std::vector<std::string> keep; // borrowed strings must outlive their use
    keep.reserve(100000);
    duplex::send_queue q;
    std::string model; // what remains to be written, by a trivially correct model
    std::size_t mismatches = 0;
    for (int step = 0; step < 20000; ++step) {
        const unsigned op = rng() % 4;
        if (op == 0 || op == 1) {
            std::string s(rng() % (op == 0 ? 300 : 70000), static_cast<char>('a' + rng() % 26));
            q.append_copy(s.data(), s.size());
            model += s;
        } else if (op == 2) {
            keep.emplace_back(rng() % 5000, static_cast<char>('A' + rng() % 26));
            q.append_ref(keep.back().data(), keep.back().size());
            model += keep.back();
        } else if (!model.empty()) {
            const std::size_t n = rng() % (model.size() + 1);
            q.consume(n);
            model.erase(0, n);
        }
        if (step % 97 == 0)
            mismatches += pending(q) != model;
        mismatches += q.size() != model.size();
    }
    CHECK(mismatches == 0);
    q.consume(q.size());
    CHECK(q.empty());
}

TEST_CASE("send_queue: a large copied message does not pin its memory once written") {
    duplex::send_queue q;
    const std::string big(1 << 20, 'x');
    q.append_copy(big.data(), big.size());
    CHECK(q.capacity() >= big.size());
    q.consume(big.size());
    CHECK(q.capacity() <= 64 * 1024);
    // Small messages keep their block for reuse.
    q.append_copy("hello", 5);
    const std::size_t cap = q.capacity();
    q.consume(5);
    q.append_copy("again", 5);
    CHECK(q.capacity() == cap);
}

TEST_CASE("send_queue: buffers handed out stay valid while more is queued, until consumed") {
    // A write in flight holds buffers() while the application queues more: nothing may move.
    duplex::send_queue q;
    q.append_copy("first frame", 11);
    duplex::const_buffer b[1];
    REQUIRE(q.buffers(b, 1) == 1);
    const void* before = b[0].data;
    std::string lots(100000, 'm');
    for (int i = 0; i < 50; ++i)
        q.append_copy(lots.data(), lots.size()); // far more than any first block holds
    CHECK(std::string(static_cast<const char*>(before), 11) == "first frame");
    duplex::const_buffer again[1];
    q.buffers(again, 1);
    CHECK(again[0].data == before);
    q.consume(q.size());
    CHECK(q.empty());
}

TEST_CASE("send_queue: only a queue with bytes to write holds its lists, and a drained one lets go") {
    // An idle connection's queue is a pointer and three counters: the lists (blocks, shared
    // frames, gather segments) go back to a per-thread stock when the last byte is written.
    duplex::send_queue q;
    CHECK_FALSE(q.holds_lists());
    CHECK(q.capacity() == 0);
    duplex::const_buffer b[4];
    CHECK(q.buffers(b, 4) == 0);
    q.consume(0); // nothing written: nothing to do
    CHECK_FALSE(q.holds_lists());

    auto frame = std::make_shared<const std::string>("shared frame");
    q.append_copy("copied", 6);
    q.append_shared(frame, frame->data(), frame->size());
    CHECK(q.holds_lists());
    CHECK(frame.use_count() == 2);
    q.consume(6 + 5);
    CHECK(q.holds_lists()); // "d frame" is still to go
    CHECK(frame.use_count() == 2);
    CHECK(pending(q) == "d frame");
    q.consume(7);
    CHECK_FALSE(q.holds_lists());
    CHECK(frame.use_count() == 1); // the queue let go of the frame it shared
    CHECK(q.capacity() == 0);      // and of its block
    CHECK(q.written_total() == 6 + 12);

    // Refilled, it works as before: order, totals.
    q.append_copy("again", 5);
    CHECK(pending(q) == "again");
    CHECK(q.queued_total() == 6 + 12 + 5);
    q.consume(5);
    CHECK_FALSE(q.holds_lists());
}

TEST_CASE("buffer pool: both block sizes come back for reuse, other sizes are freed, each stock is bounded") {
    using namespace duplex::detail;
    // Start from empty stocks (other tests on this thread may have filled them).
    buffer_pool().clear();
    large_buffer_pool().clear();

    byte_buffer small = acquire_buffer(100); // any request up to a block gets a whole block
    CHECK(small.size() == pool_block_size);
    byte_buffer large = acquire_buffer(pool_block_size + 1);
    CHECK(large.size() == large_block_size);
    byte_buffer huge = acquire_buffer(large_block_size + 1);
    CHECK(huge.size() == large_block_size + 1);

    const unsigned char* small_bytes = small.data();
    const unsigned char* large_bytes = large.data();
    recycle_buffer(std::move(small));
    recycle_buffer(std::move(large));
    recycle_buffer(std::move(huge)); // not a standard size: freed
    CHECK(small.empty());
    CHECK(buffer_pool().size() == 1);
    CHECK(large_buffer_pool().size() == 1);
    CHECK(acquire_buffer(pool_block_size).data() == small_bytes);
    CHECK(acquire_buffer(large_block_size).data() == large_bytes);

    // A buffer grown past its block (a read buffer doubled for a large frame) is not pooled.
    byte_buffer grown = acquire_buffer(large_block_size);
    grown.resize(2 * large_block_size);
    recycle_buffer(std::move(grown));
    CHECK(large_buffer_pool().empty());

    std::vector<byte_buffer> many;
    for (std::size_t i = 0; i < large_max_blocks + 5; ++i)
        many.push_back(acquire_buffer(large_block_size));
    for (auto& b : many)
        recycle_buffer(std::move(b));
    CHECK(large_buffer_pool().size() == large_max_blocks);
    large_buffer_pool().clear();
}
