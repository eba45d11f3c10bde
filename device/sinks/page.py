"""The live-view page: the MJPEG stream and stats polled from the JSON endpoint."""

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>espcn-edge live view</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
 body { margin: 0; background: #111; color: #ddd; font: 14px system-ui, sans-serif; }
 header { padding: 8px 12px; display: flex; gap: 16px; align-items: baseline; flex-wrap: wrap; }
 h1 { font-size: 16px; margin: 0; }
 #labels { display: __LABELS__; justify-content: space-around; color: #9cf; }
 img { display: block; max-width: 100%; image-rendering: auto; background: #222; }
 #stats { font-variant-numeric: tabular-nums; color: #ccc; }
</style></head>
<body>
<header><h1>espcn-edge ×__SCALE__</h1><span id="stats">waiting for stats…</span></header>
<div id="labels"><span>bicubic</span><span>ESPCN</span></div>
<img id="stream" src="/stream.mjpg" alt="super-resolved live stream">
<script>
const fmt = (v, d = 1) => (v === null || v === undefined) ? "–" : Number(v).toFixed(d);
async function poll() {
  try {
    const s = await (await fetch("/stats.json", {cache: "no-store"})).json();
    const stages = Object.entries(s.stage_ms || {}).map(([k, v]) => `${k} ${fmt(v)}`).join(", ");
    document.getElementById("stats").textContent =
      `${fmt(s.fps)} fps · latency p50 ${fmt(s.latency_ms_p50)} / p95 ${fmt(s.latency_ms_p95)} ms` +
      ` · dropped ${s.dropped} of ${s.captured} · ms: ${stages} · ${s.backend || ""}`;
  } catch (e) { document.getElementById("stats").textContent = "stats unavailable"; }
}
poll(); setInterval(poll, 1000);
</script>
</body></html>
"""


def render(scale: int, compare: bool) -> bytes:
    return (
        PAGE.replace("__SCALE__", str(scale))
        .replace("__LABELS__", "flex" if compare else "none")
        .encode("utf-8")
    )
