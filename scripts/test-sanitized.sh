#!/usr/bin/env bash
# The hardening tests under AddressSanitizer + UndefinedBehaviorSanitizer, in build-asan/: what
# parses outside input (checkpoints, images, formats, metrics files, tokenizers, configs, server
# requests, damaged inputs through the CLI) and the hand-written kernels (SEGKIT_TEST_SET=hardening).
#   scripts/test-sanitized.sh [ctest arguments...]     e.g. -R 'Rle|Safetensors'
# Any sanitizer report fails the test that triggered it (halt_on_error, no recovery).
# Environment: JOBS (default: all cores), CXX (default: the system compiler, gcc is fine),
# NICE (default 0), BUILD_DIR (default build-asan), TEST_SET (default hardening; or all).
# LibTorch is not instrumented; no suppressions are needed for it (see docs/reliability.md).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-asan}
JOBS=${JOBS:-$(nproc)}
NICE=${NICE:-0}
FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g1"
if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  nice -n "$NICE" cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    ${CXX:+-DCMAKE_CXX_COMPILER="$CXX"} \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -DNDEBUG" \
    -DCMAKE_CXX_FLAGS="$FLAGS" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
    -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" -DSEGKIT_BUILD_BENCH=OFF \
    -DSEGKIT_BUILD_PYTHON=OFF
fi
# TEST_SET=all sanitizes the whole suite instead (the model and CLI suites too; about 3x longer).
nice -n "$NICE" cmake -S . -B "$BUILD_DIR" -DSEGKIT_TEST_SET="${TEST_SET:-hardening}" >/dev/null
nice -n "$NICE" cmake --build "$BUILD_DIR" -j"$JOBS" --target segkit_tests
# detect_leaks=0: LibTorch and OpenCV keep process-lifetime caches that LeakSanitizer reports.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:halt_on_error=1:abort_on_error=1:detect_stack_use_after_return=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$BUILD_DIR"
nice -n "$NICE" ctest --output-on-failure -j"$JOBS" --timeout 1200 "$@"
