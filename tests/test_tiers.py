"""The shipped tiers (tiny, standard, quality at ×2/×3/×4): what `--tier` picks on each command,
what `camera --tier auto --fps F` picks and says, and `bench --tiers`. Real shipped models; the
quality each tier measures is tests/test_shipped_models.py's."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from device.cli import main as cli
from espcn_edge import SAMPLES_DIR, parse_spec, tiers
from espcn_edge.errors import ModelError
from espcn_edge.runtime import Upscaler
from espcn_edge.tiers import TABLE, default_model_path, shipped

ROOT = Path(__file__).parents[1]
PEERS = ROOT.parent / "shared" / "peers" / "opencv_dnn_superres"
SET5 = ROOT.parent / "shared" / "data" / "benchmark" / "Set5"
MAC_LIMITS = {"tiny": 6_000, "standard": 14_000, "quality": 50_000}  # per LR pixel at ×2


@pytest.mark.parametrize("scale", (2, 3, 4))
def test_tiers_ship_smallest_first_within_their_mac_budgets(scale):
    macs = []
    for tier in shipped(scale):
        up = Upscaler(default_model_path(scale, tier), threads=1)
        assert up.scale == scale and up.metadata["precision"] == "int8"
        spec = parse_spec(up.metadata["spec"]["string"])
        assert spec.macs_per_lr_pixel(2) <= MAC_LIMITS[tier], (tier, spec.to_string())
        macs.append(spec.macs_per_lr_pixel(scale))
        card = json.loads(up.model_path.with_name(f"espcn_x{scale}_{tier}.card.json").read_text())
        assert card["tier"] == tier and card["macs_per_lr_pixel"] == macs[-1]
        assert set(card["int8_psnr"]) == {"Set5", "Set14"}  # the measured quality it states
    assert macs == sorted(macs) and len(set(macs)) == len(shipped(scale)) >= 2


def test_every_tier_ships_exactly_where_the_table_says():
    """The table is the one truth of what ships: each of its tiers' four files (model, report,
    float model, card) at each of its scales, no file of a tier at another scale, and the card
    names the table's network."""
    models = {p.name for p in Path(str(default_model_path(2, "standard").parent)).iterdir()}
    expected = set()
    for tier in TABLE:
        for scale in tier.scales:
            files = [tier.file(scale, kind) for kind in ("int8.tflite", "int8.json", "keras",
                                                          "card.json")]  # fmt: skip
            expected |= {f.name for f in files}
            card = json.loads(tier.file(scale, "card.json").read_text())
            assert card["spec_string"] == tier.spec.to_string(), (tier.name, scale)
    assert models == expected


