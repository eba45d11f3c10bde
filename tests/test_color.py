"""Colour handling: full-range BT.601 for the model, MATLAB Y for metrics, the [0, 1] scaling,
chroma handling, and how close Pillow's bicubic downscale is to MATLAB's imresize.

Run as a script to print the Pillow-vs-MATLAB figures quoted in docs/preprocessing.md:
``python tests/test_color.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from conftest import SET5, read_rgb  # noqa: E402

from espcn_edge.color import (  # noqa: E402
    downscale,
    float_to_y,
    luma,
    matlab_y,
    modcrop,
    resize_bicubic,
    rgb_to_ycbcr,
    y_to_float,
    ycbcr_to_rgb,
)
from espcn_edge.frames import merge, upscale_rgb  # noqa: E402


def _set5() -> list[np.ndarray]:
    return [read_rgb(p) for p in sorted((SET5 / "HR").glob("*.png"))]


def _colour_cube(step: int = 3) -> np.ndarray:
    """Every `step`-th RGB colour, as an N×1×3 image."""
    v = np.arange(0, 256, step)
    return np.stack(np.meshgrid(v, v, v, indexing="ij"), -1).reshape(-1, 1, 3).astype(np.uint8)


# JFIF / ITU-T T.871 full-range BT.601, written from the standard, not from the module
def _jfif(rgb: np.ndarray) -> np.ndarray:
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    return np.stack(
        [
            0.299 * r + 0.587 * g + 0.114 * b,
            128 - 0.168736 * r - 0.331264 * g + 0.5 * b,
            128 + 0.5 * r - 0.418688 * g - 0.081312 * b,
        ],
        -1,
    )


def test_round_trip_on_real_images_is_within_one_level(sample_rgb):
    for rgb in [sample_rgb, *_set5()]:
        back = ycbcr_to_rgb(*rgb_to_ycbcr(rgb))
        assert back.dtype == np.uint8 and back.shape == rgb.shape
        err = np.abs(back.astype(int) - rgb)
        assert err.max() <= 1 and err.mean() < 0.5


def test_round_trip_over_the_colour_cube_is_within_two_levels():
    cube = _colour_cube()
    assert np.abs(ycbcr_to_rgb(*rgb_to_ycbcr(cube)).astype(int) - cube).max() <= 2


def _fixed_point(planes: list[np.ndarray], matrix, offsets) -> np.ndarray:
    """Σ_j round(matrix[c, j] · 16384) · in_j + offsets[c] · 16384 in integers, rounded half
    up and clipped: the definition the colour conversions compute (in float, exactly)."""
    q = np.rint(np.asarray(matrix) * 16384).astype(np.int64)
    x = np.stack([p.astype(np.int64) for p in planes], -1)
    acc = x @ q.T + np.rint(np.asarray(offsets) * 16384).astype(np.int64)
    return np.clip((acc + 8192) // 16384, 0, 255)


_T871 = [[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]]
_T871_INV = [[1, 0, 1.402], [1, -0.344136, -0.714136], [1, 1.772, 0]]  # the standard's inverse


def test_ycbcr_is_the_jfif_formula_in_fixed_point_and_near_pillow(sample_rgb):
    for rgb in [sample_rgb, _colour_cube()]:
        ours = np.stack(rgb_to_ycbcr(rgb), -1).astype(int)
        planes = [rgb[..., i] for i in range(3)]
        assert np.array_equal(ours, _fixed_point(planes, _T871, (0, 128, 128)))
        exact = _jfif(rgb)  # unrounded coefficients: apart only next to ties
        differ = ours != np.clip(np.floor(exact + 0.5), 0, 255)
        assert np.abs(exact[differ] % 1 - 0.5).max(initial=0) < 0.01
        assert differ.mean() < 0.01
        pillow = np.asarray(Image.fromarray(rgb).convert("YCbCr")).astype(int)
        assert np.abs(ours - pillow).max() <= 1


def test_rgb_merge_is_the_jfif_inverse_in_fixed_point():
    rng = np.random.default_rng(0)
    y, cb, cr = (rng.integers(0, 256, (256, 256), dtype=np.uint8) for _ in range(3))
    inv = np.rint(np.asarray(_T871_INV) * 16384) / 16384
    want = _fixed_point([y, cb, cr], inv, -128 * (inv[:, 1] + inv[:, 2]))  # Cb, Cr − 128
    assert np.array_equal(ycbcr_to_rgb(y, cb, cr), want)
    c_b, c_r = cb.astype(np.float64) - 128, cr.astype(np.float64) - 128
    exact = np.stack([y + 1.402 * c_r, y - 0.344136 * c_b - 0.714136 * c_r, y + 1.772 * c_b], -1)
    differ = want != np.clip(np.floor(exact + 0.5), 0, 255)
    assert np.abs(exact[differ] % 1 - 0.5).max(initial=0) < 0.01 and differ.mean() < 0.01


@pytest.mark.parametrize("factor", [2, 3, 4])
@pytest.mark.parametrize("size", [(320, 240), (131, 97), (37, 300)])
@pytest.mark.parametrize("cores", [1, 2, 3])
def test_merge_from_small_chroma_is_the_bicubic_of_it_bit_for_bit(factor, size, cores, monkeypatch):
    """Chroma upscaled in bands beside the merge (one per core, cut at odd rows too) gives
    exactly the merge of `resize_bicubic`'s whole planes."""
    import espcn_edge.frames as frames

    monkeypatch.setattr(frames.os, "cpu_count", lambda: cores)
    rng = np.random.default_rng(factor)
    w, h = size
    y = rng.integers(0, 256, (h * factor, w * factor), dtype=np.uint8)
    cb, cr = (rng.integers(0, 256, (h, w), dtype=np.uint8) for _ in range(2))
    full = [resize_bicubic(c, (w * factor, h * factor)) for c in (cb, cr)]
    assert np.array_equal(merge(y, cb, cr), ycbcr_to_rgb(y, *full))
    assert np.array_equal(ycbcr_to_rgb(y, cb, cr), ycbcr_to_rgb(y, *full))
    odd = merge(y[:-1], cb, cr)  # not a whole factor: one resize to Y's size first
    assert np.array_equal(
        odd,
        ycbcr_to_rgb(y[:-1], *(resize_bicubic(c, (w * factor, h * factor - 1)) for c in (cb, cr))),
    )


