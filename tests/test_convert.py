"""The converter: a quickly trained model → int8 / fp16 / fp32 `.tflite`, checks and report.

`make_models` (also used by test_runtime and test_evaluate) trains a small ESPCN for a few dozen
steps on the bundled samples and converts it once per session.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from espcn_edge import SAMPLES_DIR
from espcn_edge.color import float_to_y, y_to_float
from espcn_edge.tflite_meta import read_metadata

SET5 = Path(__file__).parents[2] / "shared" / "data" / "benchmark" / "Set5"
T91 = SET5.parents[1] / "train" / "T91"
SPEC = "3:16,3:16,3:8,3:8,3:8,3:8,3+skip"  # small, so training and calibration take seconds
INT8_TOLERANCE_DB = 0.5  # int8 Set5 Y-PSNR may fall at most this far below the float model


def _train(out: Path, steps: int = 48) -> None:
    import keras

    from espcn_edge import parse_spec
    from espcn_edge.color import y_to_float
    from espcn_edge.dataset import find_pairs, load_pairs
    from espcn_edge.model import build_espcn

    pairs = load_pairs(find_pairs(SAMPLES_DIR, 2, "train"), 2)
    rng = np.random.default_rng(0)
    lr_p, hr_p = [], []
    for _ in range(steps * 8):
        lr, hr = pairs[int(rng.integers(len(pairs)))]
        y, x = int(rng.integers(lr.shape[0] - 24)), int(rng.integers(lr.shape[1] - 24))
        lr_p.append(lr[y : y + 24, x : x + 24])
        hr_p.append(hr[2 * y : 2 * y + 48, 2 * x : 2 * x + 48])
    keras.utils.set_random_seed(0)
    model = build_espcn(2, parse_spec(SPEC, name="test-small"))
    model.compile(keras.optimizers.Adam(2e-3), "mse")
    lr_x, hr_x = (y_to_float(np.stack(p))[..., None] for p in (lr_p, hr_p))
    model.fit(lr_x, hr_x, batch_size=8, epochs=1, verbose=0)
    model.save(out)


def make_models(base: Path) -> dict[str, Path]:
    """{"keras", "int8", "fp16", "fp32"} → paths, built once under the session's temp root.

    int8 goes through the whole converter (`run`, with its report); fp16 and fp32 through the
    conversion step only, to keep the suite quick."""
    from convert.keras_model import convert_model, load_keras
    from convert.tflite import ConvertOptions, run

    folder = base / "espcn_convert_models"
    paths = {"keras": folder / "small.keras"}
    paths.update({p: folder / f"small_{p}.tflite" for p in ("int8", "fp16", "fp32")})
    if all(p.exists() for p in paths.values()):
        return paths
    folder.mkdir(parents=True, exist_ok=True)
    _train(paths["keras"])
    opts = ConvertOptions("int8", calibration_samples=48, calibration_frames=2, eval_images=1)
    run(paths["keras"], paths["int8"], SAMPLES_DIR, opts)
    model, _ = load_keras(paths["keras"])
    for precision in ("fp16", "fp32"):
        paths[precision].write_bytes(convert_model(model, precision))
    return paths


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    return make_models(tmp_path_factory.getbasetemp())


def test_int8_is_all_integer_with_uint8_io(models):
    from convert.ops import check_int8

    graph = check_int8(models["int8"].read_bytes())
    assert {"CONV_2D", "DEPTH_TO_SPACE"} <= set(graph.ops)
    assert not {"DEQUANTIZE", "CUSTOM"} & set(graph.ops)
    assert graph.ops.count("QUANTIZE") == 2  # uint8 ↔ int8 at the two edges only
    assert {graph.tensor_types[t] for t in graph.inputs + graph.outputs} == {"UINT8"}


@pytest.mark.parametrize("io_type", ["uint8", "int8"])
def test_clip_folded_away(models, io_type):
    """The identity path's clip (MINIMUM + RELU, not taken by XNNPACK) is folded into the ADD's
    saturation on the [0, 1] output grid: the clip still holds, the output is at least as close to
    the float model (one rounding fewer); an int8-output graph is left alone."""
    import keras

    from convert.calibration import calibration_lr, calibration_planes
    from convert.fold_clip import fold_clip
    from convert.keras_model import convert_model
    from convert.ops import check_int8, read_graph
    from espcn_edge.runtime import Upscaler

    assert not {"MINIMUM", "RELU"} & set(read_graph(models["int8"].read_bytes()).ops)
    model = keras.models.load_model(models["keras"], compile=False)
    planes = calibration_planes(calibration_lr(SAMPLES_DIR, 2), patches=16, frames=1)
    plain = convert_model(model, "int8", io_type, planes)
    assert {"MINIMUM", "RELU"} <= set(read_graph(plain).ops)
    folded, changed = fold_clip(plain)
    if io_type == "int8":
        assert (folded, changed) == (plain, False)
        return
    assert changed and not {"MINIMUM", "RELU"} & set(check_int8(folded).ops)
    assert fold_clip(folded) == (folded, False)
    rng = np.random.default_rng(1)
    y = np.concatenate([rng.integers(0, 256, (40, 50)), np.full((8, 50), 255)]).astype(np.uint8)
    outs = []
    for content in (plain, folded):
        path = models["keras"].parent / f"fold_{len(outs)}.tflite"
        path.write_bytes(content)
        outs.append(Upscaler(path).upscale_y(y).astype(int))
    reference = float_to_y(model(y_to_float(y)[None, ..., None])[0, ..., 0]).astype(int)
    errors = [np.abs(out - reference).mean() for out in outs]
    assert errors[1] <= errors[0], errors
    assert np.abs(outs[1] - outs[0]).max() <= 2  # only the rounding changed


def test_float_conv1(models, tmp_path):
    """`--float-conv1`: conv1 (and its TANH) stay float, every other convolution int8, I/O
    float32; the converter's int8 edits still apply to the int8 rest (the clip folds ahead of
    the final DEQUANTIZE: the float output is on the 1/255 grid of [0, 1]); the output differs
    from the all-int8 model's by rounding only."""
    from ai_edge_litert.interpreter import Interpreter

    from convert.tflite import ConvertOptions, run
    from espcn_edge.flatbuffer import schema, unpack
    from espcn_edge.runtime import Upscaler

    out = tmp_path / "float_conv1.tflite"
    opts = ConvertOptions("int8", calibration_samples=48, calibration_frames=2, eval_images=1,
                          float_conv1=True)  # fmt: skip
    report = run(models["keras"], out, SAMPLES_DIR, opts)
    assert report["clip_folded"] and report["residual_exact"], report
    assert report["input"]["dtype"] == report["output"]["dtype"] == "float32"
    assert report["drop_db"] < INT8_TOLERANCE_DB
    m, codes = unpack(out.read_bytes())
    g = m.subgraphs[0]
    float32 = schema().TensorType.FLOAT32
    convs = [g.tensors[int(op.inputs[1])].type for op in g.operators
             if codes[op.opcodeIndex] == "CONV_2D"]  # fmt: skip
    assert convs[0] == float32 and float32 not in convs[1:]
    assert "MINIMUM" not in [codes[op.opcodeIndex] for op in g.operators]
    rng = np.random.default_rng(2)
    y = np.concatenate([rng.integers(0, 256, (40, 50)), np.full((8, 50), 255)]).astype(np.uint8)
    outs = [Upscaler(path).upscale_y(y).astype(int) for path in (models["int8"], out)]
    assert np.abs(outs[1] - outs[0]).mean() < 1.0
    interpreter = Interpreter(model_path=str(out))
    x = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(x, (1, *y.shape, 1))
    interpreter.allocate_tensors()
    interpreter.set_tensor(x, y_to_float(y)[None, ..., None])
    interpreter.invoke()
    raw = interpreter.get_tensor(interpreter.get_output_details()[0]["index"]) * 255
    assert raw.min() >= 0 and raw.max() == pytest.approx(255, abs=1e-3)
    assert np.abs(raw - np.round(raw)).max() < 1e-3


