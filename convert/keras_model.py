"""Loading the trained Keras model and running TensorFlow's TFLite converter on it."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from espcn_edge.errors import UserError
from espcn_edge.quiet import native_stderr_hidden

from .calibration import representative_dataset


class ConvertError(UserError, ValueError):
    """A model or option the converter cannot use; the message is one line for the user."""


def load_keras(path: Path):
    """(model, scale) of a single-channel ESPCN `.keras` file, or ConvertError."""
    import keras

    from espcn_edge.model import model_scale

    if not path.is_file():
        what = "is a folder, not a .keras model" if path.is_dir() else "model file not found"
        raise ConvertError(f"{path}: {what}")
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as e:  # Keras raises many types (ValueError, OSError, zipfile errors…)
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        if len(first) > 200:  # at a word's end, said so (it read "…by `load_mode`")
            first = first[:200].rsplit(" ", 1)[0] + " …"
        raise ConvertError(f"{path}: cannot load Keras model ({first})") from None
    try:
        return model, model_scale(model)
    except Exception as e:
        raise ConvertError(f"{path}: {str(e).splitlines()[0]}") from None


def model_spec(model, path: Path) -> dict:
    """Spec name and string: from the trainer's card.json beside the model, else the layers."""
    card = path.parent / "card.json"
    if card.is_file():
        try:
            data = json.loads(card.read_text())
            return {"name": data["spec"]["name"], "string": data["spec_string"]}
        except (ValueError, KeyError, TypeError):
            pass
    convs = [layer for layer in model.layers if layer.__class__.__name__ == "Conv2D"]
    parts = [f"{c.kernel_size[0]}:{c.filters}" for c in convs[:-1]]
    skip = any(layer.name == "anchor" for layer in model.layers)
    text = ",".join(parts + [str(convs[-1].kernel_size[0]) if convs else "?"]) + (
        "+skip" if skip else ""
    )
    return {"name": model.name, "string": text}


def _fixed_batch(model, input_size: tuple[int, int] | None):
    """The model with batch 1 and (optionally) a fixed H×W input."""
    import keras

    w, h = input_size if input_size else (None, None)
    x = keras.Input((h, w, 1), batch_size=1, name="lr_y")
    return keras.Model(x, model(x), name=model.name)


def convert_model(
    model,
    precision: str,
    io_type: str = "uint8",
    planes: Sequence[np.ndarray] | None = None,
    input_size: tuple[int, int] | None = None,
) -> bytes:
    """TFLite flatbuffer bytes. int8 needs calibration `planes` (uint8 Y, see calibration.py)."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(_fixed_batch(model, input_size))
    if precision == "fp16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif precision == "int8":
        if not planes:
            raise ConvertError("int8 conversion needs calibration data")
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative_dataset(planes)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = converter.inference_output_type = getattr(tf, io_type)
    elif precision != "fp32":
        raise ConvertError(f"unknown precision {precision!r}")
    return _quietly(converter.convert, precision)


def _quietly(convert: Callable[[], bytes], what: str) -> bytes:
    """Run one TFLite conversion with TF's chatter hidden (-v shows it); a failure becomes one
    ConvertError line."""
    try:
        # the MLIR quantizer prints "fully_quantize: 0, inference_type: 6 …" natively: -v shows it
        verbose = logging.getLogger(__name__).isEnabledFor(logging.DEBUG)
        with (
            contextlib.redirect_stdout(io.StringIO()),
            warnings.catch_warnings(),
            native_stderr_hidden(show=verbose),
        ):
            # Keras' "Saved artifact at …" chatter; TF's warning about uint8/int8 input statistics,
            # which do not apply to full-integer conversion with a representative dataset
            warnings.filterwarnings("ignore", message="Statistics for quantized inputs")
            return convert()
    except Exception as e:  # the converter wraps MLIR errors in several types
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ConvertError(f"TFLite conversion failed ({what}): {first[:300]}") from None


def convert_int8_float_conv1(
    model, planes: Sequence[np.ndarray], input_size: tuple[int, int] | None = None
) -> bytes:
    """int8 TFLite with conv1 (kernel, bias, output) left in float: XNNPACK's int8 kernel runs
    the one-input-channel layer at a tenth of the others' rate (benchmarks/float_first_layer.py
    measures what it saves). TF's QuantizationDebugger denylists conv1's tensors; the graph takes
    and returns float32."""
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    tensors = Interpreter(model_content=convert_model(model, "fp32")).get_tensor_details()
    converter = tf.lite.TFLiteConverter.from_keras_model(_fixed_batch(model, input_size))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative_dataset(planes)
    options = tf.lite.experimental.QuantizationDebugOptions(
        denylisted_nodes=[t["name"] for t in tensors if "conv1" in t["name"]]
    )

    def convert() -> bytes:
        debugger = tf.lite.experimental.QuantizationDebugger(
            converter=converter,
            debug_dataset=representative_dataset(planes[:4], progress=False),
            debug_options=options,
        )
        return debugger.get_nondebug_quantized_model()

    return _quietly(convert, "int8, float conv1")


def io_details(content: bytes) -> dict:
    """Input/output dtype, quantization (scale, zero point) and shape signature."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=content)

    def one(d: dict) -> dict:
        scale, zp = d["quantization"]
        return {
            "dtype": np.dtype(d["dtype"]).name,
            "quantization": [float(scale), int(zp)] if scale else None,
            "shape": [int(v) for v in d["shape_signature"]],
        }

    return {
        "input": one(interp.get_input_details()[0]),
        "output": one(interp.get_output_details()[0]),
    }
