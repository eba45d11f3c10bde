"""The demo's comparison picture: bicubic | ESPCN side by side, each half labelled, and below
them the same small region of both magnified with square pixels, where the difference shows.

The region is the one where the model's output departs most from bicubic (mean |ΔY| over a
grid of candidate crops), outlined in both halves so the eye finds it in the full frames.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from espcn_edge.color import ycbcr_to_rgb
from espcn_edge.frames import Result

ZOOM = 4  # the crop is 1/ZOOM of a half's width and height, magnified back to the half's size
LABEL_H = 20  # pixels of the label strip above each row
OUTLINE = (255, 220, 0)


def busiest_crop(a: np.ndarray, b: np.ndarray, size: tuple[int, int]) -> tuple[int, int]:
    """Top-left (x, y) of the `size` (w, h) window where the Y planes `a` and `b` differ most,
    searched on a grid of half-window steps."""
    w, h = size
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16))
    best, where = -1.0, (0, 0)
    for y in range(0, diff.shape[0] - h + 1, max(h // 2, 1)):
        for x in range(0, diff.shape[1] - w + 1, max(w // 2, 1)):
            score = float(diff[y : y + h, x : x + w].mean())
            if score > best:
                best, where = score, (x, y)
    return where


def _labelled(rgb: np.ndarray, labels: tuple[str, str]) -> Image.Image:
    """`rgb` (two halves side by side) under a strip with each label centred over its half."""
    h, w = rgb.shape[:2]
    canvas = Image.new("RGB", (w, h + LABEL_H), (17, 17, 17))
    canvas.paste(Image.fromarray(rgb), (0, LABEL_H))
    draw, font = ImageDraw.Draw(canvas), _bitmap_font()
    for i, text in enumerate(labels):
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        x = w // 4 + i * (w // 2) - (right - left) // 2
        draw.text((x, (LABEL_H - (bottom - top)) // 2 - top), text, fill=(153, 204, 255), font=font)
    return canvas


def _bitmap_font() -> ImageFont.ImageFont:
    """Pillow's built-in bitmap font, the same pixels in every Pillow release (from Pi OS's 9.4
    on): since 10.1 `load_default()` gives a scalable font instead, where FreeType is built in."""
    try:
        return ImageFont.load_default_imagefont()
    except AttributeError:  # Pillow < 10.1: load_default() is the bitmap font
        return ImageFont.load_default()


def comparison(result: Result, model_name: str) -> np.ndarray:
    """The labelled side-by-side plus its magnified crop row, as one RGB uint8 image."""
    bicubic = ycbcr_to_rgb(*result.bicubic_planes(full=True))
    espcn = result.rgb()
    h, w = espcn.shape[:2]
    cw, ch = max(w // ZOOM, 1), max(h // ZOOM, 1)
    x, y = busiest_crop(result.bicubic_planes()[0], result.y, (cw, ch))
    r = result.size[0] // result.frame.size[0]
    lr = f"{result.frame.size[0]}x{result.frame.size[1]}"  # ASCII: the built-in font has no ×
    full = _labelled(
        np.hstack([bicubic, espcn]),
        (f"bicubic x{r} ({lr} -> {w}x{h})", f"ESPCN x{r} ({model_name})"),
    )
    draw = ImageDraw.Draw(full)
    for left in (0, w):
        draw.rectangle(
            (left + x - 1, LABEL_H + y - 1, left + x + cw, LABEL_H + y + ch), outline=OUTLINE
        )
    crops = [
        np.asarray(Image.fromarray(img[y : y + ch, x : x + cw]).resize((w, h), Image.NEAREST))
        for img in (bicubic, espcn)
    ]
    zoomed = _labelled(
        np.hstack(crops), (f"bicubic, outlined region {ZOOM}x", f"ESPCN, outlined region {ZOOM}x")
    )
    return np.vstack([np.asarray(full), np.asarray(zoomed)])
