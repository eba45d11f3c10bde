"""Reading and writing images: every odd file a user has becomes RGB uint8 or one clear error.

`load_rgb` gives training and evaluation plain RGB. `load_photo` / `save_photo` are what
`espcn-edge upscale` uses: the EXIF orientation applied, greyscale and alpha kept as channels,
EXIF and ICC profile written back.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps

from .atomic import atomic_path
from .errors import UserError
from .limits import max_pixels, refusal, too_large

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}


class ImageError(UserError, ValueError):
    """An image file that cannot be used; the message names the file and the reason."""


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files directly in `folder`, sorted by name."""
    return sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


_DEEP_GREY = ("I;16", "I;16B", "I;16L", "I", "F")


def _deep_to_8(im: Image.Image) -> np.ndarray:
    """A 16-bit (or 32-bit) greyscale image as uint8: 65535 (or the 8-bit range's 255 when no
    value exceeds it in an I/F image) becomes 255, rounded."""
    arr = np.asarray(im, dtype=np.float32)
    peak = 65535.0 if im.mode.startswith("I;16") or arr.max() > 255 else 255.0
    arr *= 255.0 / peak
    return np.clip(np.rint(arr, out=arr), 0, 255, out=arr).astype(np.uint8)


def to_rgb(im: Image.Image) -> np.ndarray:
    """Convert any Pillow mode (L, P, RGBA, CMYK, I;16, I, F, LA…) to RGB uint8."""
    if im.mode in _DEEP_GREY:
        return np.repeat(_deep_to_8(im)[..., None], 3, axis=-1)
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
        background = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(background, im)
    return np.asarray(im.convert("RGB"))


def load_rgb(path: str | os.PathLike) -> np.ndarray:
    """Load an image file as RGB uint8 H×W×3 (EXIF orientation applied), raising ImageError
    with a one-line reason."""
    return decode_rgb(Path(path), str(path))


def decode_rgb(data: bytes | Path, name: str = "<bytes>") -> np.ndarray:
    """Decode encoded image bytes (or the file at a Path) to RGB uint8; `name` is used in error
    messages."""
    with _opened(data, name) as (im, _):
        return to_rgb(_upright(im))


def check_image(path: str | os.PathLike) -> None:
    """ImageError unless `path`'s header is one Pillow reads, declaring a size within the limit
    (`espcn_edge.limits`): what can be known before any pixel is decoded."""
    with _header(Path(path), str(path)):
        pass


@dataclass
class Photo:
    """An image file as the upscaler keeps it: upright pixels in their own channels, with the
    metadata that is written back.

    `pixels` is uint8 H×W (grey), H×W×2 (grey + alpha), H×W×3 (RGB) or H×W×4 (RGBA). `exif`
    is the file's EXIF with the orientation reset to 1 (it is applied to the pixels); `icc` the
    ICC profile when it describes `pixels`' colour space (a CMYK profile does not survive the
    conversion to RGB); `bits` the file's bits per sample when more than 8 (read as 8).
    """

    pixels: np.ndarray
    exif: Image.Exif | None = None
    icc: bytes | None = None
    bits: int = 8

    @property
    def mode(self) -> str:
        """The Pillow mode of `pixels`: L, LA, RGB or RGBA."""
        channels = 1 if self.pixels.ndim == 2 else self.pixels.shape[2]
        return ("L", "LA", "RGB", "RGBA")[channels - 1]


def load_photo(path: str | os.PathLike) -> Photo:
    """Load an image file as a `Photo`, raising ImageError with a one-line reason."""
    return decode_photo(Path(path), str(path))


