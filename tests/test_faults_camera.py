"""Camera faults through the picamera2 fake (tests/fakes/picamera2): no camera, a camera that
vanishes mid-stream, frames that stop arriving, a camera that hangs or fails while stopping.

The first three run the real `espcn-edge camera` in a fresh process with a recording and the
live view on: one stderr line naming the camera and the problem, exit status 2, no traceback,
a bounded run time, and a recording of the frames so far that OpenCV plays (or none when no
frame came), with no temporary file left. The rest run the pipeline in-process to see the fake
camera itself: cancelled, stopped and closed, every request released.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from concurrent.futures import CancelledError
from pathlib import Path

import numpy as np
import pytest
from test_device_sources import fake_picamera2  # noqa: F401  (a fixture, used by `fake`)

from device.pipeline import Pipeline
from device.sinks import RecordSink
from device.sources import Picamera2Source, SourceError
from device.sources.picamera2 import FRAME_TIMEOUT

cv2 = pytest.importorskip("cv2")

ROOT = Path(__file__).parents[1]
FAKES = Path(__file__).parent / "fakes"
TINY = FAKES / "tiny_x2.tflite"
LR, SR = (64, 48), (128, 96)
LIMIT = 20  # seconds any faulty run may take, start-up included (else TimeoutExpired)


def camera(tmp_path: Path, spec: str = "picamera2", **faults: int):
    """Run `espcn-edge camera` on the fake with FAKE_PICAMERA2_<FAULT>=N set:
    (exit status, stderr lines other than INFO logs, full stderr, seconds taken)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(FAKES), str(ROOT)]))
    env.update({f"FAKE_PICAMERA2_{k.upper()}": str(v) for k, v in faults.items()})
    args = ["--source", spec, "--size", f"{LR[0]}x{LR[1]}", "--model", str(TINY)]
    args += ["--record", "out.mp4", "--view", "127.0.0.1:0"]
    t0 = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "device.cli", "camera", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=LIMIT,
    )
    seconds = time.monotonic() - t0
    lines = [e for e in done.stderr.splitlines() if not e.startswith("INFO")]
    return done.returncode, lines, done.stderr, seconds


def video_frames(path: Path) -> list[np.ndarray]:
    """Every frame OpenCV decodes from `path` (it must open)."""
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened(), f"{path} does not open"
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


def assert_recorded(folder: Path, most: int) -> int:
    """A finalised out.mp4 of 1…`most` frames at the SR size, and no temporary file."""
    frames = video_frames(folder / "out.mp4")
    assert 1 <= len(frames) <= most
    assert {f.shape for f in frames} == {(SR[1], SR[0], 3)}
    assert frames[-1].std() > 10  # a picture, not a blank frame
    assert sorted(p.name for p in folder.iterdir()) == ["out.mp4"]
    return len(frames)


@pytest.mark.parametrize(
    "spec, cameras, name", [("picamera2", 0, "picamera2:0"), ("picamera2:1", 1, "picamera2:1")]
)
def test_no_camera_is_one_line_and_records_nothing(tmp_path, spec, cameras, name):
    status, lines, err, seconds = camera(tmp_path, spec, cameras=cameras)
    assert status == 2 and "Traceback" not in err
    assert len(lines) == 1, err
    assert lines[0].startswith(f"espcn-edge camera: {name}: cannot open the camera: none attached")
    assert "rpicam-hello --list-cameras" in lines[0]
    assert list(tmp_path.iterdir()) == []  # no video, no temporary file


def test_camera_vanishing_mid_stream_is_one_line_and_keeps_the_recording(tmp_path):
    status, lines, err, seconds = camera(tmp_path, vanish_after=15)
    assert status == 2 and "Traceback" not in err
    assert len(lines) == 1, err
    assert lines[0] == (
        "espcn-edge camera: picamera2:0: the camera failed (camera disconnected); "
        "check the ribbon cable and power supply, then start again"
    )
    assert_recorded(tmp_path, most=15)


def test_frames_that_stop_arriving_time_out_in_one_line_and_keep_the_recording(tmp_path):
    status, lines, err, seconds = camera(tmp_path, stall_after=15)
    assert status == 2 and "Traceback" not in err
    assert len(lines) == 1, err
    assert lines[0].startswith(
        f"espcn-edge camera: picamera2:0: no frame for {FRAME_TIMEOUT:g} s; check the ribbon cable"
    )
    assert_recorded(tmp_path, most=15)
    assert FRAME_TIMEOUT <= seconds < LIMIT  # it waited for the camera, then gave up


