#!/usr/bin/env bash
# Interoperability with real peers: duplex's client and server against Python websockets
# (Debian's python3-websockets, under /usr/bin/python3), Node ws (Debian's node-ws) and
# Chromium (Debian's chromium), in both directions:
#
#   python client -> duplex server     duplex client -> python server
#   node client   -> duplex server     duplex client -> node server
#   chromium page -> examples/echo_server, and -> duplex_peer_server (subprotocol, server closes)
#
# and then again with permessage-deflate (RFC 7692) under several parameter sets (windows of 9,
# 12 and 15 bits, no context takeover), each peer's script of messages: the answer the server
# gave is checked exactly, and duplex's wire tap checks that every message went out and came
# back compressed (RSV1 on its first frame only).
#
#   tests/interop/run.sh BUILD_DIR
#
# BUILD_DIR holds tests/interop/duplex_peer_{client,server} and examples/echo_server. Every
# server listens on 127.0.0.1 on a port of its choosing (the port it prints is used), every
# program runs under a time limit, and servers are stopped by PID. One "ok - ..." or
# "FAIL - ..." line per check; exit status 0 if all passed, 1 if any failed or a peer is not
# installed (the message names the Debian packages). Logs stay in the scratch directory printed
# on failure.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/checks.sh"
peers=$here/peers
export NODE_PATH=/usr/share/nodejs${NODE_PATH:+:$NODE_PATH} # Debian's node-ws
client=$build/tests/interop/duplex_peer_client
server=$build/tests/interop/duplex_peer_server
echo_server=$build/examples/echo_server
codes=(1000 1001 1002 1003 1007 1008 1009 1010 1011 1012 1013 1014 3000 3999 4000 4999)

# ---- What is needed ----

missing=()
[ -x "$python" ] && "$python" -c 'import websockets' 2>/dev/null || missing+=("python3-websockets")
command -v node >/dev/null && node -e "require('ws')" 2>/dev/null || missing+=("node-ws")
command -v chromium >/dev/null || missing+=("chromium")
if [ ${#missing[@]} -gt 0 ]; then
  echo "interop: not installed: ${missing[*]} (apt-get install -y python3-websockets node-ws chromium)"
  fail "the interop peers are installed"
  exit 1
fi
for program in "$client" "$server" "$echo_server"; do
  if [ ! -x "$program" ]; then
    fail "$program is built"
    exit 1
  fi
done

scratch=$(mktemp -d "${TMPDIR:-/tmp}/duplex-interop.XXXXXX")
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    kill -KILL "$pid" 2>/dev/null
  done
  if [ "$failed" -eq 0 ]; then
    rm -rf "$scratch"
  else
    echo "interop: logs kept in $scratch"
  fi
}
trap cleanup EXIT

# ---- Servers ----

# start_server LOG COMMAND...: starts a server in the background; sets server_pid, and
# server_port from its "listening on 127.0.0.1:PORT" line. Fails if none comes within 10 s.
start_server() {
  local log=$1
  shift
  "$@" >"$log" 2>"$log.err" &
  server_pid=$!
  pids+=("$server_pid")
  server_port=
  local i
  for i in $(seq 100); do
    server_port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$log" | head -n 1)
    [ -n "$server_port" ] && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  fail "$* started and printed its port (see $log.err)"
  return 1
}

# stop_server PID LABEL: SIGTERM, then SIGKILL after 10 s; the server must exit by itself.
stop_server() {
  local pid=$1 label=$2 i
  kill -TERM "$pid" 2>/dev/null
  for i in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null
    fail "$label: the server exits on SIGTERM"
  fi
  wait "$pid" 2>/dev/null
}

# ---- Clients ----

# relay LABEL FILE: repeats FILE's "ok - " and "FAIL - " lines under LABEL.
relay() {
  local label=$1 file=$2 line
  while IFS= read -r line; do
    case $line in
      "ok - "*) pass "$label: ${line#ok - }" ;;
      "FAIL - "*) fail "$label: ${line#FAIL - }" ;;
    esac
  done <"$file"
}

