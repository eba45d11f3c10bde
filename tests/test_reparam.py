"""Re-parameterized training (`--reparam sesr`), losses and distillation: the collapse is exact,
the trainer saves the plain network, and that converts to an all-int8 TFLite model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

import keras  # noqa: E402
from keras import ops  # noqa: E402

from espcn_edge.color import luma, y_to_float  # noqa: E402
from espcn_edge.imageio import load_rgb  # noqa: E402
from espcn_edge.model import build_espcn  # noqa: E402
from espcn_edge.spec import parse_spec  # noqa: E402
from train.losses import make_loss  # noqa: E402
from train.reparam import CollapsibleConv2D, collapse_into, expand_from, reparam_conv  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SET5_LR = ROOT.parent / "shared" / "data" / "benchmark" / "Set5" / "LR_bicubic" / "X2"
SPEC = parse_spec("5:16,3:16,3:16,3:8,3:8,3:8,3+skip")


def _perturbed_reparam_model(scale: int = 2) -> keras.Model:
    """A re-parameterized model whose every factor is random, biases included (not the init)."""
    model = build_espcn(scale, SPEC, conv=reparam_conv("sesr"))
    rng = np.random.default_rng(1)
    for v in model.weights:
        v.assign(rng.normal(0, 0.05, v.shape).astype(np.float32))
    return model


def _expanded_forward(model: keras.Model, x: np.ndarray) -> np.ndarray:
    """The blocks computed literally, uncollapsed: k×k conv to E channels, 1×1 conv back, +x."""
    for layer in model.layers:
        if isinstance(layer, CollapsibleConv2D):
            h = ops.conv(x, layer.expand_kernel, padding="same") + layer.expand_bias
            y = ops.conv(h, layer.project_kernel[None, None], padding="same") + layer.bias
            if x.shape[-1] == layer.filters:
                y = y + x
            x = layer.activation(y)
    return ops.convert_to_numpy(x)


def test_collapsed_plain_network_matches_the_expanded_blocks_on_a_real_image():
    model = _perturbed_reparam_model()
    plain = collapse_into(model, build_espcn(2, SPEC))
    assert all(type(layer) is not CollapsibleConv2D for layer in plain.layers)
    lr = y_to_float(luma(load_rgb(SET5_LR / "img_001x2.png")))[None, :96, :96, None]
    features = keras.Model(plain.input, plain.get_layer("conv7").output)
    expanded = _expanded_forward(model, lr)
    np.testing.assert_allclose(ops.convert_to_numpy(features(lr)), expanded, atol=1e-5)
    np.testing.assert_allclose(ops.convert_to_numpy(plain(lr)), ops.convert_to_numpy(model(lr)),
                               atol=1e-5)  # fmt: skip


def test_expand_from_starts_the_blocks_at_exactly_a_plain_models_kernels():
    plain = build_espcn(2, SPEC)
    model = build_espcn(2, SPEC, conv=reparam_conv("sesr"))
    assert expand_from(plain, model) == [f"conv{i}" for i in range(1, 8)]
    again = collapse_into(model, build_espcn(2, SPEC))
    for i in range(1, 8):
        for a, b in zip(plain.get_layer(f"conv{i}").get_weights(),
                        again.get_layer(f"conv{i}").get_weights(), strict=True):  # fmt: skip
            np.testing.assert_allclose(a, b, atol=1e-5)


def test_distillation_loss_mixes_the_hr_and_teacher_terms():
    hr, teacher, sr = (np.full((1, 4, 4, 1), v, np.float32) for v in (0.0, 1.0, 0.25))
    y_true = np.concatenate([hr, teacher], axis=-1)
    for name, per in [("mse", lambda d: d * d), ("l1", abs)]:
        got = float(make_loss(name, teacher_weight=0.25)(y_true, sr)[0])
        assert got == pytest.approx(0.75 * per(0.25) + 0.25 * per(0.75))
    charb = float(make_loss("charbonnier")(hr, sr)[0])
    assert 0.25 < charb < 0.2501  # √(d² + ε²) with ε = 1e-3


def test_reparam_run_saves_the_plain_network_which_converts_to_all_int8(tmp_path, div2k_onthefly):
    teacher = tmp_path / "teacher.keras"
    build_espcn(2, parse_spec("3:16,3:16,3:16,3:16,3:16,3:16,3+skip")).save(teacher)
    out = tmp_path / "run"
    args = ["--data", str(div2k_onthefly), "--scale", "2", "--spec", SPEC.to_string(),
            "--epochs", "2", "--steps-per-epoch", "15", "--patch-size", "16", "--out", str(out),
            "--reparam", "sesr", "--loss", "charbonnier", "--teacher", str(teacher),
            "--multiscale"]  # fmt: skip
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    r = subprocess.run([sys.executable, "-m", "train.fit", *args], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    card = json.loads((out / "card.json").read_text())
    assert card["reparam"] == "sesr" and card["loss"] == "charbonnier" and card["multiscale"]
    # a plain Keras file: seven built-in Conv2D with today's names, loadable with no custom objects
    check = (
        "import sys, keras; m = keras.models.load_model(sys.argv[1]); "
        "print(sorted(l.name for l in m.layers if type(l).__name__ == 'Conv2D'))"
    )
    r = subprocess.run([sys.executable, "-c", check, str(out / "best.keras")], env=env,
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode == 0 and r.stdout.split("\n")[-2] == str([f"conv{i}" for i in range(1, 8)])
    r = subprocess.run([sys.executable, "-m", "convert.tflite", "--int8", "--model",
                        str(out / "best.keras"), "--data", str(div2k_onthefly)], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    from convert.ops import check_int8

    graph = check_int8((out / "best_int8.tflite").read_bytes())
    assert graph.ops.count("CONV_2D") == 7 and "DEQUANTIZE" not in graph.ops
