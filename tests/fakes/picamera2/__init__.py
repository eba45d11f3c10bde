# ruff: noqa: B006, B008  -- the defaults copy the real picamera2 signature on purpose
"""A faithful fake of picamera2 for tests without a camera.

Same names and behaviour where the device code touches them: `Picamera2(camera_num)`,
`create_video_configuration(main=…, lores=…, colour_space=…, …)` (the real defaults: main
XBGR8888 1280×720, lores YUV420, Smpte170m colour space below 1280×720), `configure` (checks
as the real one does, then fills in `stride` and `framesize` — YUV420 rows padded to 64 bytes as
on a Pi 4, so odd widths have padding), `camera_configuration`, `start`/`stop`/`close`,
`capture_array(name)`, `capture_request`/`captured_request` (CompletedRequest with
`make_array`/`make_buffer`/`release`) and `MappedArray(request, stream)` whose `.array` is the
(H·3/2)×stride YUV420 image picamera2 returns.

Frames show `scene(index, (w, h))`, encoded in the configured colour space (full or limited
range) with 2×2-averaged chroma; padding bytes are filled with 0xA5 so a reader that ignores the
stride sees garbage.

Camera faults, set as module attributes or, for a child process, as environment variables:

* `cameras` (`FAKE_PICAMERA2_CAMERAS`, default 1): how many cameras are attached. With none (or
  `Picamera2(n)` for n ≥ cameras) the constructor raises IndexError "list index out of range",
  as the real `global_camera_info()[camera_num]` does.
* `stall_after` (`FAKE_PICAMERA2_STALL_AFTER`): after that many frames no more arrive (a loose
  ribbon cable: libcamera logs "Camera frontend has timed out!" and completes no request).
  `capture_request(wait=None)` then blocks for good; `wait=SECONDS` raises TimeoutError, and the
  timed-out job stays queued, so `stop()` blocks behind it (picamera2 issue #1065) unless
  `cancel_all_and_flush()` cleared the queue first. `close()` stops the camera directly and
  never blocks.
* `vanish_after` (`FAKE_PICAMERA2_VANISH_AFTER`): after that many frames the camera is gone and
  each capture raises RuntimeError (an error in the event loop reaches the caller through the
  request's job, as in the real library).
"""

from __future__ import annotations

import contextlib
import copy
import os
import threading
import time
from concurrent.futures import CancelledError

import numpy as np
from libcamera import ColorSpace, Transform

from espcn_edge.color import rgb_to_ycbcr

PAD = 0xA5
STRIDE_ALIGN = 64
FRAME_PERIOD = 1 / 120  # fast, so tests stay short
instances: list[Picamera2] = []  # every camera made, for tests to inspect


def _env_int(name: str, default: int | None = None) -> int | None:
    value = os.environ.get(name)
    return default if value is None else int(value)


cameras = _env_int("FAKE_PICAMERA2_CAMERAS", 1)
stall_after = _env_int("FAKE_PICAMERA2_STALL_AFTER")
vanish_after = _env_int("FAKE_PICAMERA2_VANISH_AFTER")