@pytest.mark.parametrize(
    "rgb, ycc",
    [
        ((0, 0, 0), (0, 128, 128)),
        ((255, 255, 255), (255, 128, 128)),
        ((128, 128, 128), (128, 128, 128)),
        ((255, 0, 0), (76, 85, 255)),
        ((0, 255, 0), (150, 44, 21)),
        ((0, 0, 255), (29, 255, 107)),
    ],
)
def test_known_colours(rgb, ycc):
    img = np.array([[rgb]], np.uint8)
    assert tuple(int(p[0, 0]) for p in rgb_to_ycbcr(img)) == ycc
    assert int(luma(img)[0, 0]) == ycc[0]


def test_y_to_float_is_y_over_255_in_float32():
    y = np.arange(256, dtype=np.uint8).reshape(16, 16)
    x = y_to_float(y)
    assert x.dtype == np.float32 and x.shape == y.shape
    assert x.min() == 0.0 and x.max() == 1.0
    assert np.allclose(x, y / 255.0, atol=1e-7)
    assert np.array_equal(float_to_y(x), y)  # exact inverse on every level


def test_float_to_y_rounds_to_nearest_level_and_clips():
    k = np.arange(255, dtype=np.float64)
    eps = 1e-3
    assert np.array_equal(float_to_y((k + 0.5 - eps) / 255), k.astype(np.uint8))
    assert np.array_equal(float_to_y((k + 0.5 + eps) / 255), (k + 1).astype(np.uint8))
    out = float_to_y(np.array([-1.0, -0.001, 0.0, 1.0, 1.001, 7.0], np.float32))
    assert out.dtype == np.uint8 and out.tolist() == [0, 0, 0, 255, 255, 255]


@pytest.mark.parametrize(
    "rgb, y",
    [
        ((0, 0, 0), 16.0),
        ((255, 255, 255), 235.0),
        ((255, 0, 0), 16 + 65.481),
        ((0, 255, 0), 16 + 128.553),
        ((0, 0, 255), 16 + 24.966),
    ],
)
def test_matlab_y_on_known_colours(rgb, y):
    out = matlab_y(np.array([[rgb]], np.uint8))
    assert out.dtype == np.float64 and out[0, 0] == pytest.approx(y, abs=1e-9)


def test_matlab_y_is_studio_swing_of_the_full_range_luma(sample_rgb):
    """Studio-swing Y = 16 + 219/255 · full-range Y (same BT.601 weights, unrounded)."""
    assert np.allclose(matlab_y(sample_rgb), 16 + 219 / 255 * _jfif(sample_rgb)[..., 0])


