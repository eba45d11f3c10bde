"""`--record out.mp4` (H.264, see `h264.py`) or `--record DIR` (numbered PNG files).

Each frame is stamped with its capture time, so the video plays at the speed the camera saw,
however many frames the pipeline dropped. Encoding runs on its own thread behind a queue of
QUEUE_FRAMES frames: inference never waits for the encoder, and a frame the encoder cannot take
any more is counted (`Stats.unrecorded`), not lost silently. The video is written to a temporary
file and renamed into place in `stop()` — on the end, Ctrl-C, SIGTERM or a camera fault — so an
interrupted run leaves the old file or a complete new one, never half a video.
"""

from __future__ import annotations

import logging
import queue
import threading
from pathlib import Path

from espcn_edge.atomic import WriteError
from espcn_edge.color import ycbcr_to_rgb
from espcn_edge.frames import Result
from espcn_edge.imageio import save_rgb
from espcn_edge.paths import refuse_inputs, refuse_unwritable

from ..stats import Stats
from .h264 import CAPTURE_TIME_BASE, CONTAINERS, DEFAULT_CRF, H264Writer
from .jpeg import view_planes
from .sink import Sink, SinkError

log = logging.getLogger(__name__)

FRAME_GLOB = "frame_[0-9][0-9][0-9][0-9][0-9][0-9].png"  # the PNG frames written below
QUEUE_FRAMES = 8  # about half a second of a live pipeline: rides out a slow keyframe
FIRST_DURATION = 1 / 30  # seconds shown for a recording's only frame


def claim_target(target: Path, overwrite: bool, inputs: tuple[Path | None, ...] = ()) -> None:
    """Before anything runs: refuse a target that is or overlaps one of `inputs` (the source, the
    model: never written over, --overwrite or not), and an earlier recording unless `overwrite`.
    Nothing is deleted here: a folder's old frames go when the first new frame is written
    (RecordSink), a video is replaced when the new one is complete (H264Writer renames it)."""
    refuse_inputs("--record", target, inputs)
    if target.suffix and not target.is_dir() and target.suffix.lower() not in CONTAINERS:
        raise SinkError(f"--record {target}: cannot record {target.suffix} files: name a video "
                        f"({', '.join(CONTAINERS)}) or a folder for PNG frames")  # fmt: skip
    refuse_unwritable(f"--record {target}", target / "frame" if not target.suffix else target)
    old = sorted(target.glob(FRAME_GLOB)) if target.is_dir() else []
    if not overwrite and (target.is_file() or old):
        what = f"holds {len(old)} frames of an earlier recording" if old else "already exists"
        raise SinkError(f"--record {target}: {what}; pass --overwrite to replace, or pick another")


class RecordSink(Sink):
    def __init__(
        self,
        target: str | Path,
        compare: bool = False,
        stats: Stats | None = None,
        crf: int = DEFAULT_CRF,
        replace: bool = False,
    ):
        self.target = Path(target)
        self.replace = replace  # a folder's earlier frames are deleted with the first new one
        self.compare = compare
        self.stats = stats
        self.crf = crf
        self.count = 0  # frames written
        self.unrecorded = 0  # frames the encoder could not keep up with
        self._queue: queue.Queue[Result | None] = queue.Queue(QUEUE_FRAMES)
        self._thread: threading.Thread | None = None
        self._writer: H264Writer | None = None
        self._error: BaseException | None = None  # from the encoder thread
        self._reported = False

    @property
    def is_video(self) -> bool:
        return not self.target.is_dir() and bool(self.target.suffix)

    @property
    def needs_rgb(self) -> bool:
        """PNG frames are RGB; a video takes 4:2:0 planes."""
        return not self.is_video

    def start(self) -> None:
        if self.is_video:
            try:
                self._writer = H264Writer(self.target, CAPTURE_TIME_BASE, crf=self.crf, live=True)
            except SinkError as e:  # an unknown suffix (x.gif) or no PyAV
                raise SinkError(f"--record {e}, or a folder for PNG frames") from None
            self._thread = threading.Thread(target=self._encode, name="record", daemon=True)
            self._thread.start()
            return
        try:
            self.target.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise SinkError(
                f"--record {self.target}: cannot create the folder ({e.strerror or e})"
            ) from None

    def output(self, result: Result) -> None:
        if self._error is not None and not self._reported:
            self._reported = True
            raise self._failed(self._error)
        if self._writer is None:
            rgb = ycbcr_to_rgb(*view_planes(result, self.compare, full=True))
            if self.count == 0 and self.replace:
                for old in self.target.glob(FRAME_GLOB):
                    old.unlink()
            save_rgb(self.target / f"frame_{self.count:06d}.png", rgb)
            self.count += 1
            return
        try:
            self._queue.put_nowait(result)
        except queue.Full:
            self.unrecorded += 1
            if self.stats is not None:
                self.stats.count_unrecorded()

    def _encode(self) -> None:
        """The encoder thread: each frame is written when the next one arrives, so its
        duration is known; the last one keeps the duration of the one before."""
        held: Result | None = None
        t0 = 0.0
        duration = FIRST_DURATION
        ended = False
        try:
            while (result := self._queue.get()) is not None:
                if held is None:
                    t0 = result.frame.t_capture
                else:
                    duration = result.frame.t_capture - held.frame.t_capture
                    self._write(held, t0, duration)
                held = result
            ended = True
            if held is not None:
                self._write(held, t0, duration)
        except BaseException as e:  # reported by output() or stop(); the file is dropped
            self._error = e
            while not ended and self._queue.get() is not None:  # until stop()'s end marker
                pass

    def _write(self, result: Result, t0: float, duration: float) -> None:
        tick = float(CAPTURE_TIME_BASE)
        pts = round((result.frame.t_capture - t0) / tick)
        self._writer.write(*view_planes(result, self.compare), pts, round(duration / tick))
        self.count += 1

    def _failed(self, error: BaseException) -> SinkError:
        """The encoder's error as the one line: the writer's own errors (SinkError, WriteError)
        already begin with the target, so it is named once."""
        named = isinstance(error, SinkError | WriteError)
        return SinkError(f"--record {error}" if named else f"--record {self.target}: {error}")

    def stop(self) -> None:
        """Finish the queued frames, then finalise the video (rename it into place)."""
        if self._thread is None:
            return
        self._queue.put(None)
        self._thread.join()
        self._thread = None
        try:
            if self._error is not None:
                raise self._error
            self._writer.close()
        except Exception as e:
            self._writer.abort()
            if not self._reported:
                self._reported = True
                raise self._failed(e) from None
            return
        if self.count:
            log.info(
                "recorded %d frames, %.2f s, to %s", self.count, self._writer.seconds, self.target
            )
        if self.unrecorded:
            log.warning("%d frames were not recorded: the encoder fell behind", self.unrecorded)
