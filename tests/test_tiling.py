"""Tiled inference: the stitched tiles are bit for bit the whole-image result, for every shipped
model, with one interpreter allocation per image size and the overlap read from the model."""

from __future__ import annotations

import numpy as np
import pytest
from fakes import tiny_model

from espcn_edge import SAMPLES_DIR, SPECS
from espcn_edge.color import resize_bicubic
from espcn_edge.frames import upscale_rgb
from espcn_edge.graph import graph_radius
from espcn_edge.imageio import load_rgb
from espcn_edge.runtime import DEFAULT_TILE, Upscaler
from espcn_edge.tiers import default_model_path
from espcn_edge.tiling import axis_tiles, spec_radius

SHAPE = (301, 417)  # odd sizes: tiles do not divide them


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    rgb = load_rgb(SAMPLES_DIR / "astronaut.png")
    return np.ascontiguousarray(rgb[: SHAPE[0], : SHAPE[1]])


@pytest.fixture(scope="module", params=[2, 3, 4])
def shipped(request) -> Upscaler:
    return Upscaler(default_model_path(request.param), threads=2)


@pytest.mark.parametrize("length", [1, 16, 17, 50, 64, 65, 100, 301, 1000, 4056])
@pytest.mark.parametrize("tile", [0, 17, 20, 64, 100, 512])
@pytest.mark.parametrize("radius", [0, 1, 8])
@pytest.mark.parametrize("multiple", [1, 2])
def test_axis_tiles_cover_the_axis_once_with_exact_parts(length, tile, radius, multiple):
    size, spans = axis_tiles(length, tile, radius, multiple)
    if tile <= 0 or length <= tile:
        assert size == length and len(spans) == 1  # fits: run whole
    else:
        assert size < tile + multiple and len(spans) > 1
        assert size % multiple == 0 or size == length
    assert spans[0].keep_from == 0 and spans[-1].keep_to == length
    for prev, span in zip(spans, spans[1:], strict=False):
        assert span.keep_from == prev.keep_to  # contiguous, no gap, no double
    for i, span in enumerate(spans):
        assert 0 <= span.start and span.start + size <= length  # inside the image
        # what is kept is at least `radius` away from a tile edge that is not the image edge
        assert span.keep_from >= span.start + radius or span.start == 0 == i
        assert span.keep_to <= span.start + size - radius or span.start + size == length
        assert span.keep_from < span.keep_to


def test_tile_too_small_for_the_radius_is_refused():
    with pytest.raises(ValueError, match="too small"):
        axis_tiles(100, 16, 8)


def test_radius_comes_from_the_spec_and_agrees_with_the_graph(shipped):
    """Against the plain layout's graph: `--variant auto` picks space-to-depth where it is
    faster (×4 on an AVX-512 VNNI CPU), whose graph hides the convolutions' reach."""
    assert spec_radius(SPECS["seed-skip"].to_string()) == 2 + 6 * 1  # 5×5, then six 3×3
    plain = Upscaler(default_model_path(shipped.scale), variant="plain")
    assert shipped.radius == plain.radius == graph_radius(plain.graph._interp) == 8


def test_model_without_metadata_takes_the_radius_from_its_graph(monkeypatch, tmp_path_factory):
    import espcn_edge.graph as graph

    monkeypatch.setattr(graph, "read_metadata", lambda path: {})
    up = Upscaler(tiny_model.session_model(tmp_path_factory), variant="plain")
    assert up.metadata == {} and up.radius == 7  # the tiny spec: seven 3×3 layers


@pytest.mark.parametrize("tile", [33, 77, 300])
def test_tiles_are_bit_identical_to_the_whole_image(shipped, photo, tile):
    shipped.tile = 0
    whole_y = shipped.upscale_y(photo[..., 1])
    whole_rgb = upscale_rgb(photo, shipped.scale, shipped.upscale_y)  # the untiled path
    shipped.tile = tile
    assert len(shipped.tiles(*SHAPE)[1]) > 1  # really tiled
    assert np.array_equal(shipped.upscale_y(photo[..., 1]), whole_y)
    assert np.array_equal(shipped.upscale_rgb(photo), whole_rgb)


