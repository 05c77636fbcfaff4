#!/usr/bin/env bash
# Packaging test: install duplex from <build-dir> into a scratch prefix, then build and run a
# separate consumer project against it with find_package, and again with add_subdirectory.
# usage: run.sh <source-dir> <build-dir> <c++-compiler> [cmake]
set -eu
src=$1 build=$2 cxx=$3 cmake=${4:-cmake}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== install into a scratch prefix"
"$cmake" --install "$build" --prefix "$work/prefix" >/dev/null
for f in include/duplex/duplex.hpp include/duplex/core/frame.hpp \
         share/cmake/duplex/duplexConfig.cmake share/cmake/duplex/duplexConfigVersion.cmake \
         share/cmake/duplex/duplexTargets.cmake; do
  [ -f "$work/prefix/$f" ] || { echo "missing from the install: $f"; exit 1; }
done

echo "== find_package(duplex CONFIG) after cmake --install"
"$cmake" -S "$src/tests/package" -B "$work/fp" -DCMAKE_CXX_COMPILER="$cxx" \
  -DDUPLEX_CONSUME=find_package -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
"$cmake" --build "$work/fp" >/dev/null
"$work/fp/consumer"

echo "== add_subdirectory(duplex)"
"$cmake" -S "$src/tests/package" -B "$work/sub" -DCMAKE_CXX_COMPILER="$cxx" \
  -DDUPLEX_CONSUME=subdirectory -DDUPLEX_SOURCE_DIR="$src" >/dev/null
"$cmake" --build "$work/sub" >/dev/null
"$work/sub/consumer"

echo "== a major version the package does not provide is refused"
if "$cmake" -S "$src/tests/package" -B "$work/bad" -DCMAKE_CXX_COMPILER="$cxx" \
     -DDUPLEX_CONSUME=find_package -DDUPLEX_REQUIRED_VERSION=99 \
     -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null 2>&1; then
  echo "find_package(duplex 99) succeeded against version 0.x"; exit 1
fi
echo "package ok"
