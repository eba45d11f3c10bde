"""`demo`: a slow pan over the package's sample photos, so everything runs with no camera.

Each frame is a window of twice the LR size, downscaled with bicubic: a realistic LR frame
whose detail the upscaler has to restore.
"""

from __future__ import annotations

import functools
import time

import numpy as np

from espcn_edge import SAMPLES_DIR
from espcn_edge.color import resize_bicubic
from espcn_edge.frames import Frame
from espcn_edge.imageio import list_images, load_rgb

from .source import Source, SourceError

DEFAULT_SIZE = (320, 240)
STEP = 3  # pan speed in (2×LR) pixels per frame


class DemoSource(Source):
    name = "demo"

    def __init__(
        self,
        size: tuple[int, int] | None = None,
        fps: float | None = 30.0,
        frames_per_image: int = 150,
    ):
        super().__init__(size or DEFAULT_SIZE, fps)
        self.frames_per_image = frames_per_image
        self._scenes: list[np.ndarray] = []

    def start(self) -> None:
        super().start()
        self._scenes = _scenes(tuple(self.size))

    def _read(self) -> Frame | None:
        t0 = time.perf_counter()
        w, h = self.size
        scene = self._scenes[(self.index // self.frames_per_image) % len(self._scenes)]
        span = scene.shape[1] - 2 * w
        x = (self.index % self.frames_per_image) * STEP % (2 * span)
        x = x if x <= span else 2 * span - x  # ping-pong
        top = (scene.shape[0] - 2 * h) // 2
        window = scene[top : top + 2 * h, x : x + 2 * w]
        return Frame.from_rgb(resize_bicubic(window, (w, h)), t_start=t0)


@functools.lru_cache(maxsize=4)
def _scenes(size: tuple[int, int]) -> list[np.ndarray]:
    """The sample photos, each scaled so a 2×LR window fits with room to pan (made once)."""
    w, h = size
    paths = list_images(str(SAMPLES_DIR))
    if not paths:
        raise SourceError(f"no sample images in {SAMPLES_DIR}: the package is incomplete")
    scenes = []
    for path in paths:
        rgb = load_rgb(path)
        k = max(2 * h / rgb.shape[0], 2.6 * w / rgb.shape[1])
        scaled = (max(2 * w + 1, round(rgb.shape[1] * k)), max(2 * h, round(rgb.shape[0] * k)))
        scenes.append(resize_bicubic(rgb, scaled))
    return scenes
