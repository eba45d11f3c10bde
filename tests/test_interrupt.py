"""Ctrl-C and SIGTERM in the middle of the real commands: one line, exit status 130 or 143, no
traceback, no temporary file, what was finished kept; --skip-existing and --resume then do the
rest."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import BSD200
from fakes import tiny_model
from PIL import Image

from device.cli import main as cli

ROOT = Path(__file__).parents[1]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
FRAMES = 240  # about a second of upscaling: long enough to be interrupted in the middle
PHOTOS = ("a.png", "b.png", "c.png")  # sorted before the video, so done before it starts


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> Path:
    """Three real photos and a 240-frame H.264 clip, in one folder."""
    av = pytest.importorskip("av")
    folder = tmp_path_factory.mktemp("media")
    for name, photo in zip(PHOTOS, sorted(BSD200.glob("*.png")), strict=False):
        shutil.copy(photo, folder / name)
    with av.open(str(folder / "z.mp4"), "w") as out:
        video = out.add_stream("libx264", rate=24, options={"preset": "ultrafast"})
        video.width, video.height, video.pix_fmt = 96, 64, "yuv420p"
        for i in range(FRAMES):
            rgb = np.zeros((64, 96, 3), np.uint8)
            rgb[..., 0], rgb[..., 1] = (np.arange(96) * 2 + i * 3) % 256, i
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
    return folder


def _stopped_when(proc: subprocess.Popen, started, signum: int) -> tuple[str, str]:
    """Send `signum` once `started()` holds; returns the process's (stdout, stderr)."""
    deadline = time.time() + 120
    while proc.poll() is None and not started() and time.time() < deadline:
        time.sleep(0.005)
    assert proc.poll() is None, "finished before it could be interrupted"
    proc.send_signal(signum)
    return proc.communicate(timeout=60)


def _one_error_line(stderr: str, prog: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.startswith(f"{prog}: ")]
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["INT", "TERM"])
def test_interrupted_upscale_keeps_the_finished_files_and_skip_existing_does_the_rest(
    media, tmp_path, signum, capsys
):
    out = tmp_path / "out"
    args = ["upscale", str(media), "-o", str(out), "--model", str(tiny_model.COMMITTED)]
    args += ["--variant", "plain"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "device.cli", *args],
        cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    _, err = _stopped_when(proc, lambda: any(out.glob(".z.mp4.*")), signum)  # mid-video
    assert proc.returncode == 128 + signum, err
    line = _one_error_line(err, "espcn-edge upscale")
    assert line.endswith("interrupted: 3 of 4 written, none half-written; run again with "
                         "--skip-existing to do the rest"), line  # fmt: skip
    assert sorted(p.name for p in out.iterdir()) == list(PHOTOS)  # no temporary file left
    finished = {name: (out / name).read_bytes() for name in PHOTOS}
    for name in PHOTOS:
        with Image.open(media / name) as src, Image.open(out / name) as sr:
            assert sr.size == (src.width * 2, src.height * 2)

    assert cli([*args, "--skip-existing"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "1 of 1 written, 3 skipped (already there)"
    assert {name: (out / name).read_bytes() for name in PHOTOS} == finished
    import av

    with av.open(str(out / "z.mp4")) as clip:
        assert sum(1 for _ in clip.decode(video=0)) == FRAMES
    assert sorted(p.name for p in out.iterdir()) == [*PHOTOS, "z.mp4"]


def test_skip_existing_and_overwrite_together_are_one_line(media, tmp_path, capsys):
    args = ["upscale", str(media / "a.png"), str(tmp_path / "a.png"), "--overwrite"]
    assert cli([*args, "--skip-existing"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "--skip-existing" in err[0] and "--overwrite" in err[0], err
    assert not (tmp_path / "a.png").exists()


def _epochs(out: Path) -> list[int]:
    with open(out / "history.csv") as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]


def test_interrupted_training_says_so_in_one_line_and_resumes(tmp_path, div2k_onthefly):
    out = tmp_path / "run"
    args = [
        "-m", "train.fit", "--data", str(div2k_onthefly), "--scale", "2", "--spec",
        tiny_model.SPEC, "--epochs", "6", "--steps-per-epoch", "30", "--patch-size", "16",
        "--batch-size", "4", "--out", str(out),
    ]  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    backup = out / "backup" / "training_metadata.json"  # the last file an epoch writes
    _, err = _stopped_when(proc, backup.exists, signal.SIGINT)
    assert proc.returncode == 130, err
    line = _one_error_line(err, "python -m train.fit")
    kept = json.loads(backup.read_text())["epoch"]  # what --resume starts from
    assert (
        1 <= kept < 6
        and kept <= len(_epochs(out))
        and f"interrupted: {out} keeps {kept} finished of 6 epochs" in line
    )
    assert line.endswith("run the same command with --resume to continue"), line
    assert not [p for p in out.rglob(".*") if p.is_file()], "temporary files left behind"

    from train.fit import main

    assert main([*args[2:], "--resume"]) == 0
    assert _epochs(out) == list(range(6)) and not (out / "backup").exists()


def test_a_deferred_signal_is_raised_where_checked_and_a_second_ctrl_c_at_once():
    """train.fit notes Ctrl-C during TensorFlow's loop and raises it between steps."""
    from espcn_edge.interrupt import Interrupted, deferred

    before, steps = signal.getsignal(signal.SIGINT), []
    with pytest.raises(Interrupted) as e:
        with deferred() as check:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)  # the handler has run: only noted
            steps.append("after the signal")
            check()
            steps.append("after check")
    assert steps == ["after the signal"] and e.value.status == 143
    with pytest.raises(Interrupted) as e:
        with deferred():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
            steps.append("after the second Ctrl-C")
    assert steps == ["after the signal"] and e.value.status == 130
    with pytest.raises(Interrupted):  # noted and never checked: raised on the way out
        with deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)
    assert signal.getsignal(signal.SIGINT) is before  # the handler restored


class _SignalInFinalizer:
    """Sends SIGTERM from its finalizer and runs on: the handler's Interrupted is raised inside
    `__del__`, where Python prints 'Exception ignored' and goes on (as a library's callback or
    finalizer can, which lost `convert.tflite` a SIGTERM now and then: it finished and replaced
    the earlier model)."""

    def __del__(self):
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(100_000):  # the handler runs at one of these steps, inside __del__
            pass


def test_a_signal_whose_exception_was_lost_still_stops_the_next_atomic_write(tmp_path):
    from espcn_edge.atomic import write_text
    from espcn_edge.interrupt import Interrupted, interruptible

    target = tmp_path / "report.json"
    target.write_text("earlier")
    steps = []
    with pytest.raises(Interrupted) as e:
        with interruptible():
            _SignalInFinalizer()  # collected at once; the signal's exception is lost in it
            steps.append("went on")
            write_text(target, "new")
    assert steps == ["went on"] and e.value.status == 143
    assert target.read_text() == "earlier" and [p.name for p in tmp_path.iterdir()] == [
        "report.json"
    ]
    with pytest.raises(Interrupted):  # with no write after it: raised as the block ends
        with interruptible():
            _SignalInFinalizer()
    with pytest.raises(Interrupted):  # turned into another error on its way up: still one
        with interruptible():
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.05)
            except Interrupted:  # what TensorFlow's converter made of it once
                raise RuntimeError("'NoneType' object is not callable") from None
    with interruptible():  # a later block starts clean
        write_text(target, "later")
    assert target.read_text() == "later"
    with pytest.raises(ValueError):  # an error with no signal is itself
        with interruptible():
            raise ValueError("a bad file")


