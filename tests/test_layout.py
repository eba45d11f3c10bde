"""The space-to-depth layout (espcn_edge.layout) on the shipped models and converted ones: the
same function as the plain graph, every op still inside XNNPACK."""

from __future__ import annotations

import logging
import re

import numpy as np
import pytest
from test_convert import make_models

from espcn_edge import SAMPLES_DIR
from espcn_edge.color import luma
from espcn_edge.errors import ModelError
from espcn_edge.imageio import load_rgb
from espcn_edge.layout import LayoutError, block_kernel, space_to_depth
from espcn_edge.runtime import Upscaler
from espcn_edge.tiers import default_model_path


@pytest.fixture(scope="module")
def photo_y() -> np.ndarray:
    return luma(load_rgb(SAMPLES_DIR / "chelsea.png"))[:64, :90]


@pytest.mark.parametrize(
    ("scale", "tier"), [(2, "tiny"), (2, "standard"), (3, "standard"), (4, "tiny")]
)
def test_shipped_models_bit_for_bit(photo_y, scale, tier):
    """The plain graph's output exactly: int8 sums are exact and a float first layer stays on
    the pixel grid; a plane with an odd side runs in the plain graph, and even ones again in
    the blocked one after it."""
    path = default_model_path(scale, tier)
    plain, blocked = (
        Upscaler(path, threads=1, variant="plain"),
        Upscaler(path, threads=1, variant="s2d"),
    )
    assert blocked.graph.block == 2 and plain.graph.block == 1 and blocked.radius == plain.radius
    odd = np.ascontiguousarray(photo_y[:63, :89])
    for y in (photo_y, odd, photo_y[:40, :50]):
        out = blocked.upscale_y(np.ascontiguousarray(y))
        assert np.array_equal(out, plain.upscale_y(np.ascontiguousarray(y)))
        assert (blocked.graph._interp is blocked.graph._graph) == (
            y.shape[0] % 2 == y.shape[1] % 2 == 0
        )


def test_one_xnnpack_partition():
    """Every op of the blocked graph is taken by XNNPACK (a tensor left at its plain channel
    count once made XNNPACK refuse the convolutions, which then ran 2× slower)."""
    blocked = Upscaler(default_model_path(2, "tiny"), threads=1, variant="s2d")
    blocked.upscale_y(np.zeros((16, 16), np.uint8))
    ops = [op["op_name"] for op in blocked.graph._interp._get_ops_details()]
    assert ops.count("SPACE_TO_DEPTH") == 1 and ops.count("DEPTH_TO_SPACE") == 2
    assert ops.count("DELEGATE") == 1


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_float_graphs(tmp_path_factory, photo_y, precision):
    """Float graphs are blocked from their first layer (its 5×5 kernel too): the sums run in
    another order, so the result is the plain graph's within one Y level."""
    path = make_models(tmp_path_factory.getbasetemp())[precision]
    plain = Upscaler(path, threads=1, variant="plain").upscale_y(photo_y).astype(int)
    blocked = Upscaler(path, threads=1, variant="s2d").upscale_y(photo_y).astype(int)
    assert np.abs(blocked - plain).max() <= 1 and (blocked != plain).mean() < 0.01


