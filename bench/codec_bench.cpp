// duplex — micro-benchmarks for the sans-IO core: masking, UTF-8 validation, frame headers, the
// engine's receive and send paths, and the opening handshake.
// SPDX-License-Identifier: MIT
//
// Every benchmark reports bytes/s and carries its size in its name ("size:N", "off:N"), so
// bench/run.sh can read each result as a ratio to the memcpy baseline of the same size.
// Baselines in this binary:
//   memcpy        copying the same bytes (the speed of light for a pass that reads and writes)
//   naive_mask    the textbook `p[i] ^= key[i % 4]` loop, as the compiler sees fit to build it
//   scalar_mask   the same loop with auto-vectorization turned off: truly one byte at a time
//   or_bytes      OR of every byte (what an "is it all ASCII?" scan costs when vectorized)
//   memchr        libc's memchr for a byte that is absent (a read-only full scan)
//   byte_loop     a plain one-byte-at-a-time loop that looks at every byte (not vectorized)
// The engine benchmarks also report frames/s; accept_key and handshake parsing report items/s.

#include <duplex/core/engine.hpp>
#include <duplex/core/frame.hpp>
#include <duplex/core/handshake.hpp>
#include <duplex/core/mask.hpp>
#include <duplex/core/server_handshake.hpp>
#include <duplex/core/utf8.hpp>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <system_error>
#include <vector>

namespace {

constexpr std::int64_t kib = 1024;
constexpr std::int64_t mib = 1024 * kib;

// The payload sizes every bulk benchmark runs at: a tiny frame, the largest control frame,
// typical small and medium messages, a large one and the default message size limit.
const std::int64_t bulk_sizes[] = {16, 125, kib, 64 * kib, mib, 16 * mib};

const duplex::mask_key test_key = {0x37, 0xfa, 0x21, 0x3d};

// Bytes starting at a 64-byte boundary, plus slack so that `at(offset)` may start a little
// past it: the offset is then exactly the misalignment the benchmark asked for.
class aligned_buffer {
public:
    explicit aligned_buffer(std::size_t size, unsigned seed = 1) : storage_(size + 128) {
        const auto addr = reinterpret_cast<std::uintptr_t>(storage_.data());
        base_ = storage_.data() + (64 - addr % 64) % 64;
        // xorshift32: arbitrary bytes, deterministic from run to run.
        std::uint32_t x = seed * 2654435761u + 1;
        for (auto& b : storage_) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            b = static_cast<unsigned char>(x);
        }
    }

    unsigned char* at(std::size_t offset) noexcept { return base_ + offset; }

private:
    std::vector<unsigned char> storage_;
    unsigned char* base_ = nullptr;
};

void set_bytes(benchmark::State& state, std::int64_t bytes_per_iteration) {
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * bytes_per_iteration);
}

// ---------------------------------------------------------------------------------------------
// Baseline: memcpy of the same sizes (args: size, source and destination offset).

void memcpy_baseline(benchmark::State& state) {
    const auto n = static_cast<std::size_t>(state.range(0));
    const auto off = static_cast<std::size_t>(state.range(1));
    aligned_buffer src(n, 1), dst(n, 2);
    unsigned char* s = src.at(off);
    unsigned char* d = dst.at(off);
    for (auto _ : state) {
        benchmark::DoNotOptimize(s);
        benchmark::DoNotOptimize(d);
        std::memcpy(d, s, n);
        benchmark::ClobberMemory();
    }
    set_bytes(state, state.range(0));
}
void memcpy_args(benchmark::internal::Benchmark* b) {
    b->ArgNames({"size", "off"});
    b->Args({6, 0});  // as many bytes as a small masked header
    b->Args({10, 0}); // a 64-bit-length unmasked header
    b->Args({14, 0}); // the largest header
    for (const auto n : bulk_sizes) {
        b->Args({n, 0});
        b->Args({n, 1});
    }
}
BENCHMARK(memcpy_baseline)->Name("memcpy")->Apply(memcpy_args);

// ---------------------------------------------------------------------------------------------
// Masking (RFC 6455 §5.3). Args: size, offset from a 64-byte boundary, starting phase.

