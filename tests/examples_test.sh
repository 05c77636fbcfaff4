#!/usr/bin/env bash
# The example programs as users run them: echo_server and coro_echo_server on a free port,
# echo_client sending stdin lines to each, and echo_server's SIGTERM shutdown (exit 0).
# usage: examples_test.sh <examples-build-dir>
set -u
bin=$1
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$work"; }
trap cleanup EXIT
status=0

# Starts a server on a free port (--port 0), waits for its "listening" line, which names the
# port; sets $port and $pid.
start() {
  rm -f "$work/$1.out" # a restart must not read the last instance's listening line
  "$bin/$1" --port 0 "${@:2}" >"$work/$1.out" 2>&1 &
  pid=$!
  pids+=("$pid")
  for _ in $(seq 100); do
    port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/$1.out" 2>/dev/null)
    [ -n "$port" ] && return 0
    sleep 0.05
  done
  echo "FAIL: $1 did not print its listening line:"; cat "$work/$1.out"; return 1
}

printf 'hello\n\nκόσμε\n%s\n' "$(head -c 100000 /dev/zero | tr '\0' x)" >"$work/input"

for server in echo_server coro_echo_server; do
  start "$server" || { status=1; continue; }
  if timeout 20 "$bin/echo_client" "ws://127.0.0.1:$port/chat" <"$work/input" >"$work/output" &&
     cmp -s "$work/input" "$work/output"; then
    echo "ok: echo_client through $server echoed every line"
  else
    echo "FAIL: echo_client through $server"; status=1
  fi
done

# echo_server exits 0 on SIGTERM, closing connections with 1001 (a waiting client sees it).
start echo_server --threads 2 || status=1
mkfifo "$work/fifo"
timeout 20 "$bin/echo_client" "ws://127.0.0.1:$port/" <"$work/fifo" >"$work/client.out" 2>&1 &
client=$!
exec 3>"$work/fifo"
echo "before shutdown" >&3
for _ in $(seq 100); do grep -q "before shutdown" "$work/client.out" && break; sleep 0.05; done
kill -TERM "$pid"
wait "$pid"; server_status=$?
wait "$client"; client_status=$? # the client's input is still open: it ends on the server's close
exec 3>&-
if [ "$server_status" -eq 0 ]; then echo "ok: echo_server exited 0 on SIGTERM"; else echo "FAIL: echo_server exited $server_status"; status=1; fi
if grep -q "the server closed the connection (1001 going away)" "$work/client.out" && [ "$client_status" -eq 0 ]; then
  echo "ok: the waiting client was closed by the server"
else
  echo "FAIL: the client did not see the server's close:"; cat "$work/client.out"; status=1
fi

# Bad arguments are refused with usage and status 2.
"$bin/echo_server" --port >/dev/null 2>&1; [ $? -eq 2 ] && echo "ok: bad arguments give status 2" || { echo "FAIL: bad arguments"; status=1; }
for bad in "--deflate --deflate-window 7" "--deflate --deflate-window 16" "--no-context-takeover" "--deflate-window 9"; do
  # shellcheck disable=SC2086 # the words are the arguments
  "$bin/echo_server" --port 0 $bad >/dev/null 2>&1
  [ $? -eq 2 ] && echo "ok: echo_server $bad: status 2" || { echo "FAIL: echo_server $bad was accepted"; status=1; }
  "$bin/autobahn_client" ws://127.0.0.1:1 $bad >/dev/null 2>&1
  [ $? -eq 2 ] && echo "ok: autobahn_client $bad: status 2" || { echo "FAIL: autobahn_client $bad was accepted"; status=1; }
done

# reconnecting_client backs off (growing delays) while echo_server is down, resumes when it is
# back on the same port, and exits 0 on SIGTERM.
wait_lines() { # FILE PATTERN COUNT: waits up to 10 s for COUNT lines matching PATTERN
  for _ in $(seq 200); do
    [ "$(grep -c -- "$2" "$1" 2>/dev/null)" -ge "$3" ] && return 0
    sleep 0.05
  done
  return 1
}
rc_why=()
rc_fail() { rc_why+=("$1"); }
if start echo_server; then
  rc_port=$port
  # --foreground: without it timeout sends our SIGTERM to the client twice (directly, then to its
  # process group), and the second can land after the client has finished its shutdown and
  # restored the default action, killing it (status 143) though it shut down cleanly.
  timeout --foreground 60 "$bin/reconnecting_client" "ws://127.0.0.1:$rc_port/" --initial-delay-ms 100 \
    --max-delay-ms 2000 --jitter 0.1 --interval-ms 100 >"$work/reconnect.out" 2>&1 &
  rc_pid=$! # timeout's: it passes SIGTERM on and exits with the client's status
  pids+=("$rc_pid")
  wait_lines "$work/reconnect.out" '^received: hello$' 1 || rc_fail "no first hello"
  kill -TERM "$pid"; wait "$pid"
  wait_lines "$work/reconnect.out" '^reconnecting in ' 3 || rc_fail "fewer than 3 retries"
  # 0.1, 0.2, 0.4 s, each +-10 %: every delay longer than the one before.
  sed -n 's/^reconnecting in \([0-9.]*\) s.*/\1/p' "$work/reconnect.out" | head -3 |
    awk 'NR > 1 && $1 <= prev { bad = 1 } { prev = $1 } END { exit bad || NR < 3 }' ||
    rc_fail "the first 3 delays do not grow"
  start echo_server --port "$rc_port" || rc_fail "echo_server did not restart on port $rc_port"
  wait_lines "$work/reconnect.out" '^connected$' 2 || rc_fail "no second connect"
  wait_lines "$work/reconnect.out" '^received: hello$' 2 || rc_fail "no second hello"
  # The hello sent on open goes before the messages queued while the server was down.
  awk '/^connected$/ { n++; next } n == 2 && /^received: / { exit ($0 != "received: hello") }' \
    "$work/reconnect.out" || rc_fail "a queued message came before the second hello"
  grep -q '^queued: ' "$work/reconnect.out" || rc_fail "nothing was queued while offline"
  kill -TERM "$rc_pid"
  wait "$rc_pid"
  rc_status=$?
  [ "$rc_status" -eq 0 ] || rc_fail "exit status $rc_status after SIGTERM"
else
  rc_fail "echo_server did not start"
fi
if [ "${#rc_why[@]}" -eq 0 ]; then
  echo "ok: reconnecting_client backed off while echo_server was down, resumed, and exited 0 on SIGTERM"
else
  echo "FAIL: reconnecting_client: $(IFS=';'; echo "${rc_why[*]}"):"; cat "$work/reconnect.out"; status=1
fi
"$bin/reconnecting_client" ws://127.0.0.1:1 --jitter 2 >/dev/null 2>&1
[ $? -eq 2 ] && echo "ok: reconnecting_client --jitter 2: status 2" || { echo "FAIL: reconnecting_client --jitter 2 was accepted"; status=1; }
exit $status
