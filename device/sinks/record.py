"""`--record out.mp4` (OpenCV VideoWriter) or `--record DIR` (numbered PNG files).

The video is written to a temporary file beside the target and renamed over it in `stop()`,
so an interrupted run leaves the old file or a complete new one, never half a video.
"""

from __future__ import annotations

import logging
from pathlib import Path

from espcn_edge.atomic import atomic_path
from espcn_edge.imageio import save_rgb

from ..frames import Result
from .jpeg import view_planes
from .sink import Sink, SinkError

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = {".mp4": "mp4v", ".avi": "MJPG", ".mkv": "mp4v", ".mov": "mp4v"}


class RecordSink(Sink):
    def __init__(self, target: str | Path, fps: float = 30.0, compare: bool = False):
        self.target = Path(target)
        self.fps = fps
        self.compare = compare
        self.count = 0
        self._writer = None
        self._atomic = None
        self._tmp: Path | None = None

    @property
    def is_video(self) -> bool:
        return self.target.suffix.lower() in VIDEO_SUFFIXES

    def start(self) -> None:
        if not self.is_video:
            if self.target.exists() and not self.target.is_dir():
                raise SinkError(
                    f"--record {self.target}: exists and is not a folder; give a "
                    f"folder or a video file ({', '.join(VIDEO_SUFFIXES)})"
                )
            try:
                self.target.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise SinkError(
                    f"--record {self.target}: cannot create the folder ({e.strerror or e})"
                ) from None
        else:
            try:
                import cv2  # noqa: F401
            except ImportError as e:
                raise SinkError(
                    "--record to a video needs OpenCV: pip install "
                    "opencv-python-headless (or record to a folder)"
                ) from e

    def output(self, result: Result) -> None:
        from espcn_edge.color import ycbcr_to_rgb

        rgb = result.rgb() if not self.compare else ycbcr_to_rgb(*view_planes(result, True))
        if not self.is_video:
            save_rgb(self.target / f"frame_{self.count:06d}.png", rgb)
        else:
            if self._writer is None:
                self._open(rgb.shape[1], rgb.shape[0])
            self._writer.write(rgb[..., ::-1].copy())
        self.count += 1

    def _open(self, width: int, height: int) -> None:
        import cv2

        self._atomic = atomic_path(self.target)
        self._tmp = self._atomic.__enter__()
        fourcc = cv2.VideoWriter_fourcc(*VIDEO_SUFFIXES[self.target.suffix.lower()])
        self._writer = cv2.VideoWriter(str(self._tmp), fourcc, self.fps, (width, height))
        if not self._writer.isOpened():
            self._atomic.__exit__(RuntimeError, None, None)
            self._writer = self._atomic = None
            raise SinkError(f"--record {self.target}: OpenCV cannot write this video format")

    def stop(self) -> None:
        """Finalise the video (release the writer, then rename it into place)."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None
            self._atomic.__exit__(None, None, None)
            self._atomic = None
            log.info("recorded %d frames to %s", self.count, self.target)