void mask_args(benchmark::internal::Benchmark* b) {
    b->ArgNames({"size", "off", "phase"});
    for (const auto n : bulk_sizes) {
        b->Args({n, 0, 0}); // aligned, a frame's first bytes
        b->Args({n, 1, 3}); // misaligned by one, continuing a frame three bytes in
    }
}

void apply_mask_in_place(benchmark::State& state) {
    const auto n = static_cast<std::size_t>(state.range(0));
    aligned_buffer buf(n);
    unsigned char* p = buf.at(static_cast<std::size_t>(state.range(1)));
    const auto phase = static_cast<std::size_t>(state.range(2));
    for (auto _ : state) {
        benchmark::DoNotOptimize(p);
        std::size_t next = duplex::apply_mask(p, n, test_key, phase);
        benchmark::DoNotOptimize(next);
        benchmark::ClobberMemory();
    }
    set_bytes(state, state.range(0));
}
BENCHMARK(apply_mask_in_place)->Name("apply_mask")->Apply(mask_args);

void copy_masked_bench(benchmark::State& state) {
    const auto n = static_cast<std::size_t>(state.range(0));
    const auto off = static_cast<std::size_t>(state.range(1));
    aligned_buffer src(n, 1), dst(n, 2);
    const unsigned char* s = src.at(off);
    unsigned char* d = dst.at(off);
    const auto phase = static_cast<std::size_t>(state.range(2));
    for (auto _ : state) {
        benchmark::DoNotOptimize(s);
        benchmark::DoNotOptimize(d);
        std::size_t next = duplex::copy_masked(d, s, n, test_key, phase);
        benchmark::DoNotOptimize(next);
        benchmark::ClobberMemory();
    }
    set_bytes(state, state.range(0));
}
BENCHMARK(copy_masked_bench)->Name("copy_masked")->Apply(mask_args);

// The reference every masking implementation is checked against. Kept out of line so the
// loop is compiled once, the way a caller that wrote it by hand would get it.
#if defined(__GNUC__)
__attribute__((noinline))
#endif
void naive_mask(unsigned char* p, std::size_t n, const duplex::mask_key& key) {
    for (std::size_t i = 0; i < n; ++i)
        p[i] ^= key[i % 4];
}

// The same loop, with the compiler told not to vectorize it.
#if defined(__clang__)
__attribute__((noinline)) void scalar_mask(unsigned char* p, std::size_t n,
                                           const duplex::mask_key& key) {
#pragma clang loop vectorize(disable) interleave(disable)
    for (std::size_t i = 0; i < n; ++i)
        p[i] ^= key[i % 4];
}
#elif defined(__GNUC__)
__attribute__((noinline, optimize("no-tree-vectorize"))) void
scalar_mask(unsigned char* p, std::size_t n, const duplex::mask_key& key) {
    for (std::size_t i = 0; i < n; ++i)
        p[i] ^= key[i % 4];
}
#else
void scalar_mask(unsigned char* p, std::size_t n, const duplex::mask_key& key) {
    naive_mask(p, n, key);
}
#endif

template <void (*Mask)(unsigned char*, std::size_t, const duplex::mask_key&)>
void reference_mask(benchmark::State& state) {
    const auto n = static_cast<std::size_t>(state.range(0));
    aligned_buffer buf(n);
    unsigned char* p = buf.at(static_cast<std::size_t>(state.range(1)));
    for (auto _ : state) {
        benchmark::DoNotOptimize(p);
        Mask(p, n, test_key);
        benchmark::ClobberMemory();
    }
    set_bytes(state, state.range(0));
}

void reference_mask_args(benchmark::internal::Benchmark* b) {
    b->ArgNames({"size", "off"});
    for (const auto n : bulk_sizes)
        b->Args({n, 0});
}
BENCHMARK_TEMPLATE(reference_mask, naive_mask)->Name("naive_mask")->Apply(reference_mask_args);
BENCHMARK_TEMPLATE(reference_mask, scalar_mask)->Name("scalar_mask")->Apply(reference_mask_args);

// ---------------------------------------------------------------------------------------------
// UTF-8 validation (RFC 3629). Args: size.

// Printable ASCII, like JSON or English chat messages.
std::string ascii_text(std::size_t n) {
    static const char words[] = "{\"type\":\"message\",\"text\":\"The quick brown fox jumps over "
                                "the lazy dog; 0123456789.\"} ";
    std::string s;
    s.reserve(n);
    while (s.size() < n)
        s.push_back(words[s.size() % (sizeof words - 1)]);
    return s;
}

