#!/usr/bin/env bash
# End-to-end WebSocket echo benchmark (issue 8): duplex's examples/echo_server against a plain
# TCP echo (the floor), Boost.Beast, Node ws and websocketpp (when built), driven by
# bench/loadgen over loopback.
#
#   bench/e2e.sh                 # 3 rounds, 1 s warm-up + 5 s measured per run
#   bench/e2e.sh --rounds 5      # more rounds: medians get steadier
#   bench/e2e.sh --quick         # 1 round, short runs: a smoke test for CI
#   bench/e2e.sh --duration 10 --warmup 2 --only pp100_1k,idle10k --servers duplex,beast
#
# Builds in build-bench/ at the repository root. Every server runs single-threaded, pinned to
# CPU 0 (taskset), the load generator to CPU 1; servers listen on 127.0.0.1 ephemeral ports and
# are started fresh for every run and stopped by PID. Servers run in alternation (A B C A B C ...)
# so that drifting background load spreads over all of them. The load generator reads the
# server's CPU time (/proc/PID/stat) at the start and end of its measured window, and the
# server's VmRSS before and after opening the idle connections.
#
# Raw results: build-bench/e2e-results.txt (one line per run). At the end: medians per scenario
# and server, ratios (server CPU per message / the TCP floor's; msgs/s / duplex's) and a
# Markdown table for the README.
set -euo pipefail

rounds=3
quick=0
duration=5
warmup=1
only=""
servers_wanted=""
orig_args=("$@")

usage() {
    sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'
}

while [[ $# -gt 0 ]]; do
    case $1 in
        --rounds) rounds=${2:?--rounds needs a value}; shift 2 ;;
        --quick) quick=1; shift ;;
        --duration) duration=${2:?--duration needs a value}; shift 2 ;;
        --warmup) warmup=${2:?--warmup needs a value}; shift 2 ;;
        --only) only=${2:?--only needs a value}; shift 2 ;;
        --servers) servers_wanted=${2:?--servers needs a value}; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) echo "e2e.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done
if [[ $quick -eq 1 ]]; then
    rounds=1
    duration=1
    warmup=0.3
fi
if ! [[ $rounds =~ ^[1-9][0-9]*$ ]]; then
    echo "e2e.sh: --rounds must be a positive integer" >&2
    exit 2
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build="build-bench"
results=$build/e2e-results.txt
python=/usr/bin/python3
[[ -x $python ]] || python=python3
jobs=$(nproc 2>/dev/null || echo 2)

# ---- build ---------------------------------------------------------------------------------
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DDUPLEX_BUILD_BENCHMARKS=ON \
    -DDUPLEX_BUILD_TESTS=OFF -DDUPLEX_BUILD_EXAMPLES=ON >/dev/null
available_targets=$(cmake --build "$build" --target help 2>/dev/null || true)
targets=(echo_server loadgen tcp_echo_server)
for t in beast_echo_server websocketpp_echo_server; do
    if grep -qw "$t" <<<"$available_targets"; then
        targets+=("$t")
    else
        echo "e2e.sh: note: no $t target (library not found or does not compile); skipping it"
    fi
done
cmake --build "$build" --target "${targets[@]}" -j"$jobs"

loadgen=$build/bench/loadgen
declare -A server_bin=(
    [duplex]=$build/examples/echo_server
    [tcp]=$build/bench/tcp_echo_server
    [beast]=$build/bench/beast_echo_server
    [websocketpp]=$build/bench/websocketpp_echo_server
)
node_path=${NODE_PATH:-/usr/share/nodejs}

servers=(duplex tcp)
[[ -x ${server_bin[beast]} ]] && servers+=(beast)
if command -v node >/dev/null && NODE_PATH=$node_path node -e "require('ws')" 2>/dev/null; then
    servers+=(node)
else
    echo "e2e.sh: note: node or the ws package (NODE_PATH=$node_path) missing; skipping Node ws"
fi
[[ -x ${server_bin[websocketpp]} ]] && servers+=(websocketpp)
if [[ -n $servers_wanted ]]; then
    picked=()
    for s in "${servers[@]}"; do
        [[ ,$servers_wanted, == *,$s,* ]] && picked+=("$s")
    done
    servers=("${picked[@]}")
fi

# ---- environment -----------------------------------------------------------------------------
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [[ $(ulimit -n) != unlimited && $(ulimit -n) -lt 20100 ]]; then
    echo "e2e.sh: note: ulimit -n is $(ulimit -n); the 10,000-connection idle run needs about 10,100"
fi
if command -v taskset >/dev/null && [[ $jobs -ge 2 ]]; then
    pin_server=(taskset -c 0)
    pin_client=(taskset -c 1)
