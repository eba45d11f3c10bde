"""The source interface: `start()`, then `read()` once per frame, then `stop()`."""

from __future__ import annotations

import logging
import time

from espcn_edge.errors import UserError
from espcn_edge.frames import Frame

log = logging.getLogger(__name__)


class SourceError(UserError):
    """A source that cannot be opened or read; the message says what to do."""


class Source:
    """Base class: subclasses override `start`, `stop` and `_read` (one frame, or None at the end).

    `fps` paces sources that could run faster than real time (demo, video files); live cameras
    are paced by the hardware and leave it None.
    """

    name = "source"
    live = True  # frames come whether taken or not; False: the pipeline takes every frame

    def __init__(self, size: tuple[int, int] | None = None, fps: float | None = None):
        self.size = size
        self.fps = fps
        self.index = 0
        self._next = 0.0

    def check(self) -> None:
        """Before the model is loaded: what can be known to fail already (SourceError)."""

    def start(self) -> None:
        self._next = time.perf_counter()

    def stop(self) -> None:
        pass

    def read(self) -> Frame | None:
        """The next frame (waiting for it), or None when the source has ended."""
        if self.fps:
            if self.index == 0:  # pace from the first frame, not from a slow start()
                self._next = time.perf_counter()
            delay = self._next - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            self._next = max(self._next + 1.0 / self.fps, time.perf_counter() - 1.0 / self.fps)
        frame = self._read()
        if frame is not None:
            frame.index = self.index
            self.index += 1
        return frame

    def _read(self) -> Frame | None:
        raise NotImplementedError

    def __enter__(self) -> Source:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name})"
