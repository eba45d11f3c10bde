"""Reading and writing images: every odd file a user has becomes RGB uint8 or one clear error."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile

from .atomic import atomic_path

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
MAX_PIXELS = 8192 * 8192  # bigger than any photo a Pi handles; guards against decompression bombs


class ImageError(ValueError):
    """An image file that cannot be used; the message names the file and the reason."""


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files directly in `folder`, sorted by name."""
    return sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def to_rgb(im: Image.Image) -> np.ndarray:
    """Convert any Pillow mode (L, P, RGBA, CMYK, I;16, I, F, LA…) to RGB uint8."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        peak = 65535.0 if im.mode.startswith("I;16") or arr.max() > 255 else 255.0
        arr = np.clip(np.rint(arr * 255.0 / peak), 0, 255).astype(np.uint8)
        return np.repeat(arr[..., None], 3, axis=-1)
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
        background = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(background, im)
    return np.asarray(im.convert("RGB"))


def load_rgb(path: str | os.PathLike) -> np.ndarray:
    """Load an image file as RGB uint8 H×W×3, raising ImageError with a one-line reason."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise ImageError(f"{path}: is a directory, not an image") from None
    except OSError as e:
        raise ImageError(f"{path}: cannot read ({e.strerror or e})") from None
    return decode_rgb(data, str(path))


def decode_rgb(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decode encoded image bytes to RGB uint8; `name` is used in error messages."""
    if not data:
        raise ImageError(f"{name}: empty file (0 bytes)")
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.width * im.height > MAX_PIXELS:
                raise ImageError(
                    f"{name}: {im.width}×{im.height} is too large (limit {MAX_PIXELS} px)"
                )
            im.load()
            return to_rgb(im)
    except ImageError:
        raise
    except Image.DecompressionBombError:
        raise ImageError(f"{name}: image dimensions are too large") from None
    except (OSError, ValueError, SyntaxError, Image.UnidentifiedImageError) as e:
        reason = "not a readable image" if isinstance(e, Image.UnidentifiedImageError) else str(e)
        raise ImageError(f"{name}: {reason}") from None


def save_rgb(path: str | os.PathLike, rgb: np.ndarray, quality: int = 95) -> None:
    """Atomically save an RGB (or single-plane) uint8 image; the format follows the suffix."""
    suffix = Path(path).suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise ImageError(
            f"{path}: cannot write images as {suffix or 'a file without a suffix'}; "
            f"use {', '.join(sorted(IMAGE_SUFFIXES))}"
        )
    options = {"quality": quality} if suffix in (".jpg", ".jpeg") else {}
    with atomic_path(path) as tmp:
        Image.fromarray(rgb).save(tmp, **options)