# exit_status LABEL STATUS LOG: one check for how a client program ended.
exit_status() {
  local label=$1 status=$2 log=$3
  case $status in
    0) pass "$label: exited 0" ;;
    124) fail "$label: timed out (see $log)" ;;
    *) fail "$label: exited $status (see $log)" ;;
  esac
}

runs=0
# run_detailed LABEL SECONDS COMMAND...: runs a client, repeats every check it printed.
run_detailed() {
  local label=$1 limit=$2 log status
  shift 2
  runs=$((runs + 1))
  log=$scratch/client.$runs.log
  timeout "$limit" "$@" >"$log" 2>&1
  status=$?
  relay "$label" "$log"
  exit_status "$label" "$status" "$log"
}

# run_summarized LABEL COMMAND...: runs a duplex_peer_client connection; one line if all its
# checks passed, its failures and its output if not.
run_summarized() {
  local label=$1 log status checks
  shift
  runs=$((runs + 1))
  log=$scratch/client.$runs.log
  timeout 60 "$@" --timeout 50 >"$log" 2>&1
  status=$?
  checks=$(grep -c '^ok - ' "$log")
  if [ "$status" -eq 0 ] && ! grep -q '^FAIL - ' "$log"; then
    pass "$label ($checks checks)"
  else
    relay "$label" "$log"
    exit_status "$label" "$status" "$log"
    grep -v '^ok - \|^FAIL - ' "$log" | sed 's/^/    /'
  fi
}

# server_checks LABEL LOG: the checks a server printed about its connections, summed up.
server_checks() {
  local label=$1 log=$2 checks line
  checks=$(grep -c '^ok - ' "$log")
  while IFS= read -r line; do
    fail "$label: ${line#FAIL - }"
  done < <(grep '^FAIL - ' "$log")
  if ! grep -q '^FAIL - ' "$log"; then
    pass "$label: its own checks on every connection passed ($checks)"
  fi
}

# expect_line LABEL LOG TEXT: the server logged exactly this text on one of its lines.
expect_line() {
  if grep -Fq -- "$3" "$2"; then
    pass "$1"
  else
    fail "$1: no line with '$3' in $2"
  fi
}

# expect_client_closes LABEL LOG: the server logged every client close code with its reason.
expect_client_closes() {
  local label=$1 log=$2 code
  for code in "${codes[@]}"; do
    expect_line "$label: received close $code \"client close $code ✓\"" "$log" \
      "close-received $code \"client close $code ✓\""
  done
}

# duplex_client_against LABEL PORT PING: duplex_peer_client's connections to a peer's server
# that speaks chat.v2 and chat, pings with PING on /ping and closes first on /close/CODE.
duplex_client_against() {
  local label=$1 url=ws://127.0.0.1:$2 ping=$3 code
  run_detailed "$label" 60 "$client" "$url/ping" --protocols chat.v2,chat --expect-protocol chat.v2 \
    --expect-ping "$ping" --close 4000 "script done ✓" --timeout 50
  run_summarized "$label: offering x-unknown,chat, chat chosen" "$client" "$url/" --handshake-only \
    --protocols x-unknown,chat --expect-protocol chat --close 1000 "subprotocol checked"
  run_summarized "$label: offering x-unknown, none chosen" "$client" "$url/" --handshake-only \
    --protocols x-unknown --close 1000 "subprotocol checked"
  run_summarized "$label: offering none, none chosen" "$client" "$url/" --handshake-only \
    --close 1000 "subprotocol checked"
  for code in "${codes[@]}"; do
    run_summarized "$label: client closes with $code and a reason" "$client" "$url/" --handshake-only \
      --close "$code" "client close $code ✓"
  done
  for code in "${codes[@]}"; do
    run_summarized "$label: server closes with $code and a reason" "$client" "$url/close/$code" \
      --expect-server-close "$code" "server close $code ✓"
  done
}

longest_reason=$(printf '✓%.0s' $(seq 41)) # 123 bytes

# ---- Versions ----

echo "interop: python websockets $("$python" -c 'import websockets; print(websockets.version.version)')," \
  "node $(node --version) with ws $(node -p "require('ws/package.json').version") ($(node -p "require.resolve('ws')"))," \
  "$(chromium --version 2>/dev/null)"

