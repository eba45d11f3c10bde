"""`webcam[:N]` through OpenCV's VideoCapture (BGR frames → core Y/Cb/Cr); video files are
read with PyAV (`video.py`)."""

from __future__ import annotations

import time

from espcn_edge.color import resize_bicubic
from espcn_edge.frames import Frame

from .source import Source, SourceError


def import_cv2():
    try:
        import cv2
    except ImportError as e:
        raise SourceError("OpenCV is needed for webcams: pip install opencv-python-headless") from e
    return cv2


class _CaptureSource(Source):
    def __init__(self, size=None, fps=None):
        super().__init__(size, fps)
        self._cap = None

    def _open(self):
        raise NotImplementedError

    def start(self) -> None:
        super().start()
        self._cap = self._open()

    def _read(self) -> Frame | None:
        t0 = time.perf_counter()
        ok, bgr = self._cap.read()
        if not ok:
            return None
        rgb = bgr[..., ::-1]
        if self.size and (rgb.shape[1], rgb.shape[0]) != self.size:
            rgb = resize_bicubic(rgb.copy(), self.size)
        return Frame.from_rgb(rgb, t_start=t0)

    def stop(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class WebcamSource(_CaptureSource):
    """A V4L2/USB camera; `size` is requested from the driver and enforced by resizing."""

    def __init__(self, device: int = 0, size=None, fps=None):
        super().__init__(size, None)  # the camera paces itself
        self.device = device
        self.name = f"webcam:{device}"

    def _open(self):
        cv2 = import_cv2()
        cap = cv2.VideoCapture(self.device)
        if not cap.isOpened():
            raise SourceError(
                f"webcam:{self.device}: cannot open camera {self.device} "
                "(is it connected, and is /dev/video* readable?)"
            )
        if self.size:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.size[0])
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.size[1])
        return cap
