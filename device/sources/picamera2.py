"""`picamera2[:N]`: a Raspberry Pi camera through picamera2 (imported only when chosen).

The camera's ISP scales to the LR size itself: a video configuration with a YUV420 `lores`
stream at that size, in the full-range sYCC colour space the model expects. Each frame is read
from the mapped request buffer (`captured_request` + `MappedArray`), copying the three planes
out once, minding the stride (rows are padded to the ISP's alignment). The Y plane goes to the
runtime as it is (an all-int8 model's uint8 input, quantized with scale 1/255, needs no
arithmetic).

A camera that stops delivering frames (a loose ribbon cable, a hung sensor) would block
`captured_request()` for good, so each read waits at most `frame_timeout` seconds and then fails
with one line; the runtime exits rather than reopening the camera, since a reopen cannot fix a
cable and a service manager (systemd `Restart=on-failure`) restarts the whole process anyway.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from espcn_edge.formats import yuv420_planes
from espcn_edge.frames import Frame

from .source import Source, SourceError

log = logging.getLogger(__name__)

DEFAULT_SIZE = (320, 240)
FRAME_TIMEOUT = 5.0  # seconds without a frame before the camera counts as stalled
CHECK_CAMERA = "check the ribbon cable and power supply, then start again"
INSTALL_HINT = (
    "on Raspberry Pi OS: sudo apt install python3-picamera2, and make the venv "
    "with --system-site-packages"
)


# limited ("studio", 16–235 / 16–240) → full range, as lookup tables
_LEVELS = np.arange(256, dtype=np.float64)
_Y_FULL = np.clip(np.rint((_LEVELS - 16) * 255 / 219), 0, 255).astype(np.uint8)
_C_FULL = np.clip(np.rint((_LEVELS - 128) * 255 / 224 + 128), 0, 255).astype(np.uint8)


def limited_to_full(y, u, v):
    """Expand limited-range YCbCr planes to the full range the model was trained on."""
    return _Y_FULL[y], _C_FULL[u], _C_FULL[v]


def even_size(size: tuple[int, int]) -> tuple[int, int]:
    """picamera2 requires even widths and heights (YUV420 halves both for chroma)."""
    return size[0] - size[0] % 2, size[1] - size[1] % 2


class Picamera2Source(Source):
    def __init__(
        self,
        size: tuple[int, int] | None = None,
        camera_num: int = 0,
        fps: float | None = None,
        buffer_count: int = 4,
        frame_timeout: float = FRAME_TIMEOUT,
    ):
        super().__init__(even_size(size or DEFAULT_SIZE), None)  # the sensor paces frames
        self.camera_num = camera_num
        self.frame_rate = fps
        self.buffer_count = buffer_count
        # a slow frame rate asked for is not a stall
        self.frame_timeout = max(frame_timeout, 3 / fps) if fps else frame_timeout
        self.name = f"picamera2:{camera_num}"
        self.cam = None
        self.stride = 0
        self.full_range = True
        self._stalled = False

    def start(self) -> None:
        super().start()
        try:
            from libcamera import ColorSpace
            from picamera2 import MappedArray, Picamera2
        except ImportError as e:
            raise SourceError(
                f"picamera2 is not installed ({e.name} missing): {INSTALL_HINT}"
            ) from e
        self._mapped_array = MappedArray
        try:
            self.cam = Picamera2(self.camera_num)
        except IndexError as e:  # picamera2 indexes its list of attached cameras
            raise SourceError(
                f"{self.name}: cannot open the camera: none attached as number "
                f"{self.camera_num} (rpicam-hello --list-cameras lists them); {CHECK_CAMERA}"
            ) from e
        except RuntimeError as e:
            raise SourceError(
                f"{self.name}: cannot open the camera ({e}); is it enabled, "
                "and not used by another program?"
            ) from e
        try:
            controls = {}
            if self.frame_rate:
                period = int(1e6 / self.frame_rate)
                controls["FrameDurationLimits"] = (period, period)
            config = self.cam.create_video_configuration(
                main={"size": self.size},  # the smallest main the lores stream allows
                lores={"size": self.size, "format": "YUV420"},
                colour_space=ColorSpace.Sycc(),  # full range, like JPEG and the model
                buffer_count=self.buffer_count,
                controls=controls,
                display=None,
                encode=None,
            )
            self.cam.configure(config)
            actual = self.cam.camera_configuration()
            lores = actual["lores"]
            self.size, self.stride = tuple(lores["size"]), int(lores["stride"])
            space = actual.get("colour_space")
            full = ColorSpace.Range.Full
            self.full_range = getattr(space, "range", full) == full
            if not self.full_range:
                log.info("camera delivers limited-range YUV: expanding to full range")
            log.info("picamera2 lores %dx%d YUV420, stride %d", *self.size, self.stride)
            self.cam.start()
        except Exception:
            self.stop()
            raise

    def _read(self) -> Frame | None:
        t0 = time.perf_counter()
        try:
            with self.cam.captured_request(wait=self.frame_timeout) as request:
                with self._mapped_array(request, "lores", write=False) as mapped:
                    y, u, v = yuv420_planes(mapped.array, *self.size, self.stride)
        except SourceError:
            raise
        except TimeoutError as e:
            self._stalled = True
            raise SourceError(
                f"{self.name}: no frame for {self.frame_timeout:g} s; {CHECK_CAMERA}"
            ) from e
        except (RuntimeError, OSError) as e:
            raise SourceError(f"{self.name}: the camera failed ({e}); {CHECK_CAMERA}") from e
        if not self.full_range:
            y, u, v = limited_to_full(y, u, v)
        now = time.perf_counter()
        return Frame(y, u, v, t_capture=now, capture_ms=(now - t0) * 1e3)

    def stop(self) -> None:
        cam, self.cam = self.cam, None
        if cam is None:
            return
        try:
            try:
                if self._stalled:  # the timed-out capture is still queued and would block stop()
                    cam.cancel_all_and_flush()
                cam.stop()
            finally:
                cam.close()
        except RuntimeError as e:
            raise SourceError(f"{self.name}: could not stop the camera ({e})") from e
