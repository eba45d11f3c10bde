"""Video through PyAV with real codecs: `upscale clip.mp4` keeps timing, audio and rotation;
`camera --record` plays at the speed it was captured; odd and mixed frame sizes; bad suffixes;
and headless Chromium plays what we write."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from fractions import Fraction
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from fakes import tiny_model
from PIL import Image

from device.cli import main as cli
from device.pipeline import Pipeline
from device.sinks import RecordSink, Sink
from device.sinks.h264 import H264Writer
from device.sources import DemoSource
from device.stats import Stats
from espcn_edge.color import rgb_to_ycbcr, ycbcr_to_rgb
from espcn_edge.frames import Frame, Result, super_resolve

av = pytest.importorskip("av")

FPS, FRAMES, SIZE = 12, 24, (48, 32)  # a 2 s clip


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return tiny_model.session_model(tmp_path_factory)


def picture(i: int, size=SIZE) -> np.ndarray:
    """A moving colour gradient, so frames differ and colours can be checked."""
    yy, xx = np.mgrid[0 : size[1], 0 : size[0]]
    return np.stack([(xx * 5 + i * 10) % 256, yy * 7 % 256, np.full_like(xx, 90)], -1).astype(
        np.uint8
    )


def make_clip(path: Path, rotation: int = 90) -> Path:
    """An H.264 clip with an AAC tone, a phone's rotation flag, and 1/12 s frames."""
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=FPS, options={"preset": "ultrafast"})
        video.width, video.height, video.pix_fmt = *SIZE, "yuv420p"
        video.set_display_rotation(rotation)
        audio = out.add_stream("aac", rate=8000, layout="mono")
        for i in range(FRAMES):
            frame = av.VideoFrame.from_ndarray(picture(i), format="rgb24")
            frame.pts = i
            out.mux(video.encode(frame))
        samples = np.arange(8000 * FRAMES // FPS)
        tone = (0.3 * np.sin(2 * np.pi * 440 * samples / 8000)).astype(np.float32)
        for start in range(0, tone.size, 1024):
            chunk = av.AudioFrame.from_ndarray(
                tone[None, start : start + 1024], format="fltp", layout="mono"
            )
            chunk.sample_rate, chunk.pts = 8000, start
            out.mux(audio.encode(chunk))
        out.mux(video.encode(None))
        out.mux(audio.encode(None))
    return path


def probe(path: Path) -> dict:
    """What a player sees: streams, codec, size, frame count, fps, duration, rotation, audio."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = list(c.decode(v))
        info = {
            "streams": [s.type for s in c.streams],
            "codec": v.codec_context.name,
            "pix_fmt": v.codec_context.pix_fmt,
            "size": (v.width, v.height),
            "frames": len(frames),
            "fps": float(v.average_rate),
            "duration": float(v.duration * v.time_base),
            "rotation": frames[0].rotation,
            "pts": [f.pts * f.time_base for f in frames],
            "rgb": [f.to_ndarray(format="rgb24") for f in frames],
        }
    with av.open(str(path)) as c:
        audio = c.streams.audio
        info["audio"] = [(p.pts, bytes(p)) for p in c.demux(audio) if p.size]
        info["audio_codec"] = audio[0].codec_context.name if audio else None
    info["faststart"] = path.read_bytes().find(b"moov") < path.read_bytes().find(b"mdat")
    return info


def test_upscaled_clip_keeps_every_frame_its_timing_audio_and_rotation(tiny, tmp_path):
    clip = make_clip(tmp_path / "clip.mp4")
    assert cli(["upscale", str(clip), "--model", str(tiny)]) == 0
    src, out = probe(clip), probe(tmp_path / "clip_x2.mp4")
    assert out["streams"] == ["video", "audio"]
    assert (out["codec"], out["pix_fmt"]) == ("h264", "yuv420p") and out["faststart"]
    assert out["size"] == (96, 64) and out["frames"] == FRAMES
    assert out["fps"] == FPS and out["pts"] == src["pts"]
    assert out["duration"] == pytest.approx(FRAMES / FPS)
    assert out["rotation"] == src["rotation"] == 90
    assert out["audio_codec"] == "aac" and out["audio"] == src["audio"]  # copied unchanged
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "clip_x2.mp4"]


def planes420(rgb: np.ndarray):
    """An RGB picture as the 4:2:0 planes the writer takes."""
    frame = Frame(*rgb_to_ycbcr(rgb))
    return Result(frame, frame.y).planes()


def test_colours_odd_sizes_and_mixed_sizes_survive_the_encoder(tmp_path):
    writer = H264Writer(tmp_path / "v.mp4", Fraction(1, 10), rate=10, crf=12)
    rgb = picture(3, (33, 17))  # odd: padded to 34×18
    writer.write(*planes420(rgb), pts=0, duration=1)
    writer.write(*planes420(picture(4, (20, 40))), pts=1, duration=1)  # portrait: letterboxed
    writer.close()
    out = probe(tmp_path / "v.mp4")
    assert out["size"] == (34, 18) and out["frames"] == 2 and out["duration"] == 0.2
    decoded = out["rgb"][0][:17, :33].astype(int)
    assert np.abs(decoded - rgb).mean() < 4  # BT.601 limited range, tagged and decoded back
    second = out["rgb"][1]
    assert second[:, :3].max() < 20 and second[:, -3:].max() < 20  # black bars left and right
    assert second[:, 13:21].std() > 10  # the picture in the middle


def test_an_unwritable_or_unknown_video_leaves_nothing(tmp_path):
    with pytest.raises(ValueError, match=r"cannot write \.avi video; use \.mp4"):
        H264Writer(tmp_path / "v.avi")
    writer = H264Writer(tmp_path / "v.mp4")
    writer.write(*planes420(picture(0)), pts=0, duration=3000)
    writer.abort()
    assert list(tmp_path.iterdir()) == []


def test_audio_the_container_cannot_hold_is_one_line_and_mkv_keeps_it(tiny, tmp_path, capsys):
    clip = tmp_path / "old.avi"  # MJPEG with 8-bit PCM: MP4 cannot hold that audio
    with av.open(str(clip), "w") as out:
        video = out.add_stream("mjpeg", rate=FPS)
        video.width, video.height, video.pix_fmt = *SIZE, "yuvj420p"
        audio = out.add_stream("pcm_u8", rate=8000, layout="mono")
        for i in range(3):
            frame = av.VideoFrame.from_ndarray(picture(i), format="rgb24")
            frame.pts = i
            out.mux(video.encode(frame))
        sound = av.AudioFrame.from_ndarray(np.full((1, 2000), 140, np.uint8), "u8", "mono")
        sound.sample_rate, sound.pts = 8000, 0
        out.mux(audio.encode(sound))
        out.mux(video.encode(None))
        out.mux(audio.encode(None))
    assert cli(["upscale", str(clip), "--model", str(tiny)]) == 2  # its only input: none done
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "pcm_u8 audio cannot be copied unchanged into .mp4; name the output .mkv" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.avi"]  # nothing half-written
    assert cli(["upscale", str(clip), str(tmp_path / "big.mkv"), "--model", str(tiny)]) == 0
    out = probe(tmp_path / "big.mkv")
    assert out["audio_codec"] == "pcm_u8" and out["frames"] == 3


class CaptureTimes(Sink):
    """Notes when each recorded frame was captured."""

    def __init__(self):
        self.times: list[float] = []

    def output(self, result) -> None:
        self.times.append(result.frame.t_capture)


def test_a_slow_pipeline_records_a_video_as_long_as_the_capture(tmp_path):
    def slow_double(y):  # a 10 fps "model" on a 25 fps camera: most frames are dropped
        time.sleep(0.1)
        return y.repeat(2, axis=0).repeat(2, axis=1)

    times, stats = CaptureTimes(), Stats()
    record = RecordSink(tmp_path / "rec.mp4", stats=stats)
    source = DemoSource((64, 48), fps=25)
    Pipeline(source, slow_double, [record, times], 20, stats, scale=2).run()
    wall = times.times[-1] - times.times[0] + np.diff(times.times).mean()
    out = probe(tmp_path / "rec.mp4")
    assert out["frames"] == 20 and stats.dropped > 10 and stats.unrecorded == 0
    assert out["duration"] == pytest.approx(wall, rel=0.1)
    assert out["size"] == (128, 96)
    captured = np.array(times.times) - times.times[0]
    assert np.abs(np.array(out["pts"], float) - captured).max() < 1e-3  # stamped at capture


def x264_settings(path) -> str:
    """The settings x264 wrote into the stream (its SEI: "x264 - core … options: …")."""
    data = path.read_bytes()
    start = data.index(b"options: ") + len(b"options: ")
    return data[start : data.index(b"\0", start)].decode()


def test_a_camera_recording_has_no_lookahead_and_a_file_upscale_keeps_it(tmp_path):
    record = RecordSink(tmp_path / "rec.mp4")  # zerolatency: 13 MB less memory at 640×480
    Pipeline(DemoSource((64, 48), fps=None), lambda y: y, [record], 3, scale=1).run()
    writer = H264Writer(tmp_path / "file.mp4")
    writer.write(*planes420(picture(0, (64, 48))), pts=0, duration=1)
    writer.close()
    live, offline = (x264_settings(tmp_path / n).split() for n in ("rec.mp4", "file.mp4"))
    assert "mbtree=0" in live and not any(o.startswith("rc_lookahead") for o in live)
    assert "mbtree=1" in offline and "rc_lookahead=10" in offline  # PRESET's own


def test_frames_the_encoder_cannot_take_are_counted_not_lost(tmp_path):
    stats = Stats()
    record = RecordSink(tmp_path / "rec.mp4", stats=stats)
    record.start()
    frame = Frame(*rgb_to_ycbcr(picture(0, (640, 480))))
    result = super_resolve(frame, lambda y: y, 1)
    for _ in range(60):  # far faster than any encoder
        record.output(result)
    record.stop()
    assert record.unrecorded == stats.unrecorded > 0
    assert record.count + record.unrecorded == 60
    assert probe(tmp_path / "rec.mp4")["frames"] == record.count


def test_camera_record_of_portrait_and_landscape_images_keeps_both(tiny, tmp_path, capsys):
    folder = tmp_path / "shots"
    folder.mkdir()
    Image.fromarray(picture(0, (60, 40))).save(folder / "a.png")
    Image.fromarray(picture(1, (40, 60))).save(folder / "b.png")
    video = tmp_path / "x.mp4"
    argv = ["camera", "--source", f"images:{folder}", "--record", str(video)]
    assert cli([*argv, "--model", str(tiny)]) == 0
    out = probe(video)
    assert out["frames"] == 2 and out["size"] == (120, 80)
    assert "2 frames" in capsys.readouterr().out


def test_record_with_an_unsupported_suffix_is_one_line_and_writes_nothing(tiny, tmp_path, capsys):
    argv = ["camera", "--source", "demo", "--frames", "2", "--record", str(tmp_path / "x.gif")]
    assert cli([*argv, "--model", str(tiny)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("espcn-edge camera: --record "), err
    assert "x.gif: cannot record .gif files: name a video (.mp4, .mov, .mkv)" in err[0]
    assert list(tmp_path.iterdir()) == []


def test_video_source_reads_an_mp4_with_audio(tmp_path):
    from device.sources import VideoSource

    with VideoSource(make_clip(tmp_path / "clip.mp4"), realtime=False) as src:
        assert src.frame_count == FRAMES and src.file_fps == FPS
        frames = []
        while (f := src.read()) is not None:
            frames.append(f)
    assert len(frames) == FRAMES and frames[0].size == SIZE
    rgb = ycbcr_to_rgb(frames[5].y, frames[5].cb, frames[5].cr).astype(int)
    assert np.abs(rgb - picture(5)).mean() < 6


def one_frame(path: Path, size: tuple[int, int], codec: str = "libx264", fmt: str | None = None):
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=FPS)
        stream.width, stream.height, stream.pix_fmt = *size, "yuv420p"
        frame = av.VideoFrame.from_ndarray(picture(0, size), format="rgb24")
        frame.pts = 0
        out.mux(stream.encode(frame.reformat(format="yuv420p")))
        out.mux(stream.encode(None))
    return path


def test_a_codec_that_sizes_its_frames_by_decoding_one_is_refused_within_the_limit(
    tmp_path, monkeypatch
):
    """MPEG-4 Part 2 learns its size from a frame: FFmpeg's probe, let decode none above the
    limit, then reports 0×0, which is refused rather than decoded at whatever size it is."""
    from device.sources import Clip, SourceError

    clip = one_frame(tmp_path / "clip.mp4", SIZE, "mpeg4")
    monkeypatch.setenv("ESPCN_EDGE_MAX_PIXELS", "1000")
    with pytest.raises(SourceError) as e:
        Clip(clip)
    assert str(e.value) == (
        f"{clip}: FFmpeg finds no frame size within the limit of 1,000 pixels: its frames are "
        "larger (ESPCN_EDGE_MAX_PIXELS raises the limit) or damaged"
    )
    monkeypatch.setenv("ESPCN_EDGE_MAX_PIXELS", str(SIZE[0] * SIZE[1]))
    with Clip(clip) as within:
        assert [(f.width, f.height) for f in within.frames()] == [SIZE]


def test_a_frame_that_grows_past_the_limit_mid_stream_is_refused_by_name(tmp_path, monkeypatch):
    """MPEG-TS segments join by concatenation: a 64×48 clip followed by a 96×72 one is one file
    whose header (its first frames) is within a limit of 5,000 pixels and whose later frames are
    not. Those were decoded at whatever size they had; now the first of them ends the clip."""
    from device.sources import Clip, SourceError

    small, large = (64, 48), (96, 72)
    joined = tmp_path / "grows.ts"
    joined.write_bytes(
        one_frame(tmp_path / "a.ts", small, fmt="mpegts").read_bytes()
        + one_frame(tmp_path / "b.ts", large, fmt="mpegts").read_bytes()
    )
    with Clip(joined) as whole:  # within the default limit: both sizes decode
        assert [(f.width, f.height) for f in whole.frames()] == [small, large]
    monkeypatch.setenv("ESPCN_EDGE_MAX_PIXELS", "5000")
    with Clip(joined) as clip, pytest.raises(SourceError) as e:
        sizes = [(f.width, f.height) for f in clip.frames()]
    assert str(e.value) == (
        f"{joined}: a frame of 96×72 pixels, above the limit of 5,000; if this machine has the "
        "memory, set ESPCN_EDGE_MAX_PIXELS=6912 to read it"
    ), sizes


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

PAGE = """<!doctype html><body><script>
async function check(name) {
  const v = document.createElement("video");
  v.muted = true; v.src = name; document.body.appendChild(v);
  await new Promise((ok, fail) => { v.onloadedmetadata = ok; v.onerror = () => fail(v.error); });
  await v.play();
  const t0 = v.currentTime;
  await new Promise(ok => setTimeout(ok, 700));
  return {name, duration: v.duration, width: v.videoWidth, height: v.videoHeight,
          advanced: v.currentTime - t0};
}
const report = r => fetch("/result", {method: "POST", body: JSON.stringify(r)});
Promise.all(NAMES.map(check)).then(report, e => report({error: String((e && e.message) || e)}));
</script></body>"""


def serve(folder: Path, names: list[str]):
    """An HTTP server for the page and the videos; the page POSTs what it saw to /result."""
    results: list = []
    got = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/":
                body, kind = PAGE.replace("NAMES", json.dumps(names)).encode(), "text/html"
            elif self.path.lstrip("/") in names:
                body, kind = (folder / self.path.lstrip("/")).read_bytes(), "video/mp4"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            results.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()
            got.set()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, results, got


@pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed here (apt-get install chromium; .ci/run installs it)",
)
def test_headless_chromium_plays_the_upscaled_and_the_recorded_mp4(tiny, tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", rotation=0)
    assert cli(["upscale", str(clip), "--model", str(tiny)]) == 0
    argv = ["camera", "--source", "demo", "--size", "64x48", "--frames", "30"]
    assert cli([*argv, "--record", str(tmp_path / "rec.mp4"), "--model", str(tiny)]) == 0
    names = ["clip_x2.mp4", "rec.mp4"]
    server, results, got = serve(tmp_path, names)
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--autoplay-policy=no-user-gesture-required",
        "--disable-background-networking",
        "--disable-component-update",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"http://127.0.0.1:{server.server_address[1]}/",
    ]
    browser = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        got.wait(60)
    finally:
        browser.kill()
        browser.communicate()
        server.shutdown()
    assert results and "error" not in results[0], results
    upscaled, recorded = results[0]
    assert (upscaled["width"], upscaled["height"]) == (96, 64)
    assert upscaled["duration"] == pytest.approx(FRAMES / FPS, abs=0.05)
    assert (recorded["width"], recorded["height"]) == (128, 96)
    assert recorded["duration"] == pytest.approx(probe(tmp_path / "rec.mp4")["duration"], abs=0.05)
    assert upscaled["advanced"] > 0.2 and recorded["advanced"] > 0.2  # playing


def test_the_progress_bar_says_the_time_left():
    import io

    from device.progress import Progress

    stream = io.StringIO()
    bar = Progress(4, "clip.mp4", stream=stream)
    bar._t0 -= 2.0  # as if the first frame took two seconds: three more take six
    bar.update()
    assert stream.getvalue().startswith("clip.mp4 1/4 (0.5/s, ETA 0:06)")


def test_a_recording_is_never_replaced_without_overwrite(tmp_path, capsys):
    """`camera --record` used to replace an earlier video, and to write new frames over (and
    mixed in with) a folder's old ones."""
    from device.cli import main as cli

    demo = ["camera", "--source", "demo", "--size", "64x48", "--frames", "3", "--tier", "tiny"]
    video, frames = tmp_path / "rec.mp4", tmp_path / "frames"
    assert cli([*demo, "--record", str(video)]) == 0
    assert cli([*demo, "--frames", "5", "--record", str(frames)]) == 0
    capsys.readouterr()
    kept = {p: p.read_bytes() for p in [video, *frames.iterdir()]}
    for target, said in ((video, "already exists"), (frames, "holds 5 frames")):
        assert cli([*demo, "--record", str(target)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and said in err[0] and "--overwrite" in err[0], err
    assert {p: p.read_bytes() for p in [video, *frames.iterdir()]} == kept
    assert cli([*demo, "--record", str(frames), "--overwrite"]) == 0
    assert sorted(p.name for p in frames.iterdir()) == [f"frame_{i:06d}.png" for i in range(3)]
    inode = video.stat().st_ino
    assert cli([*demo, "--record", str(video), "--overwrite"]) == 0
    assert video.stat().st_ino != inode  # a new recording, renamed into place
