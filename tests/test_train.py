"""Trainer and DataGenerator: alignment of pairs, the shared preprocessing, a real short run,
resume after a kill, the mirrored strategy, init-from and clear errors."""

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
from fakes import tiny_model

tf = pytest.importorskip("tensorflow")

from espcn_edge.color import y_to_float  # noqa: E402
from espcn_edge.spec import parse_spec  # noqa: E402
from train.data import DataGenerator  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TINY = tiny_model.SPEC


def _dihedral(a: np.ndarray) -> list[np.ndarray]:
    """The 8 rotations/flips of a patch (to undo the generator's augmentation)."""
    return [np.rot90(b, k) for b in (a, np.fliplr(a)) for k in range(4)]


@pytest.mark.parametrize("layout", ["div2k_official", "div2k_onthefly"])
def test_training_patches_are_aligned_crops_of_the_shared_y_planes(layout, request):
    root, scale, p = request.getfixturevalue(layout), 3, 12
    gen = DataGenerator(root, scale, patch_size=p, batch_size=8)
    lr_batch, hr_batch = next(iter(gen.train_dataset()))
    assert lr_batch.shape == (8, p, p, 1) and hr_batch.shape == (8, p * scale, p * scale, 1)
    for lr, hr in zip(lr_batch.numpy()[..., 0], hr_batch.numpy()[..., 0], strict=True):
        lr_u8 = np.rint(lr * 255).astype(np.uint8)
        assert np.array_equal(y_to_float(lr_u8), lr)  # exactly the core's Y → float
        found = False
        for lr_img, hr_img in gen.train_images:
            for lr_t, hr_t in zip(_dihedral(lr_u8), _dihedral(hr), strict=True):
                windows = np.lib.stride_tricks.sliding_window_view(lr_img, (p, p))
                hits = np.argwhere((windows == lr_t).all(axis=(2, 3)))
                for y, x in hits:
                    crop = hr_img[y * scale : (y + p) * scale, x * scale : (x + p) * scale]
                    found |= np.array_equal(y_to_float(crop), hr_t)
        assert found, "HR patch is not the r× crop matching its LR patch"


def test_validation_is_whole_modcropped_images(div2k_official):
    gen = DataGenerator(div2k_official, 4, patch_size=8)
    batches = list(gen.valid_dataset())
    assert len(batches) == len(gen.valid_images) > 0
    for (lr, hr), (lr_y, hr_y) in zip(batches, gen.valid_images, strict=True):
        assert lr.shape[1:3] == lr_y.shape and hr.shape[1] == 4 * lr.shape[1]
        assert np.array_equal(hr.numpy()[0, ..., 0], y_to_float(hr_y))


def _fit(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "train.fit", *args],
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


