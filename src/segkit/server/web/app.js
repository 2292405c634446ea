// segkit's browser UI: plain JavaScript, no build step, no network beyond this server.
'use strict';

const $ = (id) => document.getElementById(id);
const COLORS = [[37, 99, 235], [22, 163, 74], [220, 38, 38], [234, 179, 8], [147, 51, 234], [8, 145, 178],
  [234, 88, 12], [219, 39, 119], [101, 163, 13], [79, 70, 229], [13, 148, 136], [190, 18, 60]];
const CANDIDATE_COLORS = [[37, 99, 235], [147, 51, 234], [8, 145, 178]];

const state = {
  imageId: null, width: 0, height: 0, fileName: 'image',
  prompts: [],          // {kind: 'point', x, y, label} or {kind: 'box', box: [x0, y0, x1, y1]}, in order
  candidates: [],       // {record, mask: Uint8Array, score}
  selected: -1,
  everything: null,     // [{record, mask, area}] once "segment everything", "label everything" or words ran
  hover: -1,            // index into everything under the mouse
  previewCandidate: -1,
  drag: null,           // {x0, y0, x1, y1, button} while the mouse is down
  labelForClick: 1,
  requestSeq: 0,
  job: null,
  canGenerate: false,
  hasSam: true,         // false on a server of Mask2Former models only: clicks do nothing
  labelModel: null,     // the Mask2Former model "label everything" uses, when the server hosts one
  labelling: false,
  wordsModel: null,     // the SAM 3 model "segment by words" asks, when the server hosts one
  finding: false,
};

// ---------- HTTP ----------
async function api(method, path, body, type) {
  const res = await fetch(path, { method, body, headers: type ? { 'Content-Type': type } : {} });
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (e) { /* not JSON */ }
  if (!res.ok) {
    const err = new Error((json && json.error) || `${res.status} ${res.statusText}`);
    err.status = res.status;
    throw err;
  }
  return json;
}

// ---------- COCO RLE ----------
// Compressed counts (pycocotools' string form) → run lengths.
function rleCounts(s) {
  const counts = [];
  let p = 0;
  while (p < s.length) {
    let x = 0, k = 0, more = 1;
    while (more) {
      const c = s.charCodeAt(p) - 48;
      x |= (c & 0x1f) << (5 * k);
      more = c & 0x20;
      p++; k++;
      if (!more && (c & 0x10)) x |= -1 << (5 * k);
    }
    if (counts.length > 2) x += counts[counts.length - 2];
    counts.push(x);
  }
  return counts;
}

// Column-major runs → row-major 0/1 mask.
function rleDecode(seg) {
  const [h, w] = seg.size;
  const counts = typeof seg.counts === 'string' ? rleCounts(seg.counts) : seg.counts;
  const mask = new Uint8Array(h * w);
  let idx = 0, v = 0;
  for (const run of counts) {
    if (v) for (let i = idx; i < idx + run; i++) mask[(i % h) * w + ((i / h) | 0)] = 1;
    idx += run;
    v ^= 1;
  }
  return mask;
}

// ---------- drawing ----------
const imageCanvas = $('image'), overlay = $('overlay');
const octx = overlay.getContext('2d');
let maskLayer = null;  // an offscreen canvas at image size

function paintMask(img, mask, color, fillAlpha, edgeAlpha) {
  const { width: w, height: h } = state;
  const d = img.data;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      if (!mask[i]) continue;
      const edge = x === 0 || y === 0 || x === w - 1 || y === h - 1 || !mask[i - 1] || !mask[i + 1] || !mask[i - w] || !mask[i + w];
      const a = edge ? edgeAlpha : fillAlpha;
      const o = i * 4;
      // Composite over what is already in the layer, so that overlapping masks stay visible.
      const prev = d[o + 3] / 255, na = a + prev * (1 - a);
      for (let c = 0; c < 3; c++) d[o + c] = na ? (color[c] * a + d[o + c] * prev * (1 - a)) / na : 0;
      d[o + 3] = Math.round(na * 255);
    }
  }
}