def decode_photo(data: bytes | Path, name: str = "<bytes>") -> Photo:
    """Decode encoded image bytes (or the file at a Path) to a `Photo`; `name` is used in error
    messages."""
    with _opened(data, name) as (im, bits):
        exif = _exif(im) if "exif" in im.info else None  # JPEG, PNG, WebP (not TIFF's IFD)
        icc = im.info.get("icc_profile") or None
        im = _upright(im)
        grey = im.mode in ("1", "L", "LA", "La") or im.mode in _DEEP_GREY
        alpha = im.mode in ("LA", "La", "RGBA", "RGBa", "PA") or "transparency" in im.info
        if im.mode in _DEEP_GREY:
            pixels = _deep_to_8(im)
        elif grey:
            pixels = np.asarray(im.convert("LA" if alpha else "L"))
        else:
            pixels = np.asarray(im.convert("RGBA" if alpha else "RGB"))
    if exif is not None:
        if exif.get(ORIENTATION, 1) != 1:
            exif[ORIENTATION] = 1
    photo = Photo(pixels, exif, icc, bits)
    if icc is not None and _icc_space(icc) != ("GRAY" if photo.mode[0] == "L" else "RGB"):
        photo.icc = None
    return photo


def save_photo(
    path: str | os.PathLike,
    image: Image.Image | np.ndarray,
    like: Photo | None = None,
    quality: int = 95,
) -> None:
    """Atomically save `image` (a Pillow image or uint8 array) in the format of `path`'s suffix,
    with `like`'s EXIF (its pixel dimensions updated) and ICC profile where the format holds
    them (EXIF: JPEG, PNG, WebP; ICC: those and TIFF). `quality` is JPEG's and WebP's. Alpha is
    kept in PNG, WebP and TIFF; other formats get the image composited on white."""
    suffix = _suffix_ok(path)
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    if image.mode in ("LA", "RGBA") and suffix not in ALPHA_SUFFIXES:
        image = _on_white(image)
    if suffix == ".webp" and image.mode in ("L", "LA"):
        image = image.convert("RGB" if image.mode == "L" else "RGBA")
    options: dict = {"quality": quality} if suffix in (".jpg", ".jpeg", ".webp") else {}
    if like is not None and like.icc is not None and suffix in ICC_SUFFIXES:
        options["icc_profile"] = like.icc
    if like is not None and like.exif is not None and suffix in EXIF_SUFFIXES:
        exif = _resized_exif(like.exif, image.size)
        if suffix not in (".jpg", ".jpeg") or len(exif) <= MAX_JPEG_EXIF:
            options["exif"] = exif
    with atomic_path(path) as tmp:
        image.save(tmp, **options)


def save_rgb(path: str | os.PathLike, rgb: np.ndarray, quality: int = 95) -> None:
    """Atomically save an RGB (or single-plane) uint8 image; the format follows the suffix."""
    save_photo(path, rgb, None, quality)


# -- helpers ----------------------------------------------------------------------------------
ORIENTATION = 0x0112
_EXIF_IFD, _PIXEL_X, _PIXEL_Y = 0x8769, 0xA002, 0xA003
ALPHA_SUFFIXES = {".png", ".webp", ".tif", ".tiff"}
ICC_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff"}
EXIF_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp"}
MAX_JPEG_EXIF = 65533  # one APP1 segment; a larger EXIF is dropped rather than failing the save


def _file(data: bytes | Path, name: str) -> BinaryIO:
    """The bytes, or the file opened for reading (not read: its header is checked first)."""
    if isinstance(data, bytes):
        return io.BytesIO(data)
    try:
        return open(data, "rb")  # closed by _header
    except IsADirectoryError:
        raise ImageError(f"{name}: is a directory, not an image") from None
    except OSError as e:
        raise ImageError(f"{name}: cannot read ({e.strerror or e})") from None


@contextlib.contextmanager
def _header(data: bytes | Path, name: str) -> Iterator[Image.Image]:
    """The image with only its header read, its declared size within the limit; every problem,
    then or while the caller decodes it, becomes one ImageError.

    Pillow's own check (Image.MAX_IMAGE_PIXELS, 89 MP by default) runs inside Image.open and
    refuses past twice its limit, before the size can be read here: its refusal becomes our
    line. It is raised to our limit when ESPCN_EDGE_MAX_PIXELS asks for more, and otherwise left
    as the process has it: the library switches off no protection of its caller's."""
    limit = max_pixels()
    if Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS < limit:
        Image.MAX_IMAGE_PIXELS = limit
    with _file(data, name) as fp:
        if not fp.read(1):
            raise ImageError(f"{name}: empty file (0 bytes)")
        fp.seek(0)
        try:
            with Image.open(fp) as im:
                if message := too_large(name, *im.size):
                    raise ImageError(message)
                yield im
        except ImageError:
            raise
        except Image.DecompressionBombError as e:  # "Image size (N pixels) exceeds limit of …"
            pixels = int(re.search(r"\((\d+) pixels\)", str(e))[1])
            raise ImageError(refusal(name, f"{pixels:,}", pixels)) from None
        except (OSError, ValueError, SyntaxError) as e:
            raise ImageError(f"{name}: {_reason(e)}") from None


