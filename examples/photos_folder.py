#!/usr/bin/python3
"""Upscale every photo in a folder ×2 with Pillow, into another folder.

    python examples/photos_folder.py IN_DIR OUT_DIR

(`espcn-edge upscale IN_DIR -o OUT_DIR` does the same and keeps EXIF, ICC profiles and alpha.)
"""

import sys
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from espcn_edge import Upscaler

src, dst = Path(sys.argv[1]), Path(sys.argv[2])
dst.mkdir(parents=True, exist_ok=True)
up = Upscaler(scale=2)

for path in sorted(src.iterdir()):
    try:
        photo = Image.open(path)
    except (UnidentifiedImageError, IsADirectoryError):
        continue  # not an image
    big = up.upscale(photo.convert("RGB"))  # a Pillow image in, a Pillow image out
    big.save(dst / f"{path.stem}.png")
    print(f"{path.name}: {photo.size[0]}×{photo.size[1]} → {big.size[0]}×{big.size[1]}")
