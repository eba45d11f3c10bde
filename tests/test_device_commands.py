"""The device commands end to end: upscale, bench, demo, camera; errors in one line; and the
device path never importing TensorFlow."""

from __future__ import annotations

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
from fakes import tiny_model
from PIL import Image

from device import bench, figure, upscale
from device.cli import main as cli
from espcn_edge import MODELS_DIR, SAMPLES_DIR
from espcn_edge.machine import cpu_info, describe

ROOT = Path(__file__).parents[1]
FAKES = Path(__file__).parent / "fakes"
OPENCV_ESPCN = ROOT.parent / "shared" / "peers" / "opencv_dnn_superres" / "ESPCN_x2.pb"
NO_TF = "import sys; sys.modules['tensorflow'] = None; sys.modules['keras'] = None; "


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    return tiny_model.session_model(tmp_path_factory)


@pytest.fixture
def photos(tmp_path):
    """Two real photos (cropped small) and one broken file."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("chelsea.png", "rocket.jpg"):
        with Image.open(Path(str(SAMPLES_DIR)) / name) as im:
            im.convert("RGB").crop((0, 0, 121, 90)).save(folder / name)
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    return folder


def run_no_tf(args: list[str], cwd: Path, extra_path: str = "", **kw):
    """Run `espcn-edge ARGS` in a fresh interpreter where importing TensorFlow/Keras fails."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (extra_path, str(ROOT)) if p))
    code = NO_TF + f"from device.cli import main; sys.exit(main({args!r}))"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, **kw
    )


def test_upscale_folder_writes_every_good_image_and_reports_the_bad_one(tiny, photos, capsys):
    assert cli(["upscale", str(photos), "--model", str(tiny)]) == 1
    err = capsys.readouterr().err
    assert err.count("broken.png") >= 1 and "espcn-edge upscale:" in err
    out_dir = photos.with_name("photos_x2")
    for name in ("chelsea.png", "rocket.jpg"):
        with Image.open(out_dir / name) as im:
            assert im.size == (242, 180)
    assert not (out_dir / "broken.png").exists()
    assert not [p for p in out_dir.iterdir() if p.name.startswith(".")]  # no temp files left


def test_upscale_in_out_and_many_inputs(tiny, photos, tmp_path):
    src = photos / "chelsea.png"
    assert cli(["upscale", str(src), str(tmp_path / "big.png"), "--model", str(tiny)]) == 0
    assert Image.open(tmp_path / "big.png").size == (242, 180)
    out = tmp_path / "many"
    args = ["upscale", str(src), str(photos / "rocket.jpg"), str(out), "--model", str(tiny)]
    assert cli(args) == 0
    assert sorted(p.name for p in out.iterdir()) == ["chelsea.png", "rocket.jpg"]
    assert cli(["upscale", str(src), "--model", str(tiny)]) == 0
    assert (photos / "chelsea_x2.png").is_file()


def test_upscale_video(tiny, tmp_path):
    cv2 = pytest.importorskip("cv2")
    clip = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 12, (48, 32))
    for i in range(6):
        writer.write(np.full((32, 48, 3), 30 * i, np.uint8))
    writer.release()
    assert cli(["upscale", str(clip), "--model", str(tiny)]) == 0
    cap = cv2.VideoCapture(str(tmp_path / "clip_x2.mp4"))  # an .avi becomes H.264 MP4
    assert cap.get(cv2.CAP_PROP_FRAME_COUNT) == 6 and cap.get(cv2.CAP_PROP_FRAME_WIDTH) == 96
    cap.release()