// A realistic multilingual chat log: ASCII markup and Latin text mixed with Greek, Cyrillic,
// CJK, Japanese kana and emoji (2-, 3- and 4-byte sequences). Cut at a code point boundary
// and padded with spaces to exactly n bytes, so the result is complete, valid UTF-8.
std::string mixed_text(std::size_t n) {
    static const char* const lines[] = {
        "{\"user\":\"alice\",\"text\":\"Καλημέρα κόσμε! Good morning 🌅\"}\n",
        "{\"user\":\"bob\",\"text\":\"你好，世界。今天天气很好。\"}\n",
        "{\"user\":\"carol\",\"text\":\"Привет, как дела? 👍 Всё хорошо.\"}\n",
        "{\"user\":\"dave\",\"text\":\"こんにちは、元気ですか？🎉🎉\"}\n",
        "{\"user\":\"erin\",\"text\":\"Plain ASCII line with a café and naïve résumé.\"}\n",
        "{\"user\":\"frank\",\"text\":\"한국어 텍스트와 emoji 🚀🔥 mixed in.\"}\n",
    };
    std::string s;
    for (std::size_t i = 0; s.size() < n; ++i)
        s += lines[i % (sizeof lines / sizeof lines[0])];
    std::size_t cut = n;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80)
        --cut; // back up to the lead byte of the code point the cut would split
    s.resize(cut);
    s.resize(n, ' ');
    return s;
}

// Repeats `pieces` (valid UTF-8 each) to exactly n bytes, cut at a code point boundary and
// padded with spaces.
std::string repeat_text(std::size_t n, std::initializer_list<const char*> pieces) {
    std::string s;
    while (s.size() < n)
        for (const char* piece : pieces)
            s += piece;
    std::size_t cut = n;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80)
        --cut;
    s.resize(cut);
    s.resize(n, ' ');
    return s;
}

// Western European text: mostly ASCII with letters from the Latin-1 range (2-byte sequences).
std::string latin1_text(std::size_t n) {
    return repeat_text(n, {"Ça va très bien, merci ! Où est la gare ? ", "Größe, Übermaß und Fußgänger. ",
                           "¿Dónde está el niño? Años, señor. ", "Smørrebrød på Østerbro, æbler. "});
}

// Chinese and Japanese without markup: nearly all 3-byte sequences.
std::string cjk_text(std::size_t n) {
    return repeat_text(n, {"今天天气很好，我们去公园散步吧。", "東京都の人口は約千四百万人です。",
                           "中文字符与日本語の混合テキスト。"});
}

// Emoji-heavy chat: mostly 4-byte sequences, some joiners and ASCII.
std::string emoji_text(std::size_t n) {
    return repeat_text(n, {"😀😃😄😁🎉🎉🔥🚀 ", "👍🏽👨‍👩‍👧‍👦🌍🌅🍕🍣 ", "ok 💯✨🥳🤖👀 "});
}

void utf8_args(benchmark::internal::Benchmark* b) {
    b->ArgNames({"size"});
    for (const auto n : {kib, 64 * kib, mib})
        b->Arg(n);
}

// Validates `text` in chunks of `chunk` bytes (0: all at once); `portable`: with the scalar DFA
// that CPUs without the vector path (and non-x86 builds) use.
void validate(benchmark::State& state, const std::string& text, std::size_t chunk, bool portable = false) {
    const char* p = text.data();
    const std::size_t n = text.size();
    if (chunk == 0)
        chunk = n;
    for (auto _ : state) {
        benchmark::DoNotOptimize(p);
        duplex::utf8_validator v;
        bool ok = true;
        for (std::size_t i = 0; i < n; i += chunk)
            ok &= portable ? duplex::detail::utf8_feed_portable(v, p + i, n - i < chunk ? n - i : chunk)
                           : v.feed(p + i, n - i < chunk ? n - i : chunk);
        ok &= v.complete();
        benchmark::DoNotOptimize(ok);
    }
    if (!duplex::is_valid_utf8(text.data(), text.size()))
        state.SkipWithError("benchmark text is not valid UTF-8");
    set_bytes(state, static_cast<std::int64_t>(n));
}

