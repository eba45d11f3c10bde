"""H.264 video files through PyAV: what `upscale` and `camera --record` write.

H.264 in yuv420p (limited range, BT.601 matrix, tagged) is what every browser and phone plays;
MP4 and MOV get `+faststart` (the index first, so playback starts before the download ends). Each
frame keeps its own timestamp and duration — variable frame rate — so a clip plays at the speed
it was captured. B-frames are off: with them FFmpeg's MP4 muxer derives a wrong duration from
variable timestamps. The file is written to a temporary name and renamed into place by `close()`;
`abort()` leaves nothing behind.

Frames come as 4:2:0 planes (chroma at half the luma size, rounded up), so nothing is resampled.
Sizes: yuv420p needs even widths and heights, so an odd last row or column is repeated. The first
frame fixes the video's size; a later frame of another size is scaled to fit inside it, keeping
its aspect ratio, on black bars (letterboxed), never dropped.
"""

from __future__ import annotations

import contextlib
import logging
from fractions import Fraction
from pathlib import Path

import numpy as np

from espcn_edge.atomic import atomic_path
from espcn_edge.color import resize_bicubic

from ..sources.video import PYAV_HINT, ffmpeg_reason
from .sink import SinkError

log = logging.getLogger(__name__)

CONTAINERS = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska"}
FASTSTART = {"mp4", "mov"}
DEFAULT_CRF = 20  # x264's quality scale: 0 lossless … 51; its default is 23, 18 looks lossless
PRESET = "veryfast"  # keeps up with a Pi's recording sizes; slower presets save a few % of size
# A live recording holds no frames back for lookahead: 13 MB less memory at 640×480, for files
# ~8% larger (docs/device.md)
LIVE_OPTIONS = {"tune": "zerolatency"}
CAPTURE_TIME_BASE = Fraction(1, 90000)  # MPEG's 90 kHz clock, for capture-time stamps

# full range (JPEG, the model's planes) → the limited range video players expect, as tables
_LEVELS = np.arange(256, dtype=np.float64)
_Y_LIMITED = np.rint(16 + _LEVELS * 219 / 255).astype(np.uint8)
_C_LIMITED = np.rint(128 + (_LEVELS - 128) * 224 / 255).astype(np.uint8)


def check_video_target(target: Path) -> str:
    """The FFmpeg format for `target`'s suffix; SinkError (one line) for one it cannot write."""
    suffix = target.suffix.lower()
    if suffix not in CONTAINERS:
        raise SinkError(
            f"{target}: cannot write {suffix or 'no suffix'} video; "
            f"use {', '.join(CONTAINERS)} (H.264)"
        )
    return CONTAINERS[suffix]


