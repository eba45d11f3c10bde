"""One `.tflite` ESPCN graph in the LiteRT interpreter: a Y plane of any size in, `scale`× out.

It owns what is about the model file and the interpreter, nothing about images: the backend
(``ai_edge_litert``, else ``tflite_runtime``, else ``tensorflow.lite``; no TensorFlow at import
time), delegates, the metadata, the layout (the file's own graph, or the same network on 2×2
pixel blocks, `espcn_edge.layout`, with the file's graph kept for planes with an odd side), and
the quantized I/O: the converter's default model (uint8 I/O, scale 1/255, zero point 0) takes
camera Y bytes and gives Y bytes with no arithmetic. Tiling and colour are `runtime.Upscaler`'s.
"""

from __future__ import annotations

import ctypes
import functools
import importlib
import logging
import os
from pathlib import Path

import numpy as np

from .color import float_to_y, y_to_float
from .errors import DelegateError, ModelError
from .layout import LayoutError, block_of, space_to_depth
from .quiet import native_stderr_hidden
from .tflite_meta import MetadataError, read_metadata
from .tiling import spec_radius

log = logging.getLogger(__name__)

_BACKENDS = ("ai_edge_litert.interpreter", "tflite_runtime.interpreter", "tensorflow.lite")
DELEGATE_LIBRARIES = {
    "gpu": "libtensorflowlite_gpu_delegate.so",
    "nnapi": "libnnapi_delegate.so",
    "edgetpu": "libedgetpu.so.1",
}
_UNIT = 1.0 / 255.0  # the quantization scale at which one code is one Y level

# Ops that do not look at neighbouring pixels (DEPTH_TO_SPACE maps each pixel to its own block).
_POINTWISE_OPS = {
    "ADD", "CONCATENATION", "DELEGATE", "DEPTH_TO_SPACE", "DEQUANTIZE", "HARD_SWISH",
    "LEAKY_RELU", "LOGISTIC", "MAXIMUM", "MINIMUM", "MUL", "PRELU", "QUANTIZE", "RELU",
    "RELU6", "RELU_N1_TO_1", "RESHAPE", "SUB", "TANH",
}  # fmt: skip

# How the graph is laid out in memory: "plain" (the file as converted) or "s2d" (the same
# network on 2×2 pixel blocks, espcn_edge.layout, made from the file at load time).
VARIANTS = ("plain", "s2d")


def interpreter_module():
    for name in _BACKENDS:
        try:
            return name.split(".")[0], importlib.import_module(name)
        except ImportError:
            continue
    raise ModelError("no TFLite interpreter installed: pip install ai-edge-litert")


def _is_unit(quant: tuple[float, int], zero_point: int) -> bool:
    scale, zp = quant
    return abs(scale - _UNIT) < 1e-7 and zp == zero_point


class Graph:
    """A `.tflite` ESPCN (see module doc). `delegate` is 'gpu', 'nnapi', 'edgetpu' or a library
    path; if it cannot load, a warning and the CPU (or DelegateError with `delegate_required`).
    `scale` given and different from the model's is a ModelError."""

    def __init__(
        self,
        model_path: str | os.PathLike,
        scale: int | None = None,
        num_threads: int | None = None,
        delegate: str | None = None,
        delegate_required: bool = False,
        variant: str = "plain",
    ):
        self.model_path = Path(model_path)
        self.variant = variant
        self.backend, module = interpreter_module()
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
            _warn_once(f"delegate {delegate!r} failed on {self.model_path.name} ({_first(e)}); "
                       "using the CPU")  # fmt: skip
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
            _warn_once(f"cannot load delegate {delegate!r} ({library}): {_first(e)}; using the CPU")
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

    def run(self, y: np.ndarray) -> np.ndarray:
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

    def allocate(self, h: int, w: int, image: tuple[int, int]) -> None:
        try:
            self._resize(h, w)
        except (RuntimeError, ValueError) as e:  # e.g. a fixed-size (Edge TPU) model
            self._shape = None
            fixed = f"fixed {self.fixed_size[0]}×{self.fixed_size[1]} " if self.fixed_size else ""
            what = f"{w}×{h}" if (h, w) == image else f"{w}×{h} tiles of {image[1]}×{image[0]}"
            raise ModelError(
                f"{self.model_path}: {fixed}model cannot run on {what} ({_first(e)})"
            ) from None

    @property
    def pads_odd_sides(self) -> bool:
        """A file converted blocked has no plain graph: it runs odd sides padded (see `run`)."""
        return self.block > 1 and self.variant != "s2d"

    def __repr__(self) -> str:
        return f"Graph({str(self.model_path)!r}, scale={self.scale}, variant={self.variant!r})"


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


_WARNED: set[str] = set()


def _warn_once(message: str) -> None:
    """A delegate problem is said once per process, however many graphs meet it (--tier auto
    opens one per tier, --variant auto two per model)."""
    if message not in _WARNED:
        _WARNED.add(message)
        log.warning("%s", message)


def _first(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return lines[0] if lines else type(e).__name__
