"""Training for an accelerator: patches cut inside the compiled step (aligned, the CPU generator's
distribution), mixed precision with a float32 output and loss, and `python -m train.budget` run
end to end at a tiny budget — killed, refused, resumed, converted to int8."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from espcn_edge.model import build_espcn  # noqa: E402
from espcn_edge.spec import parse_spec  # noqa: E402
from train.data import DataGenerator  # noqa: E402
from train.patches import DevicePatches  # noqa: E402
from train.precision import choose_policy, cpu_has_amx, dtype_policy  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SCALE, P = 2, 4


def _orientations(a: np.ndarray) -> list[np.ndarray]:
    return [np.rot90(b, k) for b in (a, np.fliplr(a)) for k in range(4)]


def _synthetic_pairs() -> list[tuple[np.ndarray, np.ndarray]]:
    """Two LR planes of different sizes whose pixels are all distinct (so a patch tells its image,
    offset and orientation), with random HR planes: any misaligned HR crop would differ."""
    rng = np.random.default_rng(0)
    a = np.arange(100, dtype=np.uint8).reshape(10, 10)
    b = np.arange(100, 196, dtype=np.uint8).reshape(8, 12)
    return [(lr, rng.integers(0, 256, (SCALE * lr.shape[0], SCALE * lr.shape[1]), np.uint8))
            for lr in (a, b)]  # fmt: skip


def _draws(pairs, batches) -> list[tuple[int, int, int, int]]:
    """(image, y, x, orientation) of every patch, asserting its HR patch is exactly the HR crop at
    SCALE× the offset, in the same orientation."""
    where = {}
    for i, (lr, _) in enumerate(pairs):
        for y in range(lr.shape[0] - P + 1):
            for x in range(lr.shape[1] - P + 1):
                for d, t in enumerate(_orientations(lr[y : y + P, x : x + P])):
                    where[t.tobytes()] = (i, y, x, d)
    draws = []
    for lr_batch, hr_batch in batches:
        for lr, hr in zip(lr_batch[..., 0], hr_batch[..., 0], strict=True):
            i, y, x, d = where[np.rint(lr * 255).astype(np.uint8).tobytes()]
            crop = pairs[i][1][SCALE * y : SCALE * (y + P), SCALE * x : SCALE * (x + P)]
            np.testing.assert_array_equal(np.rint(hr * 255), _orientations(crop)[d])
            draws.append((i, y, x, d))
    return draws


def _assert_uniform(values: list, categories: int) -> None:
    """Every category drawn, each count within 5 standard deviations of uniform."""
    counts = np.bincount(values, minlength=categories)
    n, q = len(values), 1 / categories
    assert len(counts) == categories and counts.min() > 0
    assert np.abs(counts - n * q).max() < 5 * np.sqrt(n * q * (1 - q)), counts


def _assert_sesr_distribution(pairs, draws) -> None:
    _assert_uniform([i for i, *_ in draws], len(pairs))
    _assert_uniform([d for *_, d in draws], 8)
    for i, (lr, _) in enumerate(pairs):
        w = lr.shape[1] - P + 1
        offsets = [y * w + x for j, y, x, _ in draws if j == i]
        _assert_uniform(offsets, (lr.shape[0] - P + 1) * w)


def test_device_patches_are_aligned_and_drawn_like_the_cpu_generators():
    pairs = _synthetic_pairs()
    patches = DevicePatches(pairs, SCALE, P, batch_size=1000)
    step = tf.function(patches.batch, jit_compile=True)  # as inside the compiled training step
    device = [step() for _ in range(5)]
    device_draws = _draws(pairs, [(lr.numpy(), hr.numpy()) for lr, hr in device])
    assert device[0][0].dtype == tf.float32 and device[0][1].shape == (1000, 8, 8, 1)
    gen = DataGenerator.__new__(DataGenerator)  # the real CPU pipeline, on the synthetic planes
    gen.scale, gen.patch_size, gen.batch_size, gen.train_images = SCALE, P, 500, pairs
    cpu = [(lr.numpy(), hr.numpy()) for lr, hr in gen.train_dataset().take(10)]
    cpu_draws = _draws(pairs, cpu)
    for draws in (device_draws, cpu_draws):
        _assert_sesr_distribution(pairs, draws)


def test_mixed_precision_computes_in_16_bits_with_float32_output_and_loss():
    import keras

    from train.reparam import reparam_conv

    assert choose_policy("auto", gpu=True, amx=True) == "mixed_float16"
    assert choose_policy("auto", gpu=False, amx=True) == "mixed_bfloat16"
    assert choose_policy("auto", gpu=False, amx=False) == "float32"
    assert choose_policy("auto", gpu=True, amx=True, qat=True) == "float32"
    assert choose_policy("bf16", gpu=False, amx=False) == "mixed_bfloat16"  # asked for: kept
    assert cpu_has_amx("flags\t: fpu avx2 avx512f avx512_bf16 amx_tile amx_bf16\n")
    assert not cpu_has_amx("flags\t: fpu avx2 avx512f avx512_bf16\n")  # Zen 4: no gain
    pairs = _synthetic_pairs()
    spec = parse_spec("3:8,3:8,3:8,3:8,3:8,3:8,3+skip")
    for policy, compute in (("mixed_float16", "float16"), ("mixed_bfloat16", "bfloat16")):
        with dtype_policy(policy):
            model = build_espcn(SCALE, spec, conv=reparam_conv("sesr"), head_dtype="float32")
        assert keras.config.dtype_policy().name == "float32"  # restored
        assert model.get_layer("conv1").compute_dtype == compute
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer) == (
            policy == "mixed_float16"
        )
        lr, hr = DevicePatches(pairs, SCALE, P, batch_size=8).batch()
        assert model(lr).dtype == tf.float32
        assert np.isfinite(model.train_on_batch(lr, hr))


def _budget(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "train.budget", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        **kwargs,
    )


def _history(out: Path) -> list[dict]:
    with open(out / "history.csv") as f:
        return list(csv.DictReader(f))


def test_budget_command_trains_resumes_and_converts(tmp_path, div2k_onthefly):
    out = tmp_path / "run"
    args = ["--tier", "tiny", "--scale", "2", "--data", str(div2k_onthefly), "--epochs", "3",
            "--patches-per-image", "16", "--batch-size", "8", "--patch-size", "16",
            "--qat-steps", "8", "--out", str(out)]  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "train.budget", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if (out / "backup" / "training_metadata.json").exists():  # the float run's first epoch
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    first_line = proc.communicate()[0].splitlines()[0]
    # 6 training images × 16 patches / batch 8 = 12 steps per epoch
    assert first_line.startswith(
        "Budget: 3 epochs × 6 images × 16 patches of 16×16 LR / batch 8 = 36"
    )
    assert 1 <= len(_history(out)) < 3 and not (out / "qat").exists()
    refused = _budget(*args)
    assert refused.returncode == 2 and "--resume" in refused.stderr.splitlines()[-1]
    r = _budget(*args, "--resume")
    assert r.returncode == 0, r.stderr[-2000:]
    history = _history(out)
    assert [int(row["epoch"]) for row in history] == [0, 1, 2]
    # that it learns is test_train's (36 steps of a residual network move its loss less than
    # their noise: a fresh clone saw epoch 2 above epoch 0); here every epoch's loss is real
    assert all(0 < float(row["loss"]) < 1 for row in history)
    card = json.loads((out / "card.json").read_text())
    assert card["planned_steps"] == 36 and card["device_patches"] and card["reparam"] == "sesr"
    assert card["dtype_policy"] == ("mixed_bfloat16" if cpu_has_amx() else "float32")
    qat = json.loads((out / "qat" / "card.json").read_text())
    assert (
        qat["quantization_aware"] and qat["planned_steps"] == 8 and qat["dtype_policy"] == "float32"
    )
    assert not (out / "backup").exists() and not (out / "qat" / "backup").exists()
    again = _budget(*args, "--resume")
    assert again.returncode == 2 and "nothing to resume" in again.stderr
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    r = subprocess.run([sys.executable, "-m", "convert.tflite", "--int8", "--model",
                        str(out / "qat" / "best.keras"), "--data", str(div2k_onthefly)],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    from convert.ops import check_int8

    graph = check_int8((out / "qat" / "best_int8.tflite").read_bytes())
    assert graph.ops.count("CONV_2D") == 7 and "DEQUANTIZE" not in graph.ops
