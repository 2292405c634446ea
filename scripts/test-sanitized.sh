#!/usr/bin/env bash
# The hardening tests under AddressSanitizer + UndefinedBehaviorSanitizer, in build-asan/: what
# parses outside input (checkpoints, images, formats, metrics files, tokenizers, configs, server
# requests, damaged inputs through the CLI) and the hand-written kernels (SEGKIT_TEST_SET=hardening).
#   scripts/test-sanitized.sh [gtest arguments...]     e.g. --gtest_filter='Rle*:Safetensors*'
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
# The hardening set instruments only the code its tests check (cmake/SegkitSanitizeScope.cmake).
nice -n "$NICE" cmake -S . -B "$BUILD_DIR" -DSEGKIT_TEST_SET="${TEST_SET:-hardening}" \
  -DSEGKIT_SANITIZE_SCOPE="${TEST_SET:-hardening}" >/dev/null
nice -n "$NICE" cmake --build "$BUILD_DIR" -j"$JOBS" --target segkit_tests
# detect_leaks=0: LibTorch and OpenCV keep process-lifetime caches that LeakSanitizer reports.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:halt_on_error=1:abort_on_error=1:detect_stack_use_after_return=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$BUILD_DIR/tests"
# The test binary runs as JOBS gtest shards, one process each, rather than as ctest's one process
# per test: every start of the instrumented binary loads LibTorch under ASan (about 2 s), which
# was most of the time. A shard that fails prints its whole log.
SHARD_TIMEOUT=${SHARD_TIMEOUT:-2400}
pids=()
for ((i = 0; i < JOBS; i++)); do
  # env --default-signal: a script's background job starts with SIGINT ignored, which the
  # tests of interrupted writes would inherit.
  GTEST_TOTAL_SHARDS=$JOBS GTEST_SHARD_INDEX=$i timeout --signal=ABRT "$SHARD_TIMEOUT" \
    nice -n "$NICE" env --default-signal=INT,TERM ./segkit_tests --gtest_brief=1 "$@" \
    >"sanitized-shard-$i.log" 2>&1 &
  pids+=($!)
done
status=0
for ((i = 0; i < JOBS; i++)); do
  if wait "${pids[$i]}"; then
    tail -n 1 "sanitized-shard-$i.log" | sed "s/^/shard $i: /"
  else
    echo "test-sanitized.sh: shard $i of $JOBS failed; its log ($BUILD_DIR/tests/sanitized-shard-$i.log):" >&2
    cat "sanitized-shard-$i.log" >&2
    status=1
  fi
done
exit $status
