#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan) in build-fuzz/ and runs one of them.
#   scripts/fuzz.sh TARGET SECONDS [extra libFuzzer flags...]
#   scripts/fuzz.sh list            # the targets
#   scripts/fuzz.sh build           # build every target, run none
#   scripts/fuzz.sh all SECONDS     # every target, FUZZ_JOBS (default: all cores) at a time (CI: all 30)
# Targets: safetensors pth rle coco_json panoptic_json prompt server_prompt json image mask2former_config server_segment clip_tokenizer hf_config.
# The corpus grows in build-fuzz/corpus/TARGET (seeded by fuzz/make_seeds.py from tests/data);
# crashes land in build-fuzz/findings/TARGET/. Exit status is non-zero on a finding.
# Environment: CXX (default clang++), JOBS (build parallelism, default 2), NICE (default 10),
# SEGKIT_FUZZ_TORCH=OFF to skip the LibTorch-linked target.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${FUZZ_BUILD_DIR:-build-fuzz}
TARGETS="safetensors pth rle coco_json panoptic_json prompt server_prompt json image mask2former_config server_segment clip_tokenizer hf_config"

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
[ $# -ge 1 ] || usage
if [ "$1" = list ]; then echo "$TARGETS"; exit 0; fi
[ "$1" = build ] && [ $# -eq 1 ] && set -- build 0
[ $# -ge 2 ] || usage
TARGET=$1 SECONDS_TO_RUN=$2
shift 2

if [ "$TARGET" = all ]; then
  # One build of every target, then FUZZ_JOBS targets at a time (libFuzzer uses one core each).
  # Each run's log is kept; a failing target prints its log, a passing one its executions.
  "$0" build || exit 1
  FUZZ_JOBS=${FUZZ_JOBS:-$(nproc)}
  [ "${SEGKIT_FUZZ_TORCH:-ON}" = OFF ] && TARGETS=${TARGETS% hf_config}
  LOGS=$BUILD/logs
  mkdir -p "$LOGS"
  export SEGKIT_FUZZ_BUILT=1
  status=0
  for t in $TARGETS; do
    while [ "$(jobs -rp | wc -l)" -ge "$FUZZ_JOBS" ]; do wait -n || status=1; done
    ( if "$0" "$t" "$SECONDS_TO_RUN" "$@" >"$LOGS/$t.log" 2>&1; then
        echo "fuzz $t: $(sed -n 's/^stat::number_of_executed_units: *//p' "$LOGS/$t.log") executions, no finding"
      else
        echo "fuzz.sh: target $t failed; its log ($LOGS/$t.log):" >&2; cat "$LOGS/$t.log" >&2; exit 1
      fi ) &
  done
  while [ "$(jobs -rp | wc -l)" -gt 0 ]; do wait -n || status=1; done
  exit $status
fi
case " $TARGETS build " in *" $TARGET "*) ;; *) echo "fuzz.sh: unknown target '$TARGET' (one of: $TARGETS)" >&2; exit 2;; esac

NICE=${NICE:-10}
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  nice -n "$NICE" cmake -S fuzz -B "$BUILD" -G Ninja -DCMAKE_CXX_COMPILER="${CXX:-clang++}" \
    -DSEGKIT_FUZZ_TORCH="${SEGKIT_FUZZ_TORCH:-ON}" >/dev/null
fi
if [ "$TARGET" = build ]; then
  exec nice -n "$NICE" cmake --build "$BUILD" -j"${JOBS:-2}" --target segkit_fuzzers
fi
[ "${SEGKIT_FUZZ_BUILT:-0}" = 1 ] || nice -n "$NICE" cmake --build "$BUILD" -j"${JOBS:-2}" --target "fuzz_$TARGET"

CORPUS=$BUILD/corpus/$TARGET
FINDINGS=$BUILD/findings/$TARGET
mkdir -p "$CORPUS" "$FINDINGS"
SEEDS=$BUILD/seeds/$TARGET
rm -rf "$SEEDS"
python3 fuzz/make_seeds.py "$TARGET" "$SEEDS"

# One process, one core; -rss_limit_mb catches allocations a small input should never cause.
cd "$BUILD"
exec nice -n "$NICE" "./fuzz_$TARGET" "corpus/$TARGET" "seeds/$TARGET" \
  -max_total_time="$SECONDS_TO_RUN" -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=10 \
  -max_len=65536 -artifact_prefix="findings/$TARGET/" -print_final_stats=1 "$@"
