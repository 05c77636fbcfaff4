#!/usr/bin/env bash
# Proves header_hygiene.sh can fail: a core header that reaches zlib through another header,
# and a header that does not compile alone, must each be reported.
set -u
here=$(cd "$(dirname "$0")" && pwd)
cxx=${1:-c++}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0

mkdir -p "$work/a/duplex/core" "$work/a/duplex/deflate"
printf '#pragma once\n#include <zlib.h>\n' > "$work/a/duplex/deflate/z.hpp"
printf '#pragma once\n#include <duplex/deflate/z.hpp>\n' > "$work/a/duplex/core/sneaky.hpp"
if out=$("$here/header_hygiene.sh" "$work/a" "$cxx" 2>&1); then
  echo "FAIL: a core header that includes zlib indirectly was accepted"; status=1
elif ! grep -q 'FAIL  duplex/core/sneaky.hpp reaches' <<<"$out"; then
  echo "FAIL: wrong report for the zlib include:"; echo "$out"; status=1
else
  echo "ok: indirect zlib include in core/ rejected"
fi

mkdir -p "$work/b/duplex/core"
printf '#pragma once\ninline std::size_t f() { return 0; }\n' > "$work/b/duplex/core/lonely.hpp"
if "$here/header_hygiene.sh" "$work/b" "$cxx" >/dev/null 2>&1; then
  echo "FAIL: a header missing an include was accepted"; status=1
else
  echo "ok: a header that does not compile alone rejected"
fi

mkdir -p "$work/c/duplex/core"
printf '#pragma once\ninline int f(int unused) { return 0; }\n' > "$work/c/duplex/core/warns.hpp"
if "$here/header_hygiene.sh" "$work/c" "$cxx" >/dev/null 2>&1; then
  echo "FAIL: a header with a warning was accepted"; status=1
else
  echo "ok: a header with a warning rejected"
fi
exit $status
