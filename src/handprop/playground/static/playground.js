// The handprop playground's page: settings in the URL, a WebSocket to this tab's training run,
// and drawings of what the server sends (data, frames, the chain rule, the doctor).
"use strict";

const FEATURES = [["x1", "x₁"], ["x2", "x₂"], ["x1sq", "x₁²"], ["x2sq", "x₂²"], ["x1x2", "x₁x₂"],
                  ["sinx1", "sin x₁"], ["sinx2", "sin x₂"]];
const SETTINGS = ["dataset", "noise", "train-ratio", "batch-size", "layers", "activation", "lr",
                  "regularization", "reg-rate", "features", "seed", "optimizer", "x-axis", "y-axis"];
const $ = (id) => document.getElementById(id);
const state = { ws: null, session: null, data: null, frame: null, playing: false, curve: [],
                pending: false, settings: {} };
// Frames drawn since the page loaded (the browser test measures the rate from this).
window.hpStats = { frames: 0, messages: 0, epoch: 0 };

function showError(message) {
  $("error").textContent = message || "";
  $("error").hidden = !message;
}

// ---------------------------------------------------------------------------------- settings
function buildFeatureBoxes() {
  for (const [key, label] of FEATURES) {
    const span = document.createElement("label");
    span.className = "feature";
    span.innerHTML = `<input type="checkbox" id="feature-${key}" data-feature="${key}"> ${label}`;
    $("features").appendChild(span);
  }
}

function readControls() {
  const s = {};
  for (const key of SETTINGS) {
    if (key === "features") {
      s.features = FEATURES.map(([k]) => k).filter((k) => $("feature-" + k).checked).join(",");
    } else {
      s[key] = $(key).value;
    }
  }
  return s;
}

function writeControls(s) {
  for (const key of SETTINGS) {
    if (key === "features") {
      const on = new Set(String(s.features).split(","));
      for (const [k] of FEATURES) $("feature-" + k).checked = on.has(k);
    } else if (key !== "x-axis" && key !== "y-axis") {
      $(key).value = s[key];
    }
  }
  const url = new URL(window.location.href);
  url.search = new URLSearchParams(s).toString();
  window.history.replaceState(null, "", url);
}

function settingsFromUrl() {
  const s = {};
  for (const [k, v] of new URLSearchParams(window.location.search)) if (SETTINGS.includes(k)) s[k] = v;
  return s;
}

function send(message) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(message));
}

function changed() {
  send({ cmd: "settings", settings: readControls() });
}

// ---------------------------------------------------------------------------------- colours
const ORANGE = [245, 147, 34], BLUE = [8, 119, 189], WHITE = [232, 234, 235];
const PALETTE = [[245, 147, 34], [8, 119, 189], [44, 160, 44], [214, 39, 40], [148, 103, 189],
                 [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207]];

function diverging(t) { // t in [0, 1]: orange, white, blue
  const [a, b, u] = t < 0.5 ? [ORANGE, WHITE, t * 2] : [WHITE, BLUE, t * 2 - 1];
  return [a[0] + (b[0] - a[0]) * u, a[1] + (b[1] - a[1]) * u, a[2] + (b[2] - a[2]) * u];
}