def test_without_scale_a_model_runs_at_its_own(photos, tmp_path, capsys):
    x3 = Path(str(MODELS_DIR)) / "espcn_x3_tiny_int8.tflite"
    src = photos / "chelsea.png"
    assert cli(["upscale", str(src), "--model", str(x3)]) == 0
    assert Image.open(photos / "chelsea_x3.png").size == (363, 270)
    assert cli(["upscale", str(src), "--model", str(x3), "--scale", "2"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"espcn-edge upscale: {x3}: model is ×3, not ×2"
    ]
    assert not (photos / "chelsea_x2.png").exists()
    assert cli(["upscale", str(src)]) == 0  # no --model: the shipped ×2
    assert Image.open(photos / "chelsea_x2.png").size == (242, 180)
    bench_args = ["bench", "--size", "48x32", "--frames", "1", "--warmup", "0"]
    assert cli([*bench_args, "--model", str(x3), "--variant", "plain"]) == 0
    assert "bench ×3 at 48x32" in capsys.readouterr().out
    frames = tmp_path / "frames"
    camera = ["camera", "--source", "demo", "--size", "48x32", "--frames", "2", "--record"]
    assert cli([*camera, str(frames), "--model", str(x3)]) == 0
    recorded = sorted(frames.glob("*.png"))
    assert recorded and all(Image.open(f).size == (144, 96) for f in recorded)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--scale", "3"], "model is ×2, not ×3"),
        (["--model", "/no/such.tflite"], "model file not found"),
        (["--delegate", "/no/libdelegate.so", "--delegate-required"], "cannot load delegate"),
    ],
)
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # litert's Delegate
def test_engine_problems_are_one_clear_line(tiny, photos, capsys, args, message):
    argv = ["upscale", str(photos / "chelsea.png"), "--model", str(tiny), *args]
    assert cli(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and "Traceback" not in err[0]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # litert's Delegate
def test_unavailable_delegate_warns_and_falls_back_to_the_cpu(tiny, photos, tmp_path, caplog):
    out = tmp_path / "cpu.png"
    argv = ["upscale", str(photos / "chelsea.png"), str(out), "--model", str(tiny)]
    assert cli([*argv, "--delegate", "nnapi"]) == 0  # NNAPI does not exist off Android
    assert out.is_file() and "using the CPU" in caplog.text


def test_missing_input_and_self_overwrite_are_refused(tiny, photos, capsys):
    assert cli(["upscale", "/no/such.png", "--model", str(tiny)]) == 2
    src = photos / "chelsea.png"
    assert cli(["upscale", str(src), "-o", str(src), "--model", str(tiny)]) == 2
    assert "no such file" in capsys.readouterr().err


def test_bench_reports_stages_and_the_opencv_ratio(tiny, tmp_path, capsys):
    if not OPENCV_ESPCN.is_file():
        pytest.fail(f"{OPENCV_ESPCN} missing: the tests need ../shared beside the project")
    out = tmp_path / "bench.json"
    argv = [
        "bench",
        "--size",
        "64x48",
        "--frames",
        "3",
        "--warmup",
        "1",
        "--model",
        str(tiny),
        "--vs-opencv",
        str(OPENCV_ESPCN),
        "--json",
        str(out),
    ]
    assert cli(argv) == 0
    text = capsys.readouterr().out
    assert "OpenCV dnn_superres ESPCN" in text and "peak RSS" in text
    report = json.loads(out.read_text())
    assert text.startswith(f"CPU: {describe()}; load average ")  # what the ratios hang on
    assert report["cpu"] == cpu_info()
    for stage in (*bench.FRAME_STAGES, "encode", "frame", "camera"):
        assert report["median_ms"][f"espcn_edge.{stage}"] > 0
    assert report["camera_to_invoke"] > 0 and "× invoke's time" in text
    assert report["ratio_to_opencv_espcn"] > 0 and report["ratio_to_bicubic"] > 0
    assert cli(["bench", "--model", str(tiny), "--vs-opencv", "/no/x.pb"]) == 2


def test_demo_writes_a_side_by_side_image(tiny, tmp_path, capsys):
    out = tmp_path / "demo.png"
    argv = ["demo", "--model", str(tiny), "--frames", "4", "--size", "64x48", "--out", str(out)]
    assert cli(argv) == 0
    # bicubic | ESPCN, each 2×, under their labels; below, the magnified crops likewise
    assert Image.open(out).size == (256, 2 * (figure.LABEL_H + 96))
    text = capsys.readouterr().out
    assert "pipeline: 4 frames" in text and "per stage" in text and "magnified" in text


def test_demo_figure_labels_each_half_and_magnifies_where_they_differ():
    from espcn_edge.frames import Frame, super_resolve

    lr = np.full((24, 32), 128, np.uint8)
    lr[12:20, 20:28] = np.indices((8, 8)).sum(0) % 2 * 255  # detail in one corner only
    frame = Frame(lr, np.full_like(lr, 128), np.full_like(lr, 128))
    result = super_resolve(frame, lambda y: np.kron(y, np.ones((2, 2), np.uint8)), 2)  # "ESPCN"
    x, y = figure.busiest_crop(result.bicubic_planes()[0], result.y, (16, 12))
    assert 20 * 2 - 16 <= x <= 28 * 2 and 12 * 2 - 12 <= y <= 20 * 2  # over the detail
    img = figure.comparison(result, "m.tflite")
    h, w = 48, 64
    assert img.shape == (2 * (figure.LABEL_H + h), 2 * w, 3)
    for half in (slice(0, w), slice(w, 2 * w)):  # text in the strip over each half
        assert img[: figure.LABEL_H, half].std() > 0
    zoom = img[2 * figure.LABEL_H + h :, w:]  # ESPCN's crop, nearest-neighbour 4×
    crop = result.rgb()[y : y + 12, x : x + 16]
    assert (zoom[::4, ::4] == crop).all()


def test_demo_without_a_shipped_model_trains_one_or_says_how(tiny, tmp_path, monkeypatch, capsys):
    from device import demo, engine

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(engine, "default_model_path", lambda scale, tier: tmp_path / "none.tflite")
    failed = subprocess.CompletedProcess([], 1, "", "ModuleNotFoundError: No module named 'keras'")
    calls = []
    monkeypatch.setattr(demo.subprocess, "run", lambda cmd, **k: calls.append(cmd) or failed)
    assert cli(["demo", "--frames", "1", "--size", "64x48"]) == 2
    assert "--overwrite" in calls[0]  # train.fit would refuse a quick run left there before
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "train extra" in err[0] and "No module named 'keras'" in err[0]
    quick = tmp_path / "cache" / "espcn-edge" / "quick_x2_int8.tflite"  # made by an earlier run
    quick.parent.mkdir(parents=True)
    shutil.copy(tiny, quick)
    out = tmp_path / "d.png"
    assert cli(["demo", "--frames", "2", "--size", "64x48", "--out", str(out)]) == 0
    assert out.is_file() and "quick model trained earlier" in capsys.readouterr().out


def test_upscale_never_imports_tensorflow(tiny, photos, tmp_path):
    done = run_no_tf(
        ["upscale", str(photos / "rocket.jpg"), str(tmp_path / "r.png"), "--model", str(tiny)],
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert Image.open(tmp_path / "r.png").size == (242, 180)


def test_camera_on_fake_picamera2_never_imports_tensorflow(tiny, tmp_path):
    done = run_no_tf(
        [
            "camera",
            "--source",
            "picamera2",
            "--size",
            "100x60",
            "--frames",
            "5",
            "--model",
            str(tiny),
            "--record",
            str(tmp_path / "frames"),
        ],
        cwd=tmp_path,
        extra_path=str(FAKES),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "5 frames" in done.stdout
    shots = sorted((tmp_path / "frames").iterdir())
    assert len(shots) == 5 and Image.open(shots[0]).size == (200, 120)


CAMERA_MAX_RSS_MB = 180  # measured 161 on the 2-core VNNI EPYC, 187 before (docs/device.md)


def test_camera_view_and_record_stay_within_their_memory(tmp_path):
    """The shipped model at 320×240 with the live view and an H.264 recording, in a child
    process whose own peak RSS (VmHWM) it prints as it exits."""
    args = ["camera", "--source", "demo", "--size", "320x240", "--view", "127.0.0.1:0"]
    args += ["--record", str(tmp_path / "rec.mp4"), "--frames", "40"]
    code = NO_TF + (
        f"from device.cli import main; status = main({args!r}); "
        "print('peak_rss_kb', open('/proc/self/status').read().split('VmHWM:')[1].split()[0]); "
        "sys.exit(status)"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "40 frames" in done.stdout and (tmp_path / "rec.mp4").stat().st_size > 0
    peak_mb = int(done.stdout.split("peak_rss_kb")[1].split()[0]) / 1024
    print(f"camera --view --record at 320x240: peak RSS {peak_mb:.0f} MB")
    assert peak_mb <= CAMERA_MAX_RSS_MB


def test_camera_stops_cleanly_on_sigterm_and_finalises_the_video(tiny, tmp_path):
    pytest.importorskip("cv2")
    video = tmp_path / "out.mp4"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [
        sys.executable,
        "-m",
        "device.cli",
        "camera",
        "--source",
        "demo",
        "--size",
        "64x48",
        "--model",
        str(tiny),
        "--record",
        str(video),
    ]
    proc = subprocess.Popen(
        cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob(".out.mp4.*")):  # the first frame is being recorded
            assert time.monotonic() < deadline and proc.poll() is None, "camera did not start"
            time.sleep(0.1)
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "frames" in out and video.is_file()
    cv2 = pytest.importorskip("cv2")
    cap = cv2.VideoCapture(str(video))
    assert cap.get(cv2.CAP_PROP_FRAME_COUNT) > 0 and cap.get(cv2.CAP_PROP_FRAME_WIDTH) == 128
    cap.release()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_camera_bad_source_is_one_line(tiny, capsys):
    assert cli(["camera", "--source", "webcam:x", "--model", str(tiny)]) == 2
    assert "camera number" in capsys.readouterr().err


def test_window_without_a_display_points_to_the_browser_view(tiny, capsys, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    argv = ["camera", "--source", "demo", "--window", "--frames", "1", "--model", str(tiny)]
    assert cli(argv) == 2
    assert "--view" in capsys.readouterr().err


def test_upscale_plan_names_outputs(tmp_path):
    (tmp_path / "a.png").write_bytes(b"")
    jobs = upscale.plan([tmp_path / "a.png"], None, 3)
    assert jobs[0].dst == tmp_path / "a_x3.png"


@pytest.mark.skipif(shutil.which("espcn-edge") is None, reason="package not installed")
def test_console_script_lists_the_device_commands():
    done = subprocess.run(["espcn-edge", "--help"], capture_output=True, text=True, timeout=60)
    for name in ("camera", "upscale", "bench", "demo"):
        assert name in done.stdout