else
    echo "e2e.sh: note: no taskset or fewer than 2 CPUs; server and load generator are not pinned"
    pin_server=()
    pin_client=()
fi

tmp=$(mktemp -d)
server_pid=""
cleanup() {
    if [[ -n $server_pid ]]; then
        kill -KILL "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Starts server $1; sets server_pid and server_port.
start_server() {
    local name=$1 log=$tmp/server.log
    local -a cmd
    case $name in
        node) cmd=(env "NODE_PATH=$node_path" node bench/peers/node_ws_echo_server.js) ;;
        duplex) cmd=("${server_bin[duplex]}" --threads 1) ;;
        *) cmd=("${server_bin[$name]}") ;;
    esac
    : >"$log"
    "${pin_server[@]}" "${cmd[@]}" --address 127.0.0.1 --port 0 >"$log" 2>&1 &
    server_pid=$!
    server_port=""
    local i
    for ((i = 0; i < 200; i++)); do
        server_port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$log" | head -n 1)
        [[ -n $server_port ]] && return 0
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.05
    done
    echo "e2e.sh: $name did not start:" >&2
    cat "$log" >&2
    stop_server
    return 1
}

stop_server() {
    [[ -n $server_pid ]] || return 0
    kill -TERM "$server_pid" 2>/dev/null || true
    local i
    for ((i = 0; i < 100; i++)); do
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.05
    done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
}

# ---- scenarios -------------------------------------------------------------------------------
# id | mode | loadgen arguments | description
scenarios=(
    "pp100_16|echo|--connections 100 --size 16 --depth 1|ping-pong, 100 conns x 16 B"
    "pp100_1k|echo|--connections 100 --size 1024 --depth 1|ping-pong, 100 conns x 1 KiB"
    "pp1_16|echo|--connections 1 --size 16 --depth 1|ping-pong, 1 conn x 16 B"
    "pp1000_16|echo|--connections 1000 --size 16 --depth 1|ping-pong, 1000 conns x 16 B"
    "pl100_16|echo|--connections 100 --size 16 --depth 16|pipelined 16, 100 conns x 16 B"
    "pl100_1k|echo|--connections 100 --size 1024 --depth 16|pipelined 16, 100 conns x 1 KiB"
    "big10_64k|echo|--connections 10 --size 65536 --depth 1|ping-pong, 10 conns x 64 KiB"
    "connect|connect|--connections 10|connect+handshake+close, 10 concurrent"
    "idle10k|idle|--connections 10000|10,000 idle connections"
)

machine_cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -n 1)
{
    echo "# date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "# machine: nproc=$(nproc) cpu=$machine_cpu kernel=$(uname -r)"
    echo "# command: bench/e2e.sh ${orig_args[*]} (rounds=$rounds warmup=$warmup duration=$duration)"
    echo "# git: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- include examples 2>/dev/null || echo ' (with local changes)')"
} >"$results"

run_count=0
failures=0
for entry in "${scenarios[@]}"; do
    IFS='|' read -r id mode args desc <<<"$entry"
    if [[ -n $only && ,$only, != *,$id,* ]]; then
        continue
    fi
    echo
    echo "== $id: $desc ($mode)"
    for ((round = 1; round <= rounds; round++)); do
        for server in "${servers[@]}"; do
            [[ $server == tcp && $mode != echo ]] && continue
            if ! start_server "$server"; then
                failures=$((failures + 1))
                continue
            fi
            read -r -a extra <<<"$args"
            lg=("$loadgen" --port "$server_port" --server-pid "$server_pid" --mode "$mode" "${extra[@]}")
            if [[ $mode == idle ]]; then
                lg+=(--duration 1)
            else
                lg+=(--duration "$duration" --warmup "$warmup")
            fi
            [[ $server == tcp ]] && lg+=(--plain)
            limit=$(awk -v d="$duration" -v w="$warmup" 'BEGIN { printf "%d", d + w + 90 }')
            rc=0
            out=$(timeout -k 5 "$limit" "${pin_client[@]}" "${lg[@]}" 2>"$tmp/loadgen.err") || rc=$?
            stop_server
            result=$(grep '^RESULT ' <<<"$out" | head -n 1 || true)
            if [[ -z $result ]]; then
                echo "   round $round $server: FAILED (loadgen exit $rc)"
                sed 's/^/      /' "$tmp/loadgen.err" | head -n 5
                echo "scenario=$id server=$server round=$round failed=1 rc=$rc" >>"$results"
                failures=$((failures + 1))
                continue
            fi
            echo "scenario=$id server=$server round=$round ${result#RESULT }" >>"$results"
            human=$(grep -v -e '^RESULT ' -e '^WINDOW_' -e '^idle: [0-9]* connections open$' <<<"$out" | head -n 1)
            printf '   round %d %-12s %s\n' "$round" "$server" "${human#*: }"
            if [[ -s $tmp/loadgen.err ]]; then
                sed 's/^/      /' "$tmp/loadgen.err" | head -n 3
            fi
            run_count=$((run_count + 1))
        done
    done