# Pillow's words for a file that ends before its picture does (PNG/JPEG/TIFF/BMP/PPM; WebP's)
_TRUNCATED = ("image file is truncated", "Truncated File Read", "could not create decoder object")


def _reason(error: Exception) -> str:
    """Pillow's exception in words a user can act on."""
    if isinstance(error, Image.UnidentifiedImageError):
        return "not a readable image"
    if str(error).startswith(_TRUNCATED):
        return "truncated or damaged: the file ends before the picture is complete"
    return str(error)


@contextlib.contextmanager
def _opened(data: bytes | Path, name: str) -> Iterator[tuple[Image.Image, int]]:
    """The decoded (loaded) image and its bits per sample (`_bits`); every problem becomes one
    ImageError."""
    with _header(data, name) as im:
        bits = _bits(im)  # before load(), which forgets the file's raw mode
        im.load()
        yield im, bits


def _exif(im: Image.Image) -> Image.Exif | None:
    """The image's EXIF, or None when Pillow cannot parse it: a corrupt EXIF block is no
    reason to refuse the pixels."""
    try:
        exif = im.getexif()
        exif.get_ifd(_EXIF_IFD)  # parsed now, not when written back
        return exif
    except Exception:
        return None


def _upright(im: Image.Image) -> Image.Image:
    """`im` turned as its EXIF orientation says (the same image when it needs no turn)."""
    exif = _exif(im)
    orientation = exif.get(ORIENTATION, 1) if exif is not None else 1
    return ImageOps.exif_transpose(im) if orientation in range(2, 9) else im


def _bits(im: Image.Image) -> int:
    """Bits per sample of the file (Pillow opens 16-bit RGB as 8-bit RGB)."""
    if im.mode.startswith("I;16"):
        return 16
    if im.mode in ("I", "F"):
        return 32
    # a tile is (decoder, extents, offset, args): a plain tuple in Pi OS's Pillow 9.4
    raw = im.tile[0][3] if im.tile else None
    raw = raw[0] if isinstance(raw, tuple) and raw else raw
    return 16 if isinstance(raw, str) and ";16" in raw else 8


def _icc_space(icc: bytes) -> str:
    """The data colour space of an ICC profile ('RGB', 'GRAY', 'CMYK', …)."""
    return icc[16:20].decode("ascii", "replace").strip()


def _resized_exif(exif: Image.Exif, size: tuple[int, int]) -> bytes:
    """EXIF bytes with PixelXDimension/PixelYDimension set to `size` where present."""
    try:
        ifd = exif.get_ifd(_EXIF_IFD)
        if _PIXEL_X in ifd or _PIXEL_Y in ifd:
            ifd[_PIXEL_X], ifd[_PIXEL_Y] = size
        return exif.tobytes()
    except Exception:  # an EXIF Pillow cannot rewrite: keep the original bytes
        return exif.tobytes() if exif else b""


def _on_white(image: Image.Image) -> Image.Image:
    rgba = image.convert("RGBA")
    out = Image.new("RGBA", image.size, (255, 255, 255, 255))
    out.alpha_composite(rgba)
    return out.convert("RGB" if image.mode == "RGBA" else "L")


def _suffix_ok(path: str | os.PathLike) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise ImageError(
            f"{path}: cannot write images as {suffix or 'a file without a suffix'}; "
            f"use {', '.join(sorted(IMAGE_SUFFIXES))}"
        )
    return suffix