def test_residual_requantized_exactly(tmp_path):
    """The shipped ×2 standard network converted once, then edited with and without
    `exact_residual`: the SUB of `sigmoid − 0.5` lands on the LOGISTIC's grid shifted by 128
    levels (so it rounds nothing), and Set5 int8 PSNR rises (+0.18 dB for today's network,
    calibrated as the converter does by default, on T91; a calibration of a few dozen patches
    moves the result by more than the edit does, either way)."""
    import keras

    from convert.calibration import calibration_lr, calibration_planes
    from convert.keras_model import convert_model
    from convert.ranges import exact_residual
    from convert.tflite import ConvertOptions, int8_rewrites
    from espcn_edge.evaluate import evaluate_models, load_images, load_model
    from espcn_edge.flatbuffer import unpack
    from espcn_edge.tiers import default_model_path

    keras_path = default_model_path(2, "standard").with_name("espcn_x2_standard.keras")
    model = keras.models.load_model(keras_path, compile=False)
    planes = calibration_planes(calibration_lr(T91, 2))
    converted = convert_model(model, "int8", "uint8", planes)
    psnr, images = {}, load_images(SET5, 2)
    for exact in (False, True):
        content, edits = int8_rewrites(converted, ConvertOptions("int8", exact_residual=exact))
        assert edits["residual_exact"] is exact
        m, codes = unpack(content)
        g = m.subgraphs[0]
        (sub,) = [op for op in g.operators if codes[op.opcodeIndex] == "SUB"]
        q_sig, q_sub = (g.tensors[int(t)].quantization for t in (sub.inputs[0], sub.outputs[0]))
        grid = (float(q_sub.scale[0]), int(q_sub.zeroPoint[0]))
        assert (grid == (float(q_sig.scale[0]), int(q_sig.zeroPoint[0]) + 128)) is exact
        assert exact_residual(content)[1] is not exact  # a second pass finds nothing to do
        path = tmp_path / f"exact_{exact}.tflite"
        path.write_bytes(content)
        r = evaluate_models([load_model(str(path), 2)], images, 2)
        psnr[exact] = next(iter(r["models"].values()))["mean_psnr"]
    assert psnr[True] > psnr[False] + 0.05, psnr


