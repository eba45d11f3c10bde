"""Timing a model on this device: what the automatic layout and `--tier auto` measure."""

from __future__ import annotations

import time

import numpy as np

RUNS = 5  # timed runs per model at most, after one warm-up


def probe_frame(size: tuple[int, int]) -> np.ndarray:
    """A Y frame with detail everywhere (the model's time does not depend on it; this keeps
    the probe honest if a delegate ever skips flat input)."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    return ((xx * 7 + yy * 13 + (xx * yy) % 31) % 256).astype(np.uint8)


def time_ms(upscaler, frame: np.ndarray, seconds: float) -> float:
    """Median ms of one `upscale_y` after a warm-up, over at most RUNS runs in `seconds`."""
    upscaler.upscale_y(frame)  # allocates the tensors for this size
    times: list[float] = []
    end = time.perf_counter() + seconds
    while len(times) < RUNS and (not times or time.perf_counter() < end):
        t0 = time.perf_counter()
        upscaler.upscale_y(frame)
        times.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(times))
