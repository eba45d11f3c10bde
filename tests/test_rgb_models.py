"""RGB-in, RGB-out models run as they are, beside ours: ABPN (the Mobile AI 2021 int8 winner,
../shared/peers/abpn) through `eval --model rgb:PATH` and `bench --vs-rgb PATH`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SET5

from device.cli import main as cli
from espcn_edge.evaluate import evaluate_models, load_images, load_model
from espcn_edge.tiers import shipped

ABPN = Path(__file__).parents[2] / "shared" / "peers" / "abpn" / "ABPN_x3_int8.tflite"


def test_abpn_on_set5_matches_the_independent_measurement():
    """../shared/peers/abpn/README.md: Set5 ×3 33.47 by an independent script of the same
    protocol; our eval reads the same LR files and measures the same Y."""
    model = load_model(f"rgb:{ABPN}", 3)
    assert model.name == "rgb:ABPN_x3_int8.tflite"
    result = evaluate_models([model], load_images(SET5, 3), 3)["models"][model.name]
    assert result["mean_psnr"] == pytest.approx(33.47, abs=0.01)


def test_an_rgb_model_of_another_scale_is_one_line(capsys):
    status = cli(["eval", "--model", f"rgb:{ABPN}", "--data", str(SET5), "--scale", "2"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1 and "an RGB ×3 model, not ×2" in err[0], err
    status = cli(["bench", "--vs-rgb", str(ABPN), "--size", "32x24", "--frames", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and "bench it with --scale 3" in err[-1], err


def test_bench_times_abpn_beside_every_tier_in_one_run(tmp_path, capsys):
    out = tmp_path / "bench.json"
    argv = ["bench", "--tiers", "--scale", "3", "--size", "48x32", "--frames", "2"]
    assert cli([*argv, "--warmup", "1", "--vs-rgb", str(ABPN), "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["rgb_models"] == {"rgb_ABPN_x3_int8": str(ABPN)}
    assert report["median_ms"]["rgb_ABPN_x3_int8.frame"] > 0
    assert list(report["tiers"]) == list(shipped(3))
    for entry in report["tiers"].values():
        assert entry["ratio_to_rgb_ABPN_x3_int8"] > 0
    table = capsys.readouterr().out
    assert "× ABPN_x3_int8" in table and "\nABPN_x3_int8 " in table
