#!/usr/bin/env bash
# Builds the libFuzzer harnesses with clang (build-fuzz/ at the repository root) and runs each
# for N seconds (default 30) on a scratch copy of its seed corpus, with its dictionary if there
# is one, one harness per core at a time. Fails if any harness finds a crash or a violated property; the crashing input is kept
# under the scratch directory, whose path is printed.
#
#   fuzz/run.sh          # 30 s per harness
#   fuzz/run.sh 300      # 5 minutes per harness
#   CXX=clang++-14 fuzz/run.sh
set -euo pipefail

seconds=${1:-30}
case $seconds in
  '' | *[!0-9]*) echo "usage: $0 [seconds per harness]" >&2; exit 2 ;;
esac

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

cmake -S . -B build-fuzz -DCMAKE_CXX_COMPILER="${CXX:-clang++}" -DDUPLEX_BUILD_FUZZERS=ON \
  -DDUPLEX_BUILD_TESTS=OFF -DDUPLEX_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build-fuzz -j"$(nproc 2>/dev/null || echo 2)"

scratch=$(mktemp -d "${TMPDIR:-/tmp}/duplex-fuzz.XXXXXX")
echo "scratch directory: $scratch"

# One harness: runs it, writes its one-line summary to $scratch/<harness>/summary and, if it
# failed, the lines of its log that say why.
fuzz_one() {
  local harness=$1
  local corpus=$scratch/$harness/corpus artifacts=$scratch/$harness/artifacts
  local log=$scratch/$harness/log.txt status=0
  # The fuzzer adds the inputs it finds to its corpus: work on a copy, not on the repository's seeds.
  cp fuzz/corpus/$harness/* "$corpus"/ 2>/dev/null || true
  local args=(-max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$artifacts/")
  if [[ -f fuzz/$harness.dict ]]; then
    args+=(-dict="fuzz/$harness.dict")
  fi
  build-fuzz/fuzz/${harness}_fuzz "${args[@]}" "$corpus" >"$log" 2>&1 || status=$?
  local runs speed cov line
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 || true)
  line="$harness: ${runs:-?} runs, ${speed:-?} exec/s, ${cov:-cov: ?}, corpus $(ls "$corpus" | wc -l) files"
  if [[ $status -ne 0 ]]; then
    line="$line -- FAILED (exit $status), see $log"
    grep -E 'property violated|ERROR: |SUMMARY: |Test unit written' "$log" | head -n 8 >"$scratch/$harness/why" || true
  fi
  echo "$line" >"$scratch/$harness/summary"
}

# As many harnesses at a time as there are cores (DUPLEX_FUZZ_JOBS to choose): each is one
# single-threaded process.
jobs=${DUPLEX_FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}
harnesses=(frame_header utf8 close mask http server_handshake client_handshake url engine inflate)
running=0
for harness in "${harnesses[@]}"; do
  mkdir -p "$scratch/$harness/corpus" "$scratch/$harness/artifacts"
  if (( running >= jobs )); then
    wait -n || true
    running=$((running - 1))
  fi
  echo "== $harness: ${seconds}s"
  fuzz_one "$harness" &
  running=$((running + 1))
done
wait

failed=()
summary=()
for harness in "${harnesses[@]}"; do
  line=$(cat "$scratch/$harness/summary" 2>/dev/null || echo "$harness: no result -- FAILED")
  summary+=("$line")
  if [[ $line == *FAILED* ]]; then
    failed+=("$harness")
    cat "$scratch/$harness/why" 2>/dev/null || true
  fi
done

echo
printf '%s\n' "${summary[@]}"
if [[ ${#failed[@]} -ne 0 ]]; then
  echo "FAILED: ${failed[*]} (inputs under $scratch/<harness>/artifacts/)" >&2
  exit 1
fi
rm -rf "$scratch"
echo "all harnesses passed"
