// duplex — permessage-deflate throughput and compression ratio on a JSON chat-like corpus.
// SPDX-License-Identifier: MIT
//
// The corpus is generated here (deterministic): chat events as JSON objects, each a message.
// Benchmarks (bytes/s counted on the uncompressed bytes, so rates compare directly):
//   memcpy/size:N                        copying N bytes of the corpus: the baseline
//   deflate_compress/level:L/takeover:T  permessage_deflate::encode, message after message
//   deflate_decompress/takeover:T        permessage_deflate::decode of what encode produced
// Counters: ratio = compressed bytes / plain bytes over the messages run; msg_bytes = mean
// plain message size.

#include <duplex/deflate.hpp>

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <system_error>
#include <vector>

namespace {

// Chat events like a chat service pushes: a few message kinds, a pool of users and rooms,
// sentences from a small vocabulary, ids and timestamps that change.
std::vector<std::string> make_corpus(std::size_t count) {
    static const char* users[] = {"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
                                  "ivan", "judy", "mallory", "niaj", "olivia", "peggy", "rupert", "sybil"};
    static const char* rooms[] = {"general", "random", "dev", "ops", "design", "support"};
    static const char* words[] = {"the", "deploy", "is", "done", "can", "you", "check", "logs", "for",
                                  "build", "failed", "again", "lunch", "anyone", "meeting", "in", "five",
                                  "minutes", "thanks", "great", "work", "on", "release", "notes", "😀",
                                  "ok", "looks", "good", "to", "me", "merged", "ticket", "#4521"};
    std::mt19937 rng(12345);
    std::vector<std::string> out;
    std::uint64_t id = 981234;
    std::uint64_t ts = 1700000000000;
    for (std::size_t i = 0; i < count; ++i) {
        const char* user = users[rng() % 16];
        const char* room = rooms[rng() % 6];
        id += 1 + rng() % 7;
        ts += rng() % 5000;
        std::string m;
        switch (rng() % 8) {
        case 0:
            m = std::string("{\"type\":\"typing\",\"room\":\"") + room + "\",\"user\":\"" + user + "\",\"ts\":" +
                std::to_string(ts) + "}";
            break;
        case 1:
            m = std::string("{\"type\":\"presence\",\"user\":\"") + user + "\",\"status\":\"" +
                (rng() % 2 ? "online" : "away") + "\",\"ts\":" + std::to_string(ts) + "}";
            break;
        default: {
            std::string text;
            const int n = 3 + static_cast<int>(rng() % 25);
            for (int w = 0; w < n; ++w) {
                if (w)
                    text += ' ';
                text += words[rng() % (sizeof words / sizeof *words)];
            }
            m = std::string("{\"type\":\"message\",\"id\":") + std::to_string(id) + ",\"room\":\"" + room +
                "\",\"user\":{\"name\":\"" + user + "\",\"avatar\":\"https://cdn.example.com/a/" + user +
                ".png\"},\"text\":\"" + text + "\",\"ts\":" + std::to_string(ts) +
                ",\"reactions\":[],\"edited\":false}";
        }
        }
        out.push_back(std::move(m));
    }
    return out;
}

const std::vector<std::string>& corpus() {
    static const std::vector<std::string> c = make_corpus(4096);
    return c;
}

std::size_t corpus_bytes() {
    std::size_t n = 0;
    for (const auto& m : corpus())
        n += m.size();
    return n;
}

duplex::deflate_agreement agreement(bool takeover) {
    duplex::deflate_agreement a;
    a.server_no_context_takeover = !takeover;
    return a;
}

void memcpy_baseline(benchmark::State& state) {
    const auto& c = corpus();
    std::vector<char> dst(512);
    std::size_t bytes = 0;
    std::size_t i = 0;
    for (auto _ : state) {
        const std::string& m = c[i++ % c.size()];
        std::memcpy(dst.data(), m.data(), m.size());
        benchmark::DoNotOptimize(dst.data());
        benchmark::ClobberMemory();
        bytes += m.size();
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
    state.counters["msg_bytes"] = static_cast<double>(corpus_bytes()) / static_cast<double>(c.size());
}

void compress_bench(benchmark::State& state) {
    const auto& c = corpus();
    duplex::deflate_options o;
    o.compression_level = static_cast<int>(state.range(0));
    duplex::permessage_deflate d(duplex::role::server, agreement(state.range(1) != 0), o);
    duplex::extension_buffer out;
    std::error_code ec;
    std::size_t plain = 0, packed = 0, i = 0;
    for (auto _ : state) {
        const std::string& m = c[i++ % c.size()];
        out.clear();
        d.encode(duplex::opcode::text, reinterpret_cast<const unsigned char*>(m.data()), m.size(), out, ec);
        benchmark::DoNotOptimize(out.data());
        plain += m.size();
        packed += out.size();
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(plain));
    state.counters["ratio"] = plain ? static_cast<double>(packed) / static_cast<double>(plain) : 0;
}

void decompress_bench(benchmark::State& state) {
    const auto& c = corpus();
    const bool takeover = state.range(0) != 0;
    // Compress the corpus once, in order, as a sender would; decode it in the same order.
    duplex::permessage_deflate sender(duplex::role::server, agreement(takeover));
    std::vector<std::vector<unsigned char>> packed;
    std::error_code ec;
    for (const auto& m : c) {
        duplex::extension_buffer out;
        sender.encode(duplex::opcode::text, reinterpret_cast<const unsigned char*>(m.data()), m.size(), out, ec);
        packed.emplace_back(out.begin(), out.end());
    }
    auto receiver = std::make_unique<duplex::permessage_deflate>(duplex::role::client, agreement(takeover));
    duplex::extension_buffer out;
    std::size_t plain = 0, i = 0;
    for (auto _ : state) {
        if (i == c.size()) { // the stream has to start over with a fresh receiver
            state.PauseTiming();
            receiver = std::make_unique<duplex::permessage_deflate>(duplex::role::client, agreement(takeover));
            i = 0;
            state.ResumeTiming();
        }
        const auto& p = packed[i];
        out.clear();
        const std::error_code e = receiver->decode(duplex::rsv1_bit, p.data(), p.size(), true, out, SIZE_MAX);
        if (e || out.size() != c[i].size()) {
            state.SkipWithError("decode failed");
            break;
        }
        benchmark::DoNotOptimize(out.data());
        plain += out.size();
        ++i;
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(plain));
}

} // namespace

BENCHMARK(memcpy_baseline)->Name("memcpy/chat_message");
BENCHMARK(compress_bench)->Name("deflate_compress")->ArgNames({"level", "takeover"})
    ->Args({1, 1})->Args({6, 1})->Args({9, 1})->Args({1, 0})->Args({6, 0});
BENCHMARK(decompress_bench)->Name("deflate_decompress")->ArgNames({"takeover"})->Arg(1)->Arg(0);