template <std::string (*Text)(std::size_t)>
void utf8_bench(benchmark::State& state) {
    validate(state, Text(static_cast<std::size_t>(state.range(0))), 0);
}
BENCHMARK_TEMPLATE(utf8_bench, ascii_text)->Name("utf8_ascii")->Apply(utf8_args);
BENCHMARK_TEMPLATE(utf8_bench, latin1_text)->Name("utf8_latin1")->Apply(utf8_args);
BENCHMARK_TEMPLATE(utf8_bench, cjk_text)->Name("utf8_cjk")->Apply(utf8_args);
BENCHMARK_TEMPLATE(utf8_bench, emoji_text)->Name("utf8_emoji")->Apply(utf8_args);
BENCHMARK_TEMPLATE(utf8_bench, mixed_text)->Name("utf8_mixed")->Apply(utf8_args);

// Fed as a socket would deliver it: 1 KiB reads, which split code points at random.
void utf8_mixed_chunked(benchmark::State& state) {
    validate(state, mixed_text(static_cast<std::size_t>(state.range(0))), kib);
}
BENCHMARK(utf8_mixed_chunked)->Name("utf8_mixed_1k_chunks")->Apply(utf8_args);

// The portable scalar DFA alone, whatever this CPU has.
template <std::string (*Text)(std::size_t)>
void utf8_portable_bench(benchmark::State& state) {
    validate(state, Text(static_cast<std::size_t>(state.range(0))), 0, true);
}
BENCHMARK_TEMPLATE(utf8_portable_bench, ascii_text)->Name("utf8_portable_ascii")->Apply(utf8_args);
BENCHMARK_TEMPLATE(utf8_portable_bench, latin1_text)->Name("utf8_portable_latin1")->Apply(utf8_args);
BENCHMARK_TEMPLATE(utf8_portable_bench, cjk_text)->Name("utf8_portable_cjk")->Apply(utf8_args);
BENCHMARK_TEMPLATE(utf8_portable_bench, emoji_text)->Name("utf8_portable_emoji")->Apply(utf8_args);
BENCHMARK_TEMPLATE(utf8_portable_bench, mixed_text)->Name("utf8_portable_mixed")->Apply(utf8_args);

// Short messages, as chat traffic sends them: mixed text cut into pieces of about `size` bytes
// (at code point boundaries), one validator each.
void utf8_short_messages(benchmark::State& state) {
    const std::string text = mixed_text(64 * kib);
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    const std::size_t size = static_cast<std::size_t>(state.range(0));
    std::vector<std::size_t> cuts{0};
    while (cuts.back() + size < text.size()) {
        std::size_t cut = cuts.back() + size;
        while ((p[cut] & 0xC0) == 0x80)
            --cut;
        cuts.push_back(cut);
    }
    for (auto _ : state) {
        benchmark::DoNotOptimize(p);
        bool ok = true;
        for (std::size_t i = 0; i + 1 < cuts.size(); ++i) {
            duplex::utf8_validator v;
            ok &= v.feed(p + cuts[i], cuts[i + 1] - cuts[i]) && v.complete();
        }
        benchmark::DoNotOptimize(ok);
    }
    if (!duplex::is_valid_utf8(text.data(), text.size()))
        state.SkipWithError("benchmark text is not valid UTF-8");
    set_bytes(state, static_cast<std::int64_t>(cuts.back()));
}
BENCHMARK(utf8_short_messages)->Name("utf8_mixed_short_messages")->ArgNames({"size"})->Arg(40)->Arg(100)->Arg(200);

void or_bytes(benchmark::State& state) {
    const std::string text = mixed_text(static_cast<std::size_t>(state.range(0)));
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    const std::size_t n = text.size();
    for (auto _ : state) {
        benchmark::DoNotOptimize(p);
        unsigned acc = 0;
        for (std::size_t i = 0; i < n; ++i)
            acc |= p[i];
        benchmark::DoNotOptimize(acc);
    }
    set_bytes(state, static_cast<std::int64_t>(n));
}
BENCHMARK(or_bytes)->Apply(utf8_args);

