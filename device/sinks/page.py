"""The live-view page: the MJPEG stream at 1:1 pixels, stats polled from the JSON endpoint.

With --compare the stream is bicubic | ESPCN side by side; the page labels each half, offers a
split view (one frame, bicubic left of a slider and ESPCN right of it) and, on a click, a
magnified crop of the same spot in both halves. Pixels are shown 1:1 unless "fit" is ticked,
since shrinking the frames hides the very detail being compared. The state also reads from the
address (#mode=split&at=40&zoom=0.5,0.5&fit=1), so a view can be shared or tested. The script
is the same for every view (the scale and mode are attributes of the body): the CSP allows it
by its hash and no other script.
"""

import base64
import hashlib

SCRIPT = """
const SCALE = Number(document.body.dataset.scale), ZOOM = 4, CROP = [96, 72];
const COMPARE = document.body.dataset.compare === "true";
const $ = (id) => document.getElementById(id), img = $("stream");
const state = {mode: "side", at: 50, zoom: null};
const fmt = (v, d = 1) => (v === null || v === undefined) ? "–" : Number(v).toFixed(d);
const halfW = () => COMPARE ? img.naturalWidth / 2 : img.naturalWidth;
const halves = () => COMPARE ? [["bicubic", 0], ["ESPCN", halfW()]] : [["ESPCN", 0]];

function readHash() {
  const h = new URLSearchParams(location.hash.slice(1));
  if (COMPARE && h.get("mode") === "split") state.mode = "split";
  if (h.has("at")) state.at = Number(h.get("at"));
  if (h.has("zoom")) state.zoom = h.get("zoom").split(",").map(Number);
  if (h.get("fit") === "1") $("fit").checked = true;
  document.querySelector(`input[value=${state.mode}]`).checked = true;
  $("at").value = state.at;
}
function apply() {
  document.body.classList.toggle("split", state.mode === "split");
  document.body.classList.toggle("fit", $("fit").checked);
  $("zoom").classList.toggle("on", state.zoom !== null);
  $("zoom").innerHTML = state.zoom === null ? "" : halves().map(([name]) =>
    `<figure><figcaption>${name}, ${ZOOM}×</figcaption>` +
    `<canvas width="${CROP[0] * ZOOM}" height="${CROP[1] * ZOOM}"></canvas></figure>`).join("");
}
function draw() {  // split view and magnified crops, from the newest frame of the stream
  const w = halfW(), h = img.naturalHeight;
  if (w && state.mode === "split") {
    const c = $("splitview"), x = Math.round(w * state.at / 100), g = c.getContext("2d");
    if (c.width !== w) { c.width = w; c.height = h; }
    g.drawImage(img, 0, 0, x, h, 0, 0, x, h);
    g.drawImage(img, w + x, 0, w - x, h, x, 0, w - x, h);
    g.fillStyle = "#ff0"; g.fillRect(x, 0, 1, h);
  }
  if (w && state.zoom !== null) {
    const sx = Math.min(Math.max(state.zoom[0] * w - CROP[0] / 2, 0), w - CROP[0]);
    const sy = Math.min(Math.max(state.zoom[1] * h - CROP[1] / 2, 0), h - CROP[1]);
    const boxes = state.mode === "split" ? [0] : halves().map(([, left]) => left / w / 2);
    document.querySelectorAll(".mark").forEach((m) => { m.style.display = "none"; });
    const frame = $(state.mode === "split" ? "split" : "whole"), parts = COMPARE ? 2 : 1;
    frame.querySelectorAll(".mark").forEach((m, i) => {  // outline the crop in the frame
      if (i >= boxes.length) return;
      const share = state.mode === "split" ? 1 : parts;
      Object.assign(m.style, {display: "block", left: `${(boxes[i] + sx / w / share) * 100}%`,
        top: `${sy / h * 100}%`, width: `${CROP[0] / w / share * 100}%`,
        height: `${CROP[1] / h * 100}%`});
    });
    document.querySelectorAll("#zoom canvas").forEach((c, i) => {
      const g = c.getContext("2d");
      g.imageSmoothingEnabled = false;
      g.drawImage(img, halves()[i][1] + sx, sy, CROP[0], CROP[1], 0, 0, c.width, c.height);
    });
  }
  requestAnimationFrame(draw);
}
function pick(event, inHalves) {  // a click → the spot, as a fraction of one half
  const r = event.currentTarget.getBoundingClientRect(), parts = inHalves && COMPARE ? 2 : 1;
  const fx = (event.clientX - r.left) / r.width * parts;
  state.zoom = [fx - Math.floor(fx), (event.clientY - r.top) / r.height];
  apply();
}
$("whole").onclick = (e) => pick(e, true);
$("split").onclick = (e) => pick(e, false);
$("zoom").onclick = () => { state.zoom = null; apply(); };
$("fit").onchange = apply;
$("at").oninput = () => { state.at = Number($("at").value); };
document.querySelectorAll("input[name=mode]").forEach((r) =>
  r.onchange = () => { state.mode = r.value; apply(); });
async function poll() {
  try {
    const s = await (await fetch("/stats.json", {cache: "no-store"})).json();
    const w = halfW(), h = img.naturalHeight;
    const sizes = w ? `LR ${w / SCALE}×${h / SCALE} → SR ${w}×${h}` : "";
    $("info").textContent = [s.model, s.backend, s.source && `source ${s.source}`, sizes]
      .filter(Boolean).join(" · ");
    const stages = Object.entries(s.stage_ms || {}).map(([k, v]) => `${k} ${fmt(v)}`).join(", ");
    $("stats").textContent =
      `${fmt(s.fps)} fps · latency p50 ${fmt(s.latency_ms_p50)} / p95 ${fmt(s.latency_ms_p95)} ms` +
      ` · dropped ${s.dropped} of ${s.captured} · ms: ${stages}`;
  } catch (e) { $("stats").textContent = "stats unavailable"; }
}
readHash(); apply(); requestAnimationFrame(draw); poll(); setInterval(poll, 1000);
"""
SCRIPT_SHA256 = base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()

