"""`camera --tier auto --fps F`: the shipped tiers timed on this device at the frame size, at
start-up, and the best-quality one kept that holds F with room to spare — a slower tier only
where its card measures better on both Set5 and Set14 (int8), the rule each tier shipped by.

Boards differ by 4–5× in int8 throughput (a Pi 4 has no int8 dot product, a Pi 5 has), so no
single model is right for all of them; the probe measures instead of guessing from the CPU's name.
"""

from __future__ import annotations

import dataclasses
import json
import time

from espcn_edge.probe import probe_frame, time_ms
from espcn_edge.runtime import Upscaler
from espcn_edge.tiers import default_model_path, shipped

from .engine import EngineOptions, open_upscaler

# A frame's time is the model's plus the camera path's own work (measured 1.04–1.09× invoke) and
# the capture, JPEG/H.264 and HTTP threads sharing the cores: the model may take 1/HEADROOM of it.
HEADROOM = 1.3
PROBE_SECONDS = 2.0  # all tiers together, loading included


@dataclasses.dataclass
class Pick:
    """The tier chosen, its open upscaler, and the one line that says why."""

    tier: str
    upscaler: Upscaler
    reason: str


def smaller_size(size: tuple[int, int], ms: float, budget_ms: float) -> str:
    """A frame size whose pixel count fits the budget at the measured time per pixel."""
    f = (budget_ms / ms) ** 0.5
    return f"{max(16, int(size[0] * f) // 16 * 16)}x{max(16, int(size[1] * f) // 16 * 16)}"


def measured_psnr(scale: int, tier: str) -> tuple[float, float]:
    """The shipped int8 model's Set5 and Set14 PSNR, from its card."""
    model = default_model_path(scale, tier)
    card = model.with_name(model.name.removesuffix("_int8.tflite") + ".card.json")
    psnr = json.loads(card.read_text())["int8_psnr"]
    return psnr["Set5"], psnr["Set14"]


def better(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] > b[0] and a[1] > b[1]


def pick_tier(engine: EngineOptions, size: tuple[int, int], fps: float) -> Pick:
    """Time the tiers, fastest first, until one misses the frame budget (the larger ones would
    too) or the probe's time is up; of those that fit keep a slower one only where it measures
    better (`better`), else the fastest with a warning."""
    budget = 1000.0 / fps / HEADROOM
    tiers = shipped(engine.shipped_scale)
    psnr = {tier: measured_psnr(engine.shipped_scale, tier) for tier in tiers}
    frame = probe_frame(size)
    start = time.perf_counter()
    timings: dict[str, float] = {}
    best: tuple[str, Upscaler] | None = None
    for tier in tiers:
        left = PROBE_SECONDS - (time.perf_counter() - start)
        if best is not None and left <= 0:
            break
        upscaler = open_upscaler(dataclasses.replace(engine, tier=tier), size)
        timings[tier] = time_ms(upscaler, frame, max(left, 0.0) / (len(tiers) - len(timings)))
        if timings[tier] > budget:
            best = best or (tier, upscaler)
            break
        if best is None or better(psnr[tier], psnr[best[0]]):
            best = (tier, upscaler)
    tier, upscaler = best
    measured = ", ".join(f"{t} {ms:.1f}" for t, ms in timings.items())
    w, h = size
    need = f"{fps:g} fps allows {budget:.1f} ms ({HEADROOM:g}× headroom for capture and encoding)"
    if timings[tier] > budget:
        reason = (
            f"tier auto: even {tier} takes {timings[tier]:.1f} ms a frame at {w}x{h} here "
            f"(at most {1000 / timings[tier]:.0f} fps); {need}: running {tier} anyway; try "
            f"--size {smaller_size(size, timings[tier], budget)} or a lower --fps"
        )
    else:
        following = tiers[tiers.index(tier) + 1 :]
        if not following:
            why = "the best tier fits"
        elif following[0] in timings and timings[following[0]] > budget:
            why = f"{following[0]} does not"
        elif following[0] in timings:
            q, p = psnr[following[0]], psnr[tier]
            why = (
                f"{following[0]} fits too but measures no better (int8 Set5 / Set14 "
                f"{q[0]:.2f} / {q[1]:.2f} against {p[0]:.2f} / {p[1]:.2f})"
            )
        else:
            why = f"the {PROBE_SECONDS:g} s probe ended before {following[0]}"
        reason = f"tier auto: {tier} — ms a frame at {w}x{h} here: {measured}; {need}; {why}"
    return Pick(tier, upscaler, reason)
