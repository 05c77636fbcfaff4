#!/usr/bin/env bash
# Builds duplex_bench in Release (build-bench/ at the repository root), runs it, and prints each
# result's throughput as a ratio to the memcpy baseline of the same size (and offset).
#
#   bench/run.sh                          # every benchmark, 3 repetitions, medians
#   bench/run.sh --benchmark_filter=mask  # extra arguments go to duplex_bench
#   CXX=clang++ bench/run.sh              # another compiler (use a fresh build-bench/ for it)
#
# Throughput depends on the machine and on what else runs on it: compare ratios from one run.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

# Configured as bench/e2e.sh configures it (examples on), so the two share build-bench/.
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DDUPLEX_BUILD_BENCHMARKS=ON \
  -DDUPLEX_BUILD_TESTS=OFF -DDUPLEX_BUILD_EXAMPLES=ON >/dev/null
cmake --build build-bench --target duplex_bench -j"$(nproc 2>/dev/null || echo 2)"

json=build-bench/bench.json
# The console table goes to the terminal as usual; the JSON copy is what the summary reads.
build-bench/bench/duplex_bench --benchmark_min_time=0.2 --benchmark_repetitions=3 \
  --benchmark_report_aggregates_only=true \
  --benchmark_out="$json" --benchmark_out_format=json "$@"

/usr/bin/python3 - "$json" <<'EOF'
import json, re, sys

with open(sys.argv[1]) as f:
    runs = json.load(f)["benchmarks"]

# With repetitions, keep the medians; a run without repetitions has plain iteration entries.
rows = {}
rates = {}  # frames/s (engine) or items/s (handshake), where a benchmark counts them
for r in runs:
    if r.get("error_occurred"):
        print(f"ERROR {r['name']}: {r.get('error_message')}")
        continue
    if r.get("run_type") == "aggregate" and r.get("aggregate_name") != "median":
        continue
    name = r.get("run_name", r["name"])
    if r.get("run_type") == "aggregate" or name not in rows:
        rows[name] = r.get("bytes_per_second", 0.0)
        rates[name] = r.get("frames/s") or r.get("items_per_second") or 0.0

def arg(name, key):
    m = re.search(r"/" + key + r":(\d+)", name)
    return int(m.group(1)) if m else 0

def family(name):
    return name.split("/")[0]

memcpy = {(arg(n, "size"), arg(n, "off")): v for n, v in rows.items() if family(n) == "memcpy"}
# What each family is also compared with, besides memcpy.
baseline_of = {"apply_mask": "naive_mask", "copy_masked": "naive_mask", "scalar_mask": "naive_mask",
               "utf8_ascii": "byte_loop", "utf8_latin1": "byte_loop", "utf8_cjk": "byte_loop",
               "utf8_emoji": "byte_loop", "utf8_mixed": "byte_loop", "utf8_mixed_1k_chunks": "byte_loop",
               "or_bytes": "byte_loop"}
# Frame and handshake counts mean more than bytes for these: no memcpy ratio.
per_item = ("engine_read_frames", "engine_send_frames", "accept_key", "handshake_parse")

print()
print(f"{'benchmark':<46} {'GiB/s':>8} {'x memcpy':>9}   other baseline / rate")
for name, bps in rows.items():
    if family(name) == "memcpy":
        continue
    size, off = arg(name, "size"), arg(name, "off")
    ref = None if family(name) in per_item else memcpy.get((size, off)) or memcpy.get((size, 0))
    ratio = f"{bps / ref:9.2f}" if ref else f"{'-':>9}"
    extra = ""
    base = baseline_of.get(family(name))
    if base:
        other = next((v for n, v in rows.items() if family(n) == base and arg(n, "size") == size), None)
        if other:
            extra = f"{bps / other:7.2f} x {base}"
    if rates.get(name):
        extra += f"{rates[name] / 1e6:9.2f} M/s" + (" frames" if "engine" in name else " items")
    print(f"{name:<46} {bps / 2**30:8.2f} {ratio}   {extra}")
EOF