def scene(index: int, size: tuple[int, int]) -> np.ndarray:
    """The RGB picture of frame `index`: gradients and a moving bright square."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    rgb = np.stack(
        [xx * 255 // max(w - 1, 1), yy * 255 // max(h - 1, 1), (xx + yy + 4 * index) % 256], axis=-1
    ).astype(np.uint8)
    x0 = (5 * index) % max(w - 8, 1)
    rgb[h // 4 : h // 4 + 8, x0 : x0 + 8] = (250, 240, 30)
    return rgb


def yuv420_buffer(rgb: np.ndarray, stride: int, full_range: bool) -> np.ndarray:
    """Encode RGB as a padded YUV420 buffer, shaped (H·3/2, stride) like picamera2's arrays."""
    h, w = rgb.shape[:2]
    y, cb, cr = (p.astype(np.float64) for p in rgb_to_ycbcr(rgb))
    if not full_range:
        y, cb, cr = 16 + y * 219 / 255, 128 + (cb - 128) * 224 / 255, 128 + (cr - 128) * 224 / 255
    planes = [y] + [c.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3)) for c in (cb, cr)]
    planes = [np.clip(np.rint(p), 0, 255).astype(np.uint8) for p in planes]
    flat = np.full(h * stride * 3 // 2, PAD, np.uint8)
    flat[: h * stride].reshape(h, stride)[:, :w] = planes[0]
    cs, ch = stride // 2, h // 2
    for i, plane in enumerate(planes[1:]):
        start = h * stride + i * ch * cs
        flat[start : start + ch * cs].reshape(ch, cs)[:, : w // 2] = plane
    return flat.reshape(h * 3 // 2, stride)


# libcamera's names, in memory order: RGB888 is B,G,R bytes, XBGR8888 R,G,B,X (picamera2's
# Helpers.make_image reads them as Pillow modes "BGR" and "RGBA")
_MEMORY_ORDER = {"RGB888": "BGR", "BGR888": "RGB", "XRGB8888": "BGRX", "XBGR8888": "RGBX"}


def packed(rgb: np.ndarray, fmt: str) -> np.ndarray:
    """An RGB image as picamera2's array of `fmt` holds it: H×W×3 or H×W×4 (X = 255)."""
    order = _MEMORY_ORDER[fmt]
    planes = [np.full(rgb.shape[:2], 255, np.uint8) if c == "X" else rgb[..., "RGB".index(c)]
              for c in order]  # fmt: skip
    return np.stack(planes, -1)


class CompletedRequest:
    def __init__(self, picam2: Picamera2, buffers: dict[str, np.ndarray]):
        self.picam2 = picam2
        self.config = copy.deepcopy(picam2.camera_config)
        self._buffers = buffers
        self.released = False

    def make_buffer(self, name: str) -> np.ndarray:
        if self.released:
            raise RuntimeError("CompletedRequest: request already released")
        if name not in self._buffers:
            raise RuntimeError(f"Stream {name!r} is not defined")
        return self._buffers[name].reshape(-1).copy()

    def make_array(self, name: str) -> np.ndarray:
        return self.make_buffer(name).reshape(self._buffers[name].shape)

    def release(self) -> None:
        if self.released:
            raise RuntimeError("CompletedRequest: lock now has negative ref_count")
        self.released = True
        self.picam2.released += 1


class MappedArray:
    def __init__(
        self, request: CompletedRequest, stream: str, reshape: bool = True, write: bool = True
    ):
        self._request, self._stream, self._reshape = request, stream, reshape
        self._array = None

    def __enter__(self) -> MappedArray:
        if self._request.released:
            raise RuntimeError("MappedArray: request already released")
        buf = self._request._buffers[self._stream]  # the mapped memory itself, no copy
        self._array = buf if self._reshape else buf.reshape(-1)
        return self

    def __exit__(self, *exc) -> None:
        self._array = None

    @property
    def array(self):
        return self._array


class Picamera2:
    def __init__(self, camera_num: int = 0, tuning=None):
        if camera_num >= cameras:
            raise IndexError("list index out of range")  # what the real one does: no such camera
        self.camera_num = camera_num
        self.camera_properties = {
            "Model": "imx219",
            "ColorFilterArrangement": 0,
            "PixelArraySize": (3280, 2464),
        }
        self.sensor_resolution = (3280, 2464)
        self.camera_config = None
        self.started = False
        self.is_open = True
        self.frame_index = 0
        self.released = 0
        self.closed = False
        self.queued_jobs = 0  # captures still waiting for a frame (after a timeout)
        self._cancel = threading.Event()  # set by cancel_all_and_flush for the jobs queued now
        self._lock = threading.Lock()
        instances.append(self)

    @staticmethod
    def _stream(defaults: dict, updates: dict | None) -> dict | None:
        if updates is None:
            return None
        for key in updates:
            if key not in ("format", "size", "stride", "preserve_ar"):
                raise ValueError(
                    f"Bad key {key!r}: valid stream configuration keys are "
                    "('format', 'size', 'stride', 'preserve_ar')"
                )
        stream = {**defaults, **updates}
        w, h = stream["size"]
        stream["size"] = (w - w % 2, h - h % 2)  # align_stream(optimal=False)
        return stream

    def create_video_configuration(
        self,
        main={},
        lores=None,
        raw={},
        transform=Transform(),
        colour_space=None,
        buffer_count=6,
        controls={},
        display="main",
        encode="main",
        queue=True,
        sensor={},
        use_case="video",
    ) -> dict:
        if not self.is_open:
            raise RuntimeError("Camera not opened")
        main = self._stream({"format": "XBGR8888", "size": (1280, 720), "preserve_ar": True}, main)
        lores = self._stream(
            {"format": "YUV420", "size": main["size"], "preserve_ar": False}, lores
        )
        if colour_space is None:
            small = main["size"][0] < 1280 or main["size"][1] < 720
            colour_space = ColorSpace.Smpte170m() if small else ColorSpace.Rec709()
        for name in (display, encode):
            if name is not None and {"main": main, "lores": lores}.get(name) is None:
                raise RuntimeError(f"Display stream {name} was not defined")
        return {
            "use_case": use_case,
            "transform": transform,
            "colour_space": colour_space,
            "buffer_count": buffer_count,
            "queue": queue,
            "main": main,
            "lores": lores,
            "raw": None if raw is None else dict(raw),
            "controls": dict(controls),
            "sensor": sensor,
            "display": display,
            "encode": encode,
        }

    def configure(self, camera_config: dict) -> None:
        if self.started:
            raise RuntimeError("Camera must be stopped before configuring")
        config = copy.deepcopy(camera_config)
        if not isinstance(config["colour_space"], ColorSpace):
            raise RuntimeError("Colour space has incorrect type")
        for name in ("main", "lores"):
            stream = config[name]
            if stream is None:
                continue
            w, h = stream["size"]
            if w % 2 or h % 2:
                raise RuntimeError("width and height should be even")
            if stream["format"] in ("YUV420", "YVU420"):
                stream["stride"] = -(-w // STRIDE_ALIGN) * STRIDE_ALIGN
                stream["framesize"] = stream["stride"] * h * 3 // 2
            else:
                bpp = 4 if stream["format"].startswith("X") else 3
                stream["stride"] = -(-w * bpp // STRIDE_ALIGN) * STRIDE_ALIGN
                stream["framesize"] = stream["stride"] * h
        if config["lores"] is not None:
            (mw, mh), (lw, lh) = config["main"]["size"], config["lores"]["size"]
            if lw > mw or lh > mh:
                raise RuntimeError("lores stream dimensions may not exceed main stream")
            if config["lores"]["format"] not in ("YUV420", "YVU420"):
                raise RuntimeError("lores stream must be YUV")
        self.camera_config = config

    def camera_configuration(self) -> dict:
        return self.camera_config

    def start(self, config=None, show_preview=False) -> None:
        if config is not None:
            self.configure(config)
        if self.camera_config is None:
            raise RuntimeError("Camera has not been configured")
        self.started = True

    def stop(self) -> None:
        if self.started and self.queued_jobs:  # the stop job waits behind them
            self._wait_in_queue(None)
        self.started = False

    def close(self) -> None:
        self.started = False  # the real close() stops the preview first, then the camera directly
        self.is_open = False
        self.closed = True

    def cancel_all_and_flush(self) -> None:
        with self._lock:
            self.queued_jobs = 0
            self._cancel.set()
            self._cancel = threading.Event()

    def _wait_in_queue(self, wait) -> None:
        """Block like a job no frame completes: until cancelled, or TimeoutError after `wait` s."""
        with self._lock:
            cancel = self._cancel
        if cancel.wait(None if wait in (None, True) else wait):
            raise CancelledError()
        raise TimeoutError()  # concurrent.futures.Future.result(timeout) raises it bare

    def _buffers(self, wait=None) -> dict[str, np.ndarray]:
        if not self.started:
            raise RuntimeError("Camera is not running")
        time.sleep(FRAME_PERIOD)
        with self._lock:
            index = self.frame_index
            if vanish_after is not None and index >= vanish_after:
                raise RuntimeError("camera disconnected")
            stalled = stall_after is not None and index >= stall_after
            if stalled:
                self.queued_jobs += 1
            else:
                self.frame_index += 1
        if stalled:
            self._wait_in_queue(wait)
        full = self.camera_config["colour_space"].range == ColorSpace.Range.Full
        out = {}
        for name in ("main", "lores"):
            stream = self.camera_config[name]
            if stream is None:
                continue
            rgb = scene(index, stream["size"])
            if stream["format"] in ("YUV420", "YVU420"):
                out[name] = yuv420_buffer(rgb, stream["stride"], full)
            else:
                out[name] = packed(rgb, stream["format"])
        return out

    def capture_request(self, wait=None, flush=None) -> CompletedRequest:
        return CompletedRequest(self, self._buffers(wait))

    @contextlib.contextmanager
    def captured_request(self, wait=None, flush=None):
        request = self.capture_request(wait=wait, flush=flush)
        try:
            yield request
        finally:
            request.release()

    def capture_array(self, name: str = "main", wait=None) -> np.ndarray:
        request = self.capture_request(wait=wait)
        try:
            return request.make_array(name)
        finally:
            request.release()

    def capture_buffer(self, name: str = "main", wait=None) -> np.ndarray:
        request = self.capture_request(wait=wait)
        try:
            return request.make_buffer(name)
        finally:
            request.release()
