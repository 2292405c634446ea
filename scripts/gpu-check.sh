#!/usr/bin/env bash
# The GPU checks of issue 26 in one run (docs/cuda.md). Two steps:
#
#   scripts/gpu-check.sh --prepare     here, on the Debian machine: copies what the GPU machine
#                                      lacks (nlohmann-json's headers, GoogleTest's sources, the
#                                      benchmark image) into .gpu-kit/ (ignored by git)
#   scripts/gpu-check.sh [--no-bench]  there, with .gpu-kit carried along: builds the GPU kit
#                                      (cmake/SegkitGpuKit.cmake) against python3's CUDA PyTorch,
#                                      runs the device parity tests on cuda, then segkit's and
#                                      PyTorch's benchmarks on the same card, and prints one JSON
#                                      summary (also $OUT/summary.json, logs beside it)
#
# Every phase runs even when an earlier one failed where it can (a build error in one file does
# not hide the others: ninja -k 0), so that one short device session reports everything.
set -uo pipefail
cd "$(dirname "$0")/.."
KIT=.gpu-kit

if [[ "${1:-}" == "--prepare" ]]; then
  mkdir -p "$KIT/include"
  cp -r /usr/include/nlohmann "$KIT/include/"
  rm -rf "$KIT/googletest" && cp -r /usr/src/googletest "$KIT/googletest"
  for image in ../shared/images/truck.jpg tests/data/server/dog.jpg; do
    if [[ -f "$image" ]]; then cp "$image" "$KIT/bench.jpg" && break; fi
  done
  echo "gpu-check: $KIT ready ($(du -sh "$KIT" | cut -f1)); carry it: run(command=\"scripts/gpu-check.sh\", carry=[\"$KIT\"])"
  exit 0
fi

BENCH=1
[[ "${1:-}" == "--no-bench" ]] && BENCH=0
OUT="${OUT:-gpu-check-out}"
mkdir -p "$OUT"
BUILD=build-gpu
WORK=/tmp/segkit-gpu-work
M2F_CONFIG=tests/data/mask2former/swin_tiny_coco_panoptic/config.json
jobs=$(nproc)

torch_prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>"$OUT/torch.log")
timeout 300 cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSEGKIT_GPU_KIT=ON -DSEGKIT_WITH_CUDA=ON \
  -DCMAKE_PREFIX_PATH="$torch_prefix" -DSEGKIT_GPU_KIT_DEPS="$PWD/$KIT" > "$OUT/configure.log" 2>&1
configure_rc=$?
build_rc=1
if [[ $configure_rc == 0 ]]; then
  timeout 420 ninja -C "$BUILD" -k 0 -j "$jobs" segkit_tests segkit_gpu_bench > "$OUT/build.log" 2>&1
  build_rc=$?
fi

tests_rc=-1
if [[ -x "$BUILD/tests/segkit_tests" ]]; then
  SEGKIT_TEST_DEVICE=cuda timeout 300 "$BUILD/tests/segkit_tests" --gtest_output="json:$OUT/tests.json" \
    > "$OUT/tests.log" 2>&1
  tests_rc=$?
fi

if [[ $BENCH == 1 && -x "$BUILD/bench/gpu/segkit_gpu_bench" ]]; then
  image_args=()
  if [[ -f "$KIT/bench.jpg" ]]; then  # decoded by Python: the kit has no image codecs
    python3 - "$KIT/bench.jpg" "$WORK/bench.safetensors" > "$OUT/image.log" 2>&1 <<'PY'
import os, sys
import numpy as np
from PIL import Image
from safetensors.numpy import save_file
os.makedirs(os.path.dirname(sys.argv[2]), exist_ok=True)
save_file({"rgb": np.ascontiguousarray(np.asarray(Image.open(sys.argv[1]).convert("RGB")))}, sys.argv[2])
PY
    [[ -f "$WORK/bench.safetensors" ]] && image_args=(--image "$WORK/bench.safetensors")
  fi
  timeout 600 "$BUILD/bench/gpu/segkit_gpu_bench" --device cuda --work "$WORK" "${image_args[@]}" \
    --mask2former-config "$M2F_CONFIG" > "$OUT/segkit_bench.json" 2> "$OUT/segkit_bench.log"
  timeout 600 python3 bench/gpu/pytorch_reference.py --mask2former-config "$M2F_CONFIG" \
    ${image_args:+--image "$KIT/bench.jpg"} > "$OUT/pytorch_bench.json" 2> "$OUT/pytorch_bench.log"
fi

python3 - "$OUT" "$configure_rc" "$build_rc" "$tests_rc" <<'PY'
import json, os, re, sys
out, configure_rc, build_rc, tests_rc = sys.argv[1], *map(int, sys.argv[2:5])
def read(name):
    try:
        with open(os.path.join(out, name)) as f:
            return f.read()
    except OSError:
        return ""
def load(name, whole=False):
    """The JSON of a file: all of it, or its last line (the benchmarks print one line last)."""
    text = read(name).strip()
    try:
        return json.loads(text if whole else text.splitlines()[-1])
    except (ValueError, IndexError):
        return None
summary = {"configure_rc": configure_rc, "build_rc": build_rc, "tests_rc": tests_rc}
if configure_rc:
    summary["configure_tail"] = read("configure.log").splitlines()[-15:]
errors = [l for l in read("build.log").splitlines() if re.search(r"error:|FAILED:", l)]
summary["build_errors"] = errors[:40]
tests = load("tests.json", whole=True)
if tests:
    failures = []
    for suite in tests.get("testsuites", []):
        for case in suite.get("testsuite", []):
            for f in case.get("failures", []):
                failures.append(f"{suite['name']}.{case['name']}: {f.get('failure', '')[:300]}")
    summary["tests"] = {"total": tests.get("tests"), "failed": tests.get("failures"), "failures": failures[:20]}
elif tests_rc != -1:
    summary["tests_tail"] = read("tests.log").splitlines()[-20:]
segkit, torch = load("segkit_bench.json"), load("pytorch_bench.json")
summary["segkit"], summary["pytorch"] = segkit, torch
if segkit and torch:
    summary["ratio_segkit_over_pytorch"] = {
        k: round(v / torch[k], 3) for k, v in segkit.items() if k.endswith("_ms") and isinstance(torch.get(k), (int, float))
    }
text = json.dumps(summary, indent=1)
with open(os.path.join(out, "summary.json"), "w") as f:
    f.write(text)
print(text)
PY
