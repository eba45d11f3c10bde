"""Fault injection for `python -m convert.tflite`: an unwritable output folder and a disk that
fills up while the model or its report is written. One line on stderr, exit 1, earlier outputs
intact (the model and its report as a pair), no temporary files left."""

from __future__ import annotations

import errno
import hashlib
import json
import os
from pathlib import Path

import pytest
from fakes import tiny_model

TINY = tiny_model.SPEC


@pytest.fixture(scope="module")
def tiny_keras(tmp_path_factory) -> Path:
    from espcn_edge import parse_spec
    from espcn_edge.model import build_espcn

    path = tmp_path_factory.mktemp("convert_faults") / "m.keras"
    build_espcn(2, parse_spec(TINY, name="tiny")).save(path)
    return path


def _convert(model: Path, out: Path, *extra: str) -> int:
    from convert.tflite import main

    return main(["--model", str(model), "--out", str(out), "--eval-images", "1", *extra])


def _errors(capsys) -> list[str]:
    err = capsys.readouterr().err.splitlines()
    return [e for e in err if e.startswith("python -m convert.tflite")]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_unwritable_output_folder_is_one_line_and_earlier_outputs_stay(
    tiny_keras, tmp_path, capsys
):
    earlier = tmp_path / "ok"
    assert _convert(tiny_keras, earlier / "m.tflite") == 0
    before = _snapshot(earlier)
    assert set(before) == {"m.tflite", "m.json"}
    # root ignores folder permissions: a "folder" that is a regular file is unwritable for all
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    capsys.readouterr()
    assert _convert(tiny_keras, blocker / "m.tflite") == 2
    errors = _errors(capsys)
    assert len(errors) == 1 and str(blocker) in errors[0], errors
    assert blocker.read_text() == "not a folder" and _snapshot(earlier) == before


def test_disk_full_while_writing_keeps_the_earlier_model(tiny_keras, tmp_path, capsys, monkeypatch):
    out = tmp_path / "ok" / "m.tflite"
    assert _convert(tiny_keras, out) == 0
    before = _snapshot(out.parent)

    def full(fd):  # the device fills up: the data cannot be flushed
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    capsys.readouterr()
    assert _convert(tiny_keras, out, "--overwrite") == 2
    errors = _errors(capsys)
    assert len(errors) == 1 and "No space left on device" in errors[0], errors
    assert _snapshot(out.parent) == before  # old model and report intact, no temp files


def test_model_and_report_are_replaced_as_a_pair(tiny_keras, tmp_path, capsys, monkeypatch):
    """The disk fills up after the new model is flushed, while its report is: the old model must
    stay too, or the folder would hold a new model described by the old report."""
    out = tmp_path / "ok" / "m.tflite"
    assert _convert(tiny_keras, out) == 0
    before = _snapshot(out.parent)
    flushed = []
    real_fsync = os.fsync

    def full_at_the_report(fd):
        name = os.readlink(f"/proc/self/fd/{fd}")
        flushed.append(Path(name).name)
        if name.endswith(".json"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", full_at_the_report)
    capsys.readouterr()
    assert _convert(tiny_keras, out, "--overwrite") == 2
    assert [n.split(".")[1] for n in flushed] == ["m", "m"], flushed  # model flushed, then report
    errors = _errors(capsys)
    assert len(errors) == 1 and "m.json: cannot write (No space left on device)" in errors[0]
    assert _snapshot(out.parent) == before
    report = json.loads((out.with_suffix(".json")).read_text())
    assert report["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()  # still a pair


def test_an_existing_model_is_replaced_only_with_overwrite(tiny_keras, tmp_path, capsys):
    """`python -m convert.tflite` used to replace best_int8.tflite (and its report) silently."""
    out = tmp_path / "m.tflite"
    assert _convert(tiny_keras, out) == 0
    before = _snapshot(tmp_path)
    capsys.readouterr()
    assert _convert(tiny_keras, out) == 2
    errors = _errors(capsys)
    assert len(errors) == 1 and "already exists" in errors[0] and "--overwrite" in errors[0]
    assert _snapshot(tmp_path) == before
    inode = out.stat().st_ino
    assert _convert(tiny_keras, out, "--overwrite") == 0
    assert out.stat().st_ino != inode  # a new model, renamed into place


def test_sigterm_mid_conversion_is_one_line_and_keeps_the_earlier_pair(tiny_keras, tmp_path):
    """SIGTERM while calibrating (what `systemctl stop` or a CI timeout sends): exit 143, one
    line, the earlier model and report byte for byte, no temporary file."""
    import signal
    import subprocess
    import sys

    out = tmp_path / "m_int8.tflite"
    assert _convert(tiny_keras, out, "--int8", "--calibration-samples", "16") == 0
    before = _snapshot(tmp_path)
    root = Path(__file__).parents[1]
    cmd = [sys.executable, "-m", "convert.tflite", "--int8", "--model", str(tiny_keras)]
    cmd += ["--out", str(out), "--overwrite", "--calibration-samples", "5000", "--eval-images", "1"]
    proc = subprocess.Popen(cmd, cwd=root, stderr=subprocess.PIPE, stdout=subprocess.PIPE)
    started = proc.stdout.readline().decode()  # said once converting begins (5000 patches)
    assert started.startswith("converting "), (started, proc.stderr.read().decode()[-500:])
    proc.send_signal(signal.SIGTERM)
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 143
    lines = [e for e in err.replace("\r", "\n").splitlines() if e.startswith("python -m convert")]
    assert "Traceback" not in err and len(lines) == 1, err[-2000:]
    assert "interrupted: the earlier" in lines[0] and "is kept" in lines[0]
    assert _snapshot(tmp_path) == before