# peer_client_to_duplex LABEL NAME COMMAND...: the peer's client program (given the URL as its
# last argument) against duplex_peer_server; then the server's own log is checked.
peer_client_to_duplex() {
  local label=$1 name=$2 log=$scratch/duplex-server.$2.log
  shift 2
  start_server "$log" "$server" --port 0 --subprotocols chat.v2,chat || return
  run_detailed "$label" 120 "$@" "ws://127.0.0.1:$server_port/"
  stop_server "$server_pid" "$label"
  server_checks "$label: duplex server" "$log"
  expect_line "$label: the script connection chose \"chat\"" "$log" 'open path=/ping subprotocol="chat"'
  expect_line "$label: received close 4999 with the 123-byte reason" "$log" \
    "close-received 4999 \"$longest_reason\""
  expect_client_closes "$label" "$log"
}

# duplex_to_peer_server LABEL NAME COMMAND...: duplex_peer_client against the peer's server
# program; then the peer server's log is checked.
duplex_to_peer_server() {
  local label=$1 name=$2 log=$scratch/$2-server.log
  shift 2
  start_server "$log" "$@" --subprotocols chat.v2,chat || return
  duplex_client_against "$label" "$server_port" "$name-server-ping"
  stop_server "$server_pid" "$label"
  server_checks "$label: $name server" "$log"
  expect_line "$label: received close 4000 \"script done ✓\"" "$log" 'close-received 4000 "script done ✓"'
  expect_client_closes "$label" "$log"
}

# ---- 1-4. Python websockets and Node ws, each way ----

peer_client_to_duplex "python client -> duplex server" python "$python" "$peers/python_client.py"
duplex_to_peer_server "duplex client -> python server" python "$python" "$peers/python_server.py"
peer_client_to_duplex "node client -> duplex server" node node "$peers/node_client.js"
duplex_to_peer_server "duplex client -> node server" node node "$peers/node_server.js"

# ---- 5. Chromium page -> examples/echo_server, and -> duplex_peer_server ----

# chromium_page LABEL QUERY: loads the page with QUERY and checks the result it wrote in the DOM.
chromium_page() {
  local label=$1 query=$2 dom status
  runs=$((runs + 1))
  dom=$scratch/chromium.$runs.html
  timeout 90 chromium --headless --no-sandbox --disable-gpu --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync --disable-quic \
    --user-data-dir="$scratch/chromium-profile.$runs" --dump-dom \
    "http://127.0.0.1:$page_port/chromium_page.html?run=$runs&$query" >"$dom" 2>"$dom.err"
  status=$?
  # The page's lines are the text of <pre id="result">.
  sed -n '/<pre id="result">/,/<\/pre>/p' "$dom" |
    sed -e 's/.*<pre id="result">//' -e 's/<\/pre>.*//' -e 's/&amp;/\&/g; s/&lt;/</g; s/&gt;/>/g' >"$dom.txt"
  relay "$label" "$dom.txt"
  if [ "$status" -eq 0 ] && grep -q '^RESULT: PASS$' "$dom.txt" && grep -q '<title>PASS</title>' "$dom"; then
    pass "$label: the page reports PASS in the DOM (title and result)"
  else
    fail "$label: the page reports PASS in the DOM (chromium exited $status; see $dom and $dom.err)"
  fi
}

if start_server "$scratch/page-server.log" "$python" "$peers/page_server.py" "$peers"; then
  page_server_pid=$server_pid
  page_port=$server_port

  label="chromium -> echo_server"
  if start_server "$scratch/echo-server.log" "$echo_server" --address 127.0.0.1 --port 0; then
    chromium_page "$label" "ws=$server_port"
    stop_server "$server_pid" "$label"
  fi

  label="chromium -> duplex server"
  if start_server "$scratch/duplex-server.chromium.log" "$server" --port 0 --subprotocols chat.v2,chat; then
    all_codes=$(IFS=,; echo "${codes[*]}")
    chromium_page "$label" "ws=$server_port&protocols=x-unknown,chat&expect-protocol=chat&server-close=$all_codes"
    stop_server "$server_pid" "$label"
    log=$scratch/duplex-server.chromium.log
    server_checks "$label: duplex server" "$log"
    expect_line "$label: received the page's close 4000 \"bye\"" "$log" 'close-received 4000 "bye"'
  fi
  stop_server "$page_server_pid" "page server"
