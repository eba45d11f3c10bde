"""Live pipeline statistics: fps, latency percentiles, dropped frames and per-stage times.

Thread-safe; `snapshot()` returns plain numbers for the JSON endpoint and the final report.
"""

from __future__ import annotations

import threading
import time
from collections import deque

import numpy as np

from espcn_edge.commandline import plural

WINDOW = 120  # frames the rolling averages and percentiles cover
STAGES = ("capture", "invoke", "chroma", "encode")


class Stats:
    def __init__(self, window: int = WINDOW):
        self._lock = threading.Lock()
        self._done: deque[float] = deque(maxlen=window)  # completion times (perf_counter)
        self._latency: deque[float] = deque(maxlen=window)  # ms, capture → all sinks done
        self._stages: dict[str, deque[float]] = {s: deque(maxlen=window) for s in STAGES}
        self.frames = 0
        self.captured = 0
        self.dropped = 0
        self.unrecorded = 0  # frames a recording's encoder could not keep up with
        self.started = time.perf_counter()
        self.info: dict[str, object] = {}  # static facts: backend, sizes, model, source

    def count_captured(self, dropped_previous: bool) -> None:
        with self._lock:
            self.captured += 1
            self.dropped += int(dropped_previous)

    def count_unrecorded(self) -> None:
        with self._lock:
            self.unrecorded += 1

    def add(self, t_capture: float, stage_ms: dict[str, float]) -> None:
        now = time.perf_counter()
        with self._lock:
            self.frames += 1
            self._done.append(now)
            self._latency.append((now - t_capture) * 1e3)
        for name, ms in stage_ms.items():
            self.add_stage(name, ms)

    def add_stage(self, name: str, ms: float) -> None:
        """A stage timed off the frame path, such as the live view's JPEG encoding."""
        with self._lock:
            self._stages.setdefault(name, deque(maxlen=self._done.maxlen)).append(ms)

    def snapshot(self) -> dict:
        with self._lock:
            done, lat = list(self._done), np.array(self._latency)
            stages = {k: round(float(np.mean(v)), 2) for k, v in self._stages.items() if v}
            frames, captured, dropped = self.frames, self.captured, self.dropped
            unrecorded = self.unrecorded
        span = done[-1] - done[0] if len(done) > 1 else 0.0
        fps = (len(done) - 1) / span if span > 0 else 0.0
        return {
            "fps": round(fps, 2),
            "latency_ms_p50": round(float(np.percentile(lat, 50)), 2) if lat.size else None,
            "latency_ms_p95": round(float(np.percentile(lat, 95)), 2) if lat.size else None,
            "frames": frames,
            "captured": captured,
            "dropped": dropped,
            "unrecorded": unrecorded,
            "stage_ms": stages,
            "uptime_s": round(time.perf_counter() - self.started, 1),
            **self.info,
        }

    def summary(self) -> str:
        s = self.snapshot()
        stages = ", ".join(f"{k} {v:.1f}" for k, v in s["stage_ms"].items())
        p50, p95 = s["latency_ms_p50"] or 0.0, s["latency_ms_p95"] or 0.0
        return (
            f"{plural(s['frames'], 'frame')}, {s['fps']:.1f} fps, latency p50 {p50:.1f} ms / "
            f"p95 {p95:.1f} ms, dropped {s['dropped']} of {s['captured']} captured"
            + (f", {s['unrecorded']} not recorded (encoder behind)" if s["unrecorded"] else "")
            + "; "
            f"per-stage ms: {stages}"
        )
