"""A DIV2K-layout dataset where about one file in seven is broken or odd, through training and
int8 calibration (each in a real subprocess, as a user runs them).

Broken files (truncated PNG/JPEG, zero bytes, not an image, smaller than a patch, an LR file of
the wrong size) must each be named once in a warning and counted in the summary; odd but valid
files (CMYK JPEG, 16-bit PNG, palette, RGBA, greyscale) must be used without a word.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import BSD200, _encoded, _require, png16_rgb, read_rgb
from fakes import tiny_model
from PIL import Image

from espcn_edge.color import downscale

ROOT = Path(__file__).resolve().parents[1]
TINY = tiny_model.SPEC
SIDE, PATCH = 120, 24  # HR crops and LR patch side (×2: LR 60 px)
TRAIN = [f"{i:04d}" for i in range(1, 37)]
VALID = [f"{i:04d}" for i in range(801, 807)]
# what is wrong with each broken file, by path under the root
BROKEN = {
    "DIV2K_train_HR/0003.png": "truncated PNG",
    "DIV2K_train_HR/0037.jpg": "truncated JPEG",
    "DIV2K_train_LR_bicubic/X2/0005x2.png": "zero bytes",
    "DIV2K_train_HR/0007.png": "not an image",
    "DIV2K_train_HR/0009.png": "smaller than a patch",
    "DIV2K_train_LR_bicubic/X2/0011x2.png": "LR size does not match HR",
    "DIV2K_valid_HR/0803.png": "truncated PNG",
}
ODD = {
    "DIV2K_train_HR/0013.jpg": "CMYK JPEG",
    "DIV2K_train_HR/0015.png": "16-bit RGB PNG",
    "DIV2K_train_HR/0017.png": "palette PNG",
    "DIV2K_train_HR/0019.png": "RGBA PNG",
    "DIV2K_train_HR/0021.png": "greyscale PNG",
    "DIV2K_train_LR_bicubic/X2/0021x2.png": "greyscale PNG",
    "DIV2K_valid_HR/0805.png": "greyscale PNG",
}


@pytest.fixture(scope="module")
def broken_div2k(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("broken_div2k")
    photos = sorted(_require(BSD200).glob("*.png"))
    for i, stem in enumerate(TRAIN + VALID):
        split = "train" if stem in TRAIN else "valid"
        hr = read_rgb(photos[i])[:SIDE, :SIDE]
        for folder, name, rgb in [
            (f"DIV2K_{split}_HR", f"{stem}.png", hr),
            (f"DIV2K_{split}_LR_bicubic/X2", f"{stem}x2.png", downscale(hr, 2)),
        ]:
            (root / folder).mkdir(parents=True, exist_ok=True)
            Image.fromarray(rgb).save(root / folder / name, compress_level=1)
    hr_rgb = read_rgb(photos[50])[:SIDE, :SIDE]
    grey = np.asarray(Image.fromarray(hr_rgb).convert("L"))
    train_hr, lr2 = root / "DIV2K_train_HR", root / "DIV2K_train_LR_bicubic" / "X2"
    png, jpg = _encoded(hr_rgb, "PNG"), _encoded(hr_rgb, "JPEG")
    (train_hr / "0003.png").write_bytes(png[: len(png) // 2])
    (train_hr / "0037.jpg").write_bytes(jpg[: len(jpg) // 2])
    (lr2 / "0005x2.png").write_bytes(b"")
    (train_hr / "0007.png").write_text("these are my notes, not a picture\n")
    Image.fromarray(hr_rgb[:40, :40]).save(train_hr / "0009.png")
    (lr2 / "0009x2.png").unlink()  # LR made on the fly: 20 px, smaller than a patch
    Image.fromarray(hr_rgb[:50, :70]).save(lr2 / "0011x2.png")
    (root / "DIV2K_valid_HR" / "0803.png").write_bytes(png[: len(png) // 3])
    (train_hr / "0013.png").unlink()
    (lr2 / "0013x2.png").unlink()
    Image.fromarray(hr_rgb).convert("CMYK").save(train_hr / "0013.jpg", quality=95)
    (train_hr / "0015.png").write_bytes(png16_rgb(hr_rgb.astype(np.uint16) * 257))
    Image.fromarray(hr_rgb).quantize(64).save(train_hr / "0017.png")
    Image.fromarray(np.dstack([hr_rgb, np.full(hr_rgb.shape[:2], 200, np.uint8)])).save(
        train_hr / "0019.png"
    )
    Image.fromarray(grey).save(train_hr / "0021.png")
    Image.fromarray(downscale(np.dstack([grey] * 3), 2)).convert("L").save(lr2 / "0021x2.png")
    Image.fromarray(grey).save(root / "DIV2K_valid_HR" / "0805.png")
    return root


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def _run(args: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _check_warnings(stderr: str, root: Path, broken: list[str]) -> None:
    """Each broken file named on exactly one line; no odd or good file named at all."""
    lines = stderr.splitlines()
    for name in broken:
        naming = [line for line in lines if str(root / name) in line]
        assert len(naming) == 1 and naming[0].startswith("WARNING"), (name, naming)
    named = {p for p in _files(root) if any(str(p) in line for line in lines)}
    assert named == {root / name for name in broken}


def test_the_fixture_is_about_one_file_in_seven_broken_or_odd(broken_div2k):
    files = _files(broken_div2k)
    assert {str(p.relative_to(broken_div2k)) for p in files} >= set(BROKEN) | set(ODD)
    assert 0.1 <= (len(BROKEN) + len(ODD)) / len(files) <= 0.2
    modes = {name: Image.open(broken_div2k / name).mode for name in ODD}
    assert modes["DIV2K_train_HR/0013.jpg"] == "CMYK" and modes["DIV2K_train_HR/0017.png"] == "P"
    assert modes["DIV2K_train_HR/0019.png"] == "RGBA" and modes["DIV2K_valid_HR/0805.png"] == "L"


def test_training_names_each_broken_file_once_and_uses_the_odd_ones(broken_div2k, tmp_path):
    out = tmp_path / "run"
    done = _run([
        "train.fit", "--data", str(broken_div2k), "--scale", "2", "--spec", TINY,
        "--epochs", "2", "--steps-per-epoch", "5", "--patch-size", str(PATCH),
        "--batch-size", "4", "--out", str(out),
    ])  # fmt: skip
    _check_warnings(done.stderr, broken_div2k, list(BROKEN))
    n_train_bad = sum(name.startswith("DIV2K_train") for name in BROKEN)
    n_train = len(list((broken_div2k / "DIV2K_train_HR").iterdir()))
    summaries = re.findall(r"skipped (\d+) of (\d+) images", done.stderr)
    assert summaries == [(str(n_train_bad), str(n_train)), ("1", str(len(VALID)))]
    assert f"{n_train - n_train_bad} training / {len(VALID) - 1} validation images" in done.stdout
    card = json.loads((out / "card.json").read_text())
    assert card["train_images"] == n_train - n_train_bad and card["planned_steps"] == 10
    assert (out / "best.keras").is_file() and (out / "last.keras").is_file()


def test_calibration_names_each_broken_file_once_and_uses_the_odd_ones(broken_div2k, tmp_path):
    from espcn_edge import parse_spec
    from espcn_edge.model import build_espcn

    model = tmp_path / "m.keras"
    build_espcn(2, parse_spec(TINY, name="tiny")).save(model)
    out = tmp_path / "m_int8.tflite"
    done = _run([
        "convert.tflite", "--int8", "--model", str(model), "--data", str(broken_div2k),
        "--calibration-samples", "40", "--calibration-frames", "4", "--out", str(out),
    ])  # fmt: skip
    # calibration uses every LR size (the 20-px image is fine there): only unreadable or
    # mismatched files are named; the validation images evaluated name their broken one
    broken = [name for name in BROKEN if BROKEN[name] != "smaller than a patch"]
    _check_warnings(done.stderr, broken_div2k, broken)
    n_train = len(list((broken_div2k / "DIV2K_train_HR").iterdir()))
    summaries = re.findall(r"skipped (\d+) of (\d+) images", done.stderr)
    assert summaries == [(str(len(broken) - 1), str(n_train)), ("1", str(len(VALID)))]
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["evaluation"]["images"] == [s for s in VALID if s != "0803"]
    assert out.is_file() and report["precision"] == "int8"
