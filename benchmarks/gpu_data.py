"""The T91 + BSD200 training folder as a DIV2K-layout folder of grayscale Y planes, for a lent
accelerator: a third of the bytes, so it travels within the device tool's 64 MiB, and the
training Y planes read from it are exactly those of the RGB folder (HR's Y; LR's Y of the
project's RGB `downscale`, as `espcn_edge.dataset.read_pair` makes it).

    python benchmarks/gpu_data.py [OUT]   (default .gpu/data; checks both folders agree)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.common import training_folder
from espcn_edge.color import downscale, luma, modcrop
from espcn_edge.dataset import find_pairs, load_pairs
from espcn_edge.imageio import load_rgb

SCALES = (2, 3, 4)


def write_y_folder(src: Path, out: Path) -> None:
    for split in ("train", "valid"):
        (out / f"DIV2K_{split}_HR").mkdir(parents=True, exist_ok=True)
    for image in sorted(src.iterdir()):
        rgb = load_rgb(image)
        Image.fromarray(luma(rgb)).save(out / "DIV2K_train_HR" / image.name, optimize=True)
        for scale in SCALES:
            folder = out / "DIV2K_train_LR_bicubic" / f"X{scale}"
            folder.mkdir(parents=True, exist_ok=True)
            lr = luma(downscale(modcrop(rgb, scale), scale))
            Image.fromarray(lr).save(folder / f"{image.stem}x{scale}.png", optimize=True)
    (out / "DIV2K_valid_HR").rmdir()  # no valid folder: the split is train.fit's own by name


def same_planes(a: Path, b: Path, scale: int) -> bool:
    planes = [load_pairs(find_pairs(root, scale, split), scale, 48) for root in (a, b)
              for split in ("train", "valid")]  # fmt: skip
    pairs = zip(planes[0] + planes[1], planes[2] + planes[3], strict=True)
    return all(np.array_equal(x, y) for p, q in pairs for x, y in zip(p, q, strict=True))


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ".gpu/data")
    src = training_folder()
    write_y_folder(src, out)
    for scale in SCALES:
        print(f"×{scale}: the same Y planes as {src}: {same_planes(src, out, scale)}")
