"""An RGB-in, RGB-out `.tflite` super-resolution model run as it is: the field's other models.

ABPN (the Mobile AI 2021 int8 winner) and its kind take a uint8 H×W×3 RGB image and give the
`scale`× larger one, quantized I/O read from the tensor details. `espcn-edge eval --model
rgb:PATH` measures one beside ours and `espcn-edge bench --vs-rgb PATH` times it in the same
interleaved run; nothing is converted, so what is measured is what its authors ship.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .errors import ModelError
from .graph import interpreter_module
from .quiet import native_stderr_hidden


class RgbModel:
    def __init__(self, path: str | os.PathLike, threads: int | None = None):
        self.path = Path(path)
        if not self.path.is_file():
            what = (
                "is a folder, not a .tflite model" if self.path.is_dir() else "model file not found"
            )
            raise ModelError(f"{self.path}: {what}")
        _, module = interpreter_module()
        try:
            self._interp = module.Interpreter(
                model_path=str(self.path), num_threads=threads or os.cpu_count() or 1
            )
        except (ValueError, RuntimeError) as e:
            raise ModelError(f"{self.path}: not a usable TFLite model ({e})") from None
        (self._in,), (self._out,) = (
            self._interp.get_input_details(),
            self._interp.get_output_details(),
        )
        if len(self._in["shape"]) != 4 or self._in["shape"][-1] != 3:
            raise ModelError(f"{self.path}: not an RGB model (input {list(self._in['shape'])})")
        self._shape: tuple[int, int] | None = None
        with native_stderr_hidden():  # the first allocation's "Created … XNNPACK delegate"
            self.scale = int(self.upscale_rgb(np.zeros((8, 8, 3), np.uint8)).shape[0]) // 8

    def _allocate(self, h: int, w: int) -> None:
        if self._shape != (h, w):
            self._interp.resize_tensor_input(self._in["index"], [1, h, w, 3], strict=False)
            self._interp.allocate_tensors()
            self._in, self._out = (self._interp.get_input_details()[0],
                                   self._interp.get_output_details()[0])  # fmt: skip
            self._shape = (h, w)

    def upscale_rgb(self, rgb: np.ndarray) -> np.ndarray:
        """uint8 H×W×3 RGB → uint8 RGB `scale`× larger: the model's output, dequantized."""
        self._allocate(*rgb.shape[:2])
        scale, zero = self._in["quantization"]
        x = (
            rgb
            if self._in["dtype"] == np.uint8 and (scale, zero) in ((1.0, 0), (0.0, 0))
            else (np.clip(np.rint(rgb / (scale or 1.0) + zero), 0, 255).astype(self._in["dtype"]))
        )
        self._interp.set_tensor(self._in["index"], np.ascontiguousarray(x)[None])
        self._interp.invoke()
        out = self._interp.get_tensor(self._out["index"])[0]
        scale, zero = self._out["quantization"]
        values = (out.astype(np.float32) - zero) * scale if scale else out.astype(np.float32)
        return np.clip(np.rint(values), 0, 255).astype(np.uint8)