@pytest.mark.parametrize("float_conv1", [False, True])
def test_check_int8_refuses_float_graph(models, float_conv1):
    """A float graph fails the check, also where conv1 alone may be float."""
    from convert.ops import check_int8

    with pytest.raises(ValueError, match="not all-integer"):
        check_int8(models["fp32"].read_bytes(), float_conv1)


def test_metadata_and_report(models):
    meta = read_metadata(models["int8"])
    assert meta["scale"] == 2 and meta["precision"] == "int8"
    assert meta["color_space"] == "Y full-range BT.601"
    assert meta["spec"]["string"] == SPEC
    assert meta["input"] == {"dtype": "uint8", "quantization": [pytest.approx(1 / 255), 0],
                             "shape": [1, -1, -1, 1]}  # fmt: skip
    assert meta["versions"]["tensorflow"]
    assert meta["calibration"] == {"patches": 48, "frames": 2, "seed": 0, "pre_tanh_clamp": 2.0}
    report = json.loads(models["int8"].with_suffix(".json").read_text())
    names = set(report["evaluation"]["models"])
    assert names == {"bicubic", "keras float", "tflite fp32", "tflite int8"}
    assert report["white_level"]["ok"], report["white_level"]
    assert report["drop_db"] < INT8_TOLERANCE_DB
    assert report["pre_tanh_ranges_clamped"] >= 0 and report["clip_folded"]
    assert report["residual_exact"]


def test_int8_agrees_with_float_on_set5(models):
    from espcn_edge.evaluate import evaluate_models, load_images, load_model
    from espcn_edge.metrics import psnr

    images = load_images(SET5, 2)
    keras_m, int8_m = (load_model(str(models[k]), 2) for k in ("keras", "int8"))
    res = evaluate_models([keras_m, int8_m], images, 2)["models"]
    drop = res[keras_m.name]["mean_psnr"] - res[int8_m.name]["mean_psnr"]
    assert drop < INT8_TOLERANCE_DB
    agreement = [psnr(int8_m.upscale_rgb(im.lr), keras_m.upscale_rgb(im.lr), 2) for im in images]
    assert min(agreement) > 38.0  # int8 output within ~3 Y levels RMS of the float output


def test_fixed_input_size(models, tmp_path):
    from convert.tflite import ConvertOptions, run
    from espcn_edge.runtime import Upscaler

    out = tmp_path / "fixed.tflite"
    opts = ConvertOptions("int8", calibration_samples=8, calibration_frames=1,
                          input_size=(40, 30), eval_images=1)  # fmt: skip
    run(models["keras"], out, SAMPLES_DIR, opts)
    up = Upscaler(out)
    assert up.fixed_size == (40, 30) and read_metadata(out)["input_size"] == [40, 30]
    assert up.upscale_y(np.zeros((30, 40), np.uint8)).shape == (60, 80)


def _no_new_files(folder: Path, before: set[str]) -> bool:
    return {p.name for p in folder.iterdir()} == before