function render() {
  const { width: w, height: h } = state;
  if (!w) return;
  if (!maskLayer || maskLayer.width !== w || maskLayer.height !== h) {
    maskLayer = document.createElement('canvas');
    maskLayer.width = w; maskLayer.height = h;
  }
  const lctx = maskLayer.getContext('2d');
  const img = lctx.createImageData(w, h);
  if (state.everything) {
    state.everything.forEach((m, i) => {
      if (i !== state.hover) paintMask(img, m.mask, COLORS[i % COLORS.length], state.hover >= 0 ? 0.28 : 0.45, 0.9);
    });
    if (state.hover >= 0) paintMask(img, state.everything[state.hover].mask, [255, 255, 255], 0.55, 1);
  } else {
    const k = state.previewCandidate >= 0 ? state.previewCandidate : state.selected;
    if (k >= 0 && state.candidates[k]) paintMask(img, state.candidates[k].mask, CANDIDATE_COLORS[k], 0.45, 0.95);
  }
  lctx.putImageData(img, 0, 0);
  octx.clearRect(0, 0, w, h);
  octx.drawImage(maskLayer, 0, 0);
  drawPrompts();
}

function drawPrompts() {
  const scale = Math.max(state.width, state.height) / 800;
  const r = Math.max(4, 6 * scale);
  octx.lineWidth = Math.max(1.5, 2 * scale);
  const boxes = state.prompts.filter((p) => p.kind === 'box').map((p) => p.box);
  if (state.drag && state.drag.moved) boxes.push(dragBox());
  for (const b of boxes) {
    octx.strokeStyle = '#facc15';
    octx.setLineDash([6 * scale, 4 * scale]);
    octx.strokeRect(b[0], b[1], b[2] - b[0], b[3] - b[1]);
    octx.setLineDash([]);
  }
  for (const p of state.prompts) {
    if (p.kind !== 'point') continue;
    octx.beginPath();
    octx.arc(p.x, p.y, r, 0, 2 * Math.PI);
    octx.fillStyle = p.label ? '#16a34a' : '#dc2626';
    octx.fill();
    octx.strokeStyle = '#fff';
    octx.stroke();
    octx.fillStyle = '#fff';
    octx.fillRect(p.x - r * 0.5, p.y - r * 0.12, r, r * 0.24);
    if (p.label) octx.fillRect(p.x - r * 0.12, p.y - r * 0.5, r * 0.24, r);
  }
}

// ---------- UI state ----------
function setStatus(text) { $('status').textContent = text; }

let toastTimer = null;
function toast(text, kind) {
  const t = $('toast');
  t.textContent = text;
  t.className = 'toast' + (kind ? ' ' + kind : '');
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, 4500);
}

function refreshControls() {
  const has = !!state.imageId;
  $('undo').disabled = !has || state.prompts.length === 0;
  $('clear').disabled = !has || (state.prompts.length === 0 && !state.everything);
  $('everything').disabled = !has || !state.canGenerate || !!state.job;
  $('label-everything').disabled = !has || !state.labelModel || state.labelling;
  $('words-text').disabled = !has || !state.wordsModel;
  $('words-threshold').disabled = !has || !state.wordsModel;
  $('words-go').disabled = !has || !state.wordsModel || state.finding || !$('words-text').value.trim();
  $('dl-png').disabled = !currentMask();
  $('dl-json').disabled = !(state.everything ? state.everything.length : state.selected >= 0);
  const box = $('candidates');
  box.innerHTML = '';  // the buttons go, and with them any hover preview
  state.previewCandidate = -1;
  if (state.everything) return;
  const best = state.candidates.reduce((b, c, i) => (b < 0 || c.score > state.candidates[b].score ? i : b), -1);
  state.candidates.forEach((c, i) => {
    const b = document.createElement('button');
    b.className = 'candidate' + (i === state.selected ? ' on' : '');
    b.dataset.index = i;
    b.title = `Candidate ${i + 1}: predicted IoU ${c.score.toFixed(3)}, ${c.record.area} px (key ${i + 1})`;
    const rgb = CANDIDATE_COLORS[i];
    b.innerHTML = `<span class="swatch" style="background: rgb(${rgb})"></span>${c.score.toFixed(2)}` +
      (i === best ? '<span class="best">best</span>' : '');
    b.addEventListener('click', () => { state.selected = i; refreshControls(); render(); });
    b.addEventListener('mouseenter', () => { state.previewCandidate = i; render(); });
    b.addEventListener('mouseleave', () => { state.previewCandidate = -1; render(); });
    box.appendChild(b);
  });
}

