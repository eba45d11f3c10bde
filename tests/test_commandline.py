"""What a new user meets first: help texts, argument errors, exit status 2 and one-line
messages alike across `espcn-edge …`, `python -m convert.tflite` and `python -m train.fit`."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fakes import tiny_model

from device import sources
from device.cli import main as cli
from device.sources import DemoSource, SourceError, open_source
from espcn_edge import __version__

ROOT = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return tiny_model.session_model(tmp_path_factory)


def _help(main, argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as done:
        main([*argv, "--help"])
    assert done.value.code == 0
    return capsys.readouterr().out


def _usage_error(main, argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize(
    "command", [["camera"], ["upscale"], ["bench"], ["demo"], ["eval"], "convert", "train"]
)
def test_help_shows_each_default_once_and_only_where_it_says_something(command, capsys):
    if command == "convert":
        from convert.tflite import main
    elif command == "train":
        from train.fit import main
    else:
        main, command = (lambda argv, c=command: cli([*c, *argv])), []
    text = _help(main, command, capsys)
    options = re.split(r"\n  (?=-)", text.split("options:", 1)[1])  # one entry per option
    for option in options:
        option = " ".join(option.split())  # argparse wraps lines anywhere
        assert option.count("(default") <= 1, option
        for shown in ("None", "True", "False", "("):  # "(" : a tuple such as (320, 240)
            assert f"(default: {shown}" not in option, option


def test_sizes_show_as_typed_and_bench_counts_threads(capsys):
    assert "(default: 320x240)" in " ".join(_help(cli, ["bench"], capsys).split())


@pytest.mark.parametrize("size", ["0x0", "5000x10"])
def test_a_bad_size_says_what_is_allowed(size, capsys):
    err = _usage_error(cli, ["camera", "--size", size], capsys)
    assert "between 8 and 4096" in err and "invalid parse_size value" not in err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["camera", "--frames", "-1"], "--frames: -1: must be at least 1"),
        (["camera", "--threads", "0"], "--threads: 0: must be at least 1"),
        (["bench", "--warmup", "-2"], "--warmup: -2: must be at least 0"),
        (["demo", "--frames", "x"], "--frames: 'x': expected a whole number"),
        (["eval", "--model", "bicubic", "--data", ".", "--threads", "0"], "must be at least 1"),
    ],
)
def test_counts_below_their_minimum_are_refused(argv, message, capsys):
    assert message in _usage_error(cli, argv, capsys)


def test_convert_and_train_refuse_bad_numbers_and_sizes(capsys):
    from convert.tflite import main as convert
    from train.fit import main as fit

    bad_size = ["--model", "m", "--input-size", "4x4"]
    assert "between 8 and 4096" in _usage_error(convert, bad_size, capsys)
    assert "must be at least 1" in _usage_error(fit, ["--epochs", "0"], capsys)
    assert "not allowed with" in _usage_error(fit, ["--resume", "--overwrite"], capsys)


def test_version(capsys):
    assert cli(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"espcn-edge {__version__}"


def test_auto_source_on_a_pi_without_picamera2_fails_with_the_install_hint(tmp_path, monkeypatch):
    model = tmp_path / "model"
    model.write_bytes(b"Raspberry Pi 5 Model B Rev 1.0\0")  # as /proc/device-tree/model reads
    monkeypatch.setattr(sources, "DEVICE_TREE_MODEL", model)
    monkeypatch.setattr(sources.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(SourceError, match="Raspberry Pi 5 .*apt install python3-picamera2"):
        open_source("auto")


def test_auto_source_elsewhere_says_loudly_it_streams_the_demo(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(sources, "DEVICE_TREE_MODEL", tmp_path / "absent")
    monkeypatch.setattr(sources.importlib.util, "find_spec", lambda name: None)
    with caplog.at_level(logging.WARNING):
        assert isinstance(open_source("auto"), DemoSource)
    assert "DEMO" in caplog.text


def test_window_with_headless_opencv_is_one_line_and_exit_2(tiny):
    """A display is set, but the installed OpenCV is the headless build (the project's)."""
    import cv2

    assert re.search(r"GUI:\s+NONE", cv2.getBuildInformation()), "expects headless OpenCV"
    done = subprocess.run(
        [sys.executable, "-m", "device.cli", "camera", "--source", "demo", "--window"]
        + ["--frames", "1", "--model", str(tiny)],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT), DISPLAY=":99"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    # our own lines may come first ("variant auto: …", "streaming …"); nothing of OpenCV's,
    # no stop error
    ours = ("streaming demo", "INFO device.engine: variant auto:")
    lines = [
        e
        for e in done.stderr.strip().splitlines()
        if not e.startswith(ours[1]) and ours[0] not in e
    ]
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert lines[0].startswith("espcn-edge camera: --window:") and "opencv-python" in lines[0]