function decode(b64) {
  const bin = atob(b64), out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function gridImage(bytes, n, colour) {
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = n;
  const ctx = canvas.getContext("2d"), img = ctx.createImageData(n, n);
  for (let i = 0; i < n * n; i++) {
    const c = colour(bytes[i]);
    img.data[4 * i] = c[0]; img.data[4 * i + 1] = c[1]; img.data[4 * i + 2] = c[2]; img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  return canvas;
}

function pointColour(i) {
  const d = state.data, t = d.target[i];
  if (d.task === "classification") {
    if (d.classes.length === 2) return t === 1 ? BLUE : ORANGE;
    return PALETTE[t % PALETTE.length];
  }
  const [lo, hi] = d.range;
  return diverging(hi > lo ? (t - lo) / (hi - lo) : 0.5);
}

// ---------------------------------------------------------------------------------- drawing
function drawHeatmap(frame) {
  const canvas = $("heatmap"), ctx = canvas.getContext("2d"), d = state.data;
  const bytes = decode(frame.output);
  const colour = frame.kind === "class" ? (v) => PALETTE[v % PALETTE.length].map((c) => (c + 2 * 255) / 3)
                                        : (v) => diverging(v / 255);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(gridImage(bytes, frame.grid, colour), 0, 0, canvas.width, canvas.height);
  const [x0, x1, y0, y1] = d.bounds;
  for (let i = 0; i < d.points.length; i++) {
    const [x, y] = d.points[i];
    const px = (x - x0) / (x1 - x0) * canvas.width, py = (y1 - y) / (y1 - y0) * canvas.height;
    const c = pointColour(i);
    ctx.beginPath();
    ctx.arc(px, py, 3, 0, 2 * Math.PI);
    ctx.fillStyle = `rgb(${c[0]},${c[1]},${c[2]})`;
    ctx.fill();
    ctx.lineWidth = 1;
    ctx.strokeStyle = d.train[i] ? "#fff" : "#000";
    ctx.stroke();
  }
}

function drawNetwork(frame) {
  const canvas = $("network"), ctx = canvas.getContext("2d"), d = state.data;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const sizes = [frame.weights[0].length].concat(frame.weights.map((W) => W[0].length));
  const cols = sizes.length, box = Math.min(36, (canvas.height - 10) / Math.max(...sizes) - 4);
  const xOf = (l) => 40 + l * (canvas.width - 90) / Math.max(cols - 1, 1);
  const yOf = (l, j) => (canvas.height - sizes[l] * (box + 4)) / 2 + j * (box + 4) + box / 2;
  frame.weights.forEach((W, l) => {
    W.forEach((row, i) => row.forEach((w, j) => {
      ctx.beginPath();
      ctx.moveTo(xOf(l) + box / 2, yOf(l, i));
      ctx.lineTo(xOf(l + 1) - box / 2, yOf(l + 1, j));
      ctx.lineWidth = Math.min(8, 0.3 + 2 * Math.abs(w));
      ctx.strokeStyle = w >= 0 ? "rgba(8,119,189,0.7)" : "rgba(245,147,34,0.7)";
      ctx.stroke();
    }));
  });
  ctx.font = "11px system-ui";
  ctx.fillStyle = "#333";
  sizes.forEach((n, l) => { // a layer wider than what is drawn says so
    if (frame.sizes[l] > n) ctx.fillText(`first ${n} of ${frame.sizes[l]}`, xOf(l) - box / 2, canvas.height - 2);
  });
  d.features.slice(0, sizes[0]).forEach((name, j) => {
    const img = gridImage(decode(frame.inputs[j]), frame.neuron_grid, (v) => diverging(v / 255));
    ctx.drawImage(img, xOf(0) - box / 2, yOf(0, j) - box / 2, box, box);
    ctx.fillText(name, 0, yOf(0, j) + 4);
  });
  frame.neurons.forEach((layer, l) => layer.forEach((b64, j) => {
    const img = gridImage(decode(b64), frame.neuron_grid, (v) => diverging(v / 255));
    ctx.drawImage(img, xOf(l + 1) - box / 2, yOf(l + 1, j) - box / 2, box, box);
  }));
  const last = cols - 1; // one output: its heatmap; several: outlines
  const out = frame.kind === "class" ? null : gridImage(decode(frame.output), frame.grid, (v) => diverging(v / 255));
  for (let j = 0; j < sizes[last]; j++) {
    if (out && sizes[last] === 1) ctx.drawImage(out, xOf(last) - box / 2, yOf(last, j) - box / 2, box, box);
    ctx.strokeRect(xOf(last) - box / 2, yOf(last, j) - box / 2, box, box);
  }
}

function drawCurve() {
  const canvas = $("curve"), ctx = canvas.getContext("2d"), pts = state.curve;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (pts.length < 2) return;
  const maxE = pts[pts.length - 1][0] || 1;
  const maxL = Math.max(...pts.map((p) => Math.max(p[1], p[2]))) || 1;
  for (const [k, colour] of [[1, "#444"], [2, "#c33"]]) {
    ctx.beginPath();
    pts.forEach((p, i) => {
      const x = p[0] / maxE * (canvas.width - 4) + 2, y = canvas.height - 2 - p[k] / maxL * (canvas.height - 4);
      if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
    });
    ctx.strokeStyle = colour;
    ctx.stroke();
  }
}

function fmt(v) { return v === null || v === undefined ? "–" : Number(v).toFixed(4); }

function draw() {
  state.pending = false;
  const f = state.frame;
  if (!f || !state.data) return;
  $("epoch").textContent = String(f.epoch);
  $("train-loss").textContent = fmt(f.train_loss);
  $("test-loss").textContent = fmt(f.test_loss);
  drawHeatmap(f);
  drawNetwork(f);
  drawCurve();
  window.hpStats.frames += 1;
  window.hpStats.epoch = f.epoch;
}

// ---------------------------------------------------------------------------------- messages
function onData(d) {
  state.data = d;
  state.frame = null; // the last run's frame does not fit these points
  state.curve = [];
  const fromFile = ["upload", "file"].includes(state.settings.dataset);
  $("axes-box").hidden = !fromFile;
  $("features-box").hidden = fromFile; // a file's columns are its features
  for (const [id, pick] of [["x-axis", d.axes[0]], ["y-axis", d.axes[1]]]) {
    const sel = $(id);
    sel.innerHTML = "";
    d.features.forEach((name, j) => sel.add(new Option(name, String(j), false, name === pick)));
  }
  $("explain-sample").max = String(d.n_train - 1);
  let legend;
  if (d.task === "classification") {
    legend = d.classes.length === 2 ? `colour: P(${d.target_name} = ${d.classes[1]}), orange ${d.classes[0]}, blue ${d.classes[1]}`
                                    : `colour: the predicted class of ${d.target_name} (${d.classes.join(", ")})`;
  } else {
    legend = `colour: predicted ${d.target_name}, orange ${d.range[0].toFixed(2)} to blue ${d.range[1].toFixed(2)}`;
  }
  $("legend").textContent = `${legend}. Points: white ring training, black ring test. Axes ${d.axes[0]}, ${d.axes[1]}.`;
}

function onMessage(event) {
  const m = JSON.parse(event.data);
  window.hpStats.messages += 1;
  if (m.type === "hello") {
    state.session = m.session;
    if (m.file) $("dataset").querySelector("option[value=file]").disabled = false;
  } else if (m.type === "settings") {
    state.settings = m.settings;
    writeControls(m.settings);
  } else if (m.type === "data") {
    onData(m);
  } else if (m.type === "frame") {
    state.frame = m;
    const last = state.curve[state.curve.length - 1];
    if (!last || last[0] !== m.epoch) state.curve.push([m.epoch, m.train_loss, m.test_loss]);
    if (!state.pending) { state.pending = true; requestAnimationFrame(draw); }
  } else if (m.type === "state") {
    state.playing = m.playing;
    $("play").textContent = m.playing ? "❚❚ pause" : "▶ play";
  } else if (m.type === "error") {
    showError(m.message);
  } else if (m.type === "explain") {
    $("explain").textContent = `epoch ${m.epoch}, training sample ${m.sample} (row ${m.row} of the data)\n\n${m.text}`;
  } else if (m.type === "doctor") {
    $("doctor").textContent = `epoch ${m.epoch}: ${m.text}`;
  }
}

function connect() {
  const proto = window.location.protocol === "https:" ? "wss:" : "ws:";
  state.ws = new WebSocket(`${proto}//${window.location.host}/ws`);
  state.ws.onopen = () => send({ cmd: "hello", settings: settingsFromUrl() });
  state.ws.onmessage = onMessage;
  state.ws.onclose = () => showError("the connection to the playground server closed: restart `handprop playground` and reload");
}

// ---------------------------------------------------------------------------------- exports
async function fetchOrError(path) {
  const response = await fetch(`${path}?session=${state.session}`);
  if (!response.ok) {
    let message = `${path}: HTTP ${response.status}`;
    try { message = (await response.json()).error || message; } catch (e) { /* not JSON */ }
    showError(message);
    return null;
  }
  return response;
}

function saveBlob(blob, name) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

async function exportModel() {
  const r = await fetchOrError("/export/model");
  if (r) saveBlob(await r.blob(), "playground-model.npz");
}

async function exportCommand() {
  const r = await fetchOrError("/export/command");
  if (!r) return;
  $("export-text").textContent = "# in a folder holding playground-data.csv (the link beside the buttons):\n" + await r.text();
  const a = $("export-data");
  a.href = `/export/data?session=${state.session}`;
  a.hidden = false;
}

async function exportPython() {
  const r = await fetchOrError("/export/python");
  if (!r) return;
  const text = await r.text();
  $("export-text").textContent = text;
  const a = $("export-data");
  a.href = `/export/data?session=${state.session}`;
  a.hidden = false;
  saveBlob(new Blob([text], { type: "text/x-python" }), "playground_run.py");
}

async function upload(file) {
  const url = `/upload?session=${state.session}&name=${encodeURIComponent(file.name)}`;
  const response = await fetch(url, { method: "POST", body: file });
  let body = {};
  try { body = await response.json(); } catch (e) { body = { error: `upload: HTTP ${response.status}` }; }
  if (!response.ok || body.error) {
    showError(body.error || `upload: HTTP ${response.status}`);
  } else {
    $("dataset").querySelector("option[value=upload]").disabled = false;
    $("dataset").querySelector("option[value=upload]").textContent = `uploaded: ${body.name}`;
  }
  $("upload").value = "";
}

// ---------------------------------------------------------------------------------- wiring
function init() {
  buildFeatureBoxes();
  for (const key of SETTINGS) {
    if (key !== "features") $(key).addEventListener("change", changed);
  }
  for (const [k] of FEATURES) $("feature-" + k).addEventListener("change", changed);
  $("play").addEventListener("click", () => send({ cmd: "toggle" }));
  $("step").addEventListener("click", () => send({ cmd: "step" }));
  $("reset").addEventListener("click", () => send({ cmd: "reset" }));
  $("regenerate").addEventListener("click", () => send({ cmd: "regenerate" }));
  $("explain-sample").addEventListener("change", () => send({ cmd: "explain", sample: Number($("explain-sample").value) }));
  $("export-model").addEventListener("click", exportModel);
  $("export-command").addEventListener("click", exportCommand);
  $("export-python").addEventListener("click", exportPython);
  $("upload").addEventListener("change", () => { if ($("upload").files.length) upload($("upload").files[0]); });
  connect();
}

init();