def test_block_kernel_is_the_convolution():
    """A 5×5 convolution computed on 2×2 blocks with `block_kernel` equals it on pixels."""
    rng = np.random.default_rng(0)
    kernel = rng.normal(size=(3, 5, 5, 2))  # OHWI
    image = rng.normal(size=(8, 10, 2))

    def conv(x, k):  # 'same' zero padding, stride 1
        r = k.shape[1] // 2
        xp = np.pad(x, ((r, r), (r, r), (0, 0)))
        h, w = x.shape[:2]
        return np.stack(
            [
                np.einsum("ijc,oijc->o", xp[y : y + 2 * r + 1, x_ : x_ + 2 * r + 1], k)
                for y in range(h)
                for x_ in range(w)
            ]
        ).reshape(h, w, -1)

    def s2d(x):  # TFLite's SPACE_TO_DEPTH channel order: (row offset · 2 + column offset) · C + c
        h, w, c = x.shape
        return (
            x.reshape(h // 2, 2, w // 2, 2, c).transpose(0, 2, 1, 3, 4).reshape(h // 2, w // 2, -1)
        )

    blocked = block_kernel(kernel)
    assert blocked.shape == (12, 3, 3, 8)
    np.testing.assert_allclose(conv(s2d(image), blocked), s2d(conv(image, kernel)), atol=1e-9)


def test_refusals(tmp_path):
    blocked = tmp_path / "blocked.tflite"
    blocked.write_bytes(space_to_depth(default_model_path(2, "tiny").read_bytes()))
    with pytest.raises(LayoutError, match="already"):
        space_to_depth(blocked.read_bytes())
    with pytest.raises(ModelError, match="no space-to-depth variant"):
        Upscaler(blocked, variant="s2d")
    with pytest.raises(ModelError, match="unknown variant"):
        Upscaler(default_model_path(2, "tiny"), variant="wide")
    # a file converted blocked has no plain graph: an odd plane is padded by edge copies
    up, plain = (
        Upscaler(blocked, threads=1),
        Upscaler(default_model_path(2, "tiny"), variant="plain"),
    )
    odd = np.ascontiguousarray(load_rgb(SAMPLES_DIR / "chelsea.png")[:63, :89, 1])
    padded = np.pad(odd, ((0, 1), (0, 1)), mode="edge")
    out = up.upscale_y(odd)
    assert out.shape == (126, 178) and out.flags.c_contiguous
    assert np.array_equal(out, plain.upscale_y(padded)[:126, :178])


def test_upscale_variants_write_the_same_photo(tmp_path, caplog, monkeypatch):
    """`--variant plain|s2d|auto` through the real command: the same file; auto says in one
    line which layout it timed faster on this machine, and the next run remembers it (no
    timing, no line) until the cache is forgotten."""
    from PIL import Image

    from device.cli import main as cli
    from espcn_edge import layout_cache

    monkeypatch.setenv("ESPCN_EDGE_CACHE", str(tmp_path / "cache"))
    photo = tmp_path / "cat.png"
    Image.fromarray(load_rgb(SAMPLES_DIR / "chelsea.png")[:64, :90]).save(photo)
    caplog.set_level(logging.INFO)
    outs, said = {}, {}
    for variant in ("plain", "s2d", "auto", "auto again"):
        caplog.clear()
        outs[variant] = tmp_path / f"{variant}.png"
        argv = [str(photo), str(outs[variant]), "--variant", variant.split()[0]]
        assert cli(["upscale", *argv]) == 0
        said[variant] = [r.getMessage() for r in caplog.records if "variant auto" in r.getMessage()]
    assert said["plain"] == said["s2d"] == said["auto again"] == []
    (line,) = said["auto"]
    assert re.fullmatch(
        r"variant auto: (plain|s2d) — [\d.]+ ms a 320x240 frame here against [\d.]+ for "
        r"(plain|s2d) \(espcn_x2_standard_int8\.tflite; remembered\); --variant \2 forces the "
        r"other",
        line,
    )
    assert layout_cache.forget() == tmp_path / "cache" / "layouts.json"
    assert layout_cache.forget() is None
    pixels = [np.asarray(Image.open(p)) for p in outs.values()]
    assert all(np.array_equal(pixels[0], p) for p in pixels[1:])


RELEASE = """
import numpy as np
from espcn_edge.runtime import Upscaler
from espcn_edge.tiers import default_model_path
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 / 1e6
up = Upscaler(default_model_path(2, "standard"), variant="{variant}")
up.upscale_y(np.zeros((240, 320), np.uint8))
held = rss()
up.release_buffers()
print(held - rss())
"""


@pytest.mark.parametrize("variant", ["plain", "s2d"])
def test_released_buffers_come_back_at_the_next_frame(variant):
    """While --variant auto times two graphs only one holds the frame's buffers: releasing them
    gives the memory back (measured in a fresh process, whose allocator has not yet kept freed
    blocks of that size), and the next frame is the same as before."""
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-c", RELEASE.format(variant=variant)],
                         capture_output=True, text=True, check=True)  # fmt: skip
    assert float(run.stdout) > 10  # MB: about 48 plain, 24 blocked on x86
    up = Upscaler(default_model_path(2, "standard"), variant=variant)
    y = np.random.default_rng(0).integers(0, 256, (240, 320), np.uint8)
    before = up.upscale_y(y)
    up.release_buffers()
    assert np.array_equal(up.upscale_y(y), before)


