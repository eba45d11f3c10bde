"""The device engine `espcn_edge.runtime.Upscaler` on real converted models."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from test_convert import make_models

from espcn_edge.color import float_to_y, y_to_float
from espcn_edge.errors import DelegateError, ModelError
from espcn_edge.runtime import Upscaler
from espcn_edge.tiers import default_model_path


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    return make_models(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def keras_y(models):
    import keras

    model = keras.models.load_model(models["keras"], compile=False)
    return lambda y: float_to_y(model(y_to_float(y)[None, ..., None]).numpy()[0, ..., 0])


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    from espcn_edge import SAMPLES_DIR
    from espcn_edge.color import luma
    from espcn_edge.imageio import load_rgb

    return luma(load_rgb(SAMPLES_DIR / "chelsea.png"))[:90, :120]


def test_int8_engine(models, frame):
    up = Upscaler(models["int8"], scale=2, threads=1)
    assert up.scale == 2 and up.backend == "ai_edge_litert" and up.fixed_size is None
    assert up.metadata["precision"] == "int8" and up.model_path == models["int8"]
    assert up.graph._in_direct and up.graph._out_direct  # uint8 1/255 I/O: bytes in, bytes out
    out = up.upscale_y(frame)
    assert out.dtype == np.uint8 and out.shape == (180, 240)
    rgb = up.upscale_rgb(np.dstack([frame] * 3))
    assert rgb.shape == (180, 240, 3) and rgb.dtype == np.uint8


def test_resizes_only_when_the_shape_changes(models, frame, monkeypatch):
    up = Upscaler(models["int8"], threads=1)
    calls = []
    real = up.graph._interp.allocate_tensors
    monkeypatch.setattr(up.graph._interp, "allocate_tensors", lambda: calls.append(1) or real())
    for y in (frame, frame, frame[:50, :60], frame[:50, :60], frame):
        assert up.upscale_y(y).shape == (2 * y.shape[0], 2 * y.shape[1])
    assert len(calls) == 3


@pytest.mark.parametrize("precision, min_psnr", [("fp32", 60.0), ("fp16", 45.0), ("int8", 38.0)])
def test_outputs_agree_with_keras(models, keras_y, frame, precision, min_psnr):
    from espcn_edge.metrics import psnr

    out = Upscaler(models[precision], threads=1).upscale_y(frame)
    assert psnr(out, keras_y(frame)) > min_psnr


@pytest.mark.parametrize("precision", ["fp32", "fp16", "int8"])
def test_tiles_are_bit_identical_for_every_precision(models, frame, precision):
    """Float models too (fp16/fp32 carry no metadata: the overlap comes from the graph)."""
    up = Upscaler(models[precision], threads=2, tile=0)
    whole = up.upscale_y(frame)
    up.tile = 2 * up.radius + 9
    assert len(up.tiles(*frame.shape)[1]) > 1 and up.radius >= 7
    assert np.array_equal(up.upscale_y(frame), whole)


def test_white_level_of_a_sigmoid_output(tmp_path):
    """Without the identity path the output is TFLite's LOGISTIC, quantized at 1/256: its top
    code means 255/256 = Y 254. The runtime reads that top code as full white."""
    from convert.calibration import calibration_planes
    from convert.keras_model import convert_model
    from espcn_edge.model import build_espcn
    from espcn_edge.spec import SPECS

    model = build_espcn(2, SPECS["seed"])
    bias = model.get_layer("conv7").bias
    bias.assign(np.full(bias.shape, 12.0, np.float32))  # sigmoid ≈ 1: float output is white
    planes = calibration_planes([np.full((32, 32), 128, np.uint8)], patches=4, frames=1)
    path = tmp_path / "sigmoid.tflite"
    path.write_bytes(convert_model(model, "int8", "uint8", planes))
    up = Upscaler(path, threads=1)
    assert up.graph._out["quantization"] == (pytest.approx(1 / 256), 0)
    assert (up.upscale_y(np.full((20, 20), 255, np.uint8)) == 255).all()


def test_bad_models(models, tmp_path):
    with pytest.raises(ModelError, match="not found"):
        Upscaler(tmp_path / "nope.tflite")
    (tmp_path / "junk.tflite").write_bytes(b"\x00" * 64)
    with pytest.raises(ModelError, match="junk.tflite"):
        Upscaler(tmp_path / "junk.tflite")
    cut = tmp_path / "cut.tflite"
    cut.write_bytes(models["int8"].read_bytes()[:3000])
    with pytest.raises(ModelError, match="cut.tflite"):
        Upscaler(cut)
    with pytest.raises(ModelError, match="×2, not ×4"):
        Upscaler(models["int8"], scale=4)


def test_not_an_espcn(tmp_path):
    import keras
    import tensorflow as tf

    x = keras.Input((None, None, 3), batch_size=1)
    converter = tf.lite.TFLiteConverter.from_keras_model(keras.Model(x, x * 2.0))
    path = tmp_path / "rgb.tflite"
    path.write_bytes(converter.convert())
    with pytest.raises(ModelError, match="single-channel"):
        Upscaler(path)


def test_delegate_fallback_and_required(models, caplog, monkeypatch):
    """A missing delegate: a warning and the CPU, said once however many graphs meet it (camera
    --tier auto opens one per tier: it was said three times)."""
    import espcn_edge.graph

    monkeypatch.setattr(espcn_edge.graph, "_WARNED", set())
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            up = Upscaler(models["int8"], delegate="/nonexistent/libdelegate.so")
    (warning,) = [r.getMessage() for r in caplog.records]  # one, not three
    assert "cannot load delegate" in warning and warning.endswith("using the CPU")
    assert up.upscale_y(np.zeros((8, 8), np.uint8)).shape == (16, 16)
    with pytest.raises(DelegateError, match="libdelegate.so"):
        Upscaler(models["int8"], delegate="/nonexistent/libdelegate.so", delegate_required=True)


def test_default_model_path_is_the_standard_tier():
    path = default_model_path(3)
    assert path.name == "espcn_x3_standard_int8.tflite" and path.parent.name == "models"
    assert default_model_path(4, "tiny").name == "espcn_x4_tiny_int8.tflite"
