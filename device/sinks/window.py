"""`--window`: an OpenCV window where a display exists; `q` or Esc closes it and ends the run."""

from __future__ import annotations

import os

from espcn_edge.frames import Result

from .jpeg import view_planes
from .sink import Sink, SinkError

TITLE = "espcn-edge"


class WindowSink(Sink):
    needs_rgb = True

    def __init__(self, compare: bool = False):
        self.compare = compare
        self._cv2 = None

    def check(self) -> None:
        """Before the model is loaded: a display, and an OpenCV that can open windows on it."""
        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise SinkError(
                "--window needs a display (DISPLAY is not set); use --view "
                "HOST:PORT to watch in a browser instead"
            )
        try:
            import cv2
        except ImportError as e:
            raise SinkError(
                "--window needs OpenCV with GUI support: pip install opencv-python"
            ) from e
        try:
            cv2.namedWindow(TITLE, cv2.WINDOW_AUTOSIZE)
        except cv2.error as e:  # a headless build: its multi-line message says "Rebuild …"
            raise SinkError(
                f"--window: this OpenCV ({cv2.__version__}) has no GUI support; pip install "
                "opencv-python (not -headless) for windows, or use --view HOST:PORT"
            ) from e
        self._cv2 = cv2  # only now is there a window for stop() to close

    def start(self) -> None:
        if self._cv2 is None:
            self.check()

    def output(self, result: Result) -> None:
        from espcn_edge.color import ycbcr_to_rgb

        rgb = ycbcr_to_rgb(*view_planes(result, self.compare, full=True))
        self._cv2.imshow(TITLE, rgb[..., ::-1])
        if self._cv2.waitKey(1) & 0xFF in (ord("q"), 27):
            self.wants_stop = True

    def stop(self) -> None:
        if self._cv2 is not None:
            self._cv2.destroyAllWindows()