PAGE = (
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>espcn-edge live view</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
 :root { color-scheme: dark; }
 body { margin: 0; background: #111; color: #ddd; font: 14px system-ui, sans-serif; }
 header { padding: 8px 12px; display: flex; gap: 16px; align-items: baseline; flex-wrap: wrap; }
 h1 { font-size: 16px; margin: 0; }
 #info, #stats { font-variant-numeric: tabular-nums; color: #ccc; }
 #controls { padding: 0 12px 8px; display: flex; gap: 14px; align-items: center; }
 #stage { overflow: auto; }
 .frame { position: relative; display: inline-block; vertical-align: top; cursor: zoom-in; }
 .frame img, .frame canvas { display: block; image-rendering: pixelated; background: #222; }
 body.fit .frame img, body.fit .frame canvas { max-width: 100vw; height: auto; }
 .labels { position: absolute; top: 0; left: 0; right: 0; display: flex; pointer-events: none; }
 .labels span { flex: 1; text-align: center; color: #9cf; text-shadow: 0 0 3px #000, 0 0 3px #000; }
 #split, #zoom, .compare-only, #half-labels { display: none; }
 body.compare .compare-only { display: inline; } body.compare #half-labels { display: flex; }
 body.split #split { display: inline-block; } body.split #whole { display: none; }
 #zoom.on { display: flex; gap: 4px; padding: 8px 12px; cursor: zoom-out; }
 #zoom figure { margin: 0; } #zoom figcaption { color: #9cf; text-align: center; }
 #zoom canvas { image-rendering: pixelated; border: 1px solid #555; }
 .mark { position: absolute; border: 1px solid #ff0; pointer-events: none; display: none; }
</style></head>
<body class="__CLASSES__" data-scale="__SCALE__" data-compare="__COMPARE__">
<header><h1>espcn-edge ×__SCALE__</h1><span id="info"></span></header>
<div id="controls">
 <label class="compare-only"><input type="radio" name="mode" value="side" checked>
  side by side</label>
 <label class="compare-only"><input type="radio" name="mode" value="split"> split
  <input id="at" type="range" min="0" max="100" value="50" aria-label="split position"></label>
 <label><input id="fit" type="checkbox"> fit to window</label>
 <span>click the picture to magnify a spot</span>
</div>
<div id="stage">
 <div class="frame" id="whole"><img id="stream" src="/stream.mjpg" alt="live stream">
  <div class="labels" id="half-labels"><span>bicubic</span><span>ESPCN</span></div>
  <div class="mark"></div><div class="mark"></div></div>
 <div class="frame" id="split"><canvas id="splitview"></canvas>
  <div class="labels"><span>← bicubic</span><span>ESPCN →</span></div>
  <div class="mark"></div></div>
</div>
<div id="zoom" title="click to close"></div>
<div style="padding: 8px 12px"><span id="stats">waiting for stats…</span></div>
<script>"""
    + SCRIPT
    + """</script>
</body></html>
"""
)


def render(scale: int, compare: bool) -> bytes:
    return (
        PAGE.replace("__SCALE__", str(scale))
        .replace("__COMPARE__", "true" if compare else "false")
        .replace("__CLASSES__", "compare" if compare else "")
        .encode("utf-8")
    )