fi

# ---- 6. permessage-deflate (RFC 7692), each way, under several parameter sets ----

# deflate_params_flag PARAMS: duplex_peer_client's or duplex_peer_server's option for PARAMS
# ("" for duplex's defaults).
deflate_flag() { if [ -n "$1" ]; then printf -- '--deflate=%s' "$1"; else printf -- '--deflate'; fi; }

# deflate_peer_client_to_duplex LABEL SERVER_PARAMS CLIENT_PARAMS ANSWER COMMAND...: the peer's
# client (URL, then --deflate CLIENT_PARAMS) runs its script against duplex_peer_server with
# SERVER_PARAMS; duplex's answer must be exactly ANSWER, and every message compressed both ways.
deflate_peer_client_to_duplex() {
  local label=$1 sparams=$2 cparams=$3 answer=$4 log
  shift 4
  runs=$((runs + 1))
  log=$scratch/duplex-server.deflate.$runs.log
  start_server "$log" "$server" --port 0 --subprotocols chat.v2,chat "$(deflate_flag "$sparams")" || return
  run_detailed "$label" 120 "$@" "ws://127.0.0.1:$server_port/" --deflate "$cparams"
  stop_server "$server_pid" "$label"
  server_checks "$label: duplex server" "$log"
  expect_line "$label: duplex answered $answer" "$log" "open path=/ping subprotocol=\"chat\" extensions=\"$answer\""
  expect_line "$label: every message was compressed both ways" "$log" ": every message was compressed both ways ("
}

# deflate_duplex_to_peer_server LABEL NAME SERVER_PARAMS CLIENT_PARAMS ANSWER COMMAND...:
# duplex_peer_client offering CLIENT_PARAMS runs its script against the peer's server (started
# with --deflate SERVER_PARAMS); the peer's answer must be exactly ANSWER.
deflate_duplex_to_peer_server() {
  local label=$1 name=$2 sparams=$3 cparams=$4 answer=$5 log
  shift 5
  runs=$((runs + 1))
  log=$scratch/$name-server.deflate.$runs.log
  start_server "$log" "$@" --subprotocols chat.v2,chat --deflate "$sparams" || return
  run_detailed "$label" 60 "$client" "ws://127.0.0.1:$server_port/ping" --protocols chat.v2,chat \
    --expect-protocol chat.v2 "$(deflate_flag "$cparams")" --expect-extensions "$answer" \
    --expect-ping "$name-server-ping" --close 4000 "script done ✓" --timeout 50
  stop_server "$server_pid" "$label"
  server_checks "$label: $name server" "$log"
  expect_line "$label: received close 4000 \"script done ✓\"" "$log" 'close-received 4000 "script done ✓"'
}

# Python websockets' client offers client_max_window_bits with or without a value; it accepts
# only an answer that fits.
deflate_peer_client_to_duplex "deflate: python client (default offer) -> duplex server (defaults)" \
  "" default "permessage-deflate" "$python" "$peers/python_client.py"
deflate_peer_client_to_duplex "deflate: python client (windows 9) -> duplex server (defaults)" \
  "" server_max_window_bits=9,client_max_window_bits=9 \
  "permessage-deflate; server_max_window_bits=9; client_max_window_bits=9" "$python" "$peers/python_client.py"
deflate_peer_client_to_duplex "deflate: python client -> duplex server (windows 12)" \
  server_max_window_bits=12,client_max_window_bits=12 client_max_window_bits \
  "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12" "$python" "$peers/python_client.py"
deflate_peer_client_to_duplex "deflate: python client (no context takeover) -> duplex server" \
  "" server_no_context_takeover,client_no_context_takeover \
  "permessage-deflate; server_no_context_takeover; client_no_context_takeover" "$python" "$peers/python_client.py"

