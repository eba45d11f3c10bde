"""`train.budget --backend jax`, the float stage for an accelerator with JAX and no TensorFlow, run
on the CPU: the same patches as TensorFlow's step for the same random numbers, a network that
TensorFlow's Keras loads and scores as the run did, and one-line refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("jax")

import keras  # noqa: E402

from train.callbacks import mean_psnr, upscale_y  # noqa: E402
from train.crops import Packed, cut_batch, pack  # noqa: E402
from train.pairs import training_planes  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
JAX = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3"}
STANDARD = ROOT / "espcn_edge" / "models" / "espcn_x2_standard.keras"

CUT_IN_JAX = """
import sys, numpy as np
from train.crops import INDEX, Packed, cut_batch, pack
d = np.load(sys.argv[1])
lr, hr = (Packed(*pack([d[f"{kind}{i}"] for i in range(2)])) for kind in ("lr", "hr"))
out = cut_batch(lr, hr, d["u"], 3, 5)
np.savez(sys.argv[2], lr=np.asarray(out[0]), hr=np.asarray(out[1]), index=INDEX)
"""


def test_jax_cuts_exactly_the_patches_tensorflow_cuts(tmp_path):
    rng = np.random.default_rng(1)
    lrs = [rng.integers(0, 256, shape, np.uint8) for shape in ((9, 11), (14, 7))]
    hrs = [rng.integers(0, 256, (3 * p.shape[0], 3 * p.shape[1]), np.uint8) for p in lrs]
    planes = {f"{kind}{i}": p for kind, ps in (("lr", lrs), ("hr", hrs)) for i, p in enumerate(ps)}
    u = rng.uniform(size=(4, 64)).astype(np.float32)
    np.savez(tmp_path / "in.npz", u=u, **planes)
    command = [sys.executable, "-c", CUT_IN_JAX, tmp_path / "in.npz", tmp_path / "out.npz"]
    r = subprocess.run(command, cwd=ROOT, env=JAX, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    jax_out = np.load(tmp_path / "out.npz")
    tf_lr, tf_hr = cut_batch(Packed(*pack(lrs)), Packed(*pack(hrs)), u, 3, 5)
    assert str(jax_out["index"]) == "uint32"  # JAX without 64-bit mode: still 2³² pixels
    assert tf_lr.shape == (64, 5, 5, 1) and tf_hr.shape == (64, 15, 15, 1)
    assert np.array_equal(np.asarray(tf_lr), jax_out["lr"])
    assert np.array_equal(np.asarray(tf_hr), jax_out["hr"])
    assert len({patch.tobytes() for patch in jax_out["lr"]}) > 32  # drawn, not one patch


def _budget(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "train.budget", "--backend", "jax", *args]
    return subprocess.run(command, cwd=ROOT, env=JAX, capture_output=True, text=True, timeout=600)


def test_jax_float_stage_trains_what_tensorflow_loads_and_scores_alike(tmp_path, div2k_onthefly):
    out = tmp_path / "run"
    args = ["--tier", "standard", "--scale", "2", "--data", str(div2k_onthefly),
            "--epochs", "2", "--patches-per-image", "4", "--batch-size", "4", "--patch-size", "16",
            "--lr", "1e-4", "--mixed-precision", "off", "--init-from", str(STANDARD),
            "--out", str(out)]  # fmt: skip
    r = _budget(*args)
    assert r.returncode == 0, r.stderr[-2000:]
    card = json.loads((out / "card.json").read_text())
    assert card["backend"] == "jax" and card["reparam"] == "sesr" and card["planned_steps"] == 12
    assert card["dtype_policy"] == "float32" and card["init_from"] == str(STANDARD)
    assert "python -m train.fit" in r.stdout and f"--init-from {out / 'best.keras'}" in r.stdout
    history = (out / "history.csv").read_text().splitlines()
    assert (out / "last.keras").exists() and len(history) == 3  # header + 2 epochs
    trained, shipped = (keras.models.load_model(p) for p in (out / "best.keras", STANDARD))
    pairs = zip(trained.get_weights(), shipped.get_weights(), strict=True)
    moved = [np.abs(a - b).max() for a, b in pairs]
    assert 0 < max(moved) < 0.05  # 12 small steps from the shipped network, in TensorFlow's Keras
    _, valid = training_planes(div2k_onthefly, 2, 16)
    scored = mean_psnr(lambda lr: upscale_y(trained, lr), valid, 2)
    assert abs(scored - card["best_val_psnr"]) < 0.01, (scored, card["best_val_psnr"])
    again = _budget(*args)
    assert again.returncode == 2 and "--overwrite" in again.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize(
    "extra, says",
    [(["--resume"], "start afresh"), (["--mixed-precision", "fp16"], "loss scaling")],
)
def test_jax_float_stage_refuses_in_one_line(tmp_path, div2k_onthefly, extra, says):
    r = _budget("--data", str(div2k_onthefly), "--out", str(tmp_path / "run"), *extra)
    assert r.returncode == 2 and says in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()
