"""Fault injection for model problems, through `espcn-edge upscale` in a fresh process.

Corrupt `.tflite` files (truncated, bit-flipped), a non-ESPCN model, a fixed-shape model fed
another size, a missing delegate library: each is one clear stderr line (no traceback), a
non-zero exit and no output file; the delegate falls back to the CPU with one warning.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fakes import tiny_model
from PIL import Image

ROOT = Path(__file__).parents[1]
PREFIX = "espcn-edge upscale: "

BUILD = """
import sys
from pathlib import Path
import tensorflow as tf, keras
from espcn_edge import parse_spec
from espcn_edge.model import build_espcn
out = Path(sys.argv[1])
x = keras.Input((8, 8, 1), batch_size=1)  # a Dense classifier on a one-channel image
y = keras.layers.Dense(4)(keras.layers.Flatten()(x))
out.joinpath("dense.tflite").write_bytes(
    tf.lite.TFLiteConverter.from_keras_model(keras.Model(x, y)).convert())
m = build_espcn(2, parse_spec("3:8,3:8,3:8,3:8,3:8,3:8,3+skip", name="tiny"))
x = keras.Input((12, 16, 1), batch_size=1)  # fixed 16x12 input
out.joinpath("fixed.tflite").write_bytes(
    tf.lite.TFLiteConverter.from_keras_model(keras.Model(x, m(x))).convert())
"""


def _env():
    return dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")


def upscale(args: list[str], cwd: Path) -> tuple[int, list[str]]:
    """Run `espcn-edge upscale ARGS` in a new process: (exit status, stderr lines that matter)."""
    done = subprocess.run(
        [sys.executable, "-m", "device.cli", "upscale", *args],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    # LiteRT's own "INFO: Created TensorFlow Lite XNNPACK delegate" is hidden too (no -v)
    return done.returncode, done.stderr.splitlines()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return tiny_model.session_model(tmp_path_factory)


@pytest.fixture(scope="module")
def odd_models(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("odd_models")
    subprocess.run(
        [sys.executable, "-c", BUILD, str(folder)],
        check=True,
        env=_env(),
        capture_output=True,
        timeout=180,
        cwd=ROOT,
    )
    return folder


@pytest.fixture
def photo(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    path = tmp_path / "in.png"
    Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)).save(path)
    return path


def test_corrupt_tflite_files_are_one_line_and_write_nothing(tiny, photo, tmp_path):
    data = tiny.read_bytes()
    rng = random.Random(6)
    broken = []
    for i in range(10):  # truncated anywhere
        broken.append((f"cut{i}.tflite", data[: rng.randrange(0, len(data))]))
    for i in range(10):  # 8 random bit flips
        b = bytearray(data)
        for _ in range(8):
            j = rng.randrange(len(b))
            b[j] ^= 1 << rng.randrange(8)
        broken.append((f"flip{i}.tflite", bytes(b)))
    refused = 0
    for name, content in broken:
        model = tmp_path / name
        model.write_bytes(content)
        out = tmp_path / f"out_{model.stem}.png"
        status, err = upscale([str(photo), str(out), "--model", str(model)], tmp_path)
        assert not any("Traceback" in e for e in err), err
        if status == 0:  # only weights were hit: the model still runs, the output is whole
            assert name.startswith("flip") and Image.open(out).size == (60, 40)
            continue
        refused += 1
        assert status == 2 and len(err) == 1 and err[0].startswith(PREFIX), (name, err)
        assert name in err[0] and not out.exists(), (name, err)
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert refused >= 15  # almost every corruption is caught at load time


def test_a_non_espcn_model_is_one_line(odd_models, photo, tmp_path):
    status, err = upscale(
        [str(photo), str(tmp_path / "o.png"), "--model", str(odd_models / "dense.tflite")], tmp_path
    )
    assert status == 2 and len(err) == 1, err
    assert err[0].startswith(PREFIX) and "dense.tflite: not an ESPCN model" in err[0]
    assert "np.int" not in err[0] and not (tmp_path / "o.png").exists()


def test_fixed_shape_model_runs_on_other_sizes_or_says_why(
    odd_models, photo, tmp_path, monkeypatch, capsys
):
    from device.cli import main
    from espcn_edge.graph import Graph

    fixed = odd_models / "fixed.tflite"
    # this fixed 16×12 model can be resized by the interpreter: other sizes work
    out = tmp_path / "big.png"
    status, err = upscale([str(photo), str(out), "--model", str(fixed)], tmp_path)
    assert status == 0 and Image.open(out).size == (60, 40), err
    # one that cannot (e.g. Edge TPU-compiled) is a one-line error per file; fitting files work
    fits = tmp_path / "fits.png"
    Image.new("RGB", (16, 12), (90, 60, 30)).save(fits)
    real = Graph._resize

    def only_native(self, h, w):
        if (w, h) != self.fixed_size:
            raise RuntimeError("tensor resize not supported\nmore detail")
        return real(self, h, w)

    monkeypatch.setattr(Graph, "_resize", only_native)
    outdir = tmp_path / "out"
    assert main(["upscale", str(photo), str(fits), str(outdir), "--model", str(fixed)]) == 1
    err = [e for e in capsys.readouterr().err.splitlines() if e.startswith(PREFIX)]
    assert len(err) == 1 and "in.png" in err[0], err
    assert "fixed 16×12 model cannot run on 30×20 (tensor resize not supported)" in err[0]
    assert [p.name for p in outdir.iterdir()] == ["fits.png"]


def test_missing_delegate_library_warns_once_and_uses_the_cpu(tiny, photo, tmp_path):
    out = tmp_path / "cpu.png"
    lib = "/no/such/libdelegate.so"
    status, err = upscale([str(photo), str(out), "--model", str(tiny), "--delegate", lib], tmp_path)
    warnings = [e for e in err if "libdelegate.so" in e]
    assert status == 0 and Image.open(out).size == (60, 40), err
    assert len(warnings) == 1 and "using the CPU" in warnings[0], err
    status, err = upscale(
        [
            str(photo),
            str(tmp_path / "no.png"),
            "--model",
            str(tiny),
            "--delegate",
            lib,
            "--delegate-required",
        ],
        tmp_path,
    )
    assert status == 2 and len(err) == 1 and "cannot load delegate" in err[0], err
    assert not (tmp_path / "no.png").exists()


def test_scale_disagreeing_with_the_model_is_one_line(tiny, photo, tmp_path):
    status, err = upscale(
        [str(photo), str(tmp_path / "o.png"), "--model", str(tiny), "--scale", "4"], tmp_path
    )
    assert status == 2 and err == [f"{PREFIX}{tiny}: model is ×2, not ×4"], err