def test_blocked_graph_tiles_have_even_sides_and_are_bit_identical(photo):
    """An odd tile side would run in the plain graph (3× slower for tiny at 640×480)."""
    up = Upscaler(default_model_path(2, "tiny"), threads=2, variant="s2d", tile=0)
    whole = up.upscale_y(photo[..., 1])
    up.tile = 77
    (th, tw), rows, cols = up.tiles(*SHAPE)
    assert th % 2 == tw % 2 == 0 and len(rows) * len(cols) > 1
    assert np.array_equal(up.upscale_y(photo[..., 1]), whole)


def test_an_overlap_one_pixel_short_is_not_identical(shipped, photo):
    """The check above is sensitive: with radius − 1 of overlap the seams show."""
    shipped.tile = 0
    whole = shipped.upscale_y(photo[..., 0])
    shipped.tile, shipped.graph.radius = 64, shipped.radius - 1
    try:
        assert not np.array_equal(shipped.upscale_y(photo[..., 0]), whole)
    finally:
        shipped.graph.radius += 1


def test_alpha_and_grey_bands(shipped, photo):
    """RGBA: the RGB as `upscale_rgb`, alpha bicubic; grey + alpha: the grey as `upscale_y`."""
    s = shipped.scale
    size = (SHAPE[1] * s, SHAPE[0] * s)
    alpha = np.zeros(SHAPE, np.uint8)
    alpha[50:200, 100:300] = 255
    shipped.tile = 64
    rgba = shipped.upscale_image(np.dstack([photo, alpha]))
    assert np.array_equal(rgba[..., :3], shipped.upscale_rgb(photo))
    assert np.array_equal(rgba[..., 3], resize_bicubic(alpha, size))
    la = shipped.upscale_image(np.dstack([photo[..., 0], alpha]))
    assert np.array_equal(la[..., 0], shipped.upscale_y(photo[..., 0]))
    assert np.array_equal(la[..., 1], resize_bicubic(alpha, size))
    rows = [(row, band.shape) for row, band in shipped.bands(photo)]
    assert rows[0][0] == 0 and sum(shape[0] for _, shape in rows) == SHAPE[0] * s
    assert all(shape[1:] == (SHAPE[1] * s, 3) for _, shape in rows)


def test_one_allocation_per_image_size(photo, monkeypatch):
    up = Upscaler(default_model_path(2), threads=1, tile=64)
    calls = []
    real = up.graph._interp.allocate_tensors
    monkeypatch.setattr(up.graph._interp, "allocate_tensors", lambda: calls.append(1) or real())
    up.upscale_y(photo[..., 0])
    up.upscale_rgb(photo)
    assert len(calls) == 1 and len(up.tiles(*SHAPE)[1]) * len(up.tiles(*SHAPE)[2]) > 20


@pytest.mark.parametrize("variant", ["plain", "s2d"])
def test_by_default_frames_run_in_tiles_of_their_layouts_side(variant):
    """Each layout's default tile side bounds the interpreter's memory: a 320×240 frame runs
    whole in the blocked graph and in two tiles in the plain one; 640×480 in tiles in both."""
    up = Upscaler(default_model_path(2), threads=1, variant=variant)
    side = DEFAULT_TILE[variant]
    assert up.tiles(240, 320)[0] == ((240, 320) if side >= 320 else (240, 160 + up.radius))
    for h, w in [(480, 640), (3040, 4056), (1080, 1920)]:
        (th, tw), rows, cols = up.tiles(h, w)
        assert max(th, tw) <= side and len(rows) * len(cols) > 1
    up.tile = 0
    assert len(up.tiles(3040, 4056)[1]) == 1
