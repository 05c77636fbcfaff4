# Sourced by the test scripts that take a build directory and print one "ok - ..." or
# "FAIL - ..." line per check (tests/interop/run.sh, tests/chat/*.sh), after their
# `set -uo pipefail`, with the script's own arguments. Sets `build` (absolute), `python`
# (Debian's, which has python3-websockets; another python3 may come first on PATH), `started`,
# and the counters `passed` and `failed` that pass() and fail() keep.
export LC_ALL=C.UTF-8

if [ $# -ne 1 ] || [ ! -d "$1" ]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
build=$(cd "$1" && pwd)
python=/usr/bin/python3
started=$SECONDS

passed=0
failed=0
pass() {
  passed=$((passed + 1))
  printf 'ok - %s\n' "$*"
}
fail() {
  failed=$((failed + 1))
  printf 'FAIL - %s\n' "$*"
}
