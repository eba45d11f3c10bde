"""Every file a command leaves behind was written atomically: watched through Python's audit
hooks (``open`` and ``os.rename`` events), each final file must be the target of a rename from
one of `atomic_files`' temporary names beside it, and nothing in the output folder may be opened
for writing under its final name. Files written by C code (OpenCV's VideoWriter, h5py) are
covered by the rename check, which does not depend on who wrote the bytes.

The only exceptions are training's logs, appended as it goes: ``history.csv`` (trimmed to the
resumed epoch by an atomic rewrite) and TensorBoard's event files under ``logs/``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import SET5
from fakes import tiny_model
from PIL import Image

from espcn_edge import SAMPLES_DIR
from espcn_edge.atomic import is_temp_name

TINY = tiny_model.SPEC
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


class FileAudit:
    """Files opened for writing and renames, as (absolute) paths, while `active`."""

    current: FileAudit | None = None

    def __init__(self):
        self.opened: list[Path] = []
        self.renamed: dict[Path, Path] = {}  # destination → source

    def __enter__(self) -> FileAudit:
        FileAudit.current = self
        return self

    def __exit__(self, *exc) -> None:
        FileAudit.current = None


def _path(value) -> Path | None:
    if isinstance(value, int):  # an fd: no name to check
        return None
    return Path(os.path.abspath(os.fsdecode(value)))


def _hook(event: str, args: tuple) -> None:
    audit = FileAudit.current
    if audit is None:
        return
    if event == "open":
        path, mode, flags = args
        writing = any(c in mode for c in "wax+") if isinstance(mode, str) else flags & WRITE_FLAGS
        if writing and (p := _path(path)) is not None:
            audit.opened.append(p)
    elif event == "os.rename":
        src, dst = _path(args[0]), _path(args[1])
        if src is not None and dst is not None:
            audit.renamed[dst] = src


sys.addaudithook(_hook)  # hooks cannot be removed; this one does nothing outside a FileAudit


def _check(out: Path, audit: FileAudit, logs: tuple[str, ...] = ()) -> list[str]:
    """Assert the atomic-write rules in `out`; returns the final files' relative names."""
    out = Path(os.path.abspath(out))

    def is_log(p: Path) -> bool:
        rel = p.relative_to(out).as_posix()
        return any(rel == log or rel.startswith(f"{log}/") for log in logs)

    finals = sorted(p for p in out.rglob("*") if p.is_file() and not is_log(p))
    assert finals, "the command wrote nothing"
    for path in finals:
        src = audit.renamed.get(path)
        assert src is not None, f"{path} was not renamed into place"
        assert src.parent == path.parent and is_temp_name(src.name), (path, src)
    for path in audit.opened:
        if path.is_relative_to(out) and not is_log(path):
            assert is_temp_name(path.name), f"{path} opened for writing under its final name"
    return [p.relative_to(out).as_posix() for p in finals]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return tiny_model.session_model(tmp_path_factory)


