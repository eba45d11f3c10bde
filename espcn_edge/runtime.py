"""The one TFLite inference engine: Y plane in, Y plane `scale`× larger out.

Created once per stream; used by the device commands, `espcn-edge eval` and the converter's
report. No TensorFlow at import time: the interpreter comes from ``ai_edge_litert``, else
``tflite_runtime``, else ``tensorflow.lite``.

Quantized I/O is read from the tensor details. The fast path is the converter's default model
(uint8 I/O, scale 1/255, zero point 0): camera Y bytes go in and come out with no arithmetic.
"""

from __future__ import annotations

import ctypes
import functools
import importlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from . import MODELS_DIR
from .color import bicubic_rows, float_to_y, rgb_to_ycbcr, y_to_float, ycbcr_to_rgb
from .frames import executor, upscale_rgb
from .layout import LayoutError, block_of, space_to_depth
from .quiet import native_stderr_hidden
from .tflite_meta import MetadataError, read_metadata
from .tiling import Span, axis_tiles, spec_radius

log = logging.getLogger(__name__)

_BACKENDS = ("ai_edge_litert.interpreter", "tflite_runtime.interpreter", "tensorflow.lite")
DELEGATE_LIBRARIES = {
    "gpu": "libtensorflowlite_gpu_delegate.so",
    "nnapi": "libnnapi_delegate.so",
    "edgetpu": "libedgetpu.so.1",
}
_UNIT = 1.0 / 255.0  # the quantization scale at which one code is one Y level


# When no tile is given, the largest tile side per graph layout. The interpreter's memory grows
# with the pixels it holds — in the plain graph ~700 bytes per LR pixel, mostly XNNPACK's
# indirection buffers (a row of k×k input pointers per output pixel), in the blocked one a
# quarter of the pixels — and tiles of these sides cost no time: on the 2-core Xeon the plain
# graph took 11.2 ms for a 320×240 frame whole or in 2 tiles (124 -> 97 MB peak RSS) and 47.7 /
# 48.4 ms at 640×480 (325 -> 130 MB); the blocked graph 23.5 / 21.5 ms at 640×480 (232 -> 128
# MB). For photos 384 was the fastest (benchmarks/tiles.py, docs/device.md).
DEFAULT_TILE = {"plain": 256, "s2d": 384}
# The largest output (pixels) whose RGB glue `Upscaler.upscale_rgb` does on the whole frame:
# 1280×960, a 640×480 camera frame at ×2 (RGB out and full-size chroma: about 6 MB).
WHOLE_GLUE_PIXELS = 1280 * 960

# Ops that do not look at neighbouring pixels (DEPTH_TO_SPACE maps each pixel to its own block).
_POINTWISE_OPS = {
    "ADD", "CONCATENATION", "DELEGATE", "DEPTH_TO_SPACE", "DEQUANTIZE", "HARD_SWISH",
    "LEAKY_RELU", "LOGISTIC", "MAXIMUM", "MINIMUM", "MUL", "PRELU", "QUANTIZE", "RELU",
    "RELU6", "RELU_N1_TO_1", "RESHAPE", "SUB", "TANH",
}  # fmt: skip


class ModelError(ValueError):
    """A model file that cannot be used (missing, corrupt, not an ESPCN, wrong scale)."""


class DelegateError(RuntimeError):
    """A requested delegate that could not be loaded, when it was required."""


# How the graph is laid out in memory: "plain" (the file as converted) or "s2d" (the same
# network on 2×2 pixel blocks, espcn_edge.layout, made from the file at load time).
VARIANTS = ("plain", "s2d")


# The shipped models, fastest first: each scale has one per tier (docs/benchmarks.md says which
# network each is and what it measured); "standard" is the default.
TIERS = ("tiny", "standard", "quality")
DEFAULT_TIER = "standard"


def default_model_path(scale: int, tier: str = DEFAULT_TIER) -> Path:
    """The shipped int8 model: espcn_edge/models/espcn_x{scale}_{tier}_int8.tflite."""
    if tier not in TIERS:
        raise ModelError(f"unknown tier {tier!r}: one of {', '.join(TIERS)}")
    return Path(str(MODELS_DIR)) / f"espcn_x{scale}_{tier}_int8.tflite"


def _interpreter_module():
    for name in _BACKENDS:
        try:
            return name.split(".")[0], importlib.import_module(name)
        except ImportError:
            continue
    raise ModelError("no TFLite interpreter installed: pip install ai-edge-litert")


def _is_unit(quant: tuple[float, int], zero_point: int) -> bool:
    scale, zp = quant
    return abs(scale - _UNIT) < 1e-7 and zp == zero_point


