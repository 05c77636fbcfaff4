#!/usr/bin/env bash
# examples/chat_server in a real browser, plus its HTTP and login edges:
#
#   tests/chat/browser_test.sh BUILD_DIR
#
# One chat_server (2 threads, ping every 500 ms, auth timeout 2 s) on a free port of
# 127.0.0.1, with users from a --tokens file and from --token. Then:
#   1. carol (Python, Bearer login at the handshake) joins rooms A and B;
#   2. two headless Chromium pages at once, alice in A and bob in B, each loading the page that
#      chat_server serves (examples/chat/web, ?auto=1): each logs in by first message, joins,
#      posts, and must see exactly its own room's events (its joined notice, its message,
#      carol's message to its room), never the other room's; carol checks both rooms from her
#      side, and sees alice and bob leave when their pages close;
#   3. two more pages at once: a wrong token (auth_failed, then close code 1008 seen by the
#      page) and dave logging in with the chat_token cookie at the handshake;
#   4. Python: Bearer and cookie logins (good: accepted; bad: 401; cookie from another origin:
#      403), first-message failures and the auth timeout (1008), malformed requests, the
#      heartbeat (a peer that answers no ping is dropped), plain HTTP (GET / is the page,
#      traversal refused, 404, 405, 400, 431, 426);
#   5. SIGTERM: the server closes carol with 1001 and exits 0.
# Needs chromium and python3-websockets (Debian packages; /usr/bin/python3). One "ok - ..."
# or "FAIL - ..." line per check; exit 0 only if all passed. The server is stopped by PID;
# logs stay in the scratch directory printed on failure.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/checks.sh"
web=$(cd "$here/../../examples/chat/web" && pwd)
checks=$here/chat_checks.py
server_bin=$build/examples/chat_server

missing=()
[ -x "$python" ] && "$python" -c 'import websockets' 2>/dev/null || missing+=("python3-websockets")
command -v chromium >/dev/null || missing+=("chromium")
if [ ${#missing[@]} -gt 0 ]; then
  fail "not installed: ${missing[*]} (apt-get install -y ${missing[*]})"
  exit 1
fi
if [ ! -x "$server_bin" ]; then
  fail "$server_bin is built"
  exit 1
fi

scratch=$(mktemp -d "${TMPDIR:-/tmp}/duplex-chat.XXXXXX")
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    kill -KILL "$pid" 2>/dev/null
  done
  if [ "$failed" -eq 0 ]; then rm -rf "$scratch"; else echo "chat: logs kept in $scratch"; fi
}
trap cleanup EXIT

# relay FILE: counts and repeats FILE's "ok - " and "FAIL - " lines.
relay() {
  local line
  while IFS= read -r line; do
    case $line in
      "ok - "*) pass "${line#ok - }" ;;
      "FAIL - "*) fail "${line#FAIL - }" ;;
    esac
  done <"$1"
}

# ---- The server ----

printf '# user=token\nalice = tok-alice\nbob=tok-bob\n\n' >"$scratch/tokens"
"$server_bin" --address 127.0.0.1 --port 0 --web "$web" --tokens "$scratch/tokens" --token carol=tok-carol \
  --token dave=tok-dave --threads 2 --ping-interval-ms 500 --auth-timeout-ms 2000 \
  >"$scratch/server.out" 2>"$scratch/server.err" &
server=$!
pids+=("$server")
port=
for _ in $(seq 100); do
  port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$scratch/server.out" | head -n 1)
  [ -n "$port" ] && break
  kill -0 "$server" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$port" ]; then
  fail "chat_server started and printed its port"
  cat "$scratch/server.err"
  exit 1
fi
pass "chat_server listens on 127.0.0.1:$port"

# ---- Chromium pages ----

# page_url QUERY-PAIRS...: the page's URL with each "name=value" percent-encoded.
page_url() {
  "$python" -c 'import sys, urllib.parse
print(sys.argv[1] + "/?" + urllib.parse.urlencode([tuple(a.split("=", 1)) for a in sys.argv[2:]]))' \
    "http://127.0.0.1:$port" "$@"
}

# chromium_dump NAME URL: dumps the page's DOM into $scratch/NAME.html (in the background: sets
# dump_pid).
chromium_dump() {
  timeout 60 chromium --headless --no-sandbox --disable-gpu --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync --disable-quic \
    --user-data-dir="$scratch/profile-$1" --dump-dom "$2" >"$scratch/$1.html" 2>"$scratch/$1.err" &
  dump_pid=$!
}

# page_checks NAME SPEC_JSON: checks the summary in $scratch/NAME.html.
page_checks() {
  "$python" "$checks" page "$scratch/$1.html" "$2" >"$scratch/$1.checks" 2>&1
  relay "$scratch/$1.checks"
}