function currentMask() {
  if (state.everything) return state.hover >= 0 ? state.everything[state.hover] : null;
  return state.selected >= 0 ? state.candidates[state.selected] : null;
}

// ---------- loading an image ----------
async function openFile(file) {
  if (!file) return;
  if (state.job) await cancelJob();
  setStatus(`Encoding ${file.name}…`);
  document.body.classList.add('busy');
  try {
    const bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' }).catch(() => null);
    const info = await api('POST', '/v1/images', file, file.type || 'application/octet-stream');
    Object.assign(state, {
      imageId: info.image_id, width: info.width, height: info.height, fileName: file.name.replace(/\.[^.]*$/, '') || 'image',
      prompts: [], candidates: [], selected: -1, everything: null, hover: -1,
    });
    imageCanvas.width = overlay.width = info.width;
    imageCanvas.height = overlay.height = info.height;
    const ictx = imageCanvas.getContext('2d');
    if (bitmap && bitmap.width === info.width && bitmap.height === info.height) {
      ictx.drawImage(bitmap, 0, 0);
    } else {  // a format the browser cannot show: a neutral background still lets you click
      ictx.fillStyle = '#d1d5db';
      ictx.fillRect(0, 0, info.width, info.height);
    }
    $('drop').hidden = true;
    $('view').hidden = false;
    setStatus(`${file.name}: ${info.width}×${info.height}${info.cached ? ' (already encoded)' : ''}. Click on an object.`);
    render();
  } catch (e) {
    toast(`Could not open ${file.name}: ${e.message}`);
    setStatus('Ready.');
  } finally {
    document.body.classList.remove('busy');
    refreshControls();
  }
}

// ---------- prompting ----------
async function predict() {
  const seq = ++state.requestSeq;
  const points = state.prompts.filter((p) => p.kind === 'point');
  const box = [...state.prompts].reverse().find((p) => p.kind === 'box');
  if (!points.length && !box) {
    state.candidates = []; state.selected = -1;
    refreshControls(); render();
    return;
  }
  const body = { points: points.map((p) => [p.x, p.y]), labels: points.map((p) => p.label), multimask: true };
  if (box) body.box = box.box;
  const t0 = performance.now();
  try {
    const out = await api('POST', `/v1/images/${state.imageId}/predict`, JSON.stringify(body), 'application/json');
    if (seq !== state.requestSeq) return;  // a newer click is on its way
    state.candidates = out.masks.map((r) => ({ record: r, mask: rleDecode(r.segmentation), score: r.score }));
    state.selected = out.best;
    state.everything = null;
    const ms = Math.round(performance.now() - t0);
    const c = state.candidates[state.selected];
    setStatus(`Mask ${state.selected + 1} of ${out.masks.length}: score ${c.score.toFixed(3)}, ${c.record.area} px (${ms} ms)`);
  } catch (e) {
    if (seq !== state.requestSeq) return;
    if (e.status === 404) toast('The server forgot this image (cache full?): open it again.');
    else toast(e.message);
  }
  refreshControls();
  render();
}

function toImage(ev) {
  const r = overlay.getBoundingClientRect();
  const x = ((ev.clientX - r.left) / r.width) * state.width;
  const y = ((ev.clientY - r.top) / r.height) * state.height;
  return [Math.min(Math.max(x, 0), state.width - 1), Math.min(Math.max(y, 0), state.height - 1)];
}

function dragBox(d = state.drag) {
  return [Math.min(d.x0, d.x1), Math.min(d.y0, d.y1), Math.max(d.x0, d.x1), Math.max(d.y0, d.y1)];
}

