#!/usr/bin/env bash
# Data-parallel U-Net training on this machine: one process against two over loopback, the same
# global batch, alternating runs. Prints one JSON object: each configuration's training seconds
# (log.jsonl's "seconds" after the last step; the join and the start broadcast not included) per
# run, fastest and median, and the speed-up of the medians over one process.
#   bench/unet_distributed_speedup.sh            # RUNS=5 STEPS=12 BATCH=4 CROP=128 IMAGES=8
set -euo pipefail
cd "$(dirname "$0")/.."
SEGKIT=${SEGKIT:-build/segkit}
RUNS=${RUNS:-5} STEPS=${STEPS:-12} BATCH=${BATCH:-4} CROP=${CROP:-128} IMAGES=${IMAGES:-8}
PORT=${PORT:-29611}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Synthetic 256² grey images of bright disks on noise with their 0/1 masks.
/usr/bin/python3 - "$work/data" "$IMAGES" <<'EOF'
import sys
from pathlib import Path
import numpy as np
from PIL import Image
root, count = Path(sys.argv[1]), int(sys.argv[2])
(root / "images").mkdir(parents=True); (root / "masks").mkdir(parents=True)
rng = np.random.default_rng(11)
y, x = np.mgrid[0:256, 0:256]
for i in range(count):
    mask = np.zeros((256, 256), np.uint8)
    for _ in range(12):
        cy, cx, r = rng.integers(20, 236), rng.integers(20, 236), rng.integers(8, 20)
        mask[(y - cy) ** 2 + (x - cx) ** 2 <= r * r] = 1
    image = (40 + 150 * mask + rng.integers(0, 40, mask.shape)).astype(np.uint8)
    Image.fromarray(image).save(root / "images" / f"i{i}.png")
    Image.fromarray(mask).save(root / "masks" / f"i{i}.png")
EOF

common=(--data "$work/data" --epochs 1 --steps-per-epoch "$STEPS" --crop "$CROP" --augment none -q)
seconds() { /usr/bin/python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])["seconds"])' "$1/log.jsonl"; }

one_process() {  # $1: run folder, $2: threads
  "$SEGKIT" unet train "${common[@]}" -o "$1" --batch-size "$BATCH" --threads "$2"
  seconds "$1"
}
two_processes() {  # $1: run folder; a per-process batch of half the global one
  "$SEGKIT" unet train "${common[@]}" -o "$1" --batch-size $((BATCH / 2)) --threads 1 \
    --dist-url "tcp://127.0.0.1:$PORT" --rank 1 --world-size 2 &
  local other=$!
  "$SEGKIT" unet train "${common[@]}" -o "$1" --batch-size $((BATCH / 2)) --threads 1 \
    --dist-url "tcp://127.0.0.1:$PORT" --rank 0 --world-size 2
  wait "$other"
  seconds "$1"
}

declare -a t11 t21 t12
for run in $(seq 1 "$RUNS"); do
  t11+=("$(one_process "$work/r11-$run" 1)")
  t21+=("$(two_processes "$work/r21-$run")")
  t12+=("$(one_process "$work/r12-$run" 2)")
done

/usr/bin/python3 - "${t11[*]}" "${t21[*]}" "${t12[*]}" "$(cat /proc/loadavg)" "$STEPS" "$BATCH" "$CROP" <<'EOF'
import json, statistics, sys
runs = {name: [float(t) for t in s.split()] for name, s in zip(["1x1", "2x1", "1x2"], sys.argv[1:4])}
base = statistics.median(runs["1x1"])
print(json.dumps({
    "bench": "unet_distributed_speedup", "steps": int(sys.argv[5]), "global_batch": int(sys.argv[6]),
    "crop": int(sys.argv[7]), "loadavg_after": sys.argv[4],
    "configs": {name: {"processes_x_threads": name, "seconds": t, "fastest": min(t),
                       "median": statistics.median(t), "speedup_median": base / statistics.median(t)}
                for name, t in runs.items()}}, indent=1))
EOF
