#!/usr/bin/env bash
# Header hygiene: every public header under <include-dir>/duplex compiles alone with
# -std=c++17 -Wall -Wextra -Wpedantic -Werror on each given compiler, and nothing under
# duplex/core/ pulls in Asio, zlib or OpenSSL, directly or through another header.
# usage: header_hygiene.sh <include-dir> <compiler>...
set -u
inc=$1; shift
[ $# -gt 0 ] || { echo "usage: $0 <include-dir> <compiler>..." >&2; exit 2; }
[ -d "$inc/duplex" ] || { echo "no $inc/duplex" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
flags=(-std=c++17 -Wall -Wextra -Wpedantic -Werror -DASIO_STANDALONE -I "$inc")

mapfile -t headers < <(cd "$inc" && find duplex -name '*.hpp' | sort)
[ ${#headers[@]} -gt 0 ] || { echo "no headers found under $inc/duplex" >&2; exit 2; }

# One translation unit per header, including it twice to prove the include guard works.
jobs=()
for h in "${headers[@]}"; do
  tu="$work/$(echo "$h" | tr '/.' '__').cpp"
  printf '#include <%s>\n#include <%s>\nint main() { return 0; }\n' "$h" "$h" > "$tu"
  for cxx in "$@"; do jobs+=("$cxx $tu $h"); done
done

compile_one() {
  local cxx=$1 tu=$2 h=$3; shift 3
  if out=$("$cxx" "$@" -fsyntax-only "$tu" 2>&1); then
    echo "ok    $cxx $h"
  else
    echo "FAIL  $cxx $h"; echo "$out" | head -40; return 1
  fi
}
status=0
pids=(); logs=()
i=0
for job in "${jobs[@]}"; do
  read -r cxx tu h <<<"$job"
  log="$work/log.$i"; logs+=("$log")
  compile_one "$cxx" "$tu" "$h" "${flags[@]}" >"$log" 2>&1 &
  pids+=($!)
  i=$((i + 1))
  if [ ${#pids[@]} -ge "$(nproc)" ]; then wait "${pids[0]}" || status=1; pids=("${pids[@]:1}"); fi
done
for p in "${pids[@]}"; do wait "$p" || status=1; done
cat "${logs[@]}"

# core/ must depend on the standard library only: list every file each core header reaches.
for h in "${headers[@]}"; do
  case $h in duplex/core/*) ;; *) continue ;; esac
  tu="$work/$(echo "$h" | tr '/.' '__').cpp"
  deps=$("$1" "${flags[@]}" -M "$tu" 2>&1) || { echo "FAIL  cannot list includes of $h"; status=1; continue; }
  bad=$(echo "$deps" | tr ' \\' '\n\n' | grep -E '(^|/)(asio|boost|openssl)(/|\.hpp$)|(^|/)zlib\.h$|(^|/)zconf\.h$' || true)
  if [ -n "$bad" ]; then
    echo "FAIL  $h reaches headers outside the standard library:"; echo "$bad" | sed 's/^/        /'
    status=1
  else
    echo "ok    $h includes the standard library only"
  fi
done
exit $status
