// ONNX Runtime peer for bench/compare_peers.sh: times the graphs that bench/peers/export_onnx.py
// exports from the official segment-anything code, the way `segkit bench` times segkit, and prints
// one JSON line with the same keys.
//
//   NODE_PATH=build/peers/node_modules node bench/peers/ort_sam.mjs GRAPHS THREADS REPEAT HEIGHT WIDTH
//
// GRAPHS is the folder holding encoder.onnx, decoder.onnx and decoder_batch.onnx; HEIGHT x WIDTH the
// original image size. Each time is the median of REPEAT runs after ORT_WARMUP warm-up runs
// (default 3: ONNX Runtime's memory arena grows over its first runs, and where page faults are
// expensive those runs are several times slower than its steady state; docs/performance.md).
//   encoder_ms          the image encoder on a preprocessed 1x3x1024x1024 input (resizing and
//                       normalising the image are not in the graph and not timed);
//   decoder_ms          one point prompt through upstream's exported prompt path, with the masks
//                       upscaled to HEIGHT x WIDTH (upstream's default export upscales all 4 mask tokens);
//   decoder_only_ms     the same prompt, prompt encoder + mask decoder only (low-resolution masks);
//   decoder_batch64_ms  64 single-point prompts on an 8x8 grid in one call, decoder only.
// Each point prompt carries upstream's padding point (0,0) with label -1, as SamPredictor adds one
// when there is no box, so the token count matches the PyTorch peer and segkit.
import { createRequire } from "node:module";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const require = createRequire(import.meta.url);  // CommonJS resolution honours NODE_PATH; ESM does not
const ort = require("onnxruntime-node");

const [graphs, threadsArg, repeatArg, heightArg, widthArg] = process.argv.slice(2);
if (!graphs || !widthArg) {
  console.error("usage: ort_sam.mjs GRAPHS THREADS REPEAT HEIGHT WIDTH");
  process.exit(2);
}
const threads = Number(threadsArg), repeat = Number(repeatArg), height = Number(heightArg), width = Number(widthArg);
const warmups = Number(process.env.ORT_WARMUP ?? 3);

function vmHwmMb() {
  const m = /VmHWM:\s+(\d+)/.exec(readFileSync("/proc/self/status", "utf8"));
  return m ? Number(m[1]) / 1024 : 0;
}
function resetPeak() {
  try { writeFileSync("/proc/self/clear_refs", "5"); } catch { /* not allowed here: peaks then accumulate */ }
}
async function medianMs(fn) {
  for (let i = 0; i < warmups; ++i) await fn();
  const times = [];
  for (let i = 0; i < repeat; ++i) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const mid = times.length >> 1;
  return times.length % 2 ? times[mid] : (times[mid - 1] + times[mid]) / 2;
}

const options = { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: "sequential",
                  graphOptimizationLevel: "all", executionProviders: ["cpu"] };
const f32 = (data, dims) => new ort.Tensor("float32", Float32Array.from(data), dims);

const out = { peer: "onnxruntime", onnxruntime: ort.env.versions?.node ?? "", precision: "fp32", threads, repeat, warmups,
              image_size: [width, height], note: "random init, graphs exported by bench/peers/export_onnx.py" };
let peak = 0;

let t = performance.now();
const encoder = await ort.InferenceSession.create(join(graphs, "encoder.onnx"), options);
out.load_ms = performance.now() - t;
// A fixed pseudo-random preprocessed image (values of a normalised image are roughly in [-2, 2.5]).
const pixels = new Float32Array(3 * 1024 * 1024);
let seed = 1;
for (let i = 0; i < pixels.length; ++i) {
  seed = (seed * 1664525 + 1013904223) >>> 0;
  pixels[i] = seed / 2 ** 32 * 4.5 - 2;
}
const image = new ort.Tensor("float32", pixels, [1, 3, 1024, 1024]);
resetPeak();
out.encoder_ms = await medianMs(() => encoder.run({ image }));
out.encoder_peak_rss_mb = vmHwmMb();
peak = Math.max(peak, out.encoder_peak_rss_mb);
const embeddings = (await encoder.run({ image })).image_embeddings;
await encoder.release();

const decoder = await ort.InferenceSession.create(join(graphs, "decoder.onnx"), options);
const batch = await ort.InferenceSession.create(join(graphs, "decoder_batch.onnx"), options);
// Upstream's ResizeLongestSide: coordinates scale with the resized image, whose sides round to nearest.
const scale = 1024 / Math.max(height, width);
const inH = Math.floor(height * scale + 0.5), inW = Math.floor(width * scale + 0.5);
const toInput = ([x, y]) => [x * inW / width, y * inH / height];
const center = toInput([width / 2, height / 2]);
const grid = [];
for (let i = 0; i < 64; ++i) grid.push(toInput([(i % 8 + 0.5) / 8 * width, (Math.floor(i / 8) + 0.5) / 8 * height]));
const prompts = (points) => ({
  image_embeddings: embeddings,
  point_coords: f32(points.flatMap((p) => [...p, 0, 0]), [points.length, 2, 2]),
  point_labels: f32(points.flatMap(() => [1, -1]), [points.length, 2]),
});

resetPeak();
const single = {
  image_embeddings: embeddings,
  point_coords: f32([...center, 0, 0], [1, 2, 2]),
  point_labels: f32([1, -1], [1, 2]),
  mask_input: new ort.Tensor("float32", new Float32Array(256 * 256), [1, 1, 256, 256]),
  has_mask_input: f32([0], [1]),
  orig_im_size: f32([height, width], [2]),
};
const masks = (await decoder.run(single)).masks;
if (masks.dims[2] !== height || masks.dims[3] !== width) throw new Error(`decoder.onnx: masks are ${masks.dims}`);
out.decoder_ms = await medianMs(() => decoder.run(single));
out.decoder_only_ms = await medianMs(() => batch.run(prompts([center])));
const many = prompts(grid);
out.decoder_batch64_ms = await medianMs(() => batch.run(many));
// The prompt dimension of decoder_batch.onnx is dynamic; check that prompts do not leak into each other.
const all = (await batch.run(many)).low_res_masks, last = (await batch.run(prompts([grid[63]]))).low_res_masks;
const n = last.data.length;
let diff = 0, size = 1;
for (let i = 0; i < n; ++i) {
  diff = Math.max(diff, Math.abs(all.data[63 * n + i] - last.data[i]));
  size = Math.max(size, Math.abs(last.data[i]));
}
if (!(diff <= 1e-3 * size)) throw new Error(`decoder_batch.onnx: prompt 63 alone differs from it in the batch by ${diff}`);
out.decoder_peak_rss_mb = vmHwmMb();
out.peak_rss_mb = Math.max(peak, out.decoder_peak_rss_mb);
console.log(JSON.stringify(out));
