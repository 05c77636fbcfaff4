#!/usr/bin/env bash
# Scale-out of examples/chat_server through Redis, end to end:
#
#   tests/chat/scaleout_test.sh BUILD_DIR
#
# Starts a real redis-server on a free port of 127.0.0.1 (no persistence) and two chat_server
# instances with --redis 127.0.0.1:PORT (instance 1 with one thread, instance 2 with two), each
# on a free port; waits until both print "redis relay up" on stderr. Then
# tests/chat/scaleout_checks.py drives the clients (alice and dave on instance 1, bob, carol and
# erin on instance 2; see that file) in three phases, and this script, between them:
#   1. relay up: join notices and messages cross instances both ways; carol, in another room,
#      sees none of them;
#   2. kill -9 redis-server: both instances keep running and each prints "redis relay down"
#      (within 10 s); clients stay connected, delivery within one instance still works, a new
#      client is served, and messages posted meanwhile do not cross (then or later);
#   3. redis-server again on the same port: both instances print "redis relay up" again (within
#      15 s: the relay's retry delay grows to at most 10 s +20 %), and messages cross both ways.
# Finally SIGTERM to both instances: each exits 0, and its stderr holds only the relay's
# up/down/up lines (no sanitizer report). Needs redis-server, python3-websockets and a
# chat_server built with hiredis (apt-get install redis-server libhiredis-dev
# python3-websockets; libhiredis-dev must be there when CMake configures). Missing ones fail
# the test, never skip it. One "ok - ..." or "FAIL - ..." line per check; exit 0 only if all
# passed. Every process is stopped by PID; logs stay in the scratch directory printed on failure.
# shellcheck disable=SC2016 # the conditions given to wait_until are eval'd when polled
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/checks.sh"
web=$(cd "$here/../../examples/chat/web" && pwd)
checks=$here/scaleout_checks.py
server_bin=$build/examples/chat_server
summary() { echo "chat scale-out: $passed passed, $failed failed, $((SECONDS - started)) s"; }

missing=()
command -v redis-server >/dev/null || missing+=("redis-server")
[ -x "$python" ] && "$python" -c 'import websockets' 2>/dev/null || missing+=("python3-websockets")
if [ ${#missing[@]} -gt 0 ]; then
  fail "not installed: ${missing[*]} (apt-get install -y ${missing[*]})"
  summary
  exit 1
fi
if [ ! -x "$server_bin" ]; then
  fail "$server_bin is built (with Redis support: apt-get install -y libhiredis-dev redis-server, then configure and build)"
  summary
  exit 1
fi

scratch=$(mktemp -d "${TMPDIR:-/tmp}/duplex-scaleout.XXXXXX")
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    { kill -KILL "$pid" && wait "$pid"; } 2>/dev/null
  done
  if [ "$failed" -eq 0 ]; then rm -rf "$scratch"; else echo "scale-out: logs kept in $scratch"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# relay FILE: counts and repeats FILE's "ok - " and "FAIL - " lines not relayed before.
relayed=0
relay() {
  local line n=0
  while IFS= read -r line; do
    n=$((n + 1))
    [ "$n" -gt "$relayed" ] || continue
    case $line in
      "ok - "*) pass "${line#ok - }" ;;
      "FAIL - "*) fail "${line#FAIL - }" ;;
    esac
  done <"$1"
  relayed=$n
}

now_ms() { date +%s%3N; }

# count FILE WORD: how many "redis relay WORD" lines FILE holds.
count() { grep -c "^chat_server: redis relay $2: " "$1"; }

# wait_until SECONDS COMMAND...: polls COMMAND every 0.1 s; its status at the end. The callers
# pass "eval '...'" so that the condition is evaluated afresh each time.
wait_until() {
  local end=$((SECONDS + $1))
  shift
  until "$@"; do
    [ "$SECONDS" -lt "$end" ] || { "$@"; return; }
    sleep 0.1
  done
}

# ---- Redis ----

redis_port=$("$python" "$checks" free-port)
redis_pid=
start_redis() { # $1: a label for the log file
  redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
    --dir "$scratch" >"$scratch/redis-$1.log" 2>&1 &
  redis_pid=$!
  pids+=("$redis_pid")
  if wait_until 10 "$python" "$checks" redis-ping "$redis_port" && kill -0 "$redis_pid" 2>/dev/null; then
    pass "redis-server ($1) answers PING on 127.0.0.1:$redis_port"
    return 0
  fi
  fail "redis-server ($1) answers PING on 127.0.0.1:$redis_port within 10 s (see $scratch/redis-$1.log)"
  return 1
}
start_redis first || { summary; exit 1; }

# ---- Two chat_server instances ----

server_pid=()
server_port=()
for i in 1 2; do
  threads=$i
  "$server_bin" --address 127.0.0.1 --port 0 --web "$web" --token alice=tok-alice --token bob=tok-bob \
    --token carol=tok-carol --token dave=tok-dave --token erin=tok-erin --threads "$threads" \
    --redis "127.0.0.1:$redis_port" >"$scratch/server$i.out" 2>"$scratch/server$i.err" &
  server_pid[i]=$!
  pids+=("${server_pid[$i]}")
done
for i in 1 2; do
  port=
  for _ in $(seq 100); do
    port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$scratch/server$i.out" | head -n 1)
    [ -n "$port" ] && break
    kill -0 "${server_pid[$i]}" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$port" ]; then
    if grep -qi 'redis' "$scratch/server$i.err" && ! kill -0 "${server_pid[$i]}" 2>/dev/null; then
      fail "chat_server $i started with --redis: $(head -n 1 "$scratch/server$i.err")" \
        "(build it with hiredis: apt-get install -y libhiredis-dev redis-server, then reconfigure)"
    else
      fail "chat_server $i started and printed its port"
      sed 's/^/    /' "$scratch/server$i.err" | head -20
    fi
    summary
    exit 1
  fi
  server_port[i]=$port
  grep -q 'redis relay' "$scratch/server$i.out" ||
    fail "chat_server $i says it runs the redis relay: $(cat "$scratch/server$i.out")"
