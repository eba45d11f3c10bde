"""The Keras ESPCN: structure for ×2/×3/×4 with and without the identity path, reload in a fresh
process, TFLite DEPTH_TO_SPACE, and a core package that imports without TensorFlow."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from espcn_edge.model import build_espcn, model_scale  # noqa: E402
from espcn_edge.spec import SPECS  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def _run_python(code: str, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=ENV,
    )


def _np(x) -> np.ndarray:
    return x.numpy() if hasattr(x, "numpy") else keras.ops.convert_to_numpy(x)


def _convs(model):
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]


def _lr(h: int = 7, w: int = 5, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((1, h, w, 1), dtype=np.float32)


@pytest.mark.parametrize("name", ["seed", "seed-skip"])
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_structure(scale, name):
    spec = SPECS[name]
    model = build_espcn(scale, spec)
    convs = _convs(model)
    assert len(convs) == 7
    assert [c.activation.__name__ for c in convs] == ["tanh"] * 6 + ["sigmoid"]
    assert [c.filters for c in convs] == [*spec.widths, scale * scale]
    assert [c.kernel_size for c in convs] == [(k, k) for k in spec.kernels]
    assert all(c.padding == "same" for c in convs)
    assert model.input_shape == (None, None, None, 1)
    out = _np(model(_lr(7, 5)))
    assert out.shape == (1, 7 * scale, 5 * scale, 1)
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert model_scale(model) == scale
    keras.backend.clear_session()


def _zero_last_layer(model):
    conv7 = model.get_layer("conv7")
    conv7.set_weights([np.zeros_like(w) for w in conv7.get_weights()])


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_skip_path_is_nearest_neighbour_upscaling_of_the_input(scale):
    """With conv7 at zero its sigmoid gives 0.5, so the residual vanishes: with the identity path
    the output is the input with each pixel repeated r×r; without it, a flat 0.5."""
    lr = _lr(6, 4, seed=scale)
    nearest = np.kron(lr[0, ..., 0], np.ones((scale, scale)))
    with_skip, without = build_espcn(scale, SPECS["seed-skip"]), build_espcn(scale, SPECS["seed"])
    for model in (with_skip, without):
        _zero_last_layer(model)
    np.testing.assert_allclose(_np(with_skip(lr))[0, ..., 0], nearest, atol=1e-6)
    np.testing.assert_allclose(_np(without(lr))[0, ..., 0], 0.5, atol=1e-6)
    keras.backend.clear_session()


def test_bad_scale_and_non_sr_model_are_refused():
    with pytest.raises(ValueError, match="scale"):
        build_espcn(5)
    inp = keras.Input((None, None, 1))
    with pytest.raises(ValueError, match="super-resolution"):
        model_scale(keras.Model(inp, keras.layers.Conv2D(2, 3, padding="same")(inp)))


# Keras' own weight saving trips a NumPy 2 deprecation warning; not ours to fix
@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
def test_saved_models_reload_in_a_fresh_process_with_identical_outputs(tmp_path):
    lr = _lr(9, 6, seed=1)
    np.save(tmp_path / "lr.npy", lr)
    paths = []
    for scale, name in [(2, "seed-skip"), (3, "seed"), (4, "seed-skip")]:
        model = build_espcn(scale, SPECS[name])
        path = tmp_path / f"x{scale}_{name}.keras"
        model.save(path)
        np.save(path.with_suffix(".npy"), _np(model(lr)))
        paths.append(path)
    keras.backend.clear_session()
    # exactly what a user does: nothing but `import espcn_edge, keras` and load_model
    r = _run_python(
        """
        import sys
        import espcn_edge, keras
        import numpy as np
        lr = np.load(sys.argv[1])
        for p in sys.argv[2:]:
            m = keras.models.load_model(p)
            np.save(p.replace(".keras", ".reloaded.npy"), np.asarray(m(lr)))
        """,
        str(tmp_path / "lr.npy"),
        *map(str, paths),
    )
    assert r.returncode == 0, r.stderr[-3000:]
    for path in paths:
        before = np.load(path.with_suffix(".npy"))
        after = np.load(str(path).replace(".keras", ".reloaded.npy"))
        assert before.shape == after.shape and np.array_equal(before, after), path.name


@pytest.mark.parametrize("scale, name", [(2, "seed-skip"), (3, "seed")])
def test_tflite_conversion_uses_depth_to_space(scale, name):
    tf = pytest.importorskip("tensorflow")
    model = build_espcn(scale, SPECS[name])
    tflite = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        Interpreter = tf.lite.Interpreter
    interp = Interpreter(model_content=tflite)
    ops = {op["op_name"] for op in interp._get_ops_details()}
    assert "DEPTH_TO_SPACE" in ops
    assert not any("FLEX" in op.upper() or "CUSTOM" in op.upper() for op in ops), ops
    lr = _lr(8, 6, seed=2)
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    interp.resize_tensor_input(inp["index"], lr.shape)
    interp.allocate_tensors()
    interp.set_tensor(inp["index"], lr)
    interp.invoke()
    np.testing.assert_allclose(interp.get_tensor(out["index"]), _np(model(lr)), atol=1e-5)
    keras.backend.clear_session()


def test_core_package_imports_without_tensorflow():
    r = _run_python(
        """
        import sys
        sys.modules["tensorflow"] = None  # any `import tensorflow` now raises ImportError
        sys.modules["keras"] = None
        import espcn_edge
        from espcn_edge import atomic, color, dataset, imageio, metrics, quiet, spec
        assert espcn_edge.DEFAULT_SPEC.params(2) > 0
        try:
            import espcn_edge.model
        except ImportError:
            print("blocked")  # proves the blocker works: the Keras model does need TF/Keras
        """
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip() == "blocked"
