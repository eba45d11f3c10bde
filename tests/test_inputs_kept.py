"""No command writes over, deletes or empties what it reads, however the path is spelled.

Each case runs the real command on real files (a recording's PNG frames, an H.264 clip with
audio, a model file) with an output that is, holds or lies in one of its inputs, spelled as a
user might: relative, absolute, through `..`, a trailing slash, a symlink, a hard link. Each must
be refused in one line with exit status 2 before anything is touched, the input byte for byte
as it was.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fakes import tiny_model
from test_device_video import make_clip

from device.cli import main as cli

ROOT = Path(__file__).parents[1]


def digest(path: Path) -> dict[str, str]:
    """Every file under `path` (or `path` itself) → its SHA-256: what must survive unchanged."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return {str(p.relative_to(path) if path.is_dir() else p.name):
            hashlib.sha256(p.read_bytes()).hexdigest() for p in files}  # fmt: skip


def refused(capsys, argv: list[str]) -> str:
    """Run `espcn-edge ARGV`: exit status 2 and one stderr line, which is returned."""
    status = cli(argv)
    err = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("INFO")]
    assert status == 2, err
    assert len(err) == 1, err
    return err[0]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return tiny_model.session_model(tmp_path_factory)


@pytest.fixture
def recorded(tmp_path, tiny, capsys, monkeypatch) -> Path:
    """fr1/: the PNG frames of an earlier `camera --record fr1`, the working folder tmp_path."""
    monkeypatch.chdir(tmp_path)
    argv = ["camera", "--source", "demo", "--size", "48x32", "--frames", "3", "--model", str(tiny)]
    assert cli([*argv, "--record", "fr1"]) == 0
    capsys.readouterr()
    assert len(list((tmp_path / "fr1").glob("*.png"))) == 3
    return tmp_path / "fr1"


def spellings(path: Path) -> list[str]:
    """The same file or folder as a user might name it."""
    link = path.with_name(f"link-{path.name}")
    link.symlink_to(path.name)
    return [
        path.name,
        str(path),
        f"./{path.name}/" if path.is_dir() else f"./sub/../{path.name}",
        f"../{path.parent.name}/{path.name}",
        str(link),
    ]


def test_recording_over_its_own_source_frames_is_refused(recorded, tiny, capsys):
    before = digest(recorded)
    (recorded.parent / "sub").mkdir()
    for target in [*spellings(recorded), "fr1/inside.mp4"]:
        argv = ["camera", "--source", "images:fr1", "--size", "48x32", "--model", str(tiny)]
        line = refused(capsys, [*argv, "--record", target, "--overwrite"])
        assert "overlaps the input" in line and "fr1" in line
        assert digest(recorded) == before, target
    assert not (recorded / "inside.mp4").exists()


def test_recording_over_its_own_source_video_is_refused(tmp_path, tiny, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    src = make_clip(tmp_path / "src.mp4")
    os.link(src, tmp_path / "hard.mp4")
    before = digest(src)
    for target in [*spellings(src), "hard.mp4"]:
        argv = ["camera", "--source", "video:src.mp4", "--model", str(tiny), "--frames", "2"]
        line = refused(capsys, [*argv, "--record", target, "--overwrite"])
        assert "src.mp4" in line
        assert digest(src) == before, target
    # and the other way round: the source named through the link, the file as the target
    argv = ["camera", "--source", f"video:{tmp_path}/link-src.mp4", "--model", str(tiny)]
    assert "src.mp4" in refused(capsys, [*argv, "--record", "src.mp4", "--overwrite"])
    assert digest(src) == before


def test_a_failed_run_keeps_the_earlier_recording_it_was_to_replace(recorded, tiny, capsys):
    """--overwrite deletes a folder's old frames with the first new frame, not before: a source
    that fails at start leaves them all."""
    before = digest(recorded)
    status = cli(["camera", "--source", "video:nosuch.mp4", "--model", str(tiny),
                  "--record", "fr1", "--overwrite"])  # fmt: skip
    assert status == 2
    assert digest(recorded) == before


def test_recording_over_the_model_is_refused(tmp_path, tiny, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = tmp_path / "m.tflite"
    model.write_bytes(tiny.read_bytes())
    line = refused(capsys, ["camera", "--source", "demo", "--model", "m.tflite",
                            "--record", "./m.tflite", "--overwrite"])  # fmt: skip
    assert "m.tflite" in line
    assert model.read_bytes() == tiny.read_bytes()


def test_eval_writes_nothing_into_what_it_reads(tmp_path, tiny, capsys):
    data = tmp_path / "Set"
    data.mkdir()
    for option, target in (("--save", data / "sub"), ("--json", tiny)):
        status = cli(["eval", "--model", str(tiny), "--data", str(data), option, str(target)])
        err = capsys.readouterr().err.strip().splitlines()
        assert status == 2 and len(err) == 1 and "overlaps the input" in err[0], err
    assert not (data / "sub").exists()
    assert tiny.stat().st_size > 0


def run_module(module: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def test_training_never_replaces_the_model_it_starts_from(tmp_path):
    """--overwrite deletes a run's files: an --init-from or --teacher among them is refused
    before anything is deleted, and an --out that cannot be a folder before any data loads."""
    run = tmp_path / "run"
    run.mkdir()
    best = run / "best.keras"
    best.write_bytes(b"the only copy of a trained model")
    (tmp_path / "file.jpg").write_bytes(b"not a folder")
    cases = [
        (["--init-from", "run/best.keras", "--out", "run", "--overwrite"], "--init-from"),
        (["--teacher", "./run/../run/best.keras", "--out", "run/", "--overwrite"], "--teacher"),
        (["--out", "file.jpg"], "is a file"),
        (["--out", "/proc/espcn-out"], "cannot write in /proc"),
    ]
    for args, says in cases:
        done = run_module("train.fit", "--epochs", "1", "--steps-per-epoch", "2", "--spec",
                          "k3-8", "--data", "nodata", *args, cwd=tmp_path)  # fmt: skip
        err = done.stderr.strip().splitlines()
        assert done.returncode == 2, done.stderr
        assert len(err) == 1 and says in err[0], err
        assert best.read_bytes() == b"the only copy of a trained model"
    assert (tmp_path / "file.jpg").read_bytes() == b"not a folder"


def test_conversion_never_writes_over_its_model_or_data(tmp_path):
    """The .tflite and its .json report are both checked: `--out m.tflite` writes m.json."""
    for name, out in (("m.keras", "m.keras"), ("m.keras", "{abs}"), ("m.json", "m.tflite")):
        model = tmp_path / name
        model.write_bytes(b"a keras model")
        out = out.format(abs=model)
        done = run_module("convert.tflite", "--int8", "--model", name, "--out", out,
                          "--overwrite", cwd=tmp_path)  # fmt: skip
        err = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(err) == 1 and "overlaps the input" in err[0], err
        assert model.read_bytes() == b"a keras model"
        model.unlink()


def test_conversion_to_a_folder_or_a_non_tflite_name_is_refused_before_converting(tmp_path):
    (tmp_path / "m.keras").write_bytes(b"a keras model")
    for out, says in (("./", "is a folder"), ("out.png", "name a .tflite file")):
        done = run_module("convert.tflite", "--int8", "--model", "m.keras", "--out", out,
                          "--overwrite", cwd=tmp_path)  # fmt: skip
        err = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(err) == 1 and says in err[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.keras"]