class Upscaler:
    """Super-resolve Y planes with a `.tflite` ESPCN model (see module doc).

    `model_path` None means the shipped model for `scale` (×2 when neither is given); `scale`
    given and different from the model's is a ModelError. `delegate` is 'gpu', 'nnapi',
    'edgetpu' or a library path; if it cannot load, a warning and the CPU (or DelegateError
    with `delegate_required`).

    Images larger than `tile` × `tile` LR pixels (0: never; None: DEFAULT_TILE of the
    variant) are run in overlapping tiles of at most that size,
    stitched bit for bit into the whole-image result (see `espcn_edge.tiling`), so memory is
    bounded whatever the image size. The overlap is the model's receptive-field `radius`,
    read from its spec (metadata) or its graph.

    `variant` "s2d" runs the model in the space-to-depth layout (see `espcn_edge.layout`):
    the same output bit for bit, so planes with an odd side run in the file's own graph (made
    when first needed). A file converted blocked pads such planes by edge copies instead and
    crops the result.
    """

    def __init__(
        self,
        model_path: str | os.PathLike | None = None,
        scale: int | None = None,
        num_threads: int | None = None,
        delegate: str | None = None,
        delegate_required: bool = False,
        tile: int | None = None,
        variant: str = "plain",
    ):
        if model_path is None:
            model_path = default_model_path(scale or 2)
        self.model_path = Path(model_path)
        self.variant = variant
        self.backend, module = _interpreter_module()
        self.metadata = self._read_metadata()
        graph = {"model_path": str(self.model_path)}
        if variant == "s2d":
            graph = {"model_content": self._blocked()}
        elif variant != "plain":
            raise ModelError(f"unknown variant {variant!r}: one of {', '.join(VARIANTS)}")
        self.block = block_of(self.metadata)
        delegates = self._load_delegates(module, delegate, delegate_required)
        threads = num_threads or os.cpu_count() or 1
        try:
            self._interp = module.Interpreter(
                **graph, num_threads=threads, experimental_delegates=delegates or None
            )
        except (ValueError, RuntimeError) as e:
            if not delegates:
                raise ModelError(
                    f"{self.model_path}: not a usable TFLite model ({_first(e)})"
                ) from None
            if delegate_required:
                raise DelegateError(
                    f"delegate {delegate!r} rejected {self.model_path.name}: {_first(e)}"
                ) from None
            log.warning(
                "delegate %r failed on %s (%s); using the CPU",
                delegate,
                self.model_path.name,
                _first(e),
            )
            self._interp = module.Interpreter(**graph, num_threads=threads)
        self._graph, self._odd_graph = self._interp, None
        self._plain_graph = functools.partial(
            module.Interpreter, model_path=str(self.model_path), num_threads=threads
        )
        self._check_signature()
        self._shape: tuple[int, int] | None = None
        # the first allocation logs "Created TensorFlow Lite XNNPACK delegate": shown with -v
        with native_stderr_hidden(show=log.isEnabledFor(logging.DEBUG)):
            self.scale = self._probe_scale()
        if scale is not None and scale != self.scale:
            raise ModelError(f"{self.model_path}: model is ×{self.scale}, not ×{scale}")
        self.radius = self._receptive_radius()
        self.tile = tile

    # -- loading ---------------------------------------------------------------------------------
    def _read_metadata(self) -> dict:
        try:
            return read_metadata(self.model_path)
        except FileNotFoundError:
            raise ModelError(f"{self.model_path}: model file not found") from None
        except IsADirectoryError:
            raise ModelError(f"{self.model_path}: is a directory, not a .tflite model") from None
        except OSError as e:
            raise ModelError(f"{self.model_path}: cannot read ({e.strerror or e})") from None
        except MetadataError as e:
            raise ModelError(f"{self.model_path}: {e}") from None

    def _blocked(self) -> bytes:
        """The model in the space-to-depth layout; its metadata replaces the file's."""
        try:
            content = space_to_depth(self.model_path.read_bytes())
        except (LayoutError, MetadataError) as e:
            raise ModelError(f"{self.model_path}: no space-to-depth variant ({e})") from None
        self.metadata = read_metadata(content)
        return content

    def _load_delegates(self, module, delegate: str | None, required: bool) -> list:
        if not delegate:
            return []
        library = DELEGATE_LIBRARIES.get(delegate.lower(), delegate)
        load = getattr(module, "load_delegate", None) or module.experimental.load_delegate
        try:
            # dlopen first: a missing library then fails here, not inside litert's Delegate,
            # whose __del__ would print an "Exception ignored … AttributeError" traceback
            ctypes.CDLL(library)
            return [load(library)]
        except (OSError, ValueError, RuntimeError, AttributeError) as e:
            if required:
                raise DelegateError(
                    f"cannot load delegate {delegate!r} ({library}): {_first(e)}"
                ) from None
            log.warning(
                "cannot load delegate %r (%s): %s; using the CPU", delegate, library, _first(e)
            )
            return []

    def _check_signature(self) -> None:
        inputs, outputs = self._interp.get_input_details(), self._interp.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelError(
                f"{self.model_path}: not an ESPCN model (needs one input and one output)"
            )
        self._in, self._out = inputs[0], outputs[0]
        shape = self._in.get("shape_signature", self._in["shape"])
        if len(shape) != 4 or shape[-1] != 1:
            raise ModelError(
                f"{self.model_path}: not a single-channel ESPCN (input {[int(v) for v in shape]})"
            )
        self.fixed_size = None if min(shape[1:3]) < 0 else (int(shape[2]), int(shape[1]))

    def _probe_scale(self) -> int:
        h, w = (self.fixed_size[1], self.fixed_size[0]) if self.fixed_size else (8, 8)
        self._resize(h, w)
        out = self._out["shape"]
        meta_scale = self.metadata.get("scale")
        if len(out) != 4 or out[-1] != 1 or out[1] % h or out[1] // h != out[2] // w:
            raise ModelError(
                f"{self.model_path}: not an ESPCN model "
                f"(output {[int(v) for v in out]} for {h}×{w})"
            )
        scale = int(out[1]) // h
        if meta_scale is not None and meta_scale != scale:
            raise ModelError(f"{self.model_path}: metadata says ×{meta_scale}, graph is ×{scale}")
        return scale

    def _receptive_radius(self) -> int | None:
        """LR pixels each output pixel depends on, each side: from the spec in the metadata,
        else from the graph's convolution kernels; None (no tiling) when neither says."""
        spec = self.metadata.get("spec")
        if isinstance(spec, dict) and (spec.get("string") or spec.get("name")):
            try:
                return spec_radius(spec.get("string") or spec["name"])
            except ValueError:
                pass
        radius = graph_radius(self._interp)
        if radius is None:
            log.debug("%s: receptive field unknown; images are run whole", self.model_path.name)
        return radius

    # -- inference -------------------------------------------------------------------------------
    def _resize(self, h: int, w: int) -> None:
        b, graph = self.block, self._graph
        if (h % b or w % b) and self.variant == "s2d":  # the plain graph: the same output
            self._odd_graph = self._odd_graph or self._plain_graph()
            graph = self._odd_graph
        else:
            h, w = -(-h // b) * b, -(-w // b) * b  # sides a blocked layout can run
        if self._shape == (h, w) and self._interp is graph:
            return
        self._interp = graph
        self._in = self._interp.get_input_details()[0]
        self._interp.resize_tensor_input(self._in["index"], [1, h, w, 1], strict=False)
        self._interp.allocate_tensors()
        self._in = self._interp.get_input_details()[0]
        self._out = self._interp.get_output_details()[0]
        self._shape = (h, w)
        self._prepare_io()

    def release_buffers(self) -> None:
        """Give back the frame-sized buffers until the next frame (the interpreter's tensors and
        XNNPACK's per-pixel indirection buffers: about 48 MB for standard at 320×240), so that
        two graphs timed side by side (`--variant auto`) never hold them both."""
        self._resize(self.block * 4, self.block * 4)

    def _prepare_io(self) -> None:
        dtype, quant = self._in["dtype"], self._in["quantization"]
        self._in_direct = dtype == np.uint8 and _is_unit(quant, 0)
        self._in_flip = dtype == np.int8 and _is_unit(quant, -128)
        self._lut = self._output_lut()
        self._out_direct = self._lut is not None and bool(
            self._out["dtype"] == np.uint8 and (self._lut == np.arange(256)).all()
        )

    def _output_lut(self) -> np.ndarray | None:
        """Y for each of the 256 output codes (indexed by the code's byte), or None for float.

        White level: a sigmoid output is quantized at 1/256, so its top code means 255/256 and
        would become Y 254. When the top code falls short of 1.0 by less than two Y levels it
        is read as full white (255); every other code keeps its exact value.
        """
        dtype, (scale, zp) = self._out["dtype"], self._out["quantization"]
        if dtype not in (np.uint8, np.int8):
            return None
        codes = np.arange(256, dtype=np.uint8).view(dtype).astype(np.float32)
        lut = float_to_y((codes - zp) * scale)
        top = np.iinfo(dtype).max
        if 1.0 - 2.0 / 255.0 < (top - zp) * scale < 1.0:
            lut[codes == top] = 255
        return lut

    def _encode(self, y: np.ndarray) -> np.ndarray:
        dtype = self._in["dtype"]
        if self._in_direct:
            return y
        if self._in_flip:
            return (y ^ np.uint8(0x80)).view(np.int8)
        x = y_to_float(y)
        if dtype == np.float32:
            return x
        scale, zp = self._in["quantization"]
        info = np.iinfo(dtype)
        return np.clip(np.rint(x / scale + zp), info.min, info.max).astype(dtype)

    def _decode(self, q: np.ndarray) -> np.ndarray:
        if self._out_direct:
            return q
        if self._lut is not None:
            return self._lut[q.view(np.uint8)]
        return float_to_y(q)

    def _invoke(self, y: np.ndarray) -> np.ndarray:
        """One interpreter run on a plane of the allocated shape (before padding to blocks)."""
        h, w = y.shape
        ph, pw = self._shape
        if (ph, pw) != (h, w):  # odd sides of a blocked layout: edge copies, cropped again
            y = np.pad(y, ((0, ph - h), (0, pw - w)), mode="edge")
        self._interp.set_tensor(self._in["index"], self._encode(y).reshape(1, ph, pw, 1))
        self._interp.invoke()
        out = self._interp.get_tensor(self._out["index"])
        out = out.reshape(out.shape[1], out.shape[2])
        if (ph, pw) != (h, w):
            out = np.ascontiguousarray(out[: self.scale * h, : self.scale * w])
        return self._decode(out)

    def _allocate(self, h: int, w: int, image: tuple[int, int]) -> None:
        try:
            self._resize(h, w)
        except (RuntimeError, ValueError) as e:  # e.g. a fixed-size (Edge TPU) model
            self._shape = None
            fixed = f"fixed {self.fixed_size[0]}×{self.fixed_size[1]} " if self.fixed_size else ""
            what = f"{w}×{h}" if (h, w) == image else f"{w}×{h} tiles of {image[1]}×{image[0]}"
            raise ModelError(
                f"{self.model_path}: {fixed}model cannot run on {what} ({_first(e)})"
            ) from None

    def tiles(self, h: int, w: int) -> tuple[tuple[int, int], list[Span], list[Span]]:
        """How an H×W plane is cut: ((tile h, tile w), row spans, column spans) (see tiling).
        One span each way (the whole image) when it fits, or when the radius is unknown."""
        tile = self.tile
        if tile is None:
            tile = DEFAULT_TILE[self.variant]
        if self.radius is None or tile <= 0:
            tile = 0
        else:
            tile = max(tile, 2 * self.radius + 1)
        block = 2 if self.variant == "s2d" else 1
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
        self._allocate(th, tw, (h, w))
        if len(row_spans) == len(col_spans) == 1:
            yield 0, self._invoke(y)  # the whole image: no copy
            return
        for r in row_spans:
            band = np.empty((s * (r.keep_to - r.keep_from), s * w), np.uint8)
            top = s * (r.keep_from - r.start)
            for c in col_spans:
                out = self._invoke(y[r.start : r.start + th, c.start : c.start + tw])
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
            raise ValueError(f"needs a uint8 H×W or H×W×C image, got {image.dtype} {image.shape}")
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

    def upscale_rgb(self, rgb: np.ndarray) -> np.ndarray:
        """uint8 H×W×3 RGB → uint8 RGB `scale`× larger (Y by the model, chroma bicubic).

        Up to a camera frame's output (WHOLE_GLUE_PIXELS) the colour work is done on the whole
        frame, its chroma beside the model and Y still in tiles; larger images go band by band
        (`bands`), which bounds memory at the cost of a pass per band (at 320×240 ×2 in the
        plain graph's two tiles, about 1 ms: benchmarks/glue.py)."""
        h, w = np.shape(rgb)[:2]
        if h * w * self.scale**2 <= WHOLE_GLUE_PIXELS:
            return upscale_rgb(rgb, self.scale, self.upscale_y)
        return self.upscale_image(rgb)

    def __repr__(self) -> str:
        return (
            f"Upscaler({str(self.model_path)!r}, scale={self.scale}, variant={self.variant!r}, "
            f"backend={self.backend!r})"
        )


def graph_radius(interpreter) -> int | None:
    """Receptive-field radius of a chain of stride-1 convolutions and pointwise ops, from the
    kernel shapes in the graph; None for any other op or an interpreter that cannot list ops."""
    try:
        ops = interpreter._get_ops_details()
        shapes = {t["index"]: tuple(t["shape"]) for t in interpreter.get_tensor_details()}
    except (AttributeError, RuntimeError, ValueError):
        return None
    radius = 0
    for op in ops:
        name = op["op_name"]
        if name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            kernel = shapes.get(int(op["inputs"][1]), ())
            if len(kernel) != 4:
                return None
            radius += (max(int(kernel[1]), int(kernel[2])) - 1) // 2
        elif name not in _POINTWISE_OPS:
            return None
    return radius


def _plane(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 3 and y.shape[-1] == 1:
        y = y[..., 0]
    if y.ndim != 2 or y.dtype != np.uint8:
        raise ValueError(f"upscale_y needs a uint8 H×W plane, got {y.dtype} {y.shape}")
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


def _first(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return lines[0] if lines else type(e).__name__
