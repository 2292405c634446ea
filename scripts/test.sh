#!/usr/bin/env bash
# Runs segkit's whole test suite (unit + end-to-end CLI tests, then the Python package's tests
# where the module was built) against the build of setup.sh.
# With CI=true (as CI runs it) it then also runs the hardening checks: the parser, kernel and
# damaged-input tests under ASan+UBSan (scripts/test-sanitized.sh, in build-asan/) and every fuzz target for 30 seconds
# (scripts/fuzz.sh, in build-fuzz/). Locally those are opt-in: SEGKIT_HARDENING=1 does the same.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
cmake --build "$BUILD_DIR" -j"$(nproc)"
(cd "$BUILD_DIR" && ctest --output-on-failure -j"$(nproc)" "$@")
scripts/test-python.sh

if [ "${CI:-}" = true ] || [ "${SEGKIT_HARDENING:-0}" = 1 ]; then
  scripts/test-sanitized.sh
  scripts/fuzz.sh all "${FUZZ_SECONDS:-30}"
fi