@pytest.mark.parametrize("case", ["missing", "unreadable", "three_channel", "scale",
                                  "empty_data", "missing_data", "float_conv1_io"])  # fmt: skip
def test_bad_inputs_one_line_no_file(case, models, tmp_path, capsys):
    from convert.tflite import main

    model, data, extra = models["keras"], tmp_path / "data", []
    data.mkdir()
    (data / "a.png").write_bytes((SAMPLES_DIR / "chelsea.png").read_bytes())
    if case == "missing":
        model = tmp_path / "nope.keras"
    elif case == "unreadable":
        model = tmp_path / "bad.keras"
        model.write_bytes(b"PK\x03\x04 not really a zip")
    elif case == "three_channel":
        import keras

        x = keras.Input((None, None, 3))
        model = tmp_path / "rgb.keras"
        keras.Model(x, keras.layers.Conv2D(3, 3, padding="same")(x)).save(model)
    elif case == "scale":
        extra = ["--scale", "3"]
    elif case == "float_conv1_io":
        extra = ["--float-conv1", "--io-type", "int8"]
    elif case == "empty_data":
        data = tmp_path / "empty"
        data.mkdir()
    elif case == "missing_data":
        data = tmp_path / "absent"
    before = {p.name for p in tmp_path.iterdir()}
    out = tmp_path / "out.tflite"
    rc = main(["--int8", "--model", str(model), "--data", str(data), "--out", str(out), *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0
    assert err and err[-1].startswith("python -m convert.tflite: "), err
    assert _no_new_files(tmp_path, before)
    if case == "scale":
        assert "×2" in err[-1]
    if case == "float_conv1_io":
        assert "--io-type" in err[-1] and rc == 2
    if case.endswith("data"):
        assert str(data) in err[-1]


def test_cli_writes_beside_model(models, tmp_path, capsys):
    from convert.tflite import main

    model = tmp_path / "m.keras"
    model.write_bytes(models["keras"].read_bytes())
    args = ["--model", str(model), "--eval-images", "1"]  # float32, default out, bundled samples
    assert main(args) == 0
    assert (tmp_path / "m_fp32.tflite").is_file() and (tmp_path / "m_fp32.json").is_file()
    assert "keras float" in capsys.readouterr().out
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")]  # no temporary left over


@pytest.mark.parametrize("root", ["div2k_official", "div2k_onthefly"])
def test_calibration_from_a_div2k_root(root, request):
    from conftest import DIV2K_HR_SIZE, DIV2K_TRAIN

    from convert.calibration import calibration_lr, calibration_planes, range_anchor
    from espcn_edge.color import downscale, luma
    from espcn_edge.imageio import load_rgb

    folder = request.getfixturevalue(root)
    lr = calibration_lr(folder, 3)
    assert len(lr) == len(DIV2K_TRAIN)  # the train split only
    assert lr[0].shape == (DIV2K_HR_SIZE[0] // 3, DIV2K_HR_SIZE[1] // 3)
    hr = load_rgb(folder / "DIV2K_train_HR" / f"{DIV2K_TRAIN[0]}.png")
    assert (lr[0] == luma(downscale(hr, 3))).all()
    planes = calibration_planes(lr, patches=5, frames=2, patch_size=16, seed=7)
    again = calibration_planes(lr, patches=5, frames=2, patch_size=16, seed=7)
    assert len(planes) == 8 and all((a == b).all() for a, b in zip(planes, again, strict=True))
    assert [p.shape for p in planes[:5]] == [(16, 16)] * 5
    assert (
        (planes[-1] == range_anchor()).all() and planes[-1].min() == 0 and planes[-1].max() == 255
    )


def test_cli_int8_is_quiet_and_evaluates_every_bundled_sample(models, tmp_path, capfd):
    """No converter or LiteRT log lines without -v ("fully_quantize: 0 …", "Assets written
    to", "Created TensorFlow Lite XNNPACK delegate"); the default evaluation is all four bundled
    samples, and the report says how to get the published protocol instead."""
    from convert.tflite import main

    out = tmp_path / "q.tflite"
    args = ["--int8", "--model", str(models["keras"]), "--out", str(out)]
    assert main([*args, "--calibration-samples", "16", "--calibration-frames", "1"]) == 0
    captured = capfd.readouterr()
    noise = ("fully_quantize", "Assets written", "XNNPACK", "WARNING")
    assert not [n for n in noise if n in captured.out + captured.err], captured
    assert "×2 on 4 images of" in captured.out and "--eval-data" in captured.out
