"""The scripts in examples/ run as a user runs them, each in a fresh process: the picamera2 loop
against the fake picamera2 (the real library in the emulated Pi, tests/pi), the OpenCV loop on a
real H.264 file, the Pillow folder loop on real photos. Each result is the public API's own
output for the frame the script last saw, pixel for pixel."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_device_sources import fake_picamera2  # noqa: F401  (a fixture)
from test_device_video import make_clip

from espcn_edge import Upscaler

ROOT = Path(__file__).parents[1]
EXAMPLES = ROOT / "examples"
FAKES = Path(__file__).parent / "fakes"


def run_example(name: str, *args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join([str(FAKES), str(ROOT)]), **env)
    done = subprocess.run([sys.executable, str(EXAMPLES / name), *args], cwd=cwd,
                          env=environment, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done


@pytest.fixture(scope="module")
def up() -> Upscaler:
    return Upscaler(scale=2)


def test_picamera2_loop_stops_after_the_frames_asked_for(tmp_path, up, fake_picamera2):  # noqa: F811
    packed, scene = fake_picamera2.packed, fake_picamera2.scene
    done = run_example("picamera2_capture.py", cwd=tmp_path, EXAMPLE_FRAMES="3")
    assert "3 frames" in done.stdout
    saved = np.asarray(Image.open(tmp_path / "picamera2_x2.png"))
    last = packed(scene(2, (320, 240)), "XBGR8888")  # the fake's third frame, as captured
    assert saved.shape == (480, 640, 3)
    assert np.array_equal(saved, up.upscale(last, format="XBGR8888")[..., :3])


def test_opencv_loop_reads_a_video_to_its_end(tmp_path, up):
    cv2 = pytest.importorskip("cv2")
    clip = make_clip(tmp_path / "clip.mp4", rotation=0)
    done = run_example("opencv_capture.py", str(clip), cwd=tmp_path)
    cap = cv2.VideoCapture(str(clip))
    frames = []
    while (got := cap.read())[0]:
        frames.append(got[1])
    assert f"{len(frames)} frames" in done.stdout and len(frames) == 24
    saved = cv2.imread(str(tmp_path / "opencv_x2.png"))
    assert np.array_equal(saved, up.upscale(frames[-1], format="BGR"))


def test_photos_folder_upscales_each_image_and_skips_the_rest(tmp_path, up):
    from conftest import SET5

    src = tmp_path / "in"
    src.mkdir()
    lr = sorted((SET5 / "LR_bicubic" / "X2").glob("*.png"))[:2]
    for path in lr:
        (src / path.name).write_bytes(path.read_bytes())
    (src / "notes.txt").write_text("not an image")
    run_example("photos_folder.py", str(src), str(tmp_path / "out"), cwd=tmp_path)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [p.name for p in lr]
    for path in lr:
        want = up.upscale(Image.open(path).convert("RGB"))
        assert np.array_equal(np.asarray(Image.open(tmp_path / "out" / path.name)), want)