@pytest.fixture
def fake(request):
    """The picamera2 fake module on sys.path, freshly imported (faults off) for each test."""
    return request.getfixturevalue("fake_picamera2")


def double(y: np.ndarray) -> np.ndarray:
    """A ×2 'model' (pixel repeat): these tests are about the camera, not the network."""
    return y.repeat(2, axis=0).repeat(2, axis=1)


def start(pipeline: Pipeline) -> tuple[threading.Thread, list[Exception]]:
    """Run `pipeline` in a daemon thread, so a hang fails the test instead of blocking it:
    (the thread, the errors `run()` raised)."""
    errors = []

    def run():
        try:
            pipeline.run()
        except Exception as e:
            errors.append(e)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, errors


def test_a_stalled_camera_is_cancelled_stopped_and_closed(fake, monkeypatch, tmp_path):
    monkeypatch.setattr(fake, "stall_after", 6)
    video = tmp_path / "out.mp4"
    t0 = time.monotonic()
    runner, errors = start(
        Pipeline(Picamera2Source(LR, frame_timeout=0.5), double, [RecordSink(video)], scale=2)
    )
    runner.join(5)
    assert not runner.is_alive(), "the pipeline did not stop"
    assert 0.5 <= time.monotonic() - t0 < 5
    assert [str(e) for e in errors] == [
        "picamera2:0: no frame for 0.5 s; check the ribbon cable and power supply, then start again"
    ]
    cam = fake.instances[-1]
    assert cam.queued_jobs == 0 and not cam.started and cam.closed
    assert cam.released == 6  # every frame's request went back to the camera
    assert_recorded(tmp_path, most=6)


def test_the_fake_blocks_stop_behind_a_timed_out_capture(fake, monkeypatch):
    """Why the source flushes first: without cancel_all_and_flush, stop() would never return."""
    monkeypatch.setattr(fake, "stall_after", 0)
    cam = fake.Picamera2()
    cam.start(cam.create_video_configuration())
    with pytest.raises(TimeoutError):
        cam.capture_request(wait=0.05)
    cancelled = []

    def stop():
        try:
            cam.stop()
        except CancelledError as e:  # the stop job is cancelled with the capture
            cancelled.append(e)

    stopper = threading.Thread(target=stop, daemon=True)
    stopper.start()
    stopper.join(0.3)
    assert stopper.is_alive()  # stuck behind the queued capture, as in picamera2 #1065
    cam.cancel_all_and_flush()
    stopper.join(2)
    assert not stopper.is_alive() and len(cancelled) == 1
    cam.close()


def test_the_recording_is_finalised_while_a_broken_camera_hangs_in_stop(
    fake,
    monkeypatch,
    tmp_path,
):
    """A camera whose cable came out can hang in stop() for good; the video must not wait."""
    released = threading.Event()
    monkeypatch.setattr(fake, "vanish_after", 5)
    monkeypatch.setattr(fake.Picamera2, "stop", lambda cam: released.wait(10))
    runner, errors = start(
        Pipeline(Picamera2Source(LR), double, [RecordSink(tmp_path / "out.mp4")], scale=2)
    )
    deadline = time.monotonic() + 10
    while not (tmp_path / "out.mp4").exists():
        assert time.monotonic() < deadline, "the video was not finalised"
        time.sleep(0.05)
    assert runner.is_alive()  # still inside the camera's stop()
    assert_recorded(tmp_path, most=5)
    released.set()
    runner.join(5)
    assert not runner.is_alive()
    assert [str(e) for e in errors] == [
        "picamera2:0: the camera failed (camera disconnected); "
        "check the ribbon cable and power supply, then start again"
    ]
    assert fake.instances[-1].closed


def test_a_camera_failing_to_stop_is_one_error_and_still_closed(
    fake,
    monkeypatch,
    tmp_path,
):
    def broken_stop(cam):
        raise RuntimeError("Failed to stop camera")

    monkeypatch.setattr(fake.Picamera2, "stop", broken_stop)
    pipeline = Pipeline(
        Picamera2Source(LR), double, [RecordSink(tmp_path / "out.mp4")], max_frames=4, scale=2
    )
    with pytest.raises(SourceError, match=r"^picamera2:0: could not stop the camera \(Failed"):
        pipeline.run()
    assert fake.instances[-1].closed
    assert assert_recorded(tmp_path, most=4) == 4