def test_upscale_rgb_uses_the_given_y_function_and_bicubic_chroma(sample_rgb):
    rgb = modcrop(sample_rgb, 3)
    h, w = rgb.shape[:2]
    calls = []

    def upscale_y(y):
        calls.append(y.copy())
        return np.kron(y, np.ones((3, 3), np.uint8))  # nearest neighbour: easy to recognise

    out = upscale_rgb(rgb, 3, upscale_y)
    assert out.shape == (3 * h, 3 * w, 3) and out.dtype == np.uint8
    assert len(calls) == 1 and np.array_equal(calls[0], luma(rgb))
    y_out, cb_out, cr_out = rgb_to_ycbcr(out)
    _, cb, cr = rgb_to_ycbcr(rgb)
    # Y is what the function returned; chroma is the bicubic-upscaled input chroma, up to the
    # rounding of one RGB round trip and rare clipping where a new Y meets old chroma outside
    # the RGB gamut
    wants = [upscale_y(luma(rgb))] + [
        np.asarray(Image.fromarray(p).resize((3 * w, 3 * h), Image.Resampling.BICUBIC))
        for p in (cb, cr)
    ]
    for got, want in zip((y_out, cb_out, cr_out), wants, strict=True):
        err = np.abs(got.astype(int) - want)
        assert np.mean(err <= 1) > 0.999 and err.mean() < 0.01


def test_upscale_rgb_keeps_the_colour_of_a_flat_image():
    rgb = np.full((8, 10, 3), (200, 40, 90), np.uint8)
    out = upscale_rgb(rgb, 2, lambda y: np.kron(y, np.ones((2, 2), np.uint8)))
    assert np.abs(out.astype(int) - (200, 40, 90)).max() <= 1


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_modcrop_and_downscale_sizes(scale):
    img = np.zeros((101, 67, 3), np.uint8)
    assert modcrop(img, scale).shape == (101 - 101 % scale, 67 - 67 % scale, 3)
    assert downscale(img, scale).shape == (101 // scale, 67 // scale, 3)
    assert downscale(img[..., 0], scale).shape == (101 // scale, 67 // scale)


def test_downscale_is_antialiased(sample_rgb):
    """A one-pixel checkerboard averages to grey (no aliasing), unlike point sampling."""
    board = (np.indices((96, 96)).sum(0) % 2 * 255).astype(np.uint8)
    lr = downscale(board, 4)
    assert np.abs(lr[2:-2, 2:-2].astype(int) - 128).max() <= 2
    assert resize_bicubic(sample_rgb, (50, 40)).shape == (40, 50, 3)


def pillow_vs_matlab(scale: int) -> dict[str, float]:
    """`downscale(HR)` against Set5's shipped MATLAB imresize LR, all five images."""
    sq_rgb, sq_y, max_abs, max_abs_inner = [], [], 0, 0
    for hr_path in sorted((SET5 / "HR").glob("*.png")):
        lr_ref = read_rgb(SET5 / "LR_bicubic" / f"X{scale}" / f"{hr_path.stem}x{scale}.png")
        hr = read_rgb(hr_path)[: lr_ref.shape[0] * scale, : lr_ref.shape[1] * scale]
        lr = downscale(hr, scale)
        assert lr.shape == lr_ref.shape
        diff = lr.astype(np.float64) - lr_ref
        sq_rgb.append(np.mean(diff**2))
        sq_y.append(np.mean((matlab_y(lr) - matlab_y(lr_ref)) ** 2))
        max_abs = max(max_abs, int(np.abs(diff).max()))
        max_abs_inner = max(max_abs_inner, int(np.abs(diff[2:-2, 2:-2]).max()))
    db = [10 * np.log10(255**2 / np.mean(m)) for m in (sq_rgb, sq_y)]
    return dict(rgb_psnr=db[0], y_psnr=db[1], max_abs=max_abs, max_abs_inner=max_abs_inner)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_pillow_bicubic_downscale_is_close_to_matlab_imresize(scale):
    m = pillow_vs_matlab(scale)
    # measured (docs/preprocessing.md): ~55 dB RGB, ~59 dB Y; differences ≤ 2 levels inside,
    # up to 9 at the image border (different edge handling)
    assert m["rgb_psnr"] > 50 and m["y_psnr"] > 54
    assert m["max_abs_inner"] <= 3 and m["max_abs"] <= 16


if __name__ == "__main__":
    print("Pillow BICUBIC downscale vs MATLAB imresize (Set5, all images pooled)")
    print("scale  RGB-PSNR  Y-PSNR  max|diff|  max|diff| w/o 2-px border")
    for s in (2, 3, 4):
        m = pillow_vs_matlab(s)
        print(
            f"x{s}     {m['rgb_psnr']:6.2f}  {m['y_psnr']:6.2f}  {m['max_abs']:9d}  "
            f"{m['max_abs_inner']:9d}"
        )
