#!/usr/bin/env bash
# catch_discover_tests hands each test's name to ctest as a CMake list element, so a ';' in a
# TEST_CASE name cuts the name there: ctest then runs a filter that matches no test, which
# Catch reports as "No test cases matched" and ctest counts as passed. Such names are refused.
# usage: test_names.sh <tests-source-dir>
set -u
bad=$(grep -rn --include='*.cpp' -E 'TEST_CASE\("[^"]*;' "$1")
if [ -n "$bad" ]; then
  echo "FAIL: test names with ';' (ctest would run nothing for them):"
  echo "$bad"
  exit 1
fi
echo "no test name contains ';'"