done

echo
echo "Raw results ($run_count runs, $failures failed): $results"
"$python" - "$results" <<'EOF'
import statistics
import sys

path = sys.argv[1]
header = {}
rows = []
with open(path) as f:
    for line in f:
        line = line.strip()
        if line.startswith("# "):
            key, _, value = line[2:].partition(": ")
            header[key] = value
            continue
        if not line:
            continue
        rows.append(dict(kv.split("=", 1) for kv in line.split() if "=" in kv))

order = ["pp100_16", "pp100_1k", "pp1_16", "pp1000_16", "pl100_16", "pl100_1k", "big10_64k",
         "connect", "idle10k"]
names = {
    "pp100_16": "ping-pong 100 conns x 16 B",
    "pp100_1k": "ping-pong 100 conns x 1 KiB",
    "pp1_16": "ping-pong 1 conn x 16 B",
    "pp1000_16": "ping-pong 1000 conns x 16 B",
    "pl100_16": "pipelined 16, 100 conns x 16 B",
    "pl100_1k": "pipelined 16, 100 conns x 1 KiB",
    "big10_64k": "ping-pong 10 conns x 64 KiB",
    "connect": "connect+handshake+close, 10 concurrent",
    "idle10k": "10,000 idle connections",
}
server_order = ["duplex", "tcp", "beast", "node", "websocketpp"]
server_names = {"duplex": "duplex", "tcp": "TCP floor", "beast": "Boost.Beast", "node": "Node ws",
                "websocketpp": "websocketpp"}


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def median(rs, key):
    vals = [num(r.get(key)) for r in rs]
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def fmt(v, digits=1):
    if v is None:
        return "–"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{digits}f}"


summary = {}
for scen in order:
    for server in server_order:
        rs = [r for r in rows if r.get("scenario") == scen and r.get("server") == server]
        ok = [r for r in rs if r.get("failed") != "1"]
        if not rs:
            continue
        s = {"runs": len(ok), "failed": len(rs) - len(ok),
             "errors": sum(int(num(r.get("errors")) or 0) for r in ok)}
        for key in ["msgs_per_s", "handshakes_per_s", "p50_us", "p99_us", "server_cpu_us_per_msg",
                    "server_cpu_us_per_handshake", "server_cpu_pct", "loadgen_cpu_pct",
                    "rss_per_conn_bytes"]:
            s[key] = median(ok, key)
        summary[(scen, server)] = s


def ratio(a, b):
    return a / b if a is not None and b else None


lines = []
print()
print("Medians per scenario (CPU = the server's user+system time in the measured window):")
for scen in order:
    servers = [sv for sv in server_order if (scen, sv) in summary]
    if not servers:
        continue
    print(f"\n{scen}: {names[scen]}")
    tcp = summary.get((scen, "tcp"), {})
    dup = summary.get((scen, "duplex"), {})
    for sv in servers:
        s = summary[(scen, sv)]
        note = ""
        if s["failed"] or s["errors"]:
            note += f"  [{s['failed']} failed runs, {s['errors']} errors]"
        if (s.get("loadgen_cpu_pct") or 0) > 90:
            note += "  [loadgen-bound]"
        if scen == "idle10k":
            print(f"  {server_names[sv]:<12} RSS/idle conn {fmt(s['rss_per_conn_bytes'], 0)} B{note}")
        elif scen == "connect":
            print(f"  {server_names[sv]:<12} {fmt(s['handshakes_per_s'], 0)} handshakes/s  "
                  f"cpu {fmt(s['server_cpu_us_per_handshake'])} us/handshake ({fmt(s['server_cpu_pct'])}%)  "
                  f"x duplex rate {fmt(ratio(s['handshakes_per_s'], dup.get('handshakes_per_s')), 2)}  "
                  f"loadgen cpu {fmt(s['loadgen_cpu_pct'])}%{note}")
        else:
            print(f"  {server_names[sv]:<12} {fmt(s['msgs_per_s'], 0):>10} msgs/s  p50 {fmt(s['p50_us']):>8} us  "
                  f"p99 {fmt(s['p99_us']):>8} us  cpu {fmt(s['server_cpu_us_per_msg'], 3):>7} us/msg "
                  f"({fmt(s['server_cpu_pct'])}%)  cpu/TCP {fmt(ratio(s['server_cpu_us_per_msg'], tcp.get('server_cpu_us_per_msg')), 2)}  "
                  f"rate/duplex {fmt(ratio(s['msgs_per_s'], dup.get('msgs_per_s')), 2)}  "
                  f"loadgen cpu {fmt(s['loadgen_cpu_pct'])}%{note}")

