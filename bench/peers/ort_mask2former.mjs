// ONNX Runtime peer for bench/compare_peers_mask2former.sh: times a Mask2Former graph (the
// weight-stripped Swin-T export of /work/shared/peers/mask2former-swin-t with its weights.bin
// filled by fill_weights.py) on one preprocessed input, the way `segkit bench` times segkit's
// forward pass, and prints one JSON line.
//
//   NODE_PATH=build/peers/node_modules node bench/peers/ort_mask2former.mjs GRAPH_DIR THREADS REPEAT
//
// GRAPH_DIR holds graph.onnx, weights.bin (its external data) and spec.json (the input's
// dimensions). forward_ms is the median of REPEAT runs after ORT_WARMUP (default 3) untimed
// ones: ONNX Runtime's memory arena grows over its first runs (docs/performance.md).
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const require = createRequire(import.meta.url);  // CommonJS resolution honours NODE_PATH; ESM does not
const ort = require("onnxruntime-node");

const [dir, threadsArg, repeatArg] = process.argv.slice(2);
if (!repeatArg) {
  console.error("usage: ort_mask2former.mjs GRAPH_DIR THREADS REPEAT");
  process.exit(2);
}
const threads = Number(threadsArg), repeat = Number(repeatArg), warmups = Number(process.env.ORT_WARMUP ?? 3);

function vmHwmMb() {
  const m = /VmHWM:\s+(\d+)/.exec(readFileSync("/proc/self/status", "utf8"));
  return m ? Number(m[1]) / 1024 : 0;
}

const dims = JSON.parse(readFileSync(join(dir, "spec.json"), "utf8")).inputs.pixel_values.dims;
const options = { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: "sequential",
                  graphOptimizationLevel: "all", executionProviders: ["cpu"] };
let t = performance.now();
const session = await ort.InferenceSession.create(join(dir, "graph.onnx"), options);
const loadMs = performance.now() - t;

// A fixed pseudo-random normalised image (values roughly in [-2, 2.5]); the weights are random anyway.
const pixels = new Float32Array(dims.reduce((a, b) => a * b, 1));
let seed = 1;
for (let i = 0; i < pixels.length; ++i) {
  seed = (seed * 1664525 + 1013904223) >>> 0;
  pixels[i] = seed / 2 ** 32 * 4.5 - 2;
}
const feeds = { pixel_values: new ort.Tensor("float32", pixels, dims) };

const first = await session.run(feeds);
for (let i = 1; i < warmups; ++i) await session.run(feeds);
const times = [];
for (let i = 0; i < repeat; ++i) {
  t = performance.now();
  await session.run(feeds);
  times.push(performance.now() - t);
}
times.sort((a, b) => a - b);
const mid = times.length >> 1;
console.log(JSON.stringify({
  peer: "onnxruntime", onnxruntime: ort.env.versions?.node ?? "", precision: "fp32", threads, repeat, warmups,
  input: dims, load_ms: loadMs,
  forward_ms: times.length % 2 ? times[mid] : (times[mid - 1] + times[mid]) / 2, forward_runs_ms: times,
  outputs: Object.fromEntries(Object.entries(first).map(([k, v]) => [k, v.dims])),
  peak_rss_mb: vmHwmMb(),
  note: "random weights (fill_weights.py), transformers 5.17 export at opset 17",
}));
