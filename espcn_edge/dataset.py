"""Finding and loading (LR, HR) image pairs: DIV2K layout or any folder of HR images.

Shared by training (`train.data`), calibration (`convert`) and evaluation, so every stage sees
the same Y planes: full-range luma of the RGB image, LR from the official files when present or
else from the project's one bicubic `downscale`.
"""

from __future__ import annotations

import logging
import os
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from .color import downscale, luma, modcrop
from .errors import UserError
from .imageio import ImageError, list_images, load_rgb

log = logging.getLogger(__name__)
T = TypeVar("T")


class DatasetError(UserError, ValueError):
    """A dataset folder that cannot be used at all."""


@dataclass(frozen=True)
class ImagePair:
    hr: Path
    lr: Path | None  # None: LR is made from HR by bicubic downscaling


def _div2k_pairs(root: Path, split: str, scale: int) -> list[ImagePair]:
    lr_dir = root / f"DIV2K_{split}_LR_bicubic" / f"X{scale}"
    pairs = []
    for hr in list_images(root / f"DIV2K_{split}_HR"):
        lr = lr_dir / f"{hr.stem}x{scale}{hr.suffix}"
        pairs.append(ImagePair(hr, lr if lr.is_file() else None))
    return pairs


def _validation_subset(images: list[Path]) -> set[Path]:
    """About 10 % of the images, chosen by a hash of the file name (stable across machines)."""
    if len(images) < 2:
        return set()
    ranked = sorted(images, key=lambda p: (zlib.crc32(p.name.encode()), p.name))
    return set(ranked[: max(1, len(images) // 10)])


def find_pairs(root: str | os.PathLike, scale: int, split: str = "train") -> list[ImagePair]:
    """Pairs of `split` ("train" or "valid") under a DIV2K root or a plain HR folder.

    DIV2K uses its own train/valid folders; a plain folder (or a DIV2K root without
    DIV2K_valid_HR) is split deterministically, about 10 % for validation.
    """
    if split not in ("train", "valid"):
        raise ValueError(f"split must be 'train' or 'valid', not {split!r}")
    root = Path(root)
    if not root.is_dir():
        what = "is a file, not a folder" if root.exists() else "dataset folder not found"
        raise DatasetError(f"{root}: {what} (give a DIV2K root or a folder of images)")
    div2k = (root / "DIV2K_train_HR").is_dir()
    if div2k and (root / "DIV2K_valid_HR").is_dir():
        return _div2k_pairs(root, split, scale)
    pairs = (
        _div2k_pairs(root, "train", scale)
        if div2k
        else [ImagePair(p, None) for p in list_images(root)]
    )
    valid = _validation_subset([p.hr for p in pairs])
    return [p for p in pairs if (p.hr in valid) == (split == "valid")]


def read_pair(pair: ImagePair, scale: int, min_lr_size: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(LR, HR) RGB uint8, HR modcropped so that HR = scale × LR exactly; ImageError names the
    file that is unreadable, too small or of the wrong size."""
    hr = modcrop(load_rgb(pair.hr), scale)
    if min(hr.shape[:2]) // scale < max(min_lr_size, 1):
        # checked before downscaling: Pillow cannot resize to a zero-sized image
        raise ImageError(
            f"{pair.hr}: too small ({hr.shape[1] // scale}×{hr.shape[0] // scale} LR at ×{scale}, "
            f"needs ≥ {min_lr_size} px)"
        )
    if pair.lr is None:
        return downscale(hr, scale), hr
    lr = load_rgb(pair.lr)
    if lr.shape[0] * scale != hr.shape[0] or lr.shape[1] * scale != hr.shape[1]:
        raise ImageError(
            f"{pair.lr}: LR size {lr.shape[1]}×{lr.shape[0]} does not match HR "
            f"{pair.hr.name} at ×{scale}"
        )
    return lr, hr


def load_usable(
    pairs: list[ImagePair], load: Callable[[ImagePair], T], scale: int, root: str | os.PathLike
) -> list[T]:
    """`load(pair)` for every pair in parallel threads, in order; a bad file (ImageError) is
    skipped with one warning naming it, then one line counts them all.

    Raises DatasetError when nothing usable is left.
    """

    def load_or_warn(pair):
        try:
            return load(pair)
        except ImageError as e:
            log.warning("skipped %s", e)
            return None

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        loaded = list(pool.map(load_or_warn, pairs))
    good = [p for p in loaded if p is not None]
    if len(good) < len(pairs):
        log.warning("%s: skipped %d of %d images", root, len(pairs) - len(good), len(pairs))
    if not good:
        raise DatasetError(f"{root}: no usable images for ×{scale} (found {len(pairs)} files)")
    return good


def load_pair(pair: ImagePair, scale: int, min_lr_size: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(LR Y, HR Y) uint8 planes of one pair (`read_pair`)."""
    lr, hr = read_pair(pair, scale, min_lr_size)
    return luma(lr), luma(hr)


def load_pairs(
    pairs: list[ImagePair], scale: int, min_lr_size: int = 1, root: str | os.PathLike = "."
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(LR Y, HR Y) planes of the usable pairs (see `load_usable`)."""
    return load_usable(pairs, lambda pair: load_pair(pair, scale, min_lr_size), scale, root)
