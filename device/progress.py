"""A small progress bar with the time left (ETA) on stderr: redrawn in place on a terminal,
every 10% otherwise."""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, total: int, label: str = "", stream=None, width: int = 30):
        self.total = max(total, 0)
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.done = 0
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last_decile = -1
        self._t0 = time.perf_counter()

    def update(self, n: int = 1, note: str = "") -> None:
        self.done += n
        if self.total <= 1:
            return
        frac = min(self.done / self.total, 1.0)
        rate = self.done / max(time.perf_counter() - self._t0, 1e-9)
        left = max(self.total - self.done, 0) / rate
        eta = f"ETA {int(left // 60)}:{int(left % 60):02d}"
        text = f"{self.label} {self.done}/{self.total} ({rate:.1f}/s, {eta}) {note}".strip()
        if self.tty:
            bar = "#" * round(frac * self.width)
            self.stream.write(f"\r[{bar:<{self.width}}] {text[:60]:<60}")
            self.stream.flush()
        elif int(frac * 10) > self._last_decile:
            self._last_decile = int(frac * 10)
            self.stream.write(f"{text}\n")

    def close(self) -> None:
        if self.tty and self.total > 1:
            self.stream.write("\n")
            self.stream.flush()
