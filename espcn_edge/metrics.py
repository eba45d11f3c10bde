"""PSNR and SSIM by the published SR protocol: MATLAB Y (studio swing), `shave` pixels cropped
from every border, float64. Inputs are RGB uint8 images (or Y planes) of the same size."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .color import matlab_y


def _y(img: np.ndarray) -> np.ndarray:
    if img.ndim == 3 and img.shape[-1] == 1:  # an H×W×1 plane, as a model outputs it
        img = img[..., 0]
    return matlab_y(img) if img.ndim == 3 else img.astype(np.float64)


def _shave(img: np.ndarray, shave: int) -> np.ndarray:
    return img[shave:-shave, shave:-shave] if shave else img


def _pair(sr: np.ndarray, hr: np.ndarray, shave: int, min_size: int = 1):
    """Both images as float64 Y, shaved; refuses sizes that differ or leave too little."""
    sr, hr = np.asarray(sr), np.asarray(hr)
    if sr.shape != hr.shape:
        raise ValueError(f"images differ in shape: {sr.shape} vs {hr.shape}")
    if shave < 0 or min(sr.shape[:2]) - 2 * shave < min_size:
        raise ValueError(f"image {sr.shape[1]}×{sr.shape[0]} too small for shave={shave}")
    return _shave(_y(sr), shave), _shave(_y(hr), shave)


def psnr(sr: np.ndarray, hr: np.ndarray, shave: int = 0) -> float:
    """Y-PSNR in dB (peak 255)."""
    a, b = _pair(sr, hr, shave)
    mse = np.mean((a - b) ** 2)
    return float("inf") if mse == 0 else float(10.0 * np.log10(255.0**2 / mse))


def _gaussian_filter_valid(img: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    rows = sliding_window_view(img, kernel.size, axis=0) @ kernel
    return sliding_window_view(rows, kernel.size, axis=1) @ kernel


def ssim(sr: np.ndarray, hr: np.ndarray, shave: int = 0) -> float:
    """Y-SSIM with the reference settings (11×11 Gaussian, σ = 1.5, valid region, K = 0.01/0.03)."""
    a, b = _pair(sr, hr, shave, min_size=11)
    x = np.arange(11) - 5
    g = np.exp(-(x**2) / (2 * 1.5**2))
    g /= g.sum()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_a, mu_b = _gaussian_filter_valid(a, g), _gaussian_filter_valid(b, g)
    var_a = _gaussian_filter_valid(a * a, g) - mu_a**2
    var_b = _gaussian_filter_valid(b * b, g) - mu_b**2
    cov = _gaussian_filter_valid(a * b, g) - mu_a * mu_b
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / (
        (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    )
    return float(ssim_map.mean())
