"""The browser live view: a real HTTP client on the MJPEG stream and stats JSON, misbehaving
clients, and a real headless Chromium showing the page."""

from __future__ import annotations

import http.client
import io
import json
import shutil
import socket
import subprocess
import threading
import time

import numpy as np
import pytest
from fakes import tiny_model
from PIL import Image

from device.pipeline import Pipeline
from device.sinks import ViewSink, parse_address
from device.sources import DemoSource, Source
from device.stats import Stats
from espcn_edge.frames import Frame
from espcn_edge.runtime import Upscaler

LR = (160, 120)


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    return tiny_model.session_model(tmp_path_factory)


def start_view(model, compare: bool, source=None, guard=None):
    """A running source (default: demo) → tiny model → ViewSink pipeline on a free port, open
    or behind `guard`; yields (host, port, pipeline)."""
    stats = Stats()
    upscaler = Upscaler(model, scale=2, threads=1)
    stats.info = {"backend": upscaler.backend}
    view = ViewSink(("127.0.0.1", 0), stats, scale=2, compare=compare, guard=guard)
    source = source or DemoSource(LR, fps=20)
    pipeline = Pipeline(source, upscaler.upscale_y, [view], stats=stats, scale=upscaler.scale)
    runner = threading.Thread(target=pipeline.run, daemon=True)
    runner.start()
    for _ in range(200):
        if view._server is not None:
            break
        time.sleep(0.05)
    host, port = view._server.server_address[:2]
    yield host, port, pipeline
    pipeline.stop()
    runner.join(timeout=10)
    assert not runner.is_alive()


@pytest.fixture(scope="module")
def live_view(tiny):
    yield from start_view(tiny, compare=False)


@pytest.fixture
def compare_view(tiny):
    yield from start_view(tiny, compare=True)


class NoiseSource(Source):
    """One frame of grey noise (Y 75…125) over and over: no two rows alike, nothing near the
    page's label, divider or background colours, so a screenshot's layout reads from its pixels."""

    def _read(self) -> Frame:
        y = np.random.default_rng(0).integers(75, 126, (LR[1], LR[0]), np.uint8)
        return Frame(y, np.full_like(y, 128), np.full_like(y, 128))


@pytest.fixture
def noise_view(tiny):
    yield from start_view(tiny, compare=True, source=NoiseSource(LR, fps=20))


def read_mjpeg_frames(host: str, port: int, count: int) -> tuple[str, list[bytes]]:
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.request("GET", "/stream.mjpg")
    resp = conn.getresponse()
    ctype = resp.getheader("Content-Type")
    boundary = ctype.split("boundary=")[1].encode()
    frames = []
    while len(frames) < count:
        line = resp.readline()
        assert line, "stream ended early"
        if line.strip() != b"--" + boundary:
            continue
        headers = {}
        while (line := resp.readline().strip()) != b"":
            key, _, value = line.decode().partition(":")
            headers[key.lower()] = value.strip()
        assert headers["content-type"] == "image/jpeg"
        frames.append(resp.read(int(headers["content-length"])))
    conn.close()
    return ctype, frames


def get(host, port, path, method="GET"):
    conn = http.client.HTTPConnection(host, port, timeout=5)
    conn.request(method, path)
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, resp.getheader("Content-Type"), body


def test_stream_sends_jpegs_of_the_sr_size(live_view):
    host, port, _ = live_view
    ctype, frames = read_mjpeg_frames(host, port, 3)
    assert ctype.startswith("multipart/x-mixed-replace")
    for data in frames:
        im = Image.open(io.BytesIO(data))
        assert im.format == "JPEG" and im.size == (2 * LR[0], 2 * LR[1])
    assert len(set(frames)) > 1  # the picture moves


def test_compare_shows_bicubic_and_espcn_side_by_side(compare_view):
    host, port, _ = compare_view
    _, frames = read_mjpeg_frames(host, port, 1)
    assert Image.open(io.BytesIO(frames[0])).size == (4 * LR[0], 2 * LR[1])
    status, _, page = get(host, port, "/")
    assert status == 200 and b"bicubic" in page


def test_stats_json_and_page(live_view):
    host, port, _ = live_view
    read_mjpeg_frames(host, port, 2)
    status, ctype, body = get(host, port, "/stats.json")
    stats = json.loads(body)
    assert status == 200 and ctype == "application/json"
    assert stats["frames"] >= 2 and stats["backend"] == "ai_edge_litert"
    for key in ("fps", "latency_ms_p50", "latency_ms_p95", "dropped", "stage_ms"):
        assert key in stats
    assert {"invoke", "chroma", "encode"} <= set(stats["stage_ms"])
    status, ctype, page = get(host, port, "/?cache=1")
    assert status == 200 and ctype.startswith("text/html") and b"/stream.mjpg" in page


@pytest.mark.parametrize(
    "path",
    [
        "/etc/passwd",
        "/../../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/stream.mjpg/../../etc/passwd",
        "//etc/passwd",
        "/index.html/..",
        "/favicon.ico",
    ],
)
def test_serves_nothing_else(live_view, path):
    host, port, _ = live_view
    status, _, body = get(host, port, path)
    assert status == 404 and b"root:" not in body


def test_other_methods_are_refused(live_view):
    host, port, _ = live_view
    assert get(host, port, "/", method="POST")[0] == 501