@pytest.mark.parametrize("delay", [0.15, 0.3, 0.6])
def test_ctrl_c_while_the_command_starts_is_one_line(tmp_path, delay):
    """The console command itself (device.start): SIGINT while its modules load, or just after,
    is one line and exit 130, never a KeyboardInterrupt traceback (the first ~50 ms are Python's
    own start-up, before any of our code runs)."""
    Image.new("RGB", (64, 48), (90, 60, 30)).save(tmp_path / "in.png")
    exe = Path(sys.executable).parent / "espcn-edge"
    proc = subprocess.Popen([str(exe), "upscale", "in.png", "out.png"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    if proc.returncode == 0:  # it had finished already: nothing to interrupt
        return
    lines = [line for line in err.splitlines() if not line.startswith("INFO")]
    assert proc.returncode == 130 and len(lines) == 1 and "Traceback" not in err, err
    assert "interrupted" in lines[0]


def test_a_signal_once_the_command_has_finished_changes_nothing(tmp_path):
    """SIGINT after the output is written, while Python shuts down (held open here by an
    atexit sleep, so the signal lands there every time): the command's own status, 0, and no
    "interrupted" line. Left to Python the default action killed it silently (-2, seen in CI),
    and our start-up handler would have said nothing was done."""
    Image.new("RGB", (64, 48), (90, 60, 30)).save(tmp_path / "in.png")
    code = (
        "import atexit, sys, time; from device.start import main; "
        "atexit.register(time.sleep, 3); sys.exit(main())"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1]))
    proc = subprocess.Popen([sys.executable, "-c", code, "upscale", "in.png", "out.png"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "out.png").exists():  # the rename is the command's last step
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.02)
        time.sleep(0.5)  # past main(): in the atexit sleep
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0 and "interrupted" not in err, (proc.returncode, err)
    assert "out.png" in out


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_ends_the_demo_in_one_line_without_its_figure_or_bench(tmp_path, signum):
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1]))
    argv = [sys.executable, "-m", "device.cli", "demo", "--frames", "0", "--size", "64x48"]
    proc = subprocess.Popen([*argv, "--out", "fig.png"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        time.sleep(3)  # loaded and streaming (earlier, still the same one line and status)
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    lines = [line for line in err.splitlines() if not line.startswith("INFO")]
    assert proc.returncode == 128 + signum and len(lines) == 1, (proc.returncode, err)
    assert "interrupted" in lines[0] and "bench" not in out
    assert not (tmp_path / "fig.png").exists()
