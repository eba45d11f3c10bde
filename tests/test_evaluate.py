"""`espcn-edge eval`: the published bicubic figures, side-by-side models, errors."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from test_convert import SET5, make_models

from espcn_edge.evaluate import bicubic_model, evaluate_models, load_images, main

PEERS = Path(__file__).parents[2] / "shared" / "peers" / "opencv_dnn_superres"
PUBLISHED_BICUBIC = {  # ../shared/README.md
    ("Set5", 2): 33.66, ("Set5", 3): 30.39, ("Set5", 4): 28.42,
    ("Set14", 2): 30.24, ("Set14", 3): 27.55, ("Set14", 4): 26.00,
}  # fmt: skip


@pytest.mark.parametrize("name, scale", list(PUBLISHED_BICUBIC))
def test_bicubic_matches_published(name, scale):
    images = load_images(SET5.parent / name, scale)
    assert all(im.hr.shape[0] == im.lr.shape[0] * scale for im in images)
    assert [im.name for im in images if im.grey] == (["img_003"] if name == "Set14" else [])
    result = evaluate_models([bicubic_model(scale)], images, scale)["models"]["bicubic"]
    assert result["mean_psnr"] == pytest.approx(PUBLISHED_BICUBIC[name, scale], abs=0.05)


def test_opencv_espcn_matches_shared_readme():
    pytest.importorskip("cv2.dnn_superres")
    from espcn_edge.evaluate import load_model

    model = load_model(f"opencv:{PEERS / 'ESPCN_x2.pb'}", 2)
    result = evaluate_models([model], load_images(SET5, 2), 2)["models"][model.name]
    assert result["mean_psnr"] == pytest.approx(34.76, abs=0.05)


def test_cli_side_by_side_with_json(tmp_path, tmp_path_factory, capsys):
    models = make_models(tmp_path_factory.getbasetemp())
    out = tmp_path / "eval.json"
    args = ["--model", "bicubic", "--model", str(models["int8"]), "--model", str(models["keras"])]
    assert main([*args, "--data", str(SET5), "--scale", "2", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    header = text.splitlines()[1]
    assert "bicubic" in header and "small_int8.tflite" in header and "small.keras" in header
    assert text.count("img_00") == 5 and "mean" in text
    result = json.loads(out.read_text())
    assert list(result["models"]) == ["bicubic", "small_int8.tflite", "small.keras"]
    assert all(len(m["psnr"]) == 5 for m in result["models"].values())


def test_same_name_models_are_kept_apart(capsys):
    images = load_images(SET5, 4)[:1]
    result = evaluate_models([bicubic_model(4), bicubic_model(4)], images, 4)
    assert list(result["models"]) == ["bicubic", "bicubic #2"]


@pytest.mark.parametrize(
    "model, data, message",
    [
        ("nope.tflite", SET5, "nope.tflite: model file not found"),
        ("model.onnx", SET5, "unknown model"),
        ("bicubic", Path("/nonexistent/Set5"), "not found"),
    ],
)
def test_cli_errors(model, data, message, capsys):
    assert main(["--model", model, "--data", str(data)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_tflite_eval_needs_no_tensorflow(tmp_path_factory):
    import subprocess
    import sys

    models = make_models(tmp_path_factory.getbasetemp())
    code = (
        "import sys; sys.modules['tensorflow'] = sys.modules['keras'] = None\n"
        "from espcn_edge.evaluate import main\n"
        f"sys.exit(main(['--model', {str(models['int8'])!r}, '--data', {str(SET5)!r}]))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "small_int8.tflite" in proc.stdout and "mean" in proc.stdout


def test_cli_threads_delegate_save_and_what_the_json_records(tmp_path, capsys):
    """The shipped ×2 model on one thread through a CPU fallback delegate; every SR image is
    saved at the HR size; the JSON says where LR came from, the shave and the versions."""
    from PIL import Image

    from espcn_edge.tiers import default_model_path

    out, saved = tmp_path / "eval.json", tmp_path / "sr"
    args = ["--model", str(default_model_path(2)), "--model", "bicubic", "--data", str(SET5)]
    args += ["--threads", "1", "--delegate", "nnapi", "--save", str(saved), "--json", str(out)]
    assert main(args) == 0
    result = json.loads(out.read_text())
    assert result["lr_source"].startswith("LR files") and result["shave_px"] == 2
    assert {"espcn_edge", "numpy", "PIL", "ai_edge_litert"} <= set(result["versions"])
    for model in ("espcn_x2_standard_int8.tflite", "bicubic"):
        for name in result["images"]:
            with (
                Image.open(saved / model / f"{name}.png") as sr,
                Image.open(SET5 / "HR" / f"{name}.png") as hr,
            ):
                assert sr.size == (hr.size[0] // 2 * 2, hr.size[1] // 2 * 2)
    assert "LR: LR files" in capsys.readouterr().out


def test_a_plain_folder_records_that_lr_was_made_from_hr(tmp_path):
    from espcn_edge import SAMPLES_DIR

    folder = tmp_path / "hr"
    folder.mkdir()
    (folder / "chelsea.png").write_bytes((Path(str(SAMPLES_DIR)) / "chelsea.png").read_bytes())
    out = tmp_path / "eval.json"
    assert main(["--model", "bicubic", "--data", str(folder), "--json", str(out)]) == 0
    assert "made from HR" in json.loads(out.read_text())["lr_source"]


@pytest.fixture
def opencv_5(monkeypatch):
    """OpenCV as a user with OpenCV 5 has it: the version is what the code reads."""
    pytest.importorskip("cv2.dnn_superres")
    import cv2

    monkeypatch.setattr(cv2, "__version__", "5.1.0")


def test_opencv_5_is_one_line_saying_how_to_get_one_that_reads_the_models(opencv_5, capsys):
    from device.cli import main as cli

    pb = PEERS / "ESPCN_x2.pb"
    assert main(["--data", str(SET5), "--model", f"opencv:{pb}"]) == 2
    assert cli(["bench", "--size", "48x32", "--frames", "1", "--vs-opencv", str(pb)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2, lines
    for line in lines:
        assert "OpenCV 5.1.0 cannot read TensorFlow .pb models" in line
        assert "pip install 'opencv-contrib-python-headless<5'" in line


def test_an_opencv_model_of_another_scale_is_one_line(capsys):
    pytest.importorskip("cv2.dnn_superres")
    from device.cli import main as cli

    pb = PEERS / "ESPCN_x3.pb"
    assert main(["--data", str(SET5), "--scale", "4", "--model", f"opencv:{pb}"]) == 2
    assert cli(["bench", "--size", "48x32", "--frames", "1", "--vs-opencv", str(pb)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert [line.split(": ", 1)[0] for line in lines] == ["espcn-edge eval", "espcn-edge bench"]
    assert "an ×3 model, not ×4" in lines[0] and "an ×3 model, not ×2" in lines[1]


def test_without_scale_the_models_own_is_used(tmp_path, capsys):
    from device.cli import main as cli

    x3 = Path(__file__).parents[1] / "espcn_edge" / "models" / "espcn_x3_tiny_int8.tflite"
    out = tmp_path / "eval.json"
    assert (
        cli(["eval", "--data", str(SET5), "--tier", "tiny", "--model", str(x3), "--json", str(out)])
        == 0
    )
    results = json.loads(out.read_text())
    psnrs = {m["mean_psnr"] for m in results["models"].values()}
    assert results["scale"] == 3 and len(psnrs) == 1  # --tier tiny: the same ×3 model
    assert cli(["eval", "--data", str(SET5), "--model", str(x3), "--scale", "2"]) == 2
    assert capsys.readouterr().err.splitlines() == [f"espcn-edge eval: {x3}: model is ×3, not ×2"]
    if importlib.util.find_spec("cv2.dnn_superres") is None:
        return
    pb = PEERS / "ESPCN_x3.pb"
    assert cli(["eval", "--data", str(SET5), "--model", "bicubic", "--model", f"opencv:{pb}",
                "--json", str(out)]) == 0  # fmt: skip
    assert json.loads(out.read_text())["scale"] == 3
