"""Frame sources: demo, images, video, and picamera2 against the fake in tests/fakes."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from device.sources import (
    DemoSource,
    ImagesSource,
    Picamera2Source,
    SourceError,
    VideoSource,
    open_source,
)
from device.sources.picamera2 import limited_to_full
from espcn_edge.color import rgb_to_ycbcr
from espcn_edge.formats import FrameError, yuv420_planes

FAKES = Path(__file__).parent / "fakes"


@pytest.fixture
def fake_picamera2(monkeypatch):
    """Put the fake picamera2/libcamera on the path; forget them afterwards."""
    monkeypatch.syspath_prepend(str(FAKES))
    for name in ("picamera2", "libcamera"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    import picamera2

    yield picamera2
    for name in ("picamera2", "libcamera"):
        sys.modules.pop(name, None)


def test_demo_source_pans_at_the_requested_size():
    with DemoSource((96, 64), fps=None) as src:
        a, b = src.read(), src.read()
    assert a.y.shape == (64, 96) and a.cb.shape == (64, 96) and a.y.dtype == np.uint8
    assert (a.index, b.index) == (0, 1)
    assert np.abs(a.y.astype(int) - b.y).mean() > 0.5  # the window moved
    assert a.y.std() > 10  # a real photo, not a flat frame


def test_images_source_skips_unreadable_files_and_ends(tmp_path):
    Image.new("RGB", (40, 30), (200, 20, 20)).save(tmp_path / "a.png")
    (tmp_path / "b.png").write_bytes(b"not an image")
    Image.new("RGB", (50, 20), (20, 200, 20)).save(tmp_path / "c.jpg")
    with ImagesSource(tmp_path) as src:
        frames = [src.read(), src.read(), src.read()]
    assert [f is None for f in frames] == [False, False, True]
    assert frames[0].size == (40, 30) and frames[1].size == (50, 20)
    y, cb, cr = rgb_to_ycbcr(np.full((30, 40, 3), (200, 20, 20), np.uint8))
    assert np.array_equal(frames[0].y, y) and np.array_equal(frames[0].cr, cr)


def test_video_source_reads_every_frame(tmp_path):
    cv2 = pytest.importorskip("cv2")
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for i in range(5):
        writer.write(np.full((48, 64, 3), 40 * i, np.uint8))
    writer.release()
    with VideoSource(path, realtime=False) as src:
        frames = []
        while (f := src.read()) is not None:
            frames.append(f)
    assert len(frames) == 5 and frames[0].size == (64, 48)
    assert frames[4].y.mean() > frames[1].y.mean() + 60


@pytest.mark.parametrize(
    "spec, message",
    [("nope", "unknown source"), ("webcam:x", "camera number"), ("video:/no/such.mp4", "no such")],
)
def test_bad_source_specs_say_what_is_wrong(spec, message):
    with pytest.raises(SourceError, match=message):
        open_source(spec).start()


def test_missing_webcam_is_one_clear_error():
    pytest.importorskip("cv2")
    with pytest.raises(SourceError, match="cannot open camera 97"):
        open_source("webcam:97").start()


def test_yuv420_planes_respects_the_stride():
    w, h, stride = 6, 4, 16
    buf = np.full(h * stride * 3 // 2, 0xEE, np.uint8)
    buf[: h * stride].reshape(h, stride)[:, :w] = np.arange(w * h).reshape(h, w)
    u0, cs = h * stride, stride // 2
    buf[u0 : u0 + 2 * cs].reshape(2, cs)[:, :3] = 100
    buf[u0 + 2 * cs : u0 + 4 * cs].reshape(2, cs)[:, :3] = 200
    y, u, v = yuv420_planes(buf.reshape(h * 3 // 2, stride), w, h, stride)
    assert np.array_equal(y, np.arange(w * h).reshape(h, w))
    assert u.shape == v.shape == (2, 3) and (u == 100).all() and (v == 200).all()
    with pytest.raises(FrameError, match="too small"):
        yuv420_planes(buf[:-1], w, h, stride)


def test_limited_range_expands_to_full():
    y, u, v = limited_to_full(*(np.array([16, 235, 128, 240], np.uint8),) * 3)
    assert list(y) == [0, 255, 130, 255] and list(u) == [0, 250, 128, 255]


def test_picamera2_source_reads_lores_yuv420_with_stride_padding(fake_picamera2):
    src = open_source("picamera2", (100, 60))  # 100 is not a multiple of 64: padded rows
    assert isinstance(src, Picamera2Source)
    src.start()
    try:
        frames = [src.read() for _ in range(3)]
    finally:
        src.stop()
    cam = fake_picamera2.instances[-1]
    config = cam.camera_configuration()
    assert config["lores"]["format"] == "YUV420" and config["lores"]["size"] == (100, 60)
    assert src.stride == 128 and src.full_range
    assert cam.closed and not cam.started and cam.released == 3  # every request went back
    for i, frame in enumerate(frames):
        y, cb, _ = rgb_to_ycbcr(fake_picamera2.scene(i, (100, 60)))
        assert frame.y.shape == (60, 100) and frame.cb.shape == (30, 50)
        assert np.array_equal(frame.y, y)  # full-range Y straight from the buffer
        cb_420 = cb.reshape(30, 2, 50, 2).mean(axis=(1, 3))  # the camera's 2×2 chroma
        assert np.abs(frame.cb - cb_420).max() <= 0.5


def test_picamera2_source_expands_a_limited_range_camera(fake_picamera2, monkeypatch):
    from libcamera import ColorSpace

    original = fake_picamera2.Picamera2.configure

    def limited(self, config):
        original(self, {**config, "colour_space": ColorSpace.Smpte170m()})

    monkeypatch.setattr(fake_picamera2.Picamera2, "configure", limited)
    with Picamera2Source((64, 48)) as src:
        frame = src.read()
    assert not src.full_range
    y, _, _ = rgb_to_ycbcr(fake_picamera2.scene(0, (64, 48)))
    assert np.abs(frame.y.astype(int) - y).max() <= 1


def test_picamera2_source_odd_size_and_missing_camera(fake_picamera2):
    with Picamera2Source((101, 75)) as src:
        assert src.read().y.shape == (74, 100)  # made even, as picamera2 requires
    with pytest.raises(SourceError, match="cannot open the camera"):
        Picamera2Source(camera_num=3).start()


def test_picamera2_missing_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "picamera2", None)
    with pytest.raises(SourceError, match="apt install python3-picamera2"):
        Picamera2Source().start()