done
pass "two chat_server instances listen on 127.0.0.1:${server_port[1]} and :${server_port[2]}"

for i in 1 2; do
  if wait_until 10 eval '[ "$(count "$scratch/server$i.err" up)" -ge 1 ]'; then
    pass "instance $i reports the relay up: $(grep -m 1 'redis relay up' "$scratch/server$i.err")"
  else
    fail "instance $i reports the relay up within 10 s (stderr: $(head -c 300 "$scratch/server$i.err"))"
  fi
done

# ---- The clients, phase by phase ----

"$python" "$checks" clients "${server_port[1]}" "${server_port[2]}" "$scratch" >"$scratch/clients.out" 2>&1 &
clients=$!
pids+=("$clients")
# phase NAME: waits (30 s) for the clients to print NAME.
phase() {
  phase_line=$1
  wait_until 30 eval 'grep -q "^$phase_line\$" "$scratch/clients.out" || ! kill -0 "$clients" 2>/dev/null'
  grep -q "^$phase_line\$" "$scratch/clients.out" ||
    fail "the clients reached $phase_line within 30 s (see $scratch/clients.out)"
  relay "$scratch/clients.out"
}
alive() { # alive WHEN: both instances are still running
  local i
  for i in 1 2; do
    if kill -0 "${server_pid[$i]}" 2>/dev/null; then
      pass "$1: instance $i (pid ${server_pid[$i]}) is running"
    else
      fail "$1: instance $i (pid ${server_pid[$i]}) is running (stderr: $(tail -c 500 "$scratch/server$i.err"))"
    fi
  done
}

phase phase1-done

# Phase 2: Redis dies.
{ kill -KILL "$redis_pid" && wait "$redis_pid"; } 2>/dev/null
killed_at=$(now_ms)
for i in 1 2; do
  if wait_until 10 eval '[ "$(count "$scratch/server$i.err" down)" -ge 1 ]'; then
    pass "instance $i reports the outage: $(grep -m 1 'redis relay down' "$scratch/server$i.err")"
  else
    fail "instance $i reports the relay down within 10 s of kill -9 redis-server"
  fi
done
alive "Redis killed"
touch "$scratch/go-outage"
phase phase2-done
alive "after the outage's messages"

# Phase 3: Redis returns on the same port.
sleep 0.5
if start_redis second; then
  restarted_at=$(now_ms)
  for i in 1 2; do
    wait_until 15 eval '[ "$(count "$scratch/server$i.err" up)" -ge 2 ] || ! kill -0 "${server_pid[$i]}" 2>/dev/null'
    if [ "$(count "$scratch/server$i.err" up)" -ge 2 ]; then
      pass "instance $i reports the relay up again, $(($(now_ms) - restarted_at)) ms after Redis returned" \
        "(Redis was down for $((restarted_at - killed_at)) ms)"
    else
      fail "instance $i reports the relay up again within 15 s of Redis returning"
    fi
  done
fi
touch "$scratch/go-recovered"
wait_until 60 eval '! kill -0 "$clients" 2>/dev/null'
if kill -0 "$clients" 2>/dev/null; then
  kill -KILL "$clients"
  fail "the clients finished within 60 s"
fi
wait "$clients"
clients_status=$?
relay "$scratch/clients.out"
if [ "$clients_status" -ne 0 ] && ! grep -q '^FAIL - ' "$scratch/clients.out"; then
  fail "scaleout_checks.py clients exited $clients_status (see $scratch/clients.out)"
fi
grep -q '^done$' "$scratch/clients.out" || fail "the clients ran to their end (see $scratch/clients.out)"
alive "after the recovery"

# ---- Shutdown ----

for i in 1 2; do
  kill -TERM "${server_pid[$i]}" 2>/dev/null
done
for i in 1 2; do
  pid=${server_pid[$i]}
  wait_until 10 eval '! kill -0 "$pid" 2>/dev/null'
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid"
    fail "instance $i exits within 10 s of SIGTERM"
  fi
  wait "$pid"
  status=$?
  if [ "$status" -eq 0 ]; then
    pass "instance $i exited 0 on SIGTERM"
  else
    fail "instance $i exited $status on SIGTERM (see $scratch/server$i.err)"
  fi
  err=$scratch/server$i.err
  if grep -qE 'ERROR: AddressSanitizer|runtime error:|LeakSanitizer|ThreadSanitizer' "$err"; then
    fail "instance $i: a sanitizer report on stderr"
    grep -m 5 -E 'ERROR: AddressSanitizer|runtime error:|LeakSanitizer|ThreadSanitizer' "$err" | sed 's/^/    /'
  else
    pass "instance $i: no sanitizer report on stderr"
  fi
  states=$(sed -n 's/^chat_server: redis relay \(up\|down\): .*/\1/p' "$err" | tr '\n' ' ')
  if [ "$states" = "up down up " ]; then
    pass "instance $i: the relay went up, down, up, nothing else"
  else
    fail "instance $i: the relay's states were: ${states:-none} (expected: up down up)"
  fi
  other=$(grep -v '^chat_server: redis relay \(up\|down\): ' "$err")
  if [ -n "$other" ]; then
    fail "instance $i: stderr holds nothing but the relay's states"
    printf '%s\n' "$other" | head -20 | sed 's/^/    /'
  fi
done
{ kill -TERM "$redis_pid" && wait "$redis_pid"; } 2>/dev/null

summary
[ "$failed" -eq 0 ]