deflate_peer_client_to_duplex "deflate: node client (default offer) -> duplex server (defaults)" \
  "" default "permessage-deflate" node "$peers/node_client.js"
deflate_peer_client_to_duplex "deflate: node client (server window 9) -> duplex server (client window 12)" \
  client_max_window_bits=12 server_max_window_bits=9,client_max_window_bits \
  "permessage-deflate; server_max_window_bits=9; client_max_window_bits=12" node "$peers/node_client.js"
deflate_peer_client_to_duplex "deflate: node client -> duplex server (no context takeover, windows 15)" \
  server_no_context_takeover,client_no_context_takeover,server_max_window_bits=15 client_max_window_bits=15 \
  "permessage-deflate; server_no_context_takeover; client_no_context_takeover" node "$peers/node_client.js"

deflate_duplex_to_peer_server "deflate: duplex client (default offer) -> python server (windows 12)" python \
  server_max_window_bits=12,client_max_window_bits=12 "" \
  "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12" "$python" "$peers/python_server.py"
deflate_duplex_to_peer_server "deflate: duplex client (windows 9) -> python server (windows 15)" python \
  server_max_window_bits=15,client_max_window_bits=15 server_max_window_bits=9,client_max_window_bits=9 \
  "permessage-deflate; server_max_window_bits=9; client_max_window_bits=9" "$python" "$peers/python_server.py"
deflate_duplex_to_peer_server "deflate: duplex client -> python server (no context takeover)" python \
  server_no_context_takeover,client_no_context_takeover "" \
  "permessage-deflate; server_no_context_takeover; client_no_context_takeover" "$python" "$peers/python_server.py"

deflate_duplex_to_peer_server "deflate: duplex client (default offer) -> node server (defaults)" node \
  default "" "permessage-deflate" node "$peers/node_server.js"
deflate_duplex_to_peer_server "deflate: duplex client (no context takeover, windows 12) -> node server (window 9)" node \
  server_max_window_bits=9 server_no_context_takeover,client_no_context_takeover,server_max_window_bits=12,client_max_window_bits=12 \
  "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=12" \
  node "$peers/node_server.js"

# Chromium offers "permessage-deflate; client_max_window_bits" and compresses every message.
if start_server "$scratch/page-server.deflate.log" "$python" "$peers/page_server.py" "$peers"; then
  page_server_pid=$server_pid
  page_port=$server_port
  for window in 15 9; do
    label="deflate: chromium -> echo_server --deflate --deflate-window $window"
    if start_server "$scratch/echo-server.deflate.$window.log" "$echo_server" --address 127.0.0.1 --port 0 \
      --deflate --deflate-window "$window"; then
      chromium_page "$label" "ws=$server_port&expect-extension=permessage-deflate"
      stop_server "$server_pid" "$label"
    fi
  done
  for settings in server_max_window_bits=12,client_max_window_bits=12 server_no_context_takeover,client_no_context_takeover; do
    label="deflate: chromium -> duplex server ($settings)"
    log=$scratch/duplex-server.chromium.$settings.log
    if start_server "$log" "$server" --port 0 --subprotocols chat.v2,chat "--deflate=$settings"; then
      chromium_page "$label" "ws=$server_port&protocols=chat&expect-protocol=chat&expect-extension=permessage-deflate"
      stop_server "$server_pid" "$label"
      server_checks "$label: duplex server" "$log"
      expect_line "$label: every message was compressed both ways" "$log" ": every message was compressed both ways ("
      case $settings in
        server_max*) answer="permessage-deflate; server_max_window_bits=12; client_max_window_bits=12" ;;
        *) answer="permessage-deflate; server_no_context_takeover; client_no_context_takeover" ;;
      esac
      expect_line "$label: duplex answered $answer" "$log" "extensions=\"$answer\""
    fi
  done
  stop_server "$page_server_pid" "page server"
fi

# ---- Summary ----

echo "interop: $passed passed, $failed failed, $((SECONDS - started)) s"
[ "$failed" -eq 0 ]