def yuv420_limited(y: np.ndarray, cb: np.ndarray, cr: np.ndarray) -> np.ndarray:
    """Full-range Y (even H×W) and Cb, Cr (H/2×W/2) → one yuv420p buffer (H·3/2 × W), limited
    range."""
    h, w = y.shape
    out = np.empty((h * 3 // 2, w), np.uint8)
    np.take(_Y_LIMITED, y, out=out[:h])
    chroma = out[h:].reshape(2, h // 2, w // 2)
    np.take(_C_LIMITED, cb, out=chroma[0])
    np.take(_C_LIMITED, cr, out=chroma[1])
    return out


def even(plane: np.ndarray) -> np.ndarray:
    """Repeat the last row / column of an odd-sized plane (yuv420p needs even sizes)."""
    h, w = plane.shape
    return np.pad(plane, ((0, h % 2), (0, w % 2)), mode="edge") if h % 2 or w % 2 else plane


def letterbox(plane: np.ndarray, size: tuple[int, int], fill: int) -> np.ndarray:
    """`plane` scaled to fit inside `size` (W, H), aspect kept, centred on `fill`."""
    (w, h), (ph, pw) = size, plane.shape
    k = min(w / pw, h / ph)
    fw, fh = max(1, min(w, round(pw * k))), max(1, min(h, round(ph * k)))
    canvas = np.full((h, w), fill, np.uint8)
    x, y = (w - fw) // 2, (h - fh) // 2
    canvas[y : y + fh, x : x + fw] = resize_bicubic(plane, (fw, fh))
    return canvas


class H264Writer:
    """Frames as full-range 4:2:0 Y/Cb/Cr planes (see `write`) → an H.264 video file.

    `time_base` is the unit of the `pts` and `duration` given to `write`; `rate` only guides the
    encoder's rate control; `live` (a camera's recording) adds LIVE_OPTIONS. `audio`, a PyAV
    input stream, gets a stream of the same codec whose packets `copy_audio` copies unchanged.
    Creating a writer creates its temporary file (so an unwritable target fails at once); end
    with `close()` or `abort()`.
    """

    def __init__(
        self,
        target: str | Path,
        time_base: Fraction = CAPTURE_TIME_BASE,
        rate: float | None = None,
        crf: int = DEFAULT_CRF,
        audio=None,
        live: bool = False,
    ):
        self.target = Path(target)
        self.format = check_video_target(self.target)
        try:
            import av
        except ImportError as e:
            raise SinkError(f"{self.target}: writing video needs PyAV: {PYAV_HINT}") from e
        self._av = av
        self.time_base = time_base
        self.rate = Fraction(rate).limit_denominator(1001) if rate else Fraction(30)
        self.crf = crf
        self.live = live
        self.audio_template = audio
        self.size: tuple[int, int] | None = None
        self.count = 0
        self.end_pts = 0  # where the last frame written ends
        self._stack = contextlib.ExitStack()
        self._tmp = self._stack.enter_context(atomic_path(self.target))  # fails early if unwritable
        self._out = self._video = self._audio = None
        self._pending_audio: list = []
        self._durations: dict[int, int] = {}
        self._last_pts: int | None = None
        self.letterboxed = 0

    def _open(self, size: tuple[int, int], display_matrix: list[int] | None) -> None:
        options = {"movflags": "+faststart"} if self.format in FASTSTART else {}
        self._out = self._av.open(str(self._tmp), "w", format=self.format, options=options)
        x264 = {"crf": str(self.crf), "preset": PRESET, "bf": "0"}
        if self.live:
            x264.update(LIVE_OPTIONS)
        video = self._out.add_stream("libx264", rate=self.rate, options=x264)
        video.width, video.height = size
        video.pix_fmt = "yuv420p"
        video.time_base = video.codec_context.time_base = self.time_base
        ctx = video.codec_context
        ctx.color_range, ctx.colorspace = 1, 6  # limited ("tv") range, BT.601 (SMPTE 170M)
        ctx.color_primaries, ctx.color_trc = 1, 13  # BT.709 primaries, sRGB transfer (sYCC)
        if display_matrix is not None:
            video.set_display_matrix(display_matrix)
        if self.audio_template is not None:
            codec = self.audio_template.codec_context.name
            if codec not in self._out.supported_codecs:
                raise SinkError(
                    f"{self.target}: {codec} audio cannot be copied unchanged into "
                    f"{self.target.suffix}; name the output .mkv (it takes most codecs)"
                )
            self._audio = self._out.add_stream_from_template(self.audio_template)
        self._video, self.size = video, size
        for packet in self._pending_audio:
            self.copy_audio(packet)
        self._pending_audio.clear()

    def write(
        self,
        y: np.ndarray,
        cb: np.ndarray,
        cr: np.ndarray,
        pts: int,
        duration: int = 0,
        display_matrix: list[int] | None = None,
    ) -> None:
        """Encode one frame shown from `pts` for `duration` (time_base units): Y (H×W), Cb and Cr
        at half its size, rounded up. The first frame opens the file at its size, with
        `display_matrix` (the source's rotation) if given."""
        with self._ffmpeg_errors():
            self._write(y, cb, cr, pts, duration, display_matrix)

    def _write(self, y, cb, cr, pts, duration, display_matrix) -> None:
        y = even(y)  # the chroma, rounded up, is already half of the even size
        size = (y.shape[1], y.shape[0])
        if self._out is None:
            self._open(size, display_matrix)
        elif size != self.size:
            if not self.letterboxed:
                log.info("%s: frames not %dx%d are letterboxed to fit", self.target, *self.size)
            self.letterboxed += 1
            half = (self.size[0] // 2, self.size[1] // 2)
            y = letterbox(y, self.size, 0)
            cb, cr = letterbox(cb, half, 128), letterbox(cr, half, 128)
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1  # timestamps must increase
        frame = self._av.VideoFrame.from_ndarray(yuv420_limited(y, cb, cr), format="yuv420p")
        frame.pts, frame.time_base = pts, self.time_base
        self._durations[pts] = duration
        self._last_pts = pts
        self.end_pts = pts + duration
        self._mux(self._video.encode(frame))
        self.count += 1

    @property
    def seconds(self) -> float:
        """Where the video ends so far (its duration when it starts at 0)."""
        return float(self.end_pts * self.time_base)

    def copy_audio(self, packet) -> None:
        """Copy one audio packet of the `audio` stream, unchanged (held until the file opens)."""
        if self._audio is None:
            if self._out is None:
                self._pending_audio.append(packet)
            return
        packet.stream = self._audio
        with self._ffmpeg_errors():
            self._out.mux(packet)

    def _mux(self, packets) -> None:
        for packet in packets:
            packet.duration = self._durations.pop(packet.pts, 0)
            self._out.mux(packet)

    def close(self) -> None:
        """Flush the encoder and rename the finished file into place (nothing if no frame)."""
        if self._out is None:
            self.abort()
            return
        try:
            with self._ffmpeg_errors():
                self._mux(self._video.encode(None))
                self._out.close()
        except BaseException:
            self.abort()
            raise
        self._out = None
        self._stack.close()

    @contextlib.contextmanager
    def _ffmpeg_errors(self):
        """An FFmpeg failure (a codec or container refusing, a full disk) as one SinkError line."""
        try:
            yield
        except self._av.FFmpegError as e:
            raise SinkError(f"{self.target}: cannot write the video ({ffmpeg_reason(e)})") from None

    def abort(self) -> None:
        """Stop writing and delete the temporary file; the target is left as it was."""
        if self._out is not None:
            with contextlib.suppress(Exception):
                self._out.close()
            self._out = None
        self._stack.__exit__(SinkError, SinkError("aborted"), None)
