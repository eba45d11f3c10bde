"""The one TFLite inference engine: Y plane in, Y plane `scale`× larger out.

Created once per stream; used by the device commands, `espcn-edge eval` and the converter's
report. No TensorFlow at import time: the interpreter comes from ``ai_edge_litert``, else
``tflite_runtime``, else ``tensorflow.lite``.

Quantized I/O is read from the tensor details. The fast path is the converter's default model
(uint8 I/O, scale 1/255, zero point 0): camera Y bytes go in and come out with no arithmetic.
"""

from __future__ import annotations

import ctypes
import importlib
import logging
import os
from pathlib import Path

import numpy as np

from . import MODELS_DIR
from .color import float_to_y, upscale_rgb, y_to_float
from .quiet import native_stderr_hidden
from .tflite_meta import MetadataError, read_metadata

log = logging.getLogger(__name__)

_BACKENDS = ("ai_edge_litert.interpreter", "tflite_runtime.interpreter", "tensorflow.lite")
DELEGATE_LIBRARIES = {
    "gpu": "libtensorflowlite_gpu_delegate.so",
    "nnapi": "libnnapi_delegate.so",
    "edgetpu": "libedgetpu.so.1",
}
_UNIT = 1.0 / 255.0  # the quantization scale at which one code is one Y level


class ModelError(ValueError):
    """A model file that cannot be used (missing, corrupt, not an ESPCN, wrong scale)."""


class DelegateError(RuntimeError):
    """A requested delegate that could not be loaded, when it was required."""


def default_model_path(scale: int) -> Path:
    """The shipped int8 model for `scale`: espcn_edge/models/espcn_x{scale}_int8.tflite."""
    return Path(str(MODELS_DIR)) / f"espcn_x{scale}_int8.tflite"


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
    """

    def __init__(
        self,
        model_path: str | os.PathLike | None = None,
        scale: int | None = None,
        num_threads: int | None = None,
        delegate: str | None = None,
        delegate_required: bool = False,
    ):
        if model_path is None:
            model_path = default_model_path(scale or 2)
        self.model_path = Path(model_path)
        self.backend, module = _interpreter_module()
        self.metadata = self._read_metadata()
        delegates = self._load_delegates(module, delegate, delegate_required)
        threads = num_threads or os.cpu_count() or 1
        try:
            self._interp = module.Interpreter(
                model_path=str(self.model_path),
                num_threads=threads,
                experimental_delegates=delegates or None,
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
            self._interp = module.Interpreter(model_path=str(self.model_path), num_threads=threads)
        self._check_signature()
        self._shape: tuple[int, int] | None = None
        # the first allocation logs "Created TensorFlow Lite XNNPACK delegate": shown with -v
        with native_stderr_hidden(show=log.isEnabledFor(logging.DEBUG)):
            self.scale = self._probe_scale()
        if scale is not None and scale != self.scale:
            raise ModelError(f"{self.model_path}: model is ×{self.scale}, not ×{scale}")

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

    # -- inference -------------------------------------------------------------------------------
    def _resize(self, h: int, w: int) -> None:
        if self._shape == (h, w):
            return
        self._interp.resize_tensor_input(self._in["index"], [1, h, w, 1], strict=False)
        self._interp.allocate_tensors()
        self._in = self._interp.get_input_details()[0]
        self._out = self._interp.get_output_details()[0]
        self._shape = (h, w)
        self._prepare_io()

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

    def upscale_y(self, y: np.ndarray) -> np.ndarray:
        """uint8 H×W Y plane (full-range) → uint8 (scale·H)×(scale·W) Y plane."""
        y = np.asarray(y)
        if y.ndim == 3 and y.shape[-1] == 1:
            y = y[..., 0]
        if y.ndim != 2 or y.dtype != np.uint8:
            raise ValueError(f"upscale_y needs a uint8 H×W plane, got {y.dtype} {y.shape}")
        h, w = y.shape
        try:
            self._resize(h, w)
        except (RuntimeError, ValueError) as e:  # e.g. a fixed-size (Edge TPU) model
            self._shape = None
            fixed = f"fixed {self.fixed_size[0]}×{self.fixed_size[1]} " if self.fixed_size else ""
            raise ModelError(
                f"{self.model_path}: {fixed}model cannot run on {w}×{h} ({_first(e)})"
            ) from None
        self._interp.set_tensor(self._in["index"], self._encode(y).reshape(1, h, w, 1))
        self._interp.invoke()
        out = self._interp.get_tensor(self._out["index"])
        return self._decode(out.reshape(out.shape[1], out.shape[2]))

    def upscale_rgb(self, rgb: np.ndarray) -> np.ndarray:
        """uint8 H×W×3 RGB → uint8 RGB `scale`× larger (Y by the model, chroma bicubic)."""
        return upscale_rgb(rgb, self.scale, self.upscale_y)

    def __repr__(self) -> str:
        return f"Upscaler({str(self.model_path)!r}, scale={self.scale}, backend={self.backend!r})"


def _first(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return lines[0] if lines else type(e).__name__