# Issue 8's bar, for duplex.
def get(scen, sv, key):
    return summary.get((scen, sv), {}).get(key)

checks = [
    ("CPU/msg <= 1.15x TCP, 100 conns x 16 B", ratio(get("pp100_16", "duplex", "server_cpu_us_per_msg"), get("pp100_16", "tcp", "server_cpu_us_per_msg")), 1.15, "le"),
    ("CPU/msg <= 1.15x TCP, 100 conns x 1 KiB", ratio(get("pp100_1k", "duplex", "server_cpu_us_per_msg"), get("pp100_1k", "tcp", "server_cpu_us_per_msg")), 1.15, "le"),
    ("CPU/msg <= 1.3x TCP, pipelined 16 x 16 B", ratio(get("pl100_16", "duplex", "server_cpu_us_per_msg"), get("pl100_16", "tcp", "server_cpu_us_per_msg")), 1.3, "le"),
    ("CPU/msg <= 1.3x TCP, pipelined 16 x 1 KiB", ratio(get("pl100_1k", "duplex", "server_cpu_us_per_msg"), get("pl100_1k", "tcp", "server_cpu_us_per_msg")), 1.3, "le"),
    ("msgs/s >= 1.4x Beast, 100 conns x 1 KiB", ratio(get("pp100_1k", "duplex", "msgs_per_s"), get("pp100_1k", "beast", "msgs_per_s")), 1.4, "ge"),
    ("RSS per idle connection <= 1 KiB", get("idle10k", "duplex", "rss_per_conn_bytes"), 1024, "le"),
]
print("\nIssue 8 bar (duplex):")
for label, value, bar, how in checks:
    if value is None:
        verdict = "not measured"
    else:
        ok = value <= bar if how == "le" else value >= bar
        verdict = ("PASS" if ok else "FAIL") + f" ({fmt(value, 2)})"
    print(f"  {label:<45} {verdict}")

# Markdown for the README.
print("\n---- Markdown ----\n")
print(f"Machine: {header.get('machine', '?')}; date: {header.get('date', '?')}; {header.get('git', '')}")
print(f"Command: `{header.get('command', 'bench/e2e.sh')}`; medians; server single-threaded on CPU 0, "
      "load generator on CPU 1; CPU = server user+system time per message.\n")
print("| Scenario | Server | msgs/s | p50 µs | p99 µs | server CPU µs/msg | CPU/msg ÷ TCP | msgs/s ÷ duplex |")
print("|---|---|---:|---:|---:|---:|---:|---:|")
for scen in order[:7]:
    tcp = summary.get((scen, "tcp"), {})
    dup = summary.get((scen, "duplex"), {})
    for sv in server_order:
        s = summary.get((scen, sv))
        if not s:
            continue
        print(f"| {names[scen]} | {server_names[sv]} | {fmt(s['msgs_per_s'], 0)} | {fmt(s['p50_us'])} | "
              f"{fmt(s['p99_us'])} | {fmt(s['server_cpu_us_per_msg'], 3)} | "
              f"{fmt(ratio(s['server_cpu_us_per_msg'], tcp.get('server_cpu_us_per_msg')), 2)} | "
              f"{fmt(ratio(s['msgs_per_s'], dup.get('msgs_per_s')), 2)} |")
print()
print("| Server | handshakes/s (connect+upgrade+close) | server CPU µs/handshake | RSS per idle connection (10,000) |")
print("|---|---:|---:|---:|")
for sv in server_order:
    c = summary.get(("connect", sv), {})
    i = summary.get(("idle10k", sv), {})
    if not c and not i:
        continue
    rss = i.get("rss_per_conn_bytes")
    print(f"| {server_names[sv]} | {fmt(c.get('handshakes_per_s'), 0)} | "
          f"{fmt(c.get('server_cpu_us_per_handshake'))} | {fmt(rss, 0) + ' B' if rss is not None else '–'} |")
EOF

# A run that failed (a server that did not start, a load generator that found errors or could
# not finish) fails the script, so CI's smoke run catches a broken instrument or server.
[[ $failures -eq 0 ]]