// Counts the bytes >= 0x80, one byte at a time, with vectorization turned off: the plain
// byte loop a validator is often written as.
#if defined(__clang__)
__attribute__((noinline)) std::size_t count_high_bytes(const unsigned char* p, std::size_t n) {
    std::size_t count = 0;
#pragma clang loop vectorize(disable) interleave(disable)
    for (std::size_t i = 0; i < n; ++i)
        count += p[i] >> 7;
    return count;
}
#elif defined(__GNUC__)
__attribute__((noinline, optimize("no-tree-vectorize"))) std::size_t
count_high_bytes(const unsigned char* p, std::size_t n) {
    std::size_t count = 0;
    for (std::size_t i = 0; i < n; ++i)
        count += p[i] >> 7;
    return count;
}
#else
std::size_t count_high_bytes(const unsigned char* p, std::size_t n) {
    std::size_t count = 0;
    for (std::size_t i = 0; i < n; ++i)
        count += p[i] >> 7;
    return count;
}
#endif

void byte_loop(benchmark::State& state) {
    const std::string text = mixed_text(static_cast<std::size_t>(state.range(0)));
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    for (auto _ : state) {
        benchmark::DoNotOptimize(p);
        std::size_t count = count_high_bytes(p, text.size());
        benchmark::DoNotOptimize(count);
    }
    set_bytes(state, static_cast<std::int64_t>(text.size()));
}
BENCHMARK(byte_loop)->Apply(utf8_args);

void memchr_baseline(benchmark::State& state) {
    const std::string text = mixed_text(static_cast<std::size_t>(state.range(0)));
    const char* p = text.data();
    const std::size_t n = text.size();
    for (auto _ : state) {
        benchmark::DoNotOptimize(p);
        const void* hit = std::memchr(p, 0xFF, n); // 0xFF never occurs in UTF-8: a full scan
        benchmark::DoNotOptimize(hit);
    }
    set_bytes(state, static_cast<std::int64_t>(n));
}
BENCHMARK(memchr_baseline)->Name("memchr")->Apply(utf8_args);

// ---------------------------------------------------------------------------------------------
// Frame headers (RFC 6455 §5.2). Bytes/s counts header bytes only; compare with memcpy of the
// same size. The "size" arg is the header size.

// Decodes the header in `wire` (a header followed by some payload) over and over.
void decode(benchmark::State& state, const std::vector<unsigned char>& wire, duplex::role receiver) {
    const unsigned char* p = wire.data();
    const duplex::header_rules rules{receiver, 0};
    std::error_code ec;
    duplex::frame_header h;
    std::size_t header_bytes = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(p); // the bytes may have changed: decode them again
        const auto st = duplex::decode_header(p, wire.size(), h, ec, rules);
        benchmark::DoNotOptimize(st);
        benchmark::DoNotOptimize(h);
        header_bytes = h.header_size;
    }
    if (duplex::decode_header(p, wire.size(), h, ec, rules) != duplex::decode_status::complete ||
        header_bytes != static_cast<std::size_t>(state.range(0)))
        state.SkipWithError("benchmark header does not decode");
    set_bytes(state, state.range(0));
}

void decode_small_masked(benchmark::State& state) {
    // RFC 6455 §5.7: a masked "Hello" from a client, as a server reads it.
    decode(state, {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58},
           duplex::role::server);
}
BENCHMARK(decode_small_masked)->Name("decode_header_small_masked")->ArgNames({"size"})->Arg(6);

void decode_64bit(benchmark::State& state) {
    // RFC 6455 §5.7: an unmasked 64 KiB binary frame from a server, as a client reads it.
    decode(state, {0x82, 0x7f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0xAA, 0xBB},
           duplex::role::client);
}
BENCHMARK(decode_64bit)->Name("decode_header_64bit")->ArgNames({"size"})->Arg(10);

void decode_64bit_masked(benchmark::State& state) {
    // The largest header: a masked 64 KiB frame from a client, as a server reads it.
    decode(state,
           {0x82, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x37, 0xfa, 0x21, 0x3d},
           duplex::role::server);
}
BENCHMARK(decode_64bit_masked)->Name("decode_header_64bit_masked")->ArgNames({"size"})->Arg(14);

