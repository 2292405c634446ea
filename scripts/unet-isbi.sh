#!/usr/bin/env bash
# Trains the U-Nets of docs/unet-isbi.md on the ISBI 2012 membrane stack: sections 0–23 train,
# 24–29 validate. MEMBERS runs with seeds SEED, SEED+1, … each leave RUN_DIR/member-K/ (its best
# checkpoint by validation mIoU, log.jsonl, curves.png); RUN_DIR/best.safetensors is their
# ensemble, and RUN_DIR/eval.json its validation metrics at full 512×512 size.
#
#   scripts/unet-isbi.sh RUN_DIR [DATA_DIR]
#
# MEMBERS (default 3), EPOCHS (default 35), DEPTH (default 4), WIDTH (default 16), CROP (default
# 256), BATCH (default 4), AUGMENT (default flip,rot90,elastic), CLASS_WEIGHTS (default 1.5,1:
# membrane, interior), SEED (default 0) and THREADS (default 2) may be set; extra train flags go
# in UNET_ISBI_FLAGS. Re-running with an existing RUN_DIR resumes where it stopped.
set -euo pipefail
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: $0 RUN_DIR [DATA_DIR]" >&2
  exit 2
fi
here="$(cd "$(dirname "$0")/.." && pwd)"
run_dir="$1"
data_dir="${2:-$here/../shared/datasets/isbi-membrane}"
segkit="${SEGKIT:-$here/build/segkit}"
[ -x "$segkit" ] || { echo "$0: $segkit not found; build segkit first (scripts/setup.sh)" >&2; exit 1; }
[ -d "$data_dir/images" ] || { echo "$0: $data_dir: no images/ folder (the ISBI data set)" >&2; exit 1; }

# Each member is a full training run with its own seed, in RUN_DIR/member-K.
members="${MEMBERS:-3}"
member_best=()
for ((k = 0; k < members; k++)); do
  member_dir="$run_dir/member-$k"
  if [ -f "$member_dir/train_state.safetensors" ]; then
    "$segkit" unet train --out "$member_dir" --data "$data_dir" --resume ${UNET_ISBI_FLAGS:-}
  else
    # shellcheck disable=SC2086
    "$segkit" unet train --data "$data_dir" --val-split 24,25,26,27,28,29 --out "$member_dir" \
      --classes 2 --depth "${DEPTH:-4}" --width "${WIDTH:-16}" --crop "${CROP:-256}" --batch-size "${BATCH:-4}" --epochs "${EPOCHS:-35}" --lr 2e-3 \
      --loss ce+dice --class-weights "${CLASS_WEIGHTS:-1.5,1}" --border-weight 10 --border-sigma 5 \
      --augment "${AUGMENT:-flip,rot90,elastic}" --seed "$(( ${SEED:-0} + k ))" --threads "${THREADS:-2}" ${UNET_ISBI_FLAGS:-}
  fi
  member_best+=("$member_dir/best.safetensors")
done
# One checkpoint that averages the members' class probabilities.
"$segkit" unet ensemble --out "$run_dir/best.safetensors" "${member_best[@]}"

# Score the ensemble on the six validation sections at full size.
val_dir="$run_dir/val-data"
mkdir -p "$val_dir/images" "$val_dir/masks"
for i in 24 25 26 27 28 29; do
  cp "$data_dir/images/$i.png" "$val_dir/images/"
  cp "$data_dir/masks/$i.png" "$val_dir/masks/"
done
"$segkit" unet eval --model "$run_dir/best.safetensors" --data "$val_dir" --json - --threads "${THREADS:-2}" \
  | tee "$run_dir/eval.json"