overlay.addEventListener('contextmenu', (e) => e.preventDefault());
overlay.addEventListener('mousedown', (e) => {
  if (!state.imageId || !state.hasSam || (e.button !== 0 && e.button !== 2)) return;
  const [x, y] = toImage(e);
  state.drag = { x0: x, y0: y, x1: x, y1: y, button: e.button, sx: e.clientX, sy: e.clientY, moved: false };
  e.preventDefault();
});
window.addEventListener('mousemove', (e) => {
  if (!state.imageId) return;
  if (state.drag) {
    const [x, y] = toImage(e);
    Object.assign(state.drag, { x1: x, y1: y });
    if (Math.hypot(e.clientX - state.drag.sx, e.clientY - state.drag.sy) > 5 && state.drag.button === 0) state.drag.moved = true;
    if (state.drag.moved) render();
    return;
  }
  if (state.everything && e.target === overlay) {
    const [x, y] = toImage(e);
    const i = Math.floor(y) * state.width + Math.floor(x);
    // The smallest mask under the mouse: the most specific object.
    let hit = -1;
    state.everything.forEach((m, k) => { if (m.mask[i] && (hit < 0 || m.area < state.everything[hit].area)) hit = k; });
    if (hit !== state.hover) {
      state.hover = hit;
      const m = hit >= 0 ? state.everything[hit].record : null;
      setStatus(hoverText(m, hit));
      overlay.title = m && m.label !== undefined ? m.label : '';
      refreshControls();
      render();
    }
  }
});
window.addEventListener('mouseup', (e) => {
  const d = state.drag;
  if (!d) return;
  state.drag = null;
  if (d.moved) {
    const b = dragBox(d);
    state.prompts.push({ kind: 'box', box: b.map((v) => Math.round(v * 10) / 10) });
  } else {
    const label = d.button === 2 ? 0 : state.labelForClick;
    state.prompts.push({ kind: 'point', x: Math.round(d.x0 * 10) / 10, y: Math.round(d.y0 * 10) / 10, label });
  }
  state.everything = null;
  state.hover = -1;
  refreshControls();
  render();
  predict();
});

function undo() {
  if (!state.prompts.length) return;
  state.prompts.pop();
  predict();
  refreshControls();
  render();
}
function clearAll() {
  state.prompts = []; state.candidates = []; state.selected = -1; state.everything = null; state.hover = -1;
  overlay.title = '';
  state.requestSeq++;
  refreshControls();
  render();
  if (state.imageId) setStatus('Cleared. Click on an object.');
}

function setClickLabel(label) {
  state.labelForClick = label;
  $('mode-fg').classList.toggle('on', label === 1);
  $('mode-bg').classList.toggle('on', label === 0);
}

// The status line for the mask under the mouse (m null: none).
function hoverText(m, index) {
  const n = state.everything.length;
  if (!m && state.everything.some((e) => e.record.instance))
    return `${n} instance${n === 1 ? '' : 's'} of "${state.everything[0].record.label}". Hover to highlight one.`;
  if (!m) return state.everything.some((e) => e.record.label !== undefined)
    ? `${n} segments. Hover to see a label.` : `${n} masks. Hover to highlight one, click to refine with points.`;
  if (m.instance) return `${m.label}: instance ${index + 1} of ${n}, ${m.area} px, score ${m.score.toFixed(3)}`;
  if (m.label !== undefined) return `${m.label}: segment ${index + 1} of ${n}, ${m.area} px, score ${m.score.toFixed(3)}`;
  return `Mask ${index + 1} of ${n}: ${m.area} px, predicted IoU ${(m.predicted_iou ?? 0).toFixed(3)}`;
}

// ---------- label everything (Mask2Former panoptic) ----------
async function labelEverything() {
  if (!state.imageId || !state.labelModel || state.labelling) return;
  clearAll();
  state.labelling = true;
  refreshControls();
  setStatus(`Labelling everything with ${state.labelModel}…`);
  const t0 = performance.now();
  try {
    const out = await api('POST', `/v1/images/${state.imageId}/segment`,
      JSON.stringify({ task: 'panoptic', model: state.labelModel }), 'application/json');
    state.everything = out.segments.map((r) => ({ record: r, mask: rleDecode(r.segmentation), area: r.area }));
    const ms = Math.round(performance.now() - t0);
    setStatus(`${out.segments.length} segments labelled in ${ms} ms. Hover to see a label.`);
  } catch (e) {
    if (e.status === 404 && /cache/.test(e.message)) toast('The server forgot this image (cache full?): open it again.');
    else toast(`Label everything failed: ${e.message}`);
    setStatus('Ready.');
  } finally {
    state.labelling = false;
    refreshControls();
    render();
  }
}

