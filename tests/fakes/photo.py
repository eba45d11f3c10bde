"""A camera-like JPEG of any size, made from a sample photo: sensor noise, EXIF (make, model,
orientation, pixel dimensions) and an sRGB ICC profile, as a Pi HQ camera still would have."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageCms

from espcn_edge import SAMPLES_DIR

MAKE, MODEL = "Raspberry Pi", "HQ Camera"


def srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def camera_jpeg(
    path: Path, width: int, height: int, orientation: int = 1, quality: int = 92, seed: int = 0
) -> Path:
    """Write `path` (width × height as stored; the EXIF `orientation` says how to turn it)."""
    with Image.open(Path(str(SAMPLES_DIR)) / "astronaut.png") as im:
        base = np.asarray(im.convert("RGB").resize((width, height), Image.Resampling.BICUBIC))
    rng = np.random.default_rng(seed)
    noisy = np.empty_like(base)
    for top in range(0, height, 512):  # a few rows at a time: no image-sized int16 copy
        rows = base[top : top + 512].astype(np.int16)
        rows += rng.normal(0, 3, rows.shape).astype(np.int16)
        noisy[top : top + 512] = np.clip(rows, 0, 255)
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0112] = MAKE, MODEL, orientation
    exif.get_ifd(0x8769).update({0xA002: width, 0xA003: height})  # PixelX/YDimension
    Image.fromarray(noisy).save(
        path, quality=quality, exif=exif.tobytes(), icc_profile=srgb_profile()
    )
    return path