void encode(benchmark::State& state, std::uint64_t payload_length) {
    duplex::frame_header h;
    h.op = duplex::opcode::binary;
    h.masked = true;
    h.key = test_key;
    h.payload_length = payload_length;
    unsigned char out[duplex::max_header_size];
    unsigned char* o = out;
    std::size_t written = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(h); // the header may have changed: encode it again
        benchmark::DoNotOptimize(o);
        written = duplex::encode_header(h, o);
        benchmark::DoNotOptimize(written);
        benchmark::ClobberMemory();
    }
    if (written != static_cast<std::size_t>(state.range(0)))
        state.SkipWithError("unexpected header size");
    set_bytes(state, state.range(0));
}

void encode_small_masked(benchmark::State& state) { encode(state, 5); }
BENCHMARK(encode_small_masked)->Name("encode_header_small_masked")->ArgNames({"size"})->Arg(6);

void encode_64bit_masked(benchmark::State& state) { encode(state, 65536); }
BENCHMARK(encode_64bit_masked)->Name("encode_header_64bit_masked")->ArgNames({"size"})->Arg(14);

// ---------------------------------------------------------------------------------------------
// The engine's receive path (header decoding, unmasking in place, UTF-8 validation of text,
// event delivery), as a server reads what a client sent. Bytes/s counts wire bytes; frames/s
// counts frames.

// `count` client frames (masked, each with its own key) carrying whole messages of `payload`.
std::vector<unsigned char> client_frames(duplex::opcode op, const std::string& payload, std::size_t count) {
    std::vector<unsigned char> wire;
    unsigned char header[duplex::max_header_size];
    for (std::size_t i = 0; i < count; ++i) {
        duplex::frame_header h;
        h.op = op;
        h.masked = true;
        h.payload_length = payload.size();
        h.key = {static_cast<std::uint8_t>(i), 0x5a, static_cast<std::uint8_t>(i >> 8), 0xc3};
        const std::size_t header_size = duplex::encode_header(h, header);
        wire.insert(wire.end(), header, header + header_size);
        const std::size_t at = wire.size();
        wire.resize(at + payload.size());
        duplex::copy_masked(wire.data() + at, payload.data(), payload.size(), h.key);
    }
    return wire;
}

// The engine unmasks in place, so each pass needs fresh bytes: the pool holds copies of the
// wire (about 1 MiB in all) and refills them, with the timer paused, when all are used.
class wire_pool {
public:
    explicit wire_pool(std::vector<unsigned char> wire)
        : pristine_(std::move(wire)), copies_(std::max<std::size_t>(1, mib / pristine_.size())),
          buffer_(pristine_.size() * copies_) {
        refill();
    }

    std::size_t size() const noexcept { return pristine_.size(); }

    unsigned char* next(benchmark::State& state) {
        if (used_ == copies_) {
            state.PauseTiming();
            refill();
            state.ResumeTiming();
        }
        return buffer_.data() + used_++ * pristine_.size();
    }

private:
    void refill() {
        for (std::size_t i = 0; i < copies_; ++i)
            std::memcpy(buffer_.data() + i * pristine_.size(), pristine_.data(), pristine_.size());
        used_ = 0;
    }

    std::vector<unsigned char> pristine_;
    std::size_t copies_;
    std::vector<unsigned char> buffer_;
    std::size_t used_ = 0;
};

void engine_read(benchmark::State& state, duplex::opcode op, const std::string& payload, std::size_t count) {
    wire_pool pool(client_frames(op, payload, count));
    duplex::engine<duplex::role::server> e;
    std::error_code ec;
    std::size_t messages = 0;
    for (auto _ : state) {
        unsigned char* p = pool.next(state);
        std::size_t left = pool.size();
        while (left > 0) {
            duplex::event ev;
            const std::size_t used = e.read(p, left, ev, ec);
            if (ec) {
                state.SkipWithError(ec.message().c_str());
                return;
            }
            p += used;
            left -= used;
            if (ev.type == duplex::event_type::message) {
                ++messages;
                benchmark::DoNotOptimize(ev.data.data());
            }
        }
    }
    if (messages != static_cast<std::size_t>(state.iterations()) * count)
        state.SkipWithError("the engine did not deliver every message");
    set_bytes(state, static_cast<std::int64_t>(pool.size()));
    state.counters["frames/s"] = benchmark::Counter(static_cast<double>(messages), benchmark::Counter::kIsRate);
}