// ---------- segment by words (SAM 3) ----------
async function findWords(ev) {
  ev.preventDefault();
  const text = $('words-text').value.trim();
  const threshold = Math.min(1, Math.max(0, Number($('words-threshold').value) || 0));
  if (!state.imageId || !state.wordsModel || state.finding || !text) return;
  clearAll();
  state.finding = true;
  refreshControls();
  setStatus(`Looking for "${text}" with ${state.wordsModel}…`);
  const t0 = performance.now();
  try {
    const out = await api('POST', `/v1/images/${state.imageId}/predict`,
      JSON.stringify({ text, model: state.wordsModel, threshold }), 'application/json');
    const result = out.results[0];
    state.everything = result.instances.map((r) => ({
      record: { ...r, label: result.text, instance: true }, mask: rleDecode(r.segmentation), area: r.area,
    }));
    const ms = Math.round(performance.now() - t0);
    const n = result.instances.length;
    setStatus(n ? `${n} instance${n === 1 ? '' : 's'} of "${result.text}" in ${ms} ms` +
      ` (scores ${result.instances.map((r) => r.score.toFixed(2)).join(', ')}). Hover to highlight one.`
      : `No instance of "${result.text}" found (${ms} ms).`);
    if (result.truncated) toast(`"${text}" is longer than the model reads; only its beginning was used.`, 'info');
  } catch (e) {
    if (e.status === 404 && /cache/.test(e.message)) toast('The server forgot this image (cache full?): open it again.');
    else toast(`Segment by words failed: ${e.message}`);
    setStatus('Ready.');
  } finally {
    state.finding = false;
    refreshControls();
    render();
  }
}

// ---------- segment everything ----------
async function segmentEverything() {
  if (!state.imageId || state.job) return;
  clearAll();
  $('job').hidden = false;
  $('job-bar').style.width = '0';
  $('job-bar').parentElement.classList.add('indeterminate');
  setStatus('Segmenting everything…');
  try {
    const job = await api('POST', `/v1/images/${state.imageId}/generate`, '{}', 'application/json');
    state.job = job.job_id;
    refreshControls();
    for (;;) {
      await new Promise((r) => setTimeout(r, 250));
      if (!state.job) return;
      const s = await api('GET', `/v1/jobs/${job.job_id}`);
      if (s.progress > 0) {
        $('job-bar').parentElement.classList.remove('indeterminate');
        $('job-bar').style.width = `${Math.round(s.progress * 100)}%`;
      }
      if (s.state === 'running') { setStatus(`Segmenting everything… ${Math.round(s.progress * 100)}% (${s.seconds.toFixed(1)} s)`); continue; }
      if (s.state === 'done') {
        const records = await api('GET', `/v1/jobs/${job.job_id}/result`);
        state.everything = records.map((r) => ({ record: r, mask: rleDecode(r.segmentation), area: r.area }));
        setStatus(`${records.length} masks in ${s.seconds.toFixed(1)} s. Hover to highlight one.`);
      } else if (s.state === 'failed') {
        toast(`Segment everything failed: ${s.error}`);
        setStatus('Ready.');
      } else {
        setStatus('Cancelled.');
      }
      break;
    }
  } catch (e) {
    toast(e.status === 501 ? 'Segment everything is not available on this server.' : e.message);
    setStatus('Ready.');
  } finally {
    state.job = null;
    $('job').hidden = true;
    refreshControls();
    render();
  }
}

async function cancelJob() {
  const id = state.job;
  state.job = null;
  if (id) await api('DELETE', `/v1/jobs/${id}`).catch(() => {});
  $('job').hidden = true;
  setStatus('Cancelled.');
  refreshControls();
}

// ---------- downloads ----------
function download(blob, name) {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
}