@pytest.fixture
def inputs(tmp_path) -> Path:
    """Two small real photos and a short video."""
    import cv2

    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("chelsea.png", "rocket.jpg"):
        with Image.open(Path(str(SAMPLES_DIR)) / name) as im:
            im.convert("RGB").crop((0, 0, 64, 48)).save(folder / name)
    writer = cv2.VideoWriter(
        str(folder / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 12, (48, 32)
    )
    for i in range(4):
        writer.write(np.full((32, 48, 3), 40 * i, np.uint8))
    writer.release()
    return folder


def test_upscale_images_and_video(tiny, inputs, tmp_path):
    from device.cli import main

    out = tmp_path / "out"
    with FileAudit() as audit:
        assert main(["upscale", str(inputs), "-o", str(out), "--model", str(tiny)]) == 0
    assert _check(out, audit) == ["chelsea.png", "clip.mp4", "rocket.jpg"]


@pytest.mark.parametrize("record", ["rec.mp4", "frames"])
def test_camera_recording(tiny, tmp_path, record):
    from device.cli import main

    out = tmp_path / "out"
    args = ["camera", "--source", "demo", "--size", "64x48", "--frames", "6"]
    with FileAudit() as audit:
        assert main([*args, "--record", str(out / record), "--model", str(tiny)]) == 0
    written = _check(out, audit)
    assert written == ["rec.mp4"] if record == "rec.mp4" else len(written) >= 6


def test_eval_and_bench_reports(tiny, tmp_path):
    from device.cli import main

    out = tmp_path / "out"
    with FileAudit() as audit:
        assert main(["eval", "--model", "bicubic", "--data", str(SET5), "--scale", "4",
                     "--json", str(out / "eval.json")]) == 0  # fmt: skip
        assert main(["bench", "--model", str(tiny), "--size", "64x48", "--frames", "3",
                     "--warmup", "1", "--json", str(out / "bench.json")]) == 0  # fmt: skip
    assert _check(out, audit) == ["bench.json", "eval.json"]


def test_conversion_model_and_report(tmp_path):
    from convert.tflite import main
    from espcn_edge import parse_spec
    from espcn_edge.model import build_espcn

    model = tmp_path / "m.keras"
    build_espcn(2, parse_spec(TINY, name="tiny")).save(model)
    out = tmp_path / "out"
    with FileAudit() as audit:
        assert main(["--int8", "--model", str(model), "--out", str(out / "m.tflite"),
                     "--calibration-samples", "8", "--calibration-frames", "1",
                     "--eval-images", "1"]) == 0  # fmt: skip
    assert _check(out, audit) == ["m.json", "m.tflite"]


def test_training_checkpoints_and_card(div2k_onthefly, tmp_path):
    from train.fit import main

    out = tmp_path / "out"
    with FileAudit() as audit:
        assert main(["--data", str(div2k_onthefly), "--spec", TINY, "--epochs", "2",
                     "--steps-per-epoch", "2", "--patch-size", "16", "--batch-size", "4",
                     "--out", str(out)]) == 0  # fmt: skip
    written = _check(out, audit, logs=("history.csv", "logs"))
    assert written == ["best.keras", "card.json", "last.keras"]
    # the backup was written atomically too, while it existed
    backups = [p for p in audit.renamed if p.parent.name == "backup"]
    assert {p.name for p in backups} == {"latest.weights.h5", "training_metadata.json"}
    assert all(is_temp_name(audit.renamed[p].name) for p in backups)


def test_remove_stale_deletes_what_a_killed_writer_left_and_nothing_else(tmp_path):
    import subprocess

    keep = {"last.keras": b"old model", ".hidden": b"x", "notes.txt": b"y", ".a.b": b"z"}
    for name, data in keep.items():
        (tmp_path / name).write_bytes(data)
    killed_mid_write = (
        "import os, sys; from espcn_edge.atomic import atomic_files; d = sys.argv[1]\n"
        "with atomic_files([d + '/last.keras']) as (a,):\n"
        "    with atomic_files([d + '/latest.weights.h5'], suffix='.weights.h5') as (b,):\n"
        "        a.write_bytes(b'half'); b.write_bytes(b'half'); os._exit(9)\n"
    )
    done = subprocess.run([sys.executable, "-c", killed_mid_write, str(tmp_path)], timeout=60)
    assert done.returncode == 9
    left = {p.name for p in tmp_path.iterdir()} - set(keep)
    assert len(left) == 2 and all(is_temp_name(n) for n in left), left
    from espcn_edge.atomic import remove_stale

    assert {p.name for p in remove_stale(tmp_path)} == left
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == keep


@pytest.mark.parametrize(
    "command",
    [
        ["camera", "--source", "demo", "--size", "64x48", "--frames", "3", "--record", "{}/r.mp4"],
        ["camera", "--source", "demo", "--size", "64x48", "--frames", "3", "--record", "{}/dir"],
        ["bench", "--size", "64x48", "--frames", "2", "--warmup", "0", "--json", "{}/b.json"],
        ["demo", "--size", "64x48", "--frames", "2", "--out", "{}/d.png"],
        ["eval", "--model", "bicubic", "--data", str(SET5), "--json", "{}/e.json"],
    ],
    ids=["camera-mp4", "camera-dir", "bench", "demo", "eval"],
)
def test_an_unwritable_output_is_one_line_for_every_command(command, tiny, tmp_path, capsys):
    """The output's folder is a regular file (unwritable even for root): one line naming it."""
    from device.cli import main

    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    args = [a.format(blocker) for a in command]
    if command[0] != "eval":
        args += ["--model", str(tiny)]
    capsys.readouterr()
    status = main(args)
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    assert len(err) == 1 and err[0].startswith(f"espcn-edge {command[0]}: "), err
    assert str(blocker) in err[0] and "Traceback" not in err[0]
    assert blocker.read_text() == "not a folder"
