"""The live frame path: a capture thread and an inference thread joined by a queue of one.

The capture thread always replaces the waiting frame with the newest one; a frame that was
still waiting is dropped (and counted), so latency stays at about one frame however slow the
model is. A source that is not live (a folder of images) instead waits until its frame is taken,
so every frame is processed. The inference thread super-resolves the newest frame and hands it
to every sink, with the chroma the sinks need made while the model runs (see `frames`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

import numpy as np

from espcn_edge.frames import Frame, Result, super_resolve

from .malloc import one_malloc_arena
from .sinks import Sink
from .sources import Source
from .stats import Stats

log = logging.getLogger(__name__)


class LatestSlot:
    """A queue of one: `put` replaces (and reports) a waiting item, `get` waits for one."""

    def __init__(self):
        self._cond = threading.Condition()
        self._item: Frame | None = None
        self._closed = False

    def put(self, item: Frame) -> bool:
        """Store `item`; True when it replaced an item nobody took (a dropped frame)."""
        with self._cond:
            dropped = self._item is not None
            self._item = item
            self._cond.notify_all()
            return dropped

    def get(self, timeout: float = 0.5) -> Frame | None:
        """The waiting item, or None after `timeout` or once closed and empty."""
        with self._cond:
            if self._item is None and not self._closed:
                self._cond.wait(timeout)
            item, self._item = self._item, None
            self._cond.notify_all()  # a capture thread waiting in wait_taken
            return item

    def wait_taken(self, timeout: float = 0.2) -> bool:
        """Wait until no item is waiting (True), or `timeout` passes."""
        with self._cond:
            return self._cond.wait_for(lambda: self._item is None, timeout)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed


class Pipeline:
    """Source → upscaler → sinks; `run()` blocks until `max_frames`, the end or `stop()`.
    `upscale_y` makes Y planes `scale`× larger."""

    def __init__(
        self,
        source: Source,
        upscale_y: Callable[[np.ndarray], np.ndarray],
        sinks: Sequence[Sink] = (),
        max_frames: int | None = None,
        stats: Stats | None = None,
        *,
        scale: int,
    ):
        self.source = source
        self.upscale_y = upscale_y
        self.scale = scale
        self.sinks = list(sinks)
        self.max_frames = max_frames
        self.stats = stats or Stats()
        self._stop = threading.Event()
        self._slot = LatestSlot()
        self.error: BaseException | None = None
        self._stop_requested = False

    def stop(self) -> None:
        """Ask both threads to finish (from another thread; see `request_stop` for signals)."""
        self._stop.set()

    @property
    def interrupted(self) -> bool:
        """Whether a signal (`request_stop`) ended the run."""
        return self._stop_requested

    def request_stop(self) -> None:
        """`stop()` for signal handlers: sets a plain flag (no lock, so it cannot deadlock
        with the interrupted main thread); `run()` turns it into `stop()` within 0.2 s."""
        self._stop_requested = True

    def _capture(self) -> None:
        try:
            while not self._stop.is_set():
                frame = self.source.read()
                if frame is None:
                    break
                while not self.source.live and not self._slot.wait_taken():
                    if self._stop.is_set():
                        return
                self.stats.count_captured(self._slot.put(frame))
        except BaseException as e:  # report in run(), never die silently
            self.error = e
            self._stop.set()
        finally:
            self._slot.close()

    def _infer(self) -> None:
        try:
            while not self._stop.is_set():
                frame = self._slot.get()
                if frame is None:
                    if self._slot.closed:
                        break
                    continue
                self._process(frame)
                if self.max_frames and self.stats.frames >= self.max_frames:
                    break
                if any(sink.wants_stop for sink in self.sinks):
                    break
        except BaseException as e:
            self.error = e
        finally:
            self._stop.set()

    def _process(self, frame: Frame) -> Result:
        needs = {sink.needs_rgb for sink in self.sinks}
        result = super_resolve(frame, self.upscale_y, self.scale, full_chroma=needs)
        t0 = time.perf_counter()
        for sink in self.sinks:
            sink.output(result)
        result.stage_ms["encode"] = (time.perf_counter() - t0) * 1e3
        self.stats.add(frame.t_capture, result.stage_ms)
        return result

    def run(self) -> Stats:
        """Start source and sinks, run until done, and always stop them again; raises the first
        error (from starting, a thread or stopping) once everything is stopped."""
        threads = []
        one_malloc_arena()  # before the sinks' and the pipeline's threads allocate
        try:
            for sink in self.sinks:
                sink.start()
            self.source.start()
            threads = [
                threading.Thread(target=self._capture, name="capture", daemon=True),
                threading.Thread(target=self._infer, name="inference", daemon=True),
            ]
            for t in threads:
                t.start()
            while not self._stop.wait(0.2):
                if self._stop_requested:
                    self._stop.set()
        except BaseException as e:  # Ctrl-C included: clean up first, then raise it
            self.error = self.error or e
        self._stop.set()
        for t in threads:
            t.join(timeout=5)
        # sinks first: a recording is finalised even when a broken camera hangs in stop()
        for part in (*self.sinks, self.source):
            try:
                part.stop()
            except Exception as e:  # stop the others; report the first error once
                if self.error is None:
                    self.error = e
                else:
                    log.error("could not stop %s: %s", part, e)
        if self.error is not None:
            raise self.error
        return self.stats
