#!/usr/bin/env bash
# Mask2Former Swin-T: segkit's forward pass (fp32 and bf16) against ONNX Runtime (fp32) on the same
# machine, in the same run, same thread count, same config.json (200 queries) and input size
# (1×3×800×1216): one JSON line per tool and precision, then the ratios segkit/peer (below 1 =
# segkit faster). On a CPU without native bfloat16, segkit's bf16 line shows ATen's slow path. The SAM comparison is
# bench/compare_peers.sh.
#
#   bench/compare_peers_mask2former.sh
#
# Environment: BUILD (default build), PEER (/work/shared/peers/mask2former-swin-t: graph.onnx,
# external.json, fill_weights.py, config.json; its README.md), IMAGE (any image: segkit resizes it
# to the input size, ONNX Runtime gets a preprocessed tensor), THREADS (2), REPEAT (3), ORT_WARMUP
# (3 untimed ONNX Runtime runs), PYTHON (python3 with numpy, for fill_weights.py).
# Needs onnxruntime-node under $BUILD/peers (npm install --ignore-scripts onnxruntime-node).
# Results also go to $BUILD/peers/mask2former_results.jsonl.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build}
peer=${PEER:-/work/shared/peers/mask2former-swin-t}
image=${IMAGE:-$root/tests/data/mask2former/inputs/img0.png}
threads=${THREADS:-2}
repeat=${REPEAT:-3}
if [ -z "${PYTHON:-}" ]; then PYTHON=python3; [ -x /usr/bin/python3 ] && PYTHON=/usr/bin/python3; fi
graph=$build/peers/mask2former-swin-t
model=$build/bench-models/mask2former-swin-t-200
out=$build/peers/mask2former_results.jsonl
mkdir -p "$build/peers"
: > "$out"
emit() { echo "$1" | tee -a "$out"; }

# The input size both tools run, from the graph's export (1×3×H×W).
read -r height width < <(python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["input"]; print(d[2], d[3])' "$peer/external.json")

if [ ! -f "$model/model.safetensors" ]; then
  "$build/segkit" dev-random-mask2former --config "$peer/config.json" -o "$model" >&2
fi
for precision in fp32 bf16; do
  line=$("$build/segkit" bench --model "$model" --image "$image" --size "${height}x${width}" --precision "$precision" \
           --threads "$threads" --repeat "$repeat" --json --quiet)
  name=segkit; [ "$precision" = fp32 ] || name=segkit-$precision
  emit "$(python3 -c 'import json,sys; j=json.loads(sys.argv[1]); j["peer"]=sys.argv[2]; print(json.dumps(j))' "$line" "$name")"
done

if [ ! -d "$build/peers/node_modules/onnxruntime-node" ]; then
  emit "{\"peer\": \"onnxruntime\", \"skipped\": \"onnxruntime-node not installed: (cd $build/peers && npm install --ignore-scripts onnxruntime-node)\"}"
  exit 0
fi
if [ ! -f "$graph/weights.bin" ]; then  # the graph's external data, random (188 MB, not committed)
  mkdir -p "$graph"
  cp "$peer/graph.onnx" "$peer/external.json" "$graph/"
  "$PYTHON" "$peer/fill_weights.py" "$graph" >&2
fi
emit "$(NODE_PATH=$build/peers/node_modules node "$root/bench/peers/ort_mask2former.mjs" "$graph" "$threads" "$repeat")"

python3 - "$out" <<'PY'
import json, sys
rows = {r["peer"]: r for r in (json.loads(l) for l in open(sys.argv[1]) if l.strip())}
ort = rows["onnxruntime"]
for name, precision in (("segkit", "fp32"), ("segkit-bf16", "bf16")):
    if "skipped" in ort:
        break
    ours = rows[name]
    run = ours["runs"][0]
    print(json.dumps({"ratio": f"segkit {precision} / onnxruntime fp32", "input": [run["input_height"], run["input_width"]],
                      "segkit_forward_ms": run["forward"]["ms"], "onnxruntime_forward_ms": ort["forward_ms"],
                      "forward_ms": run["forward"]["ms"] / ort["forward_ms"],
                      "segkit_peak_rss_mb": ours["peak_rss_mb"], "onnxruntime_peak_rss_mb": ort["peak_rss_mb"],
                      "gflop": run["gflop"], "segkit_gflop_per_s": run["gflop_per_s"],
                      "onnxruntime_gflop_per_s": run["gflop"] / (ort["forward_ms"] / 1e3)}))
PY