def test_slow_and_vanished_clients_never_stall_the_pipeline(live_view):
    host, port, pipeline = live_view
    stuck = socket.create_connection((host, port))
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: localhost\r\n\r\n")  # ... and never reads
    gone = socket.create_connection((host, port))
    gone.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: localhost\r\n\r\n")
    gone.recv(100)
    gone.close()  # vanishes mid-stream
    before = pipeline.stats.frames
    time.sleep(1.5)
    assert pipeline.stats.frames - before >= 5  # frames kept flowing
    _, frames = read_mjpeg_frames(host, port, 2)  # and a well-behaved client is still served
    assert len(frames) == 2
    stuck.close()


def test_addresses_default_to_localhost():
    assert parse_address("8000") == ("127.0.0.1", 8000)
    assert parse_address(":8000") == ("127.0.0.1", 8000)
    assert parse_address("0.0.0.0:8080") == ("0.0.0.0", 8080)
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_address("localhost:http")


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def chromium_shot(url: str, tmp_path, width: int = 800) -> np.ndarray:
    """A screenshot of `url` in headless Chromium, as an RGB int array."""
    shot = tmp_path / f"shot{len(list(tmp_path.glob('shot*')))}.png"
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--window-size={width},700",
        "--virtual-time-budget=3000",  # a few seconds of the page's own timers and frames
        f"--screenshot={shot}",
        url,
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
    assert shot.is_file(), done.stderr[-2000:]
    return np.asarray(Image.open(shot).convert("RGB")).astype(int)


BACKGROUND = np.array([17, 17, 17])


def _painted(area: np.ndarray) -> np.ndarray:
    return np.abs(area - BACKGROUND).sum(axis=-1) > 40


def _frame_top(rgb: np.ndarray) -> int:
    """The first row of the frame: the page's left margin is background above it."""
    return 40 + int(np.argmax(_painted(rgb[40:, 2:6]).all(axis=1)))


@pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed here (apt-get install chromium; .ci/run installs it)",
)
def test_headless_chromium_shows_the_live_stream(live_view, tmp_path):
    host, port, pipeline = live_view
    rgb = chromium_shot(f"http://{host}:{port}/", tmp_path)
    # the stream image sits below the header: 2·LR wide, at the left edge
    area = rgb[120 : 100 + 2 * LR[1], 10 : 2 * LR[0] - 10]
    assert _painted(area).mean() > 0.5, "stream area is blank"
    assert area.std() > 20  # a photo, not a flat fill
    assert pipeline.stats.frames > 0


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed here")
def test_compare_page_keeps_1_to_1_pixels_labels_each_half_and_magnifies(noise_view, tmp_path):
    """In a window narrower than the side-by-side frame, the frame stays at 1:1 (scrolling,
    not shrinking); each label stands over its own half; the zoom (#zoom=…, what a click
    sets) shows the same spot of both halves magnified; the split view puts its divider
    where the slider says."""
    host, port, _ = noise_view
    w, h = 2 * LR[0], 2 * LR[1]  # one SR half
    rgb = chromium_shot(f"http://{host}:{port}/#zoom=0.5,0.5", tmp_path, width=2 * w - 40)
    top = _frame_top(rgb)
    frame = rgb[top : top + h]
    assert _painted(frame[:, -6:]).mean() > 0.9, "the frame does not reach the window's edge"
    # its height: the photo ends where the column at the left edge turns flat (scrollbar)
    same = (rgb[top + 1 :, 3] == rgb[top:-1, 3]).all(axis=-1)
    bottom = next(i for i in range(len(same)) if same[i : i + 8].all())
    assert bottom == h, f"{bottom} rows: not 1:1, shrunk to the window"
    label = (np.abs(frame[:20] - [153, 204, 255]).sum(axis=-1) < 60).any(axis=0)
    columns = np.flatnonzero(label)
    assert columns.size and columns.min() > w // 4 and (columns < w).any() and (columns > w).any()
    assert not label[w - 25 : w + 25].any()  # nothing straddles the middle
    zoom = rgb[top + h + 30 : top + h + 250, 14 : 2 * w - 60]
    assert _painted(zoom).mean() > 0.5 and zoom.std() > 10, "no magnified crops"  # else 0

    rgb = chromium_shot(f"http://{host}:{port}/#mode=split&at=25", tmp_path)
    top = _frame_top(rgb)
    split = rgb[top + 25 : top + h - 5]
    yellow = (np.abs(split - [255, 255, 0]).sum(axis=-1) < 60).mean(axis=0)
    assert abs(int(np.argmax(yellow)) - w // 4) <= 1 and yellow.max() > 0.9
    assert not _painted(split[:, w + 10 : w + 30]).any()  # one SR frame wide, not two


@pytest.mark.parametrize("size", [(64, 48), (63, 47)])  # odd: chroma rounded up
@pytest.mark.parametrize("encoder", ["pillow", "simplejpeg"])
def test_jpeg_from_planes_keeps_the_colours(encoder, size, monkeypatch):
    from device.sinks import jpeg
    from espcn_edge.color import rgb_to_ycbcr
    from espcn_edge.frames import Frame, Result

    if encoder == "simplejpeg" and jpeg.simplejpeg is None:
        pytest.skip("simplejpeg is not installed (it comes with picamera2 on a Pi)")
    if encoder == "pillow":
        monkeypatch.setattr(jpeg, "simplejpeg", None)
    yy, xx = np.mgrid[0 : size[1], 0 : size[0]]
    rgb = np.stack([xx * 4, yy * 5, np.full_like(xx, 90)], -1).astype(np.uint8)
    frame = Frame(*rgb_to_ycbcr(rgb))
    planes = Result(frame, frame.y).planes()  # 4:2:0: chroma at half size
    decoded = np.asarray(Image.open(io.BytesIO(jpeg.encode_planes(*planes))))
    assert decoded.shape == rgb.shape
    assert np.abs(decoded.astype(int) - rgb).mean() < 3
