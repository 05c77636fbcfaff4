#!/usr/bin/env bash
# The WebSocket conformance suite (Autobahn|Testsuite case categories 1-7, 9, 10, and 12-13
# with DUPLEX_CONFORMANCE_DEFLATE=1) against duplex, both ways:
#   1. selftest.py: the fuzzers themselves give the expected verdicts to a misbehaving peer;
#   2. fuzzingclient.py against <build-dir>/examples/echo_server (duplex's server);
#   3. <build-dir>/examples/autobahn_client (duplex's client) against fuzzingserver.py.
# Exits non-zero if any case is not strictly OK (or INFORMATIONAL), or anything fails to run.
# JSON reports are left in $DUPLEX_CONFORMANCE_REPORTS (default: <build-dir>/conformance).
#
# permessage-deflate (categories 12 and 13, RFC 7692) is left out unless
# DUPLEX_CONFORMANCE_DEFLATE=1: then both fuzzers get --deflate (every case, 12 and 13 included)
# and the two duplex examples get $DEFLATE_FLAGS, below.
#
# usage: tests/conformance/run.sh <build-dir> [extra fuzzer options, e.g. --cases 6.*]
set -u

# DEFLATE_FLAGS: the options that make examples/echo_server and examples/autobahn_client
# negotiate permessage-deflate, passed to both when DUPLEX_CONFORMANCE_DEFLATE=1: --deflate
# (the server answers offers as duplex's defaults do, the client makes duplex's default offer).
# Set DUPLEX_CONFORMANCE_DEFLATE_FLAGS to try others, e.g. "--deflate --deflate-window 9".
DEFLATE_FLAGS=${DUPLEX_CONFORMANCE_DEFLATE_FLAGS---deflate}

here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?usage: run.sh <build-dir> [fuzzer options]}" && pwd)
shift
# /usr/bin/python3 is the system interpreter (the suite needs only its standard library).
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3) || { echo "FAIL: python3 is needed"; exit 1; }
reports=${DUPLEX_CONFORMANCE_REPORTS:-$build/conformance}
mkdir -p "$reports"
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$work"; }
trap cleanup EXIT
status=0
start=$(date +%s)

fuzzer_flags=()   # for fuzzingclient.py and fuzzingserver.py
testee_flags=()   # for the duplex examples
limit=300         # seconds for each direction
if [ "${DUPLEX_CONFORMANCE_DEFLATE:-0}" = 1 ]; then
  fuzzer_flags=(--deflate)
  read -r -a testee_flags <<<"$DEFLATE_FLAGS"
  limit=5400        # 216 more cases of 1000 round trips each
  echo "permessage-deflate: on (categories 12 and 13; duplex examples get: ${testee_flags[*]:-nothing})"
fi

# Waits for a "listening on 127.0.0.1:PORT" line in $1 from process $2; sets $port.
wait_port() {
  port=
  for _ in $(seq 200); do
    port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$1" 2>/dev/null | head -n 1)
    [ -n "$port" ] && return 0
    kill -0 "$2" 2>/dev/null || break
    sleep 0.05
  done
  echo "FAIL: no listening line from $1:"; cat "$1"; return 1
}

echo "== selftest: the fuzzers' own verdicts"
if ! timeout 120 "$py" "$here/selftest.py"; then
  echo "FAIL: selftest (the suite's verdicts cannot be trusted)"; status=1
fi

echo "== fuzzingclient.py -> examples/echo_server (duplex server)"
if [ -x "$build/examples/echo_server" ]; then
  "$build/examples/echo_server" --port 0 ${testee_flags[@]+"${testee_flags[@]}"} >"$work/echo_server.out" 2>&1 &
  server=$!
  pids+=("$server")
  if wait_port "$work/echo_server.out" "$server"; then
    timeout "$limit" "$py" "$here/fuzzingclient.py" "ws://127.0.0.1:$port" --agent duplex-echo_server \
      --report "$reports/echo_server.json" ${fuzzer_flags[@]+"${fuzzer_flags[@]}"} "$@" || status=1
  else
    status=1
  fi
  kill -TERM "$server" 2>/dev/null
  wait "$server" 2>/dev/null
else
  echo "FAIL: $build/examples/echo_server not built"; status=1
fi

echo "== examples/autobahn_client (duplex client) -> fuzzingserver.py"
if [ -x "$build/examples/autobahn_client" ]; then
  "$py" "$here/fuzzingserver.py" --port 0 --once --idle-timeout 30 --report "$reports/autobahn_client.json" \
    ${fuzzer_flags[@]+"${fuzzer_flags[@]}"} "$@" >"$work/fuzzingserver.out" 2>&1 &
  fuzzer=$!
  pids+=("$fuzzer")
  if wait_port "$work/fuzzingserver.out" "$fuzzer"; then
    timeout "$limit" "$build/examples/autobahn_client" "ws://127.0.0.1:$port" --agent duplex \
      ${testee_flags[@]+"${testee_flags[@]}"} >"$work/client.out" 2>&1
    client_status=$?
    # The fuzzing server exits after /updateReports; give it a moment to print the summary.
    for _ in $(seq 100); do kill -0 "$fuzzer" 2>/dev/null || break; sleep 0.1; done
    kill "$fuzzer" 2>/dev/null
    wait "$fuzzer"
    fuzzer_status=$?
    cat "$work/fuzzingserver.out"
    if [ "$client_status" -ne 0 ]; then
      echo "FAIL: autobahn_client exited with status $client_status:"; cat "$work/client.out"; status=1
    fi
    [ "$fuzzer_status" -eq 0 ] || status=1
  else
    status=1
  fi
else
  echo "FAIL: $build/examples/autobahn_client not built"; status=1
fi

echo
echo "conformance: $([ $status -eq 0 ] && echo PASS || echo FAIL) in $(( $(date +%s) - start )) s (reports in $reports)"
exit $status