def test_a_tier_that_does_not_ship_says_why_in_one_line(monkeypatch, capsys):
    """A tier ships only where it measures better than the one before it (quality did not ship
    at ×4 until its network was trained): elsewhere `--tier quality` says so and what ships
    instead (issue: a worse model is never "quality"). The table here is the shipped one with
    quality held back at ×4."""
    held = replace(tiers.BY_NAME["quality"], scales=(2, 3), not_shipped="still training")
    monkeypatch.setattr(tiers, "TABLE", (*tiers.TABLE[:-1], held))
    monkeypatch.setitem(tiers.BY_NAME, "quality", held)
    assert "quality" not in shipped(4) and "quality" in shipped(3)
    with pytest.raises(ModelError, match="--tier quality does not ship at ×4: still training; "
                       "use --tier tiny or --tier standard"):  # fmt: skip
        default_model_path(4, "quality")
    assert cli(["upscale", "x.png", "--tier", "quality", "--scale", "4"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not ship at ×4" in err[0], err


def test_an_unknown_tier_is_a_model_error():
    with pytest.raises(ModelError, match="tiny, standard, quality"):
        default_model_path(2, "huge")


def test_tier_picks_the_model_of_upscale_and_eval(tmp_path, capsys):
    photo = tmp_path / "in.png"
    with Image.open(Path(str(SAMPLES_DIR)) / "chelsea.png") as im:
        im.convert("RGB").crop((0, 0, 40, 30)).save(photo)
    outputs = {}
    for tier in ("tiny", "standard"):
        out = tmp_path / f"{tier}.png"
        assert cli(["upscale", str(photo), str(out), "--scale", "3", "--tier", tier]) == 0
        outputs[tier] = Image.open(out).tobytes()
    assert outputs["tiny"] != outputs["standard"]  # two different networks ran
    report = tmp_path / "eval.json"
    argv = ["eval", "--tier", "tiny", "--tier", "standard", "--model", "bicubic"]
    assert cli([*argv, "--data", str(SET5), "--json", str(report)]) == 0
    names = list(json.loads(report.read_text())["models"])
    assert names == ["espcn_x2_tiny_int8.tflite", "espcn_x2_standard_int8.tflite", "bicubic"]
    capsys.readouterr()
    assert cli(["eval", "--data", str(SET5)]) == 2
    assert "--tier NAME or --model PATH" in capsys.readouterr().err


def _camera_auto(fps: str, caplog) -> str:
    argv = ["camera", "--source", "demo", "--size", "64x48", "--fps", fps, "--frames", "2"]
    with caplog.at_level(logging.INFO, logger="device.camera"):
        assert cli(argv) == 0
    (line,) = [r.getMessage() for r in caplog.records if "tier auto" in r.getMessage()]
    caplog.clear()
    return line


def test_camera_tier_auto_keeps_the_best_tier_that_holds_the_frame_rate(caplog):
    from device.autotier import better, measured_psnr

    slow = _camera_auto("5", caplog)  # 154 ms for a 64×48 frame: every tier fits
    tiers = shipped(2)
    psnr = {t: measured_psnr(2, t) for t in tiers}  # the shipped cards'
    assert better(psnr["standard"], psnr["tiny"])
    best = tiers[-1]  # each ships only where it measures better than the one before
    assert slow.startswith(f"tier auto: {best} — ") and "the best tier fits" in slow
    assert better((30.1, 27.1), (30.0, 27.0)) and not better((30.1, 26.9), (30.0, 27.0))
    assert all(f"{t} " in slow for t in tiers)  # each one's measured time
    fast = _camera_auto("100000", caplog)  # 7.7 µs a frame: none does
    assert fast.startswith("tier auto: even tiny takes ") and "try --size " in fast


def test_camera_fps_without_a_known_frame_size_runs_the_default_tier(tmp_path, caplog):
    Image.new("RGB", (40, 30), "grey").save(tmp_path / "a.png")
    argv = ["camera", "--source", f"images:{tmp_path}", "--fps", "30", "--frames", "1"]
    with caplog.at_level(logging.INFO, logger="device.camera"):
        assert cli(argv) == 0
    text = caplog.text
    assert "frame size is unknown" in text and "espcn_x2_standard_int8.tflite" in text


def test_camera_tier_auto_needs_a_frame_rate(capsys):
    assert cli(["camera", "--source", "demo", "--tier", "auto", "--frames", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "add --fps F" in err[0]


def test_bench_tiers_times_every_tier_against_opencv_in_one_run(tmp_path, capsys):
    pytest.importorskip("cv2")
    out = tmp_path / "bench.json"
    argv = ["bench", "--tiers", "--size", "48x32", "--frames", "2", "--warmup", "1"]
    argv += ["--vs-opencv", str(PEERS / "ESPCN_x2.pb"), "--vs-opencv", str(PEERS / "FSRCNN_x2.pb")]
    assert cli([*argv, "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert list(report["tiers"]) == list(shipped(2))
    for tier, entry in report["tiers"].items():
        assert entry["model"].endswith(f"espcn_x2_{tier}_int8.tflite")
        assert entry["ratio_to_opencv_espcn"] > 0 and entry["ratio_to_opencv_fsrcnn"] > 0
        assert report["median_ms"][f"{tier}.camera"] > 0
        med = report["median_ms"]
        invoke = med[f"{tier}.invoke"]  # the model alone, beside its frame (timings: no order
        assert 0 < invoke == entry["invoke"]  # between them is certain on a loaded machine)
        assert entry["frame_to_invoke"] == round(med[f"{tier}.frame"] / invoke, 2)
        assert entry["camera_to_invoke"] == round(med[f"{tier}.camera"] / invoke, 2)
        assert entry["variant"] in ("plain", "s2d")  # the layout --variant auto picked
    table = capsys.readouterr().out
    assert table.startswith("CPU: ") and "× FSRCNN" in table and "OpenCV ESPCN" in table
    assert "invoke ms" in table and "layout" in table
    assert cli(["bench", "--tiers", "--model", "x.tflite"]) == 2
