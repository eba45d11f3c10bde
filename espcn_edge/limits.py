"""The largest picture any command decodes: one limit for photos and video frames, compared with
the size a file's header declares before a pixel is decoded (a PNG of 65 bytes can declare
60000×60000, 10 GB of RGB).

The limit is 4096×4096 pixels unless `ESPCN_EDGE_MAX_PIXELS` says otherwise: an environment
variable rather than a flag, because images are read by every command (upscale, camera, eval,
training's reader threads) and by the library, and one setting must hold for all of them.
"""

from __future__ import annotations

import os

from .errors import UserError

MAX_PIXELS_ENV = "ESPCN_EDGE_MAX_PIXELS"
# What a 2 GB Pi 4 or 5 can upscale beside its OS at every shipped scale. `upscale` holds the
# decoded photo, its Y/Cb/Cr planes and the whole output: peak RSS on an 8 MP photo was 330 MB at
# ×2 and 850 MB at ×4 (~28 and ~70 bytes an input pixel over ~90 MB of libraries; 2-core EPYC,
# tiny tier, default tiles), so 16.8 MP needs ~0.6 GB at ×2 and ~1.3 GB at ×4. Every Pi camera's
# full-size still is below it (HQ 12.3 MP, Camera Module 3 11.9 MP), and so is a 4K video frame.
DEFAULT_MAX_PIXELS = 4096 * 4096


def max_pixels() -> int:
    """The limit: `ESPCN_EDGE_MAX_PIXELS` when set, read on every call so that a test or a
    caller can change it, else DEFAULT_MAX_PIXELS."""
    text = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_PIXELS
    if not text.isdigit() or int(text) == 0:
        raise UserError(
            f"{MAX_PIXELS_ENV}={text!r}: expected a whole number of pixels above 0 "
            f"(the default is {DEFAULT_MAX_PIXELS})"
        )
    return int(text)


def too_large(name: str, width: int, height: int) -> str | None:
    """The one line refusing `name` when its declared width × height exceeds the limit (the
    caller raises it as its own error), else None."""
    if width * height <= max_pixels():
        return None
    return refusal(name, f"{width}×{height}", width * height)


def refusal(name: str, size: str, pixels: int, what: str = "declares") -> str:
    """The line refusing `name`, which declares (or `what` else: "a frame of") `size` (`pixels`
    in all)."""
    return (
        f"{name}: {what} {size} pixels, above the limit of {max_pixels():,}; if this "
        f"machine has the memory, set {MAX_PIXELS_ENV}={pixels} to read it"
    )
