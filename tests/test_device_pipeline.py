"""The capture/inference pipeline: queue of one, stale frames dropped and counted, cleanup."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from device.pipeline import LatestSlot, Pipeline
from device.sinks import Sink
from device.sources import Source
from device.stats import Stats
from espcn_edge.color import resize_bicubic
from espcn_edge.frames import Frame, super_resolve


def bicubic_x2(y: np.ndarray) -> np.ndarray:
    return resize_bicubic(y, (2 * y.shape[1], 2 * y.shape[0]))


class CountingSource(Source):
    """Unpaced synthetic frames; records start/stop; optionally fails at frame `fail_at`."""

    name = "counting"

    def __init__(self, limit: int | None = None, fail_at: int | None = None, size=(32, 24)):
        super().__init__(size)
        self.limit, self.fail_at = limit, fail_at
        self.started = self.stopped = False

    def start(self):
        super().start()
        self.started = True

    def stop(self):
        self.stopped = True

    def _read(self):
        if self.fail_at is not None and self.index == self.fail_at:
            raise OSError("camera unplugged")
        if self.limit is not None and self.index >= self.limit:
            return None
        time.sleep(0.002)
        w, h = self.size
        y = np.full((h, w), self.index % 256, np.uint8)
        return Frame(y, np.full_like(y, 128), np.full_like(y, 128))


class Collect(Sink):
    def __init__(self, delay: float = 0.0, fail_start: bool = False):
        self.results, self.delay, self.fail_start = [], delay, fail_start
        self.stopped = False

    def start(self):
        if self.fail_start:
            raise ValueError("cannot start")

    def output(self, result):
        time.sleep(self.delay)
        self.results.append(result)

    def stop(self):
        self.stopped = True


def test_latest_slot_keeps_only_the_newest():
    slot = LatestSlot()
    assert slot.put("a") is False
    assert slot.put("b") is True  # "a" was never taken: dropped
    assert slot.get() == "b"
    assert slot.get(timeout=0.01) is None
    slot.close()
    assert slot.get() is None and slot.closed


def test_slow_inference_drops_stale_frames_and_counts_them():
    source, sink = CountingSource(), Collect(delay=0.03)
    stats = Pipeline(source, bicubic_x2, [sink], max_frames=8, scale=2).run()
    assert stats.frames == len(sink.results) == 8
    assert stats.dropped > 0
    # every captured frame was either processed, dropped, or is the one left waiting
    assert stats.captured - stats.frames - stats.dropped in (0, 1)
    indices = [r.frame.index for r in sink.results]
    assert indices == sorted(indices) and indices[-1] > 8  # newest frames, skipping stale ones
    assert source.stopped and sink.stopped
    assert sink.results[0].y.shape == (48, 64) and sink.results[0].chroma()[0].shape == (24, 32)
    snap = stats.snapshot()
    assert snap["fps"] > 0 and snap["latency_ms_p50"] <= snap["latency_ms_p95"]
    assert set(snap["stage_ms"]) == {"capture", "invoke", "chroma", "encode"}


def test_fast_inference_drops_nothing_and_ends_with_the_source():
    source, sink = CountingSource(limit=10), Collect()
    stats = Pipeline(source, bicubic_x2, [sink], scale=2).run()
    assert stats.captured == 10 and stats.frames + stats.dropped == 10


def test_source_error_is_raised_and_everything_stopped():
    source, sink = CountingSource(fail_at=3), Collect()
    with pytest.raises(OSError, match="unplugged"):
        Pipeline(source, bicubic_x2, [sink], scale=2).run()
    assert source.stopped and sink.stopped


def test_sink_start_failure_still_stops_the_rest():
    source, good, bad = CountingSource(), Collect(), Collect(fail_start=True)
    with pytest.raises(ValueError, match="cannot start"):
        Pipeline(source, bicubic_x2, [good, bad], scale=2).run()
    assert good.stopped and source.stopped and not source.started


def test_stop_from_another_thread_ends_the_run():
    pipeline = Pipeline(CountingSource(), bicubic_x2, [Collect()], scale=2)
    threading.Timer(0.3, pipeline.stop).start()
    t0 = time.perf_counter()
    stats = pipeline.run()
    assert time.perf_counter() - t0 < 3 and stats.frames > 0


def test_super_resolve_upscales_subsampled_chroma():
    y = np.zeros((24, 32), np.uint8)
    frame = Frame(y, np.full((12, 16), 90, np.uint8), np.full((12, 16), 170, np.uint8))
    result = super_resolve(frame, bicubic_x2, 2)
    cb, cr = result.chroma()
    assert cb.shape == cr.shape == (24, 32) and (cb == 90).all() and (cr == 170).all()
    assert result.rgb().shape == (48, 64, 3)
    assert all(p.shape == (48, 64) for p in result.bicubic_planes(full=True))


def test_stats_summary_reads_well():
    stats = Stats()
    stats.count_captured(False)
    stats.add(time.perf_counter() - 0.01, {"invoke": 5.0})
    assert stats.summary().startswith("1 frame,") and "invoke 5.0" in stats.summary()


def colour_frame(size=(32, 24)) -> Frame:
    """An LR frame with smooth colour gradients (chroma at the luma size, as from RGB)."""
    from espcn_edge.color import rgb_to_ycbcr

    yy, xx = np.mgrid[0 : size[1], 0 : size[0]]
    rgb = np.stack([xx * 7 % 256, yy * 9 % 256, (xx + yy) * 3 % 256], -1).astype(np.uint8)
    return Frame(*rgb_to_ycbcr(rgb))


@pytest.mark.parametrize("scale", [2, 3])
def test_4_2_0_chroma_comes_from_the_lr_planes_like_the_bicubic_path(scale):
    """What the live view's JPEG and the H.264 recording get: at ×2 the LR chroma itself (no
    resizing), at ×3 one bicubic resize; both within JPEG's 2×2 averaging of full-size bicubic
    chroma, the old path."""
    frame = colour_frame()

    def upscale(y):
        return resize_bicubic(y, (scale * y.shape[1], scale * y.shape[0]))

    result = super_resolve(frame, upscale, scale)
    cb, cr = result.chroma()
    w, h = result.size
    assert cb.shape == cr.shape == ((h + 1) // 2, (w + 1) // 2)
    if scale == 2:
        assert cb is frame.cb and cr is frame.cr
    for half, lr in ((cb, frame.cb), (cr, frame.cr)):
        full = resize_bicubic(lr, (w, h)).astype(float)
        averaged = full[: h - h % 2, : w - w % 2].reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
        diff = np.abs(half[: h // 2, : w // 2] - averaged)
        assert diff.mean() < 1.0 and diff.max() <= 4


class RgbSink(Collect):
    needs_rgb = True


def test_rgb_chroma_is_made_only_when_a_sink_needs_rgb(monkeypatch):
    import espcn_edge.frames

    def no_rgb(*planes):
        raise AssertionError("RGB built on a path without an RGB sink")

    sink = Collect()
    monkeypatch.setattr(espcn_edge.frames, "merge", no_rgb)
    Pipeline(CountingSource(limit=3), bicubic_x2, [sink], scale=2).run()
    assert sink.results and all(not r._chroma for r in sink.results)  # nothing resized
    assert sink.results[0].chroma()[0] is sink.results[0].frame.cb

    monkeypatch.undo()
    sink = RgbSink()  # full-size chroma made after the model, before the sinks see it
    Pipeline(CountingSource(limit=3), bicubic_x2, [sink], scale=2).run()
    assert sink.results and all(list(r._chroma) == [(64, 48)] for r in sink.results)

    frame = Frame(np.zeros((24, 32), np.uint8), *np.full((2, 12, 16), 128, np.uint8))
    result = super_resolve(frame, bicubic_x2, 2, full_chroma=())  # no sink: no chroma made
    assert not result._chroma


def test_which_sinks_need_rgb(tmp_path):
    from device.sinks import RecordSink, ViewSink, WindowSink

    assert WindowSink().needs_rgb and RecordSink(tmp_path).needs_rgb
    assert not RecordSink(tmp_path / "a.mp4").needs_rgb
    assert not ViewSink(("127.0.0.1", 0), Stats()).needs_rgb