function downloadPng() {
  const m = currentMask();
  if (!m) return;
  const c = document.createElement('canvas');
  c.width = state.width; c.height = state.height;
  const ctx = c.getContext('2d');
  const img = ctx.createImageData(state.width, state.height);
  for (let i = 0; i < m.mask.length; i++) {
    const v = m.mask[i] ? 255 : 0;
    img.data[i * 4] = img.data[i * 4 + 1] = img.data[i * 4 + 2] = v;
    img.data[i * 4 + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  c.toBlob((b) => download(b, `${state.fileName}_mask.png`), 'image/png');
}

function downloadCoco() {
  const masks = state.everything ? state.everything : (state.selected >= 0 ? [state.candidates[state.selected]] : []);
  const coco = {
    images: [{ id: 1, file_name: state.fileName, width: state.width, height: state.height }],
    categories: [{ id: 1, name: 'object' }],
    annotations: masks.map((m, i) => ({
      id: i + 1, image_id: 1, category_id: 1, iscrowd: 0,
      segmentation: m.record.segmentation, area: m.record.area, bbox: m.record.bbox,
      score: m.record.score ?? m.record.predicted_iou,
    })),
  };
  download(new Blob([JSON.stringify(coco)], { type: 'application/json' }), `${state.fileName}_masks.json`);
}

// ---------- wiring ----------
$('file').addEventListener('change', (e) => { openFile(e.target.files[0]); e.target.value = ''; });
$('undo').addEventListener('click', undo);
$('clear').addEventListener('click', clearAll);
$('mode-fg').addEventListener('click', () => setClickLabel(1));
$('mode-bg').addEventListener('click', () => setClickLabel(0));
$('everything').addEventListener('click', segmentEverything);
$('label-everything').addEventListener('click', labelEverything);
$('words').addEventListener('submit', findWords);
$('words-text').addEventListener('input', refreshControls);
$('job-cancel').addEventListener('click', cancelJob);
$('dl-png').addEventListener('click', downloadPng);
$('dl-json').addEventListener('click', downloadCoco);

const stage = $('stage');
['dragenter', 'dragover'].forEach((t) => stage.addEventListener(t, (e) => { e.preventDefault(); $('drop').classList.add('over'); stage.classList.add('over'); }));
['dragleave', 'drop'].forEach((t) => stage.addEventListener(t, (e) => { e.preventDefault(); $('drop').classList.remove('over'); stage.classList.remove('over'); }));
stage.addEventListener('drop', (e) => { const f = e.dataTransfer.files[0]; if (f) openFile(f); });

window.addEventListener('keydown', (e) => {
  if (e.target.tagName === 'INPUT') return;
  if (e.key === 'z' || e.key === 'Z') { e.preventDefault(); undo(); }
  else if (e.key === 'Escape') { if (state.job) cancelJob(); else clearAll(); }
  else if (['1', '2', '3'].includes(e.key) && state.candidates[+e.key - 1] && !state.everything) {
    state.selected = +e.key - 1; refreshControls(); render();
  }
});

// What the server hosts: a SAM model (clicks, segment everything), Mask2Former models (label
// everything) and/or SAM 3 models (segment by words), the first of each.
(async () => {
  try {
    const { models } = await api('GET', '/v1/models');
    const m2f = models.find((m) => m.family === 'mask2former');
    const sam3 = models.find((m) => m.family === 'sam3');
    state.hasSam = models.some((m) => m.family === 'sam');
    if (sam3) {
      state.wordsModel = sam3.name;
      $('words').hidden = false;
    }
    if (m2f) {
      state.labelModel = m2f.name;
      $('label-everything').hidden = false;
      $('label-everything').title = `Every pixel labelled by ${m2f.name} (${m2f.labels.length} labels, panoptic); hover to see a label`;
    }
    const parts = [];
    if (state.hasSam) {
      const m = await api('GET', '/v1/model');
      state.canGenerate = !!m.generate;
      parts.push(`SAM · ${m.image_size}px input · ViT dim ${m.encoder_dim}×${m.encoder_depth} · ${m.precision}`);
      $('model').title = m.description;
      if (!m.generate) $('everything').title = 'Not available on this server (built without the automatic mask generator)';
    } else {
      $('everything').title = 'Not available on this server (it hosts no SAM model)';
    }
    if (m2f) parts.push(`Mask2Former ${m2f.name} · ${m2f.labels.length} labels`);
    if (sam3) parts.push(`SAM 3 ${sam3.name}`);
    $('model').textContent = parts.join('  +  ');
    refreshControls();
  } catch (e) {
    toast(`The server does not answer: ${e.message}`);
  }
})();
refreshControls();
