"""The training and validation Y planes of a dataset, without TensorFlow: shared by the
tf.data pipeline (`train.data`) and the JAX trainer (`train.jax_fit`)."""

from __future__ import annotations

import logging
import os

import numpy as np

from espcn_edge.color import downscale, resize_bicubic
from espcn_edge.dataset import find_pairs, load_pairs

log = logging.getLogger(__name__)

MULTISCALE_FACTORS = (0.9, 0.8, 0.7, 0.6)
Planes = list[tuple[np.ndarray, np.ndarray]]


def multiscale_copies(images: Planes, scale: int, min_lr_size: int) -> Planes:
    """FSRCNN's augmentation for small training sets: each HR plane also downscaled by
    MULTISCALE_FACTORS (bicubic), its LR made by the project's one `downscale`."""
    copies = []
    for _, hr in images:
        for f in MULTISCALE_FACTORS:
            h, w = round(hr.shape[0] * f), round(hr.shape[1] * f)
            if min(h, w) // scale >= min_lr_size:
                small = resize_bicubic(hr, (w, h))
                copies.append((downscale(small, scale), small[: h - h % scale, : w - w % scale]))
    return copies


def training_planes(
    root: str | os.PathLike, scale: int, patch_size: int, multiscale: bool = False,
    max_valid_images: int = 16,
) -> tuple[Planes, Planes]:  # fmt: skip
    """(training, validation) (LR Y, HR Y) uint8 planes: training images at least one patch in
    LR (plus their multiscale copies), validation images whole; a folder without a validation
    split validates on its first training images."""
    train = load_pairs(find_pairs(root, scale, "train"), scale, patch_size, root)
    if multiscale:
        train += multiscale_copies(train, scale, patch_size)
    valid = find_pairs(root, scale, "valid")[:max_valid_images]
    if valid:
        return train, load_pairs(valid, scale, 2 * scale + 8, root)
    log.warning("%s: no validation images; validating on the training images", root)
    return train, train[:max_valid_images]
