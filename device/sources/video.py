"""`video:PATH` and the input side of `upscale`: video files decoded with PyAV (FFmpeg).

`Clip` opens a file once and walks its packets: video frames are decoded (with their own
timestamps and display matrix, the rotation a phone records), audio packets are handed over
undecoded so a writer can copy them unchanged. Memory stays that of a few frames however long the
clip is.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

from espcn_edge.color import resize_bicubic
from espcn_edge.frames import Frame
from espcn_edge.limits import MAX_PIXELS_ENV, max_pixels, refusal, too_large

from .source import Source, SourceError

PYAV_HINT = "pip install av (picamera2 brings it on a Pi)"


def import_av():
    """PyAV, imported on first use so that images work without it."""
    try:
        import av
    except ImportError as e:
        raise SourceError(f"video files need PyAV: {PYAV_HINT}") from e
    return av


class Clip:
    """One video file open for reading: its first video stream and first audio stream (if any)."""

    def __init__(self, path: str | Path):
        av = import_av()
        self.path = Path(path)
        if not self.path.is_file():
            raise SourceError(f"{self.path}: no such file")
        bound = {"max_pixels": str(max_pixels())}  # FFmpeg's probe decodes no frame above it
        try:
            self.container = av.open(str(self.path), options=bound)
        except (av.FFmpegError, UnicodeDecodeError) as e:
            reason = ffmpeg_reason(e) if isinstance(e, av.FFmpegError) else e
            raise SourceError(f"{self.path}: not a video file FFmpeg can read ({reason})") from None
        if not self.container.streams.video:
            self.close()
            raise SourceError(f"{self.path}: has no video stream")
        self.video = self.container.streams.video[0]
        if problem := _size_problem(self.path, self.video.codec_context):
            self.close()
            raise SourceError(problem)
        self.video.thread_type = "AUTO"  # frame threads: decoding keeps up with the model
        audio = self.container.streams.audio
        self.audio = audio[0] if audio else None
        self.display_matrix: list[int] | None = None  # set by the first decoded frame
        self._error = av.FFmpegError

    @property
    def time_base(self) -> Fraction:
        return self.video.time_base or Fraction(1, 90000)

    @property
    def fps(self) -> float:
        rate = self.video.average_rate or self.video.guessed_rate
        return float(rate) if rate else 0.0

    @property
    def frame_count(self) -> int:
        """Frames in the video stream, from the header or estimated from its duration."""
        if self.video.frames:
            return self.video.frames
        seconds = self.container.duration / 1e6 if self.container.duration else 0.0
        return round(seconds * self.fps)

    def packets(self) -> Iterator[tuple[object | None, object | None]]:
        """(decoded video frame, None) or (None, audio packet), in file order. Every frame has
        a `pts` and a `duration` (in `time_base` units), made up from the frame rate where the
        file has none. A frame larger than the limit ends the clip (a stream may change size
        after the header was checked)."""
        streams = [self.video] + ([self.audio] if self.audio else [])
        limit = max_pixels()
        tick = round(1 / (self.fps or 30.0) / self.time_base) or 1
        next_pts = 0
        try:
            for packet in self.container.demux(streams):
                if packet.stream is self.audio:
                    if packet.size:  # demux ends each stream with an empty flush packet
                        yield None, packet
                    continue
                for frame in packet.decode():
                    if (pixels := frame.width * frame.height) > limit:
                        size = f"{frame.width}×{frame.height}"
                        raise SourceError(refusal(str(self.path), size, pixels, "a frame of"))
                    if self.display_matrix is None:
                        self.display_matrix = _display_matrix(frame)
                    frame.pts = next_pts if frame.pts is None else frame.pts
                    frame.duration = frame.duration or tick
                    next_pts = frame.pts + frame.duration
                    yield frame, None
        except self._error as e:
            raise SourceError(f"{self.path}: cannot decode ({ffmpeg_reason(e)})") from None

    def frames(self) -> Iterator[object]:
        """The decoded video frames only."""
        return (frame for frame, _ in self.packets() if frame is not None)

    def close(self) -> None:
        self.container.close()

    def __enter__(self) -> Clip:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def ffmpeg_reason(error) -> str:
    """An FFmpeg error's reason without the file name PyAV appends (a writer's is its temporary
    file's): each message names its file once, itself."""
    log = f"; {error.log[2].strip()}" if error.log else ""
    return f"{error.strerror or type(error).__name__}{log}"


def _size_problem(path: Path, context) -> str | None:
    """Why the frames the stream declares are not decoded, or None. A codec that learns its size
    only by decoding a frame reports 0×0 when the probe was not let decode one (av.open's
    `max_pixels`): its frames are larger than the limit, or damaged."""
    if context.width and context.height:
        return too_large(str(path), context.width, context.height)
    return (
        f"{path}: FFmpeg finds no frame size within the limit of {max_pixels():,} pixels: its "
        f"frames are larger ({MAX_PIXELS_ENV} raises the limit) or damaged"
    )


def _display_matrix(frame) -> list[int]:
    """The frame's 3×3 display matrix (FFmpeg's int32 layout), identity when it has none."""
    from av.sidedata.sidedata import Type

    data = frame.side_data.get(Type.DISPLAYMATRIX)
    if data is None:
        return [65536, 0, 0, 0, 65536, 0, 0, 0, 1 << 30]
    raw = bytes(data)
    return [int.from_bytes(raw[i : i + 4], "little", signed=True) for i in range(0, 36, 4)]


class VideoSource(Source):
    """A video file, played at its own frame rate when `realtime`, else as fast as decoded."""

    def __init__(self, path: str | Path, size=None, realtime: bool = True):
        super().__init__(size, None)
        self.path = Path(path)
        self.realtime = realtime
        self.name = f"video:{self.path}"
        self.frame_count = 0
        self.file_fps = 0.0
        self._clip: Clip | None = None
        self._frames: Iterator[object] = iter(())

    def check(self) -> None:
        if not self.path.is_file():
            what = "a folder, not a video file" if self.path.is_dir() else "no such file"
            raise SourceError(f"video:{self.path}: {what}")
        self._open().close()  # its header: a frame size above the limit, said before the model

    def start(self) -> None:
        super().start()
        self._clip = self._open()
        self.file_fps = self._clip.fps
        self.frame_count = self._clip.frame_count
        if self.realtime and 0 < self.file_fps < 240:
            self.fps = self.file_fps
        self._frames = self._clip.frames()

    def _open(self) -> Clip:
        try:
            return Clip(self.path)
        except SourceError as e:
            raise SourceError(f"video:{e}") from None

    def _read(self) -> Frame | None:
        t0 = time.perf_counter()
        decoded = next(self._frames, None)
        if decoded is None:
            return None
        rgb = decoded.to_ndarray(format="rgb24")
        if self.size and (rgb.shape[1], rgb.shape[0]) != self.size:
            rgb = resize_bicubic(rgb, self.size)
        return Frame.from_rgb(rgb, t_start=t0)

    def stop(self) -> None:
        if self._clip is not None:
            self._clip.close()
            self._clip = None
