"""`images:DIR`: the image files of a folder, in name order (unreadable files are skipped).

Each frame has its image's own size unless `--size` is given; a recording letterboxes the
others into the first one's size (see `sinks/h264.py`)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from espcn_edge.color import resize_bicubic
from espcn_edge.frames import Frame
from espcn_edge.imageio import ImageError, list_images, load_rgb

from .source import Source, SourceError

log = logging.getLogger(__name__)


class ImagesSource(Source):
    name = "images"
    live = False  # every image is upscaled (and recorded), none dropped

    def __init__(
        self, folder: str | Path, size: tuple[int, int] | None = None, fps: float | None = None
    ):
        super().__init__(size, fps)
        self.folder = Path(folder)
        self._paths: list[Path] = []

    def check(self) -> None:
        if not self.folder.is_dir():
            raise SourceError(f"images:{self.folder}: not a folder")
        if not list_images(self.folder):
            raise SourceError(f"images:{self.folder}: no image files in it")

    def start(self) -> None:
        super().start()
        self.check()
        self._paths = list_images(self.folder)

    def _read(self) -> Frame | None:
        while self._paths:
            t0 = time.perf_counter()
            path = self._paths.pop(0)
            try:
                rgb = load_rgb(path)
            except ImageError as e:
                log.warning("skipped %s", e)
                continue
            if self.size and (rgb.shape[1], rgb.shape[0]) != self.size:
                rgb = resize_bicubic(rgb, self.size)
            return Frame.from_rgb(rgb, t_start=t0)
        return None
