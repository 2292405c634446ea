#!/usr/bin/env bash
# segkit against its peers on the same machine, in the same run, same environment, same thread
# count: JSON lines per tool, then the ratios segkit/peer (below 1 = segkit faster).
#
#   SAM_REFERENCE=/path/to/segment-anything bench/compare_peers.sh
#
# (SAM; Mask2Former against ONNX Runtime is bench/compare_peers_mask2former.sh.)
#
# Environment: BUILD (default build), VARIANT (vit_b), IMAGE (../shared/images/truck.jpg),
# THREADS (2), REPEAT (3), PRECISIONS ("fp32 bf16"), PYTHON (the Debian /usr/bin/python3, which
# sees python3-torch, even when another python3 comes first on PATH), PEERS ("pytorch onnxruntime").
# GENERATE=1 also times segment-everything at defaults (generate_ms): segkit with REPEAT runs, the
# PyTorch peer with GENERATE_REPEAT (1) runs, each after a warm-up; about 2 minutes a PyTorch run
# for ViT-B in fp32 on 2 cores. Without it, segkit bench runs once for the encoder and once for the
# decoder (--only), so that its default generator run is left out.
# Peers, each skipped with the reason printed when it cannot run here:
#   pytorch: the official code at $SAM_REFERENCE through python3 + torch (Debian python3-torch;
#            GENERATE=1 also needs python3-torchvision);
#   onnxruntime: onnxruntime-node under $BUILD/peers (npm install --ignore-scripts) on graphs
#                (ORT_WARMUP, default 3, untimed runs first: its arena takes a few runs to settle)
#                exported from $SAM_REFERENCE by bench/peers/export_onnx.py (needs torch too) into
#                $BUILD/peers/onnx/$VARIANT, kept for later runs; fp32 only, no generator.
# Results also go to $BUILD/peers/results.jsonl.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build}
variant=${VARIANT:-vit_b}
image=${IMAGE:-$root/../shared/images/truck.jpg}
threads=${THREADS:-2}
repeat=${REPEAT:-3}
precisions=${PRECISIONS:-fp32 bf16}
peers=${PEERS:-pytorch onnxruntime}
generate=${GENERATE:-0}
generate_repeat=${GENERATE_REPEAT:-1}
models=$build/bench-models
if [ -z "${PYTHON:-}" ]; then PYTHON=python3; [ -x /usr/bin/python3 ] && PYTHON=/usr/bin/python3; fi
out=$build/peers/results.jsonl
mkdir -p "$build/peers"
: > "$out"

emit() { echo "$1" | tee -a "$out"; }
skip() { emit "{\"peer\": \"$1\", \"skipped\": \"$2\"}"; }
wanted() { [[ " $peers " == *" $1 "* ]]; }
torch_ok() { "$PYTHON" -c 'import torch' 2>/dev/null; }

if [ ! -f "$models/$variant/model.safetensors" ]; then
  "$build/segkit" dev-random-sam --variant "$variant" --out "$models/$variant" >&2
fi

segkit_bench() {
  "$build/segkit" bench --model "$models/$variant" --image "$image" --precision "$1" \
    --threads "$threads" --repeat "$repeat" --json --quiet "${@:2}"
}
for p in $precisions; do
  if [ "$generate" = 1 ]; then
    line=$(segkit_bench "$p")  # all parts, the generator included
  else
    line=$(python3 - "$(segkit_bench "$p" --only encoder)" "$(segkit_bench "$p" --only decoder)" <<'PY'
import json, sys
# The encoder run's line, completed with what only the decoder run measured.
enc, dec = (json.loads(a) for a in sys.argv[1:])
for k, v in dec.items():
    if isinstance(v, dict) and isinstance(enc.get(k), dict):
        enc[k].update({kk: vv for kk, vv in v.items() if enc[k].get(kk) is None})
    elif enc.get(k) is None:
        enc[k] = v
enc["peak_rss_mb"] = max(enc["peak_rss_mb"], dec["peak_rss_mb"])
print(json.dumps(enc))
PY
)
  fi
  emit "$(python3 -c 'import json,sys; j=json.loads(sys.argv[1]); j["peer"]="segkit"; print(json.dumps(j))' "$line")"
done
read -r width height < <(python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(*j["image_size"])' "$line")

# PyTorch eager on the official implementation.
if ! wanted pytorch; then
  :
elif [ -z "${SAM_REFERENCE:-}" ]; then
  skip pytorch "SAM_REFERENCE is not set (a checkout of facebookresearch/segment-anything)"
elif ! torch_ok; then
  skip pytorch "python3 cannot import torch (install the Debian package python3-torch)"
else
  generate_args=()
  if [ "$generate" = 1 ]; then
    generate_args=(--generate --generate-repeat "$generate_repeat" --image "$image")
  fi
  for p in $precisions; do
    emit "$("$PYTHON" "$root/bench/peers/pytorch_sam.py" --reference "$SAM_REFERENCE" --variant "$variant" \
              --height "$height" --width "$width" --threads "$threads" --repeat "$repeat" --precision "$p" \
              "${generate_args[@]}")"
  done
fi

# ONNX Runtime on graphs exported from the official implementation.
if ! wanted onnxruntime; then
  :
elif [ ! -d "$build/peers/node_modules/onnxruntime-node" ]; then
  skip onnxruntime "onnxruntime-node not installed: (cd $build/peers && npm install --ignore-scripts onnxruntime-node)"
elif [ -z "${SAM_REFERENCE:-}" ] || ! torch_ok; then
  skip onnxruntime "exporting the graphs needs SAM_REFERENCE and python3 with torch"
else
  "$PYTHON" "$root/bench/peers/export_onnx.py" --reference "$SAM_REFERENCE" --variant "$variant" \
    --threads "$threads" --out "$build/peers/onnx" >&2
  emit "$(NODE_PATH=$build/peers/node_modules node "$root/bench/peers/ort_sam.mjs" "$build/peers/onnx/$variant" \
            "$threads" "$repeat" "$height" "$width")"
fi

python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ours = {r["precision"]: r for r in rows if r.get("peer") == "segkit"}
for r in rows:
    if r.get("peer") in (None, "segkit") or "skipped" in r:
        continue
    for mine in ours.values():
        ratios = {k: mine[k] / r[k] for k in ("encoder_ms", "decoder_ms", "decoder_batch64_ms", "generate_ms")
                  if isinstance(mine.get(k), (int, float)) and isinstance(r.get(k), (int, float)) and r[k] > 0}
        print(json.dumps({"ratio": f"segkit {mine['precision']} / {r['peer']} {r.get('precision', '')}".strip(), **ratios}))
PY
