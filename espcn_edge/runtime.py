"""`Upscaler`: the public engine. A frame in, the same kind of frame `scale`× larger out.

    from espcn_edge import Upscaler
    up = Upscaler(scale=2)                       # the shipped standard ×2 model
    big = up.upscale(frame)                      # H×W×3 RGB uint8 → 2H×2W×3
    big = up.upscale(arr, format="XBGR8888")     # picamera2's default, in its memory order

It takes the frames users have (`upscale`: numpy RGB, OpenCV BGR, picamera2's formats and its
padded YUV420, grey, Pillow images) and runs the model on Y (`espcn_edge.graph`), in tiles of
bounded memory stitched bit for bit into the whole-image result (`espcn_edge.tiling`), with the
colour glue around it (`espcn_edge.frames`). The graph's layout is chosen per machine and model
(`variant="auto"`: both timed once, the answer kept in `espcn_edge.layout_cache`).
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from . import formats, layout_cache
from .color import bicubic_rows, rgb_to_ycbcr, ycbcr_to_rgb
from .errors import ModelError
from .formats import FrameError
from .frames import Frame, executor, super_resolve, upscale_rgb
from .graph import VARIANTS, Graph
from .probe import probe_frame, time_ms
from .tiers import DEFAULT_TIER, default_model_path
from .tiling import Span, axis_tiles

log = logging.getLogger(__name__)

# When no tile is given, the largest tile side per graph layout. The interpreter's memory grows
# with the pixels it holds — in the plain graph ~700 bytes per LR pixel, mostly XNNPACK's
# indirection buffers (a row of k×k input pointers per output pixel), in the blocked one a
# quarter of the pixels — and tiles of these sides cost no time: on the 2-core Xeon the plain
# graph took 11.2 ms for a 320×240 frame whole or in 2 tiles (124 -> 97 MB peak RSS) and 47.7 /
# 48.4 ms at 640×480 (325 -> 130 MB); the blocked graph 23.5 / 21.5 ms at 640×480 (232 -> 128
# MB). For photos 384 was the fastest (benchmarks/tiles.py, docs/device.md).
DEFAULT_TILE = {"plain": 256, "s2d": 384}
# The largest output (pixels) whose RGB glue `upscale_rgb` does on the whole frame: 1280×960, a
# 640×480 camera frame at ×2 (RGB out and full-size chroma: about 6 MB).
WHOLE_GLUE_PIXELS = 1280 * 960
PROBE_SIZE = (320, 240)  # where the automatic layout is timed when the frame size is unknown


class Upscaler:
    """Super-resolve frames with a `.tflite` ESPCN (see module doc).

    `model` None means the shipped `tier` model for `scale` (×2 when neither is given); `scale`
    given and different from the model's is a ModelError. `threads` None: one per core.
    `delegate` is 'gpu', 'nnapi', 'edgetpu' or a library path; if it cannot load, a warning
    and the CPU (or DelegateError with `delegate_required`).

    `variant` "plain" runs the graph as converted, "s2d" the same network on 2×2 pixel blocks
    (bit for bit the same output), "auto" the faster of the two here on frames of `probe_size`
    (timed once per machine and model, then remembered; plain with a delegate, a blocked or a
    fixed-size file).

    Images larger than `tile` × `tile` LR pixels (0: never; None: DEFAULT_TILE of the layout)
    are run in overlapping tiles, stitched bit for bit into the whole-image result, so memory
    is bounded whatever the image size; the overlap is the model's receptive-field `radius`.
    """

    def __init__(
        self,
        model: str | os.PathLike | None = None,
        scale: int | None = None,
        tier: str = DEFAULT_TIER,
        threads: int | None = None,
        delegate: str | None = None,
        delegate_required: bool = False,
        variant: str = "auto",
        tile: int | None = None,
        probe_size: tuple[int, int] | None = None,
    ):
        path = Path(model) if model is not None else default_model_path(scale or 2, tier)
        if model is None and not path.is_file():
            raise ModelError(
                f"no shipped {tier} model for ×{scale or 2} ({path}); pass a model "
                "PATH.tflite (make one with python -m convert.tflite --int8)"
            )
        if variant not in (*VARIANTS, "auto"):
            raise ModelError(f"unknown variant {variant!r}: one of auto, {', '.join(VARIANTS)}")
        self.tile = tile
        self._threads = threads or os.cpu_count() or 1
        opened = functools.partial(Graph, path, scale, self._threads, delegate, delegate_required)
        if variant == "auto":
            self.graph = self._faster(opened, probe_size or PROBE_SIZE, bool(delegate))
        else:
            self.graph = opened(variant=variant)

    # what the graph says of the model
    model_path = property(lambda self: self.graph.model_path)
    scale = property(lambda self: self.graph.scale)
    metadata = property(lambda self: self.graph.metadata)
    backend = property(lambda self: self.graph.backend)
    variant = property(lambda self: self.graph.variant)
    radius = property(lambda self: self.graph.radius)
    fixed_size = property(lambda self: self.graph.fixed_size)

    def _faster(self, opened, size: tuple[int, int], delegate: bool) -> Graph:
        """The faster layout here: remembered, else both timed, interleaved (a burst of other
        work slows both alike), each giving its frame buffers back after its turn."""
        plain = opened(variant="plain")
        if delegate or plain.block > 1 or plain.fixed_size:  # the graph as converted: an
            return plain  # accelerator's, a blocked file, a fixed shape (an Edge TPU model's)
        entry = layout_cache.key(plain.model_path, plain.backend, self._threads, size)
        if (known := layout_cache.lookup(entry)) == "plain":
            log.debug("variant auto: plain (remembered in %s)", layout_cache.folder())
            return plain
        if known == "s2d":
            try:
                blocked = opened(variant="s2d")
            except ModelError as e:  # the rewrite's schema gone since: the graph as converted
                log.debug("variant auto: plain (%s)", e)
                return plain
            log.debug("variant auto: s2d (remembered in %s)", layout_cache.folder())
            return blocked
        try:
            graphs = {"plain": plain, "s2d": opened(variant="s2d")}
        except ModelError as e:
            log.debug("variant auto: plain (%s)", e)
            return plain
        frame, ms = probe_frame(size), {v: [] for v in graphs}
        try:
            for _ in range(3):
                for variant, graph in graphs.items():
                    self.graph = graph
                    ms[variant].append(time_ms(self, frame, 0.2))
                    graph.release_buffers()
        except ModelError as e:  # a model that cannot run at the probe's size: as converted
            log.debug("variant auto: plain (%s)", e)
            return plain
        best = {v: min(times) for v, times in ms.items()}
        fast, slow = sorted(best, key=best.get)
        layout_cache.store(entry, fast, best)
        log.info(
            "variant auto: %s — %.1f ms a %dx%d frame here against %.1f for %s (%s; "
            "remembered); --variant %s forces the other",
            fast, best[fast], *size, best[slow], slow, plain.model_path.name, slow,
        )  # fmt: skip
        return graphs[fast]

    def release_buffers(self) -> None:
        self.graph.release_buffers()

    # -- frames ----------------------------------------------------------------------------------
    def upscale(self, frame, format: str | None = None, width: int | None = None):
        """A frame `scale`× larger, of the same kind: a numpy array in the same format (RGB
        unless `format` says otherwise, see `espcn_edge.formats`: "BGR" for OpenCV, picamera2's
        "RGB888", "BGR888", "XBGR8888", "XRGB8888" and "YUV420" as `capture_array` returns
        them; H×W grey; H×W×4 without a format is RGBA, alpha upscaled with bicubic), or a
        Pillow image in its mode. "YUV420": `width` is the stream's width when its rows are
        padded (picamera2's `stream_configuration("lores")["size"][0]`; default: the stride);
        the result's rows are not padded."""
        if isinstance(frame, Image.Image):
            return self._upscale_pil(frame)
        frame = np.asarray(frame)
        if frame.ndim == 3 and frame.shape[2] == 4 and format is None:
            return self.upscale_image(frame)
        fmt = formats.resolve(format, frame)
        if fmt == "GREY":
            return self.upscale_y(frame)
        if fmt == "YUV420":
            return self._upscale_yuv420(frame, width)
        rgb = self.upscale_rgb(formats.to_rgb(frame, fmt))
        return rgb if fmt == "RGB" else formats.from_rgb(rgb, fmt)

    def _upscale_yuv420(self, frame: np.ndarray, width: int | None) -> np.ndarray:
        height, stride = frame.shape[0] * 2 // 3, frame.shape[1]
        y, u, v = formats.yuv420_planes(frame, width or stride, height, stride)
        result = super_resolve(Frame(y, u, v), self.upscale_y, self.scale)
        return formats.yuv420_array(*result.planes())

    def _upscale_pil(self, image: Image.Image) -> Image.Image:
        if image.mode not in ("RGB", "L", "RGBA", "LA"):
            raise FrameError(f"a Pillow image in mode {image.mode}: convert it to RGB first")
        return Image.fromarray(self.upscale_image(np.asarray(image)), image.mode)

    def upscale_rgb(self, rgb: np.ndarray) -> np.ndarray:
        """uint8 H×W×3 RGB → uint8 RGB `scale`× larger (Y by the model, chroma bicubic).

        Up to a camera frame's output (WHOLE_GLUE_PIXELS) the colour work is done on the whole
        frame, its chroma beside the model and Y still in tiles; larger images go band by band
        (`bands`), which bounds memory at the cost of a pass per band (at 320×240 ×2 in the
        plain graph's two tiles, about 1 ms: benchmarks/glue.py)."""
        rgb = np.asarray(rgb)
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise FrameError(
                f"upscale_rgb takes uint8 H×W×3 RGB, not {rgb.dtype} "
                f"{'×'.join(map(str, rgb.shape))}: use upscale(frame, format=…) for others"
            )
        h, w = rgb.shape[:2]
        if h * w * self.scale**2 <= WHOLE_GLUE_PIXELS:
            return upscale_rgb(rgb, self.scale, self.upscale_y)
        return self.upscale_image(rgb)

    # -- tiles -----------------------------------------------------------------------------------
    def tiles(self, h: int, w: int) -> tuple[tuple[int, int], list[Span], list[Span]]:
        """How an H×W plane is cut: ((tile h, tile w), row spans, column spans) (see tiling).
        One span each way (the whole image) when it fits, or when the radius is unknown."""
        tile = self.tile
        if tile is None:
            tile = DEFAULT_TILE[self.graph.variant]
        if self.radius is None or tile <= 0:
            tile = 0
        else:
            tile = max(tile, 2 * self.radius + 1)
        block = self.graph.block  # 2 in either blocked layout: tiles cut as the whole image pads
        (rows, row_spans), (cols, col_spans) = (
            axis_tiles(h, tile, self.radius or 0, block),
            axis_tiles(w, tile, self.radius or 0, block),
        )
        return (rows, cols), row_spans, col_spans

    def y_bands(self, y: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
        """Super-resolve a uint8 H×W Y plane one row of tiles at a time: yields (first output
        row, uint8 band `scale`× larger, full width). Only one tile is in the interpreter."""
        y = _plane(y)
        h, w = y.shape
        s = self.scale
        (th, tw), row_spans, col_spans = self.tiles(h, w)
        self.graph.allocate(th, tw, (h, w))
        if len(row_spans) == len(col_spans) == 1:
            yield 0, self.graph.run(y)  # the whole image: no copy
            return
        if self.graph.pads_odd_sides and (h % 2 or w % 2):
            # a file converted blocked runs an odd plane padded by an edge copy: pad the whole
            # plane so, tile it (even) and crop, so the tiles agree with the whole image
            padded = np.pad(y, ((0, h % 2), (0, w % 2)), mode="edge")
            for row, band in self.y_bands(padded):
                yield row, np.ascontiguousarray(band[: s * h - row, : s * w])
            return
        for r in row_spans:
            band = np.empty((s * (r.keep_to - r.keep_from), s * w), np.uint8)
            top = s * (r.keep_from - r.start)
            for c in col_spans:
                out = self.graph.run(y[r.start : r.start + th, c.start : c.start + tw])
                left = s * (c.keep_from - c.start)
                band[:, s * c.keep_from : s * c.keep_to] = out[
                    top : top + band.shape[0], left : left + s * (c.keep_to - c.keep_from)
                ]
            yield s * r.keep_from, band

    def upscale_y(self, y: np.ndarray) -> np.ndarray:
        """uint8 H×W Y plane (full-range) → uint8 (scale·H)×(scale·W) Y plane, in tiles of at
        most `tile`² LR pixels (bit for bit the whole-image result)."""
        y = _plane(y)
        bands = self.y_bands(y)
        _, first = next(bands)
        if first.shape[0] == self.scale * y.shape[0]:
            return first
        out = np.empty((self.scale * y.shape[0], self.scale * y.shape[1]), np.uint8)
        out[: first.shape[0]] = first
        for row, band in bands:
            out[row : row + band.shape[0]] = band
        return out

    def bands(self, image: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
        """Super-resolve a uint8 image band by band: yields (first output row, band).

        `image` is H×W (grey: the model on it directly), H×W×2 (grey + alpha), H×W×3 (RGB:
        the model on Y, Cb/Cr bicubic) or H×W×4 (RGBA); alpha is upscaled with bicubic. The
        bands have the input's channels and together are exactly `upscale_image`. Memory:
        the input's Y/Cb/Cr planes, one band and one tile, never a whole output.
        """
        image = np.asarray(image)
        channels = image.shape[2] if image.ndim == 3 else 1
        if image.dtype != np.uint8 or image.ndim not in (2, 3) or channels > 4:
            raise FrameError(f"needs a uint8 H×W or H×W×C image, got {image.dtype} {image.shape}")
        if channels == 1:
            yield from self.y_bands(image)
            return
        colour = image.shape[2] >= 3
        extra = image[..., 3 if colour else 1] if image.shape[2] in (2, 4) else None
        if colour:
            y, cb, cr = _ycbcr_planes(image[..., :3])
            bicubic = [cb, cr] if extra is None else [cb, cr, extra]
        else:
            y, bicubic = np.ascontiguousarray(image[..., 0]), [extra]
        pending = None
        for row, y_sr in self.y_bands(y):
            if pending is not None:
                yield pending.result()
            job = functools.partial(self._finish_band, row, y_sr, bicubic, colour)
            pending = executor().submit(job)  # runs while the next row of tiles is inferred
        yield pending.result()

    def _finish_band(self, row, y_sr, bicubic, colour) -> tuple[int, np.ndarray]:
        s = self.scale
        first, rows = row // s, y_sr.shape[0] // s
        up = [bicubic_rows(p, first, first + rows, s) for p in bicubic]
        if colour:
            rgb = _merge(y_sr, up[0], up[1])
            band = rgb if len(up) == 2 else np.dstack([rgb, up[2]])
        else:
            band = np.dstack([y_sr, up[0]])
        return row, band

    def upscale_image(self, image: np.ndarray) -> np.ndarray:
        """The whole result of `bands` (same shape as `image`, `scale`× larger)."""
        image = np.asarray(image)
        if image.ndim == 2 or image.shape[2] == 1:
            return self.upscale_y(image)
        h, w, c = image.shape
        out = np.empty((self.scale * h, self.scale * w, c), np.uint8)
        for row, band in self.bands(image):
            out[row : row + band.shape[0]] = band
        return out

    def __repr__(self) -> str:
        return (
            f"Upscaler({str(self.model_path)!r}, scale={self.scale}, variant={self.variant!r}, "
            f"backend={self.backend!r})"
        )


def _plane(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 3 and y.shape[-1] == 1:
        y = y[..., 0]
    if y.ndim != 2 or y.dtype != np.uint8:
        raise FrameError(f"upscale_y needs a uint8 H×W plane, got {y.dtype} {y.shape}")
    return y


_ROWS = 256  # rows per step of the colour conversions: their float32 temporaries stay small


def _ycbcr_planes(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`rgb_to_ycbcr` a few rows at a time into three planes (no image-sized float copies)."""
    h, w = rgb.shape[:2]
    planes = [np.empty((h, w), np.uint8) for _ in range(3)]
    for top in range(0, h, _ROWS):
        for plane, part in zip(planes, rgb_to_ycbcr(rgb[top : top + _ROWS]), strict=True):
            plane[top : top + _ROWS] = part
    return planes[0], planes[1], planes[2]


def _merge(y: np.ndarray, cb: np.ndarray, cr: np.ndarray) -> np.ndarray:
    """`ycbcr_to_rgb` a few rows at a time."""
    out = np.empty((*y.shape, 3), np.uint8)
    for top in range(0, y.shape[0], _ROWS):
        rows = slice(top, top + _ROWS)
        out[rows] = ycbcr_to_rgb(y[rows], cb[rows], cr[rows])
    return out