"$python" "$checks" participant "$port" tok-carol >"$scratch/carol.out" 2>&1 &
carol=$!
pids+=("$carol")
for _ in $(seq 100); do
  grep -q '^ready$' "$scratch/carol.out" && break
  sleep 0.1
done
grep -q '^ready$' "$scratch/carol.out" || fail "carol joined A and B (see $scratch/carol.out)"

bob_text='hello from bob <b>&amp;</b> é'
chromium_dump alice "$(page_url auto=1 room=A token=tok-alice say='hello from alice' expect=3 settle=500)"
alice=$dump_pid
chromium_dump bob "$(page_url auto=1 room=B token=tok-bob say="$bob_text" expect=3 settle=500)"
bob=$dump_pid
wait "$alice" || fail "chromium (alice) exited $? (see $scratch/alice.err)"
wait "$bob" || fail "chromium (bob) exited $? (see $scratch/bob.err)"
page_checks alice '{"label": "page alice in A", "user": "alice", "auth": "success", "members": ["alice", "carol"],
  "events": [{"type": "joined", "room": "A", "user": "alice"},
             {"type": "message", "room": "A", "user": "alice", "text": "hello from alice"},
             {"type": "message", "room": "A", "user": "carol", "text": "carol to A"}],
  "errors": [], "end": "expected", "close_code": 1000}'
page_checks bob "$("$python" -c 'import json, sys; print(json.dumps({"label": "page bob in B", "user": "bob",
  "auth": "success", "members": ["bob", "carol"],
  "events": [{"type": "joined", "room": "B", "user": "bob"},
             {"type": "message", "room": "B", "user": "bob", "text": sys.argv[1]},
             {"type": "message", "room": "B", "user": "carol", "text": "carol to B"}],
  "errors": [], "end": "expected", "close_code": 1000}))' "$bob_text")"

chromium_dump wrong "$(page_url auto=1 room=A token=not-a-token say=never expect=1)"
wrong=$dump_pid
chromium_dump dave "$(page_url auto=1 cookie=1 room=C token=tok-dave say='cookie hello' expect=2)"
dave=$dump_pid
wait "$wrong" || fail "chromium (wrong token) exited $? (see $scratch/wrong.err)"
wait "$dave" || fail "chromium (dave) exited $? (see $scratch/dave.err)"
page_checks wrong '{"label": "page with a wrong token", "auth": "failed", "auth_reason": "invalid token",
  "events": [], "end": "closed", "close_code": 1008}'
page_checks dave '{"label": "page dave, cookie login", "user": "dave", "auth": "success", "members": ["dave"],
  "events": [{"type": "joined", "room": "C", "user": "dave"},
             {"type": "message", "room": "C", "user": "dave", "text": "cookie hello"}],
  "errors": [], "end": "expected", "close_code": 1000}'

# ---- Python: logins, heartbeat, plain HTTP ----

for what in "handshake $port" "heartbeat $port tok-bob" "static $port $web"; do
  name=${what%% *}
  # shellcheck disable=SC2086 # the words are the arguments
  timeout 60 "$python" "$checks" $what >"$scratch/$name.out" 2>&1
  status=$?
  relay "$scratch/$name.out"
  if [ "$status" -ne 0 ] && ! grep -q '^FAIL - ' "$scratch/$name.out"; then
    fail "chat_checks.py $name exited $status (see $scratch/$name.out)"
  fi
done

# ---- Shutdown ----

for _ in $(seq 100); do
  grep -q '^carol-done$' "$scratch/carol.out" && break
  kill -0 "$carol" 2>/dev/null || break
  sleep 0.1
done
kill -TERM "$server"
for _ in $(seq 100); do
  kill -0 "$server" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$server" 2>/dev/null; then
  kill -KILL "$server"
  fail "chat_server exits within 10 s of SIGTERM"
fi
wait "$server"
status=$?
[ "$status" -eq 0 ] && pass "chat_server exited 0 on SIGTERM" || fail "chat_server exited $status on SIGTERM (see $scratch/server.err)"
wait "$carol"
carol_status=$?
relay "$scratch/carol.out"
[ "$carol_status" -eq 0 ] || grep -q '^FAIL - ' "$scratch/carol.out" || fail "carol exited $carol_status (see $scratch/carol.out)"
if [ -s "$scratch/server.err" ]; then
  fail "chat_server wrote nothing to stderr"
  sed 's/^/    /' "$scratch/server.err" | head -40
fi

echo "chat: $passed passed, $failed failed, $((SECONDS - started)) s"
[ "$failed" -eq 0 ]
