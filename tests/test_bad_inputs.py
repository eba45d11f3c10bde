"""Every bad request is one early line: checked before any model is timed or any work is done.

Each case runs the real `espcn-edge` command in a fresh process with a fresh layout cache (so
opening the model would log its `variant auto` timing line): exit status 2, exactly one stderr
line saying what, which file and what to do, and nothing written.
"""

from __future__ import annotations

import errno
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import png_bytes
from PIL import Image

ROOT = Path(__file__).parents[1]


def espcn_edge(tmp_path: Path, *args: str, **env: str) -> tuple[int, list[str]]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), ESPCN_EDGE_CACHE=str(tmp_path / "cache"), **env)
    done = subprocess.run([sys.executable, "-m", "device.cli", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    return done.returncode, done.stderr.strip().splitlines()


@pytest.fixture
def files(tmp_path: Path) -> Path:
    Image.new("RGB", (40, 30), (120, 80, 40)).save(tmp_path / "single.jpg")
    return tmp_path


@pytest.mark.parametrize(
    "args, says",
    [
        (["single.jpg", "out.txt"], "out.txt: the output of the image single.jpg is an image"),
        (["single.jpg", "single.mp4"], "single.mp4: the output of the image single.jpg"),
        (["single.jpg", "-o", "/proc/espcn/"], "cannot write in /proc"),
        (["single.jpg", "-o", "single.jpg/sub"], "cannot write there, single.jpg is a file"),
        (["/nonexistent.png"], "/nonexistent.png: no such file or folder"),
    ],
)
def test_upscale_refuses_before_opening_the_model(files, args, says):
    status, err = espcn_edge(files, "upscale", *args)
    assert status == 2 and len(err) == 1 and says in err[0], err
    assert sorted(p.name for p in files.iterdir()) == ["single.jpg"]  # no cache: never timed


def test_camera_record_over_its_source_is_one_line_before_the_model(files):
    status, err = espcn_edge(files, "camera", "--source", "images:.", "--record", "rec")
    assert status == 2 and len(err) == 1 and "overlaps the input" in err[0], err
    assert not (files / "rec").exists() and not (files / "cache").exists()


@pytest.mark.parametrize(
    "args, says",
    [
        (["--source", "video:nosuch.mp4"], "video:nosuch.mp4: no such file"),
        (["--source", "images:nowhere"], "images:nowhere: not a folder"),
        (["--source", "demo", "--record", "rec.gif"], "cannot record .gif files"),
        (["--source", "demo", "--record", "/proc/x.mp4"], "cannot write in /proc"),
        (["--source", "demo", "--record", "single.jpg/x.mp4"], "single.jpg is a file"),
    ],
)
def test_camera_checks_source_and_recording_before_the_model(files, args, says):
    status, err = espcn_edge(files, "camera", *args, "--frames", "2")
    assert status == 2 and len(err) == 1 and says in err[0], err  # no "streaming …" line first
    assert sorted(p.name for p in files.iterdir()) == ["single.jpg"]


@pytest.mark.parametrize(
    "args, says",
    [
        (["/dev/zero", "-o", "z/"], "/dev/zero: not a regular file"),
        (["single.jpg", "o.png", "--tile", "17"], "--tile 17: below 64 LR pixels"),
        (["single.jpg", "o.png", "--crf", "x"], "argument --crf: 'x' is not a whole number"),
        (["single.jpg", "./single.jpg", "-o", "out/"], "given twice"),
        (["single.jpg", "o.png", "--model", "m.tflite", "--tier", "tiny"], "pass one"),
        (["single.jpg", "o.png", "--delegate-required"], "without --delegate"),
    ],
)
def test_upscale_refuses_bad_inputs_and_options_in_one_line(files, args, says):
    status, err = espcn_edge(files, "upscale", *args)
    assert status == 2 and says in err[-1], err
    assert not [e for e in err if e.startswith("INFO")]
    assert sorted(p.name for p in files.iterdir()) == ["single.jpg"]


def test_a_fifo_is_refused_not_read(files):
    os.mkfifo(files / "pipe")
    status, err = espcn_edge(files, "upscale", "pipe")
    assert status == 2 and err == [
        "espcn-edge upscale: pipe: not a regular file (a device, pipe "
        "or socket); upscale reads image and video files and folders"
    ]


@pytest.mark.parametrize(
    "args, says",
    [
        (["--overwrite"], "--overwrite does nothing without --record"),
        (["--compare"], "--compare does nothing without --view, --window or --record"),
        (["--view-auth", "f"], "--view-auth does nothing without --view"),
        (["--view-insecure"], "--view-insecure does nothing without --view"),
    ],
)
def test_camera_refuses_options_that_mean_nothing(files, args, says):
    status, err = espcn_edge(files, "camera", "--source", "demo", "--frames", "1", *args)
    assert status == 2 and err == [
        f"espcn-edge camera: {says}: add it, or drop {says.split()[0]}"
    ], err


def test_a_camera_run_that_reads_no_frame_is_an_error(files):
    (files / "bad").mkdir()
    for i in range(3):
        (files / "bad" / f"{i}.png").write_bytes(b"not a png")
    status, err = espcn_edge(files, "camera", "--source", "images:bad", "--record", "rec.mp4")
    assert (
        status == 2
        and "images:bad: no frame could be read, nothing recorded to rec.mp4" in (err[-1])
    ), err
    assert not (files / "rec.mp4").exists()


def test_bare_command_is_usage_and_exit_2(files):
    status, err = espcn_edge(files)
    assert status == 2 and err[0].startswith("usage: espcn-edge COMMAND")


def test_resume_with_another_plan_or_spec_says_how_to_go_on(tmp_path):
    """A resumed run keeps its plan (its cosine schedule spans it) and its network: another
    --epochs ended silently at the new count; another --spec printed two raw spec strings."""
    run = tmp_path / "run"
    (run / "backup").mkdir(parents=True)
    card = {"spec_string": "3:8,3:8,3:8,3:8,3:8,3:8,3+skip", "planned_steps": 300}
    (run / "card.json").write_text(json.dumps(card))
    base = [sys.executable, "-m", "train.fit", "--out", "run", "--resume", "--data", "nodata"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for args, says in (
        (["--spec", "k3-8", "--epochs", "2", "--steps-per-epoch", "100"],
         "was planned as 300 steps, not 200"),
        (["--spec", "k5-16", "--epochs", "3", "--steps-per-epoch", "100"],
         "resume with --spec '3:8,3:8,3:8,3:8,3:8,3:8,3+skip'"),
    ):  # fmt: skip
        done = subprocess.run([*base, *args], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=300)  # fmt: skip
        err = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(err) == 1 and says in err[0], err


def test_a_video_cut_short_says_how_many_frames_were_missing(files):
    import av
    import numpy as np

    clip = files / "clip.mp4"
    with av.open(str(clip), "w", options={"movflags": "faststart"}) as out:
        stream = out.add_stream("libx264", rate=12, options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = 48, 32, "yuv420p"
        for i in range(40):
            rgb = np.full((32, 48, 3), (i * 6) % 256, np.uint8)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        out.mux(stream.encode(None))
    data = clip.read_bytes()
    clip.write_bytes(data[: len(data) * 6 // 10])  # the header (faststart) says 40 frames
    argv = [sys.executable, "-m", "device.cli", "upscale", "clip.mp4", "o.mp4"]
    env = dict(os.environ, PYTHONPATH=str(ROOT), ESPCN_EDGE_CACHE=str(files / "cache"))
    done = subprocess.run(argv, cwd=files, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "of the 40 frames its header declares could not be read" in done.stdout, done.stdout


def test_a_folder_for_a_file_and_a_file_for_a_folder_are_named_so(files):
    """`model file not found` for a folder and `dataset folder not found` for a file that
    exists misled: each says what the path is."""
    (files / "models").mkdir()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for argv, says in (
        (["convert.tflite", "--int8", "--model", "models", "--out", "m.tflite"],
         "models: is a folder, not a .keras model"),
        (["train.fit", "--data", "single.jpg", "--epochs", "1", "--steps-per-epoch", "1",
          "--out", "run"], "single.jpg: is a file, not a folder"),
    ):  # fmt: skip
        done = subprocess.run([sys.executable, "-m", *argv], cwd=files, env=env,
                              capture_output=True, text=True, timeout=300)  # fmt: skip
        err = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(err) == 1 and says in err[0], err


# -- sizes declared in a header (issue 34, case 4) ---------------------------------------------


def black_video(path: Path, size: tuple[int, int], codec: str = "libx264") -> Path:
    """A real one-frame video at `size` (4200×4000 in H.264: 50 kB, 0.3 s to make)."""
    import av

    options = {"preset": "ultrafast", "tune": "zerolatency", "threads": "1"}
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=10, options=options if codec == "libx264" else {})
        stream.width, stream.height, stream.pix_fmt = *size, "yuv420p"
        frame = av.VideoFrame(*size, "yuv420p")
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        frame.pts = 0
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def over_the_limit(name: str, width: int, height: int, size: str | None = None) -> str:
    return (
        f"{name}: declares {size or f'{width}×{height}'} pixels, above the limit of 16,777,216; "
        f"if this machine has the memory, set ESPCN_EDGE_MAX_PIXELS={width * height} to read it"
    )


@pytest.mark.parametrize(
    "args, says",
    [
        # past twice Pillow's own limit: refused in Image.open, which says the pixels, not the sides
        (["huge.png", "o.png"], over_the_limit("huge.png", 60000, 60000, "3,600,000,000")),
        (["shots", "-o", "out"], over_the_limit("shots/huge.png", 8000, 8000)),
        (["big.mp4", "o.mp4"], over_the_limit("big.mp4", 4200, 4000)),
    ],
)
def test_upscale_refuses_a_declared_size_above_the_limit_before_decoding(files, args, says):
    """A PNG of 65 bytes whose IHDR declares 60000×60000 (10 GB of RGB) was refused by Pillow's
    DecompressionBombError as 'image dimensions are too large' (no size, no limit, no way on),
    exit 1; a video's frames were decoded whatever size its stream declared."""
    (files / "huge.png").write_bytes(png_bytes(60000, 60000))
    (files / "shots").mkdir()
    (files / "shots" / "huge.png").write_bytes(png_bytes(8000, 8000))
    black_video(files / "big.mp4", (4200, 4000))
    before = sorted(p.name for p in files.rglob("*"))
    status, err = espcn_edge(files, "upscale", *args)
    assert status == 2 and err == [f"espcn-edge upscale: {says}"], err
    assert sorted(p.name for p in files.rglob("*")) == before  # no model opened, nothing written


def test_camera_refuses_a_source_above_the_limit_before_the_model(files):
    black_video(files / "big.mp4", (4200, 4000))
    status, err = espcn_edge(files, "camera", "--source", "video:big.mp4", "--frames", "1")
    assert status == 2 and err == [
        f"espcn-edge camera: {over_the_limit('video:big.mp4', 4200, 4000)}"
    ]
    assert not (files / "cache").exists()  # said before the model was opened or timed
    (files / "shots").mkdir()
    (files / "shots" / "huge.png").write_bytes(png_bytes(8000, 8000))
    status, err = espcn_edge(files, "camera", "--source", "images:shots", "--record", "rec.mp4")
    assert status == 2 and over_the_limit("shots/huge.png", 8000, 8000) in err[-2], err
    assert "images:shots: no frame could be read, nothing recorded" in err[-1]
    assert not (files / "rec.mp4").exists()


def test_the_limit_is_raised_as_its_line_says(files):
    status, err = espcn_edge(files, "upscale", "single.jpg", "o.png", ESPCN_EDGE_MAX_PIXELS="1000")
    assert status == 2 and err[-1].endswith("set ESPCN_EDGE_MAX_PIXELS=1200 to read it"), err
    status, err = espcn_edge(files, "upscale", "single.jpg", "o.png", ESPCN_EDGE_MAX_PIXELS="1200")
    assert status == 0 and Image.open(files / "o.png").size == (80, 60), err
    status, err = espcn_edge(files, "upscale", "single.jpg", "p.png", ESPCN_EDGE_MAX_PIXELS="lots")
    assert status == 2 and err == [
        "espcn-edge upscale: ESPCN_EDGE_MAX_PIXELS='lots': expected a whole number of pixels "
        "above 0 (the default is 16777216)"
    ], err


# -- misleading lines (issue 34, case 13) -----------------------------------------------------


@pytest.mark.parametrize("name", ["cut.png", "cut.jpg"])
def test_a_truncated_image_says_so_in_one_line(files, name):
    """A photo cut to half its bytes said Pillow's 'image file is truncated (0 bytes not
    processed)', exit 1 although nothing was written."""
    noise = np.random.default_rng(0).integers(0, 256, (150, 200, 3), dtype=np.uint8)
    Image.fromarray(noise).save(files / name)
    data = (files / name).read_bytes()
    (files / name).write_bytes(data[: len(data) // 2])
    status, err = espcn_edge(files, "upscale", name, "o.png")
    lines = [line for line in err if line.startswith("espcn-edge upscale:")]
    assert status == 2 and lines == [
        f"espcn-edge upscale: {name}: truncated or damaged: the file ends before the picture "
        "is complete"
    ], err
    assert not (files / "o.png").exists()


def test_a_recording_that_fills_the_disk_names_it_once_after_the_summary(files):
    """The disk filling up mid-recording said `--record rec2.mp4: rec2.mp4: cannot write the video
    ([Errno 28] No space left on device: '….rec2.mp4.9rl725bi.mp4')` and no summary. Simulated
    without root by a file size limit (RLIMIT_FSIZE): the same failure with EFBIG."""
    import resource

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    argv = [sys.executable, "-m", "device.cli", "camera", "--source", "demo", "--size",
            "160x120", "--record", "rec2.mp4", "--frames", "60"]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(ROOT), ESPCN_EDGE_CACHE=str(files / "cache"))
    done = subprocess.run(argv, cwd=files, env=env, capture_output=True, text=True, timeout=120,
                          preexec_fn=small_files)  # fmt: skip
    errors = [line for line in done.stderr.splitlines() if not line.startswith("INFO")]
    reason = os.strerror(errno.EFBIG)
    assert done.returncode == 2 and errors == [
        f"espcn-edge camera: --record rec2.mp4: cannot write the video ({reason})"
    ], done.stderr
    assert re.match(r"\d+ frames?, .* fps", done.stdout), done.stdout  # the run's summary
    assert sorted(p.name for p in files.iterdir()) == ["cache", "single.jpg"]  # no temp file


def test_skip_existing_with_nothing_left_to_do_says_so_plainly(files):
    """Issue 34, case 18: it printed `0 of 0 written, 1 skipped`."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), ESPCN_EDGE_CACHE=str(files / "cache"))
    argv = [sys.executable, "-m", "device.cli", "upscale", "single.jpg", "-o", "out"]
    first = subprocess.run(argv, cwd=files, env=env, capture_output=True, text=True, timeout=120)
    again = subprocess.run([*argv, "--skip-existing"], cwd=files, env=env, capture_output=True,
                           text=True, timeout=120)  # fmt: skip
    assert first.returncode == 0 == again.returncode, again.stderr
    assert again.stdout.splitlines()[-1] == "1 skipped (already there)", again.stdout