def test_short_real_run_improves_validation_psnr_and_writes_model_card(tmp_path, div2k_official):
    out = tmp_path / "run"
    r = _fit(
        "--data",
        str(div2k_official),
        "--scale",
        "2",
        "--epochs",
        "3",
        "--steps-per-epoch",
        "40",
        "--patch-size",
        "16",
        "--out",
        str(out),
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert "shuffle" not in r.stderr  # Keras's warning about tf.data input: shown with -v only
    psnrs = [float(row["val_psnr"]) for row in _history(out)]
    assert len(psnrs) == 3 and psnrs[-1] > psnrs[0]
    card = json.loads((out / "card.json").read_text())
    assert (
        card["scale"] == 2
        and card["steps"] <= 120
        and card["best_val_psnr"] == round(max(psnrs), 3)
    )
    assert card["macs_per_lr_pixel"] == parse_spec(card["spec_string"]).macs_per_lr_pixel(2)
    reload = subprocess.run(
        [
            sys.executable,
            "-c",
            "import espcn_edge, keras, sys; "
            "m = keras.models.load_model(sys.argv[1]); print(m.output.shape)",
            str(out / "best.keras"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert reload.returncode == 0, reload.stderr[-2000:]
    assert not list(out.glob(".*.keras")), "temporary checkpoint files left behind"


def test_killed_run_resumes_and_finishes_its_planned_steps(tmp_path, div2k_onthefly):
    out = tmp_path / "run"
    args = [
        "--data",
        str(div2k_onthefly),
        "--scale",
        "2",
        "--spec",
        TINY,
        "--epochs",
        "4",
        "--steps-per-epoch",
        "30",
        "--patch-size",
        "16",
        "--out",
        str(out),
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "train.fit", *args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if (out / "backup" / "training_metadata.json").exists():  # the last write of an epoch
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = len(_history(out))
    assert 1 <= done_before < 4
    assert _fit(*args).returncode == 2  # refuses to overwrite an unfinished run
    r = _fit(*args, "--resume")
    assert r.returncode == 0, r.stderr[-2000:]
    assert [int(row["epoch"]) for row in _history(out)] == [0, 1, 2, 3]
    assert json.loads((out / "card.json").read_text())["planned_steps"] == 120
    assert not (out / "backup").exists()


def test_mirrored_strategy_trains_on_two_logical_cpus(tmp_path, div2k_onthefly):
    r = _fit(
        "--data",
        str(div2k_onthefly),
        "--scale",
        "2",
        "--spec",
        TINY,
        "--epochs",
        "1",
        "--steps-per-epoch",
        "5",
        "--patch-size",
        "16",
        "--strategy",
        "mirrored",
        "--out",
        str(tmp_path / "m"),
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert "2 replica(s)" in r.stdout


def test_init_from_copies_feature_layers_across_scales(tmp_path):
    import keras

    from espcn_edge.model import build_espcn
    from train.fit import init_from

    spec = parse_spec(TINY)
    source = build_espcn(2, spec)
    source.save(tmp_path / "x2.keras")
    target = build_espcn(3, spec)
    init_from(target, tmp_path / "x2.keras", spec)
    for i in range(1, 7):
        np.testing.assert_array_equal(
            target.get_layer(f"conv{i}").get_weights()[0],
            source.get_layer(f"conv{i}").get_weights()[0],
        )
    assert target.get_layer("conv7").get_weights()[0].shape[-1] == 9
    keras.backend.clear_session()


NARROW, WIDE = "5:4,3:4,3:4,3:4,3:4,3:4,3+skip", "5:6,3:6,3:5,3:6,3:4,3:7,3+skip"


def _trained_looking(model, seed=0):
    """Random weights and biases everywhere (a fresh model's biases are all zero)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if layer.get_weights():
            layer.set_weights([rng.normal(0, 0.3, w.shape) for w in layer.get_weights()])
    return model


def test_widening_keeps_the_narrow_networks_output_and_lets_new_channels_learn():
    import keras

    from espcn_edge.model import build_espcn
    from train.widen import widen, widens

    narrow, wide = parse_spec(NARROW), parse_spec(WIDE)
    source = _trained_looking(build_espcn(3, narrow))
    widened = widen(source, wide)
    lr = np.random.default_rng(1).random((1, 20, 24, 1), np.float32)
    np.testing.assert_allclose(widened(lr), source(lr), atol=1e-6)
    assert np.any(widened.get_layer("conv1").get_weights()[0][..., 4:])  # new channels compute
    assert widened.count_params() > source.count_params()
    assert widens(source, wide) and not widens(source, narrow)
    assert not widens(widened, narrow)  # narrowing is not widening
    assert not widens(source, parse_spec(WIDE.replace("5:6", "3:6")))  # other kernel sizes
    keras.backend.clear_session()


def test_init_from_a_narrower_network_starts_wider_sesr_blocks_at_its_output(tmp_path, capsys):
    import keras

    from espcn_edge.model import build_espcn
    from train.fit import init_from
    from train.reparam import reparam_conv

    source = _trained_looking(build_espcn(3, parse_spec(NARROW)))
    source.save(tmp_path / "narrow.keras")
    wide = parse_spec(WIDE)
    target = build_espcn(3, wide, conv=reparam_conv("sesr"))
    init_from(target, tmp_path / "narrow.keras", wide)
    lr = np.random.default_rng(2).random((1, 16, 16, 1), np.float32)
    np.testing.assert_allclose(target(lr), source(lr), atol=1e-4)
    assert "Widened" in capsys.readouterr().out
    keras.backend.clear_session()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--data", "/nonexistent/div2k"], "dataset folder not found"),
        (["--spec", "3:8,3:8"], "unknown spec"),
        (["--init-from", "/nonexistent.keras"], "cannot load the --init-from model"),
    ],
)
def test_bad_requests_fail_with_one_clear_line(tmp_path, args, message):
    r = _fit(*args, "--epochs", "1", "--steps-per-epoch", "1", "--out", str(tmp_path / "o"))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()  # no TensorFlow start-up notices before it
    assert len(lines) == 1 and lines[0].startswith("python -m train.fit: "), lines
    assert message in lines[0]


def test_fake_quant_lands_on_the_int8_grid_and_passes_gradients_inside_it():
    from train.qat import fake_quant

    x = tf.constant(np.linspace(-1.5, 1.5, 301, dtype=np.float32))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fake_quant(x, 1 / 128, 0)
        total = tf.reduce_sum(y)
    grad = tape.gradient(total, x).numpy()
    q = y.numpy() * 128
    np.testing.assert_allclose(q, np.round(q), atol=1e-4)
    assert q.min() == -128 and q.max() == 127  # saturates like int8
    inside = np.abs(x.numpy()) < 0.99
    assert np.all(grad[inside] == 1) and np.all(grad[np.abs(x.numpy()) > 1.01] == 0)


def test_qat_simulation_reproduces_the_int8_tflite_arithmetic(div2k_onthefly):
    """Given the converter's ranges, each fake-quant layer must compute what the int8 model's
    CONV_2D + TANH/LOGISTIC computes, code for code, where the float layer does not; otherwise
    quantization-aware training optimises the wrong thing."""
    import keras
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from convert.keras_model import convert_model
    from convert.ranges import clamp_pre_tanh
    from espcn_edge.model import build_espcn, copy_weights
    from train.qat import QuantConv2D

    gen = DataGenerator(div2k_onthefly, 2, patch_size=24, batch_size=16)
    plain = build_espcn(2, parse_spec(TINY))
    plain.compile(keras.optimizers.Adam(2e-3), "mse")
    plain.fit(gen.train_dataset(), epochs=1, steps_per_epoch=30, verbose=0)
    planes = [
        np.rint(p[..., 0] * 255).astype(np.uint8)
        for batch, _ in gen.train_dataset().take(4)
        for p in batch.numpy()
    ]
    content, _ = clamp_pre_tanh(convert_model(plain, "int8", "uint8", planes))
    interp = Interpreter(
        model_content=content,
        experimental_preserve_all_tensors=True,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    lr_y = gen.valid_images[0][0]
    interp.resize_tensor_input(0, [1, *lr_y.shape, 1])
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], lr_y[None, ..., None])
    interp.invoke()
    ops = interp._get_ops_details()
    details = interp.get_tensor_details()

    qat = build_espcn(2, parse_spec(TINY), conv=QuantConv2D)
    copy_weights(plain, qat)
    conv_outputs = [op["outputs"][0] for op in ops if op["op_name"] == "CONV_2D"]
    for i, tensor in enumerate(conv_outputs, start=1):
        s, zp = details[tensor]["quantization"]
        layer = qat.get_layer(f"conv{i}")
        layer.lo.assign((-128 - zp) * s)
        layer.hi.assign((127 - zp) * s)
        layer.seen.assign(1.0)
    # layer by layer, each fed the int8 model's own input to that layer
    activations = [op for op in ops if op["op_name"] in ("TANH", "LOGISTIC")]
    conv_inputs = [next(op for op in ops if op["op_name"] == "CONV_2D")["inputs"][0]]
    conv_inputs += [op["outputs"][0] for op in activations[:-1]]
    totals = [0.0, 0.0]  # code mismatches summed over the layers: simulation, float
    for i, (act, conv_in) in enumerate(zip(activations, conv_inputs, strict=True), start=1):
        s_in, zp_in = details[conv_in]["quantization"]
        x = (interp.get_tensor(conv_in).astype(np.float32) - zp_in) * s_in
        s_out, zp_out = details[act["outputs"][0]]["quantization"]
        int8_codes = interp.get_tensor(act["outputs"][0]).astype(int)
        sim, float_ = (
            float(
                np.mean(np.rint(m.get_layer(f"conv{i}")(x).numpy() / s_out) + zp_out != int8_codes)
            )
            for m in (qat, plain)
        )
        assert sim < 0.01 and sim <= float_, (i, sim, float_)
        totals[0] += sim
        totals[1] += float_
    assert totals[1] > 5 * totals[0], totals
    keras.backend.clear_session()


def test_a_finished_run_is_kept_unless_overwrite_is_asked_for(tmp_path, capsys):
    """A new run into an --out holding a finished one would replace its best.keras, even with
    a worse model: refused in one line; --overwrite clears that run's files, and only those."""
    from train.fit import FitConfig, claim_out, main

    out = tmp_path / "run"
    (out / "logs").mkdir(parents=True)
    for name in ("best.keras", "last.keras", "card.json", "history.csv", "notes.txt"):
        (out / name).write_text(name)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert main(["--out", str(out), "--epochs", "1", "--steps-per-epoch", "1"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "holds a finished run" in lines[0] and "--overwrite" in lines[0]
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before

    # --resume of a finished run would retrain from scratch over it: refused, touching nothing
    assert main(["--out", str(out), "--resume", "--epochs", "1", "--steps-per-epoch", "1"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "finished run, nothing to resume" in lines[0]
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    (out / "backup").mkdir()  # an unfinished run: --resume is let through
    claim_out(FitConfig(out=out, resume=True))
    assert (out / "best.keras").exists()
    claim_out(FitConfig(out=out, overwrite=True))
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_xla_compiles_long_single_replica_runs_only():
    from train.fit import XLA_MIN_STEPS, use_xla

    assert use_xla("auto", XLA_MIN_STEPS, 1) and not use_xla("auto", XLA_MIN_STEPS - 1, 1)
    assert use_xla("on", 10, 1) and not use_xla("off", 10**6, 1)
    assert not use_xla("on", 10**6, 2)  # tf.distribute's replicas cannot share XLA
    assert not use_xla("auto", 10**6, 1, cpu_bf16=True) and use_xla("on", 10, 1, cpu_bf16=True)
