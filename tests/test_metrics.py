"""PSNR / SSIM against scikit-image on real image pairs, the border shave, and the published
Set5 bicubic figures as an end-to-end check of the protocol."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SET5, read_rgb

from espcn_edge.color import luma, resize_bicubic
from espcn_edge.metrics import psnr, ssim

skm = pytest.importorskip("skimage.metrics")

# Published bicubic Y-PSNR on Set5 (../shared/README.md)
PUBLISHED_BICUBIC = {2: 33.66, 3: 30.39, 4: 28.42}


def _studio_y(rgb: np.ndarray) -> np.ndarray:
    """MATLAB rgb2ycbcr Y as written in ../shared/README.md (the reference, not the module)."""
    r, g, b = (rgb[..., i] / 255.0 for i in range(3))
    return 16 + 65.481 * r + 128.553 * g + 24.966 * b


def _set5_pairs(scale: int):
    """(bicubic-upscaled MATLAB LR, HR) RGB pairs for Set5."""
    for hr_path in sorted((SET5 / "HR").glob("*.png")):
        lr = read_rgb(SET5 / "LR_bicubic" / f"X{scale}" / f"{hr_path.stem}x{scale}.png")
        hr = read_rgb(hr_path)[: lr.shape[0] * scale, : lr.shape[1] * scale]
        yield resize_bicubic(lr, (hr.shape[1], hr.shape[0])), hr


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_psnr_matches_scikit_image_on_set5(scale):
    for sr, hr in _set5_pairs(scale):
        s = slice(scale, -scale)
        ref = skm.peak_signal_noise_ratio(_studio_y(hr)[s, s], _studio_y(sr)[s, s], data_range=255)
        assert psnr(sr, hr, shave=scale) == pytest.approx(ref, abs=1e-9)


def test_ssim_matches_scikit_image_on_set5():
    scale = 3
    for sr, hr in _set5_pairs(scale):
        s = slice(scale, -scale)
        ref = skm.structural_similarity(
            _studio_y(hr)[s, s],
            _studio_y(sr)[s, s],
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            data_range=255,
        )
        assert ssim(sr, hr, shave=scale) == pytest.approx(ref, abs=1e-6)


def test_ssim_matches_scikit_image_on_planes_and_distortions(sample_rgb):
    rng = np.random.default_rng(0)
    y = luma(sample_rgb)
    noisy = np.clip(y + rng.normal(0, 12, y.shape), 0, 255).astype(np.uint8)
    for other in (noisy, 255 - y, np.roll(y, 3, axis=1)):
        ref = skm.structural_similarity(
            y.astype(float),
            other.astype(float),
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            data_range=255,
        )
        assert ssim(other, y) == pytest.approx(ref, abs=1e-6)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_set5_bicubic_reproduces_the_published_y_psnr(scale):
    """Whole protocol (MATLAB Y, shave, peak 255) vs the published table, with Pillow's bicubic
    upscaling of MATLAB's LR in place of MATLAB's (measured: +0.01 dB)."""
    mean = np.mean([psnr(sr, hr, shave=scale) for sr, hr in _set5_pairs(scale)])
    assert mean == pytest.approx(PUBLISHED_BICUBIC[scale], abs=0.05)


def test_identical_images_give_inf_psnr_and_ssim_one(sample_rgb):
    assert psnr(sample_rgb, sample_rgb.copy()) == float("inf")
    assert ssim(sample_rgb, sample_rgb.copy()) == pytest.approx(1.0, abs=1e-12)


def test_psnr_of_a_known_error():
    a = np.full((20, 30), 100, np.uint8)
    for d in (1, 5, 40):
        assert psnr(a + np.uint8(d), a) == pytest.approx(10 * np.log10(255**2 / d**2), abs=1e-9)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_shave_ignores_exactly_the_border(sample_rgb, scale):
    y = luma(sample_rgb)
    damaged = y.copy()
    damaged[:scale] = damaged[-scale:] = 0
    damaged[:, :scale] = damaged[:, -scale:] = 255
    assert psnr(damaged, y, shave=scale) == float("inf")
    assert ssim(damaged, y, shave=scale) == pytest.approx(1.0, abs=1e-12)
    assert psnr(damaged, y, shave=scale - 1) < 30
    assert ssim(damaged, y, shave=scale - 1) < 1.0
    interior = (slice(scale, -scale),) * 2
    noisy = np.clip(damaged + np.random.default_rng(1).integers(-9, 10, y.shape), 0, 255)
    assert psnr(noisy, y, scale) == pytest.approx(psnr(noisy[interior], y[interior]))


def test_rgb_psnr_is_studio_swing_1_32_db_above_full_range_luma(sample_rgb):
    """psnr() on RGB uses MATLAB Y; on planes it uses the planes as given. For full-range luma
    planes the result is 20·log10(255/219) ≈ 1.32 dB lower than the published protocol."""
    rng = np.random.default_rng(2)
    noisy = np.clip(sample_rgb + rng.normal(0, 6, sample_rgb.shape), 0, 255).astype(np.uint8)
    gap = psnr(noisy, sample_rgb, 2) - psnr(luma(noisy), luma(sample_rgb), 2)
    assert gap == pytest.approx(20 * np.log10(255 / 219), abs=0.05)


def test_h_w_1_planes_are_accepted(sample_rgb):
    y = luma(sample_rgb)
    noisy = np.clip(y + 3, 0, 255).astype(np.uint8)
    assert psnr(noisy[..., None], y[..., None], 2) == pytest.approx(psnr(noisy, y, 2))
    assert ssim(noisy[..., None], y[..., None], 2) == pytest.approx(ssim(noisy, y, 2))


def test_mismatched_or_too_small_inputs_are_refused(sample_rgb):
    y = luma(sample_rgb)
    with pytest.raises(ValueError, match="shape"):
        psnr(y[:, :-1], y)
    with pytest.raises(ValueError, match="shape"):
        psnr(y[:1], y)  # would broadcast silently
    with pytest.raises(ValueError, match="shape"):
        ssim(sample_rgb, y)
    with pytest.raises(ValueError, match="small"):
        psnr(y[:8, :8], y[:8, :8], shave=4)
    with pytest.raises(ValueError, match="small"):
        ssim(y[:20, :20], y[:20, :20], shave=5)