// 1024 small text frames in one buffer, as a pipelining client's burst arrives.
void engine_read_small(benchmark::State& state) {
    engine_read(state, duplex::opcode::text, ascii_text(static_cast<std::size_t>(state.range(0))), 1024);
}
BENCHMARK(engine_read_small)->Name("engine_read_frames")->ArgNames({"size"})->Arg(16)->Arg(125);

// One 64 KiB masked message, binary and text (text adds UTF-8 validation).
void engine_read_binary(benchmark::State& state) {
    engine_read(state, duplex::opcode::binary, ascii_text(static_cast<std::size_t>(state.range(0))), 1);
}
BENCHMARK(engine_read_binary)->Name("engine_read_binary")->ArgNames({"size"})->Arg(64 * kib);

void engine_read_text(benchmark::State& state) {
    engine_read(state, duplex::opcode::text, ascii_text(static_cast<std::size_t>(state.range(0))), 1);
}
BENCHMARK(engine_read_text)->Name("engine_read_text")->ArgNames({"size"})->Arg(64 * kib);

// The send path: a server queues small messages and hands them out as gather buffers, which
// are then consumed as if written. Bytes/s counts payload bytes.
void engine_send_small(benchmark::State& state) {
    const std::string payload = ascii_text(static_cast<std::size_t>(state.range(0)));
    duplex::engine<duplex::role::server> e;
    std::error_code ec;
    duplex::const_buffer buffers[64];
    std::size_t sent = 0;
    for (auto _ : state) {
        for (int i = 0; i < 16; ++i)
            e.send_text(payload, ec);
        std::size_t bytes = 0;
        const std::size_t n = e.output(buffers, 64);
        for (std::size_t i = 0; i < n; ++i)
            bytes += buffers[i].size;
        benchmark::DoNotOptimize(buffers);
        e.consume(bytes);
        sent += 16;
    }
    if (ec || e.buffered_amount() != 0)
        state.SkipWithError("the engine did not send every message");
    set_bytes(state, state.range(0) * 16);
    state.counters["frames/s"] = benchmark::Counter(static_cast<double>(sent), benchmark::Counter::kIsRate);
}
BENCHMARK(engine_send_small)->Name("engine_send_frames")->ArgNames({"size"})->Arg(16)->Arg(kib);

// ---------------------------------------------------------------------------------------------
// The opening handshake: Sec-WebSocket-Accept, and a whole request parsed and answered.

void accept_key_bench(benchmark::State& state) {
    char out[28];
    std::string key = "dGhlIHNhbXBsZSBub25jZQ==";
    for (auto _ : state) {
        benchmark::DoNotOptimize(key.data());
        duplex::accept_key(key, out);
        benchmark::DoNotOptimize(out);
    }
    if (std::string(out, 28) != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") // RFC 6455 §1.3
        state.SkipWithError("wrong accept key");
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(accept_key_bench)->Name("accept_key");

// A browser's request, with the fields a real one sends.
const char browser_request[] =
    "GET /chat?room=lobby HTTP/1.1\r\n"
    "Host: example.com:8080\r\n"
    "Connection: Upgrade\r\n"
    "Pragma: no-cache\r\n"
    "Cache-Control: no-cache\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/156.0.0.0 Safari/537.36\r\n"
    "Upgrade: websocket\r\n"
    "Origin: http://example.com:8080\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Accept-Encoding: gzip, deflate, br, zstd\r\n"
    "Accept-Language: en-US,en;q=0.9\r\n"
    "Cookie: session=4f8a2c; theme=dark\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    "Sec-WebSocket-Protocol: chat.v2, chat\r\n"
    "\r\n";

void handshake_parse(benchmark::State& state) {
    duplex::server_handshake_options options;
    options.subprotocols = {"chat"};
    const std::size_t n = sizeof browser_request - 1;
    std::size_t accepted = 0;
    for (auto _ : state) {
        duplex::server_handshake hs(options);
        std::error_code ec;
        const std::size_t used = hs.feed(browser_request, n, ec);
        benchmark::DoNotOptimize(hs.response().data());
        accepted += !ec && used == n && hs.accepted();
    }
    if (accepted != static_cast<std::size_t>(state.iterations()))
        state.SkipWithError("the request was not accepted");
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
    set_bytes(state, static_cast<std::int64_t>(n));
}
BENCHMARK(handshake_parse)->Name("handshake_parse")->ArgNames({"size"})->Arg(sizeof browser_request - 1);

} // namespace