def test_auto_keeps_the_plain_graph_for_a_delegate():
    """An accelerator (Edge TPU, GPU) gets the graph as converted; nothing is timed."""
    from device.engine import EngineOptions, open_upscaler

    up = open_upscaler(EngineOptions(delegate="/nonexistent/libdelegate.so"))
    assert up.variant == "plain"


def test_converter_writes_the_blocked_graph(tmp_path_factory, tmp_path, photo_y):
    """`convert.tflite --space-to-depth`: the converter's int8 model, blocked, with the layout in
    its metadata; its output is the plain conversion's bit for bit."""
    from convert.ops import check_int8
    from convert.tflite import ConvertOptions, run

    models = make_models(tmp_path_factory.getbasetemp())
    out = tmp_path / "blocked.tflite"
    opts = ConvertOptions(
        "int8", calibration_samples=48, calibration_frames=2, eval_images=1, space_to_depth=True
    )  # the options make_models converted its int8 model with
    report = run(models["keras"], out, SAMPLES_DIR, opts)
    assert (
        "SPACE_TO_DEPTH" in check_int8(out.read_bytes()).ops and report["options"]["space_to_depth"]
    )
    blocked, plain = Upscaler(out, threads=1), Upscaler(models["int8"], threads=1, variant="plain")
    assert blocked.metadata["layout"] == {"space_to_depth": 2} and blocked.graph.block == 2
    assert np.array_equal(blocked.upscale_y(photo_y), plain.upscale_y(photo_y))
    # tiled as `upscale` runs it: the same bit for bit, at even and odd sides (tiles of odd
    # sides were padded by edge copies where the whole image is not: the last 14 rows differed)
    big = luma(load_rgb(SAMPLES_DIR / "chelsea.png"))
    for y in (np.ascontiguousarray(big[:250, :180]), np.ascontiguousarray(big[:83, :151])):
        blocked.tile = 0
        whole = blocked.upscale_y(y)
        for tile in (64, 100):
            blocked.tile = tile
            assert np.array_equal(blocked.upscale_y(y), whole), (y.shape, tile)
        if y.shape[0] % 2 == y.shape[1] % 2 == 0:  # odd sides: padded by an edge copy
            assert np.array_equal(whole, plain.upscale_y(y))


def test_shared_constants_are_copied_before_blocking(photo_y):
    """An untrained model's zero biases are one buffer shared by six layers (the converter
    dedups them): each layer gets its own blocked copy, and the output is still exact."""
    from fakes import tiny_model

    path = tiny_model.COMMITTED
    plain, blocked = (
        Upscaler(path, threads=1, variant="plain"),
        Upscaler(path, threads=1, variant="s2d"),
    )
    assert np.array_equal(blocked.upscale_y(photo_y), plain.upscale_y(photo_y))


def test_without_the_schema_auto_runs_plain(monkeypatch):
    """tflite-runtime ships no TFLite schema to rewrite with: --variant auto runs the plain
    graph, --variant s2d is one line."""
    import espcn_edge.layout
    from device.engine import EngineOptions, open_upscaler
    from espcn_edge.errors import ModelError

    def no_schema():
        raise ImportError("no schema_py_generated")

    monkeypatch.setattr(espcn_edge.layout, "_schema", no_schema)
    assert open_upscaler(EngineOptions(tier="tiny")).variant == "plain"
    with pytest.raises(ModelError, match="needs ai-edge-litert's TFLite schema"):
        open_upscaler(EngineOptions(tier="tiny", variant="s2d"))
