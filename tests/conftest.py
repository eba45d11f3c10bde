"""Shared fixtures: DIV2K-layout folders and odd image files built from real photos.

The photos come from ``../shared/data`` (beside the project root, for every developer and CI).
Everything is small (crops of a few hundred pixels) so the whole suite stays fast.
"""

from __future__ import annotations

import os
import struct
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# the automatic layout's answers go to a folder of this run (children inherit it), not ~/.cache
os.environ["ESPCN_EDGE_CACHE"] = tempfile.mkdtemp(prefix="espcn-edge-cache-")

from espcn_edge.color import downscale  # noqa: E402

SHARED = Path(__file__).parents[2] / "shared"
SLOW_TESTS = {
    line.strip()
    for line in (Path(__file__).parent / "slow_tests.txt").read_text().splitlines()
    if line.strip() and not line.startswith("#")
}


def pytest_collection_modifyitems(items) -> None:
    """Mark the tests slow_tests.txt lists (measured ≥ 1 s; a module, a test or one of its
    parameters): `-m "not slow"` skips them."""
    for item in items:
        name = item.nodeid.split("[")[0]
        if {item.nodeid, name, name.split("::")[0]} & SLOW_TESTS:
            item.add_marker(pytest.mark.slow)


T91 = SHARED / "data" / "train" / "T91"
BSD200 = SHARED / "data" / "train" / "BSD200"
SET5 = SHARED / "data" / "benchmark" / "Set5"

# DIV2K fixture: HR crops whose sides are multiples of none of 2, 3, 4 (so modcrop matters),
# large enough for 48-pixel LR patches at ×4.
DIV2K_HR_SIZE = (206, 254)  # (height, width)
DIV2K_TRAIN = [f"{i:04d}" for i in range(1, 7)]
DIV2K_VALID = [f"{i:04d}" for i in range(801, 803)]
SCALES = (2, 3, 4)


def _require(folder: Path) -> Path:
    if not folder.is_dir():
        pytest.fail(f"{folder} not found: the tests need ../shared beside the project root")
    return folder


def read_rgb(path: Path) -> np.ndarray:
    """Reference loader for test data (plain Pillow, independent of espcn_edge.imageio)."""
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def png_bytes(width: int, height: int, pixels: bytes = b"", bit_depth: int = 8, color: int = 2):
    """A minimal PNG written by hand: any header (even a lying one) and raw scanlines."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(pixels))
        + chunk(b"IEND", b"")
    )


def png16_rgb(rgb16: np.ndarray) -> bytes:
    """A 16-bit-per-channel RGB PNG (Pillow cannot write one)."""
    h, w, _ = rgb16.shape
    rows = rgb16.astype(">u2").reshape(h, w * 6 // 2).view(np.uint8).reshape(h, w * 6)
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)
    return png_bytes(w, h, raw, bit_depth=16, color=2)


@pytest.fixture(scope="session")
def real_images() -> list[Path]:
    """A few real photos (BSD200, 481×321), sorted by name."""
    return sorted(_require(BSD200).glob("*.png"))[: len(DIV2K_TRAIN) + len(DIV2K_VALID)]


def _write_div2k(root: Path, sources: list[Path], official_lr: bool) -> Path:
    h, w = DIV2K_HR_SIZE
    names = {"train": DIV2K_TRAIN, "valid": DIV2K_VALID}
    sources = iter(sources)
    for split, stems in names.items():
        hr_dir = root / f"DIV2K_{split}_HR"
        hr_dir.mkdir(parents=True)
        for stem in stems:
            hr = read_rgb(next(sources))[:h, :w]
            Image.fromarray(hr).save(hr_dir / f"{stem}.png", compress_level=1)
            if not official_lr:
                continue
            for s in SCALES:
                lr_dir = root / f"DIV2K_{split}_LR_bicubic" / f"X{s}"
                lr_dir.mkdir(parents=True, exist_ok=True)
                Image.fromarray(downscale(hr, s)).save(lr_dir / f"{stem}x{s}.png", compress_level=1)
    return root


@pytest.fixture(scope="session")
def div2k_official(tmp_path_factory, real_images) -> Path:
    """DIV2K root with HR (6 train 0001…, 2 valid 0801…) and official-style LR ×2/×3/×4."""
    return _write_div2k(tmp_path_factory.mktemp("div2k_official"), real_images, official_lr=True)


@pytest.fixture(scope="session")
def div2k_onthefly(tmp_path_factory, real_images) -> Path:
    """The same DIV2K root with HR folders only (LR must be made on the fly)."""
    return _write_div2k(tmp_path_factory.mktemp("div2k_onthefly"), real_images, official_lr=False)


@pytest.fixture(scope="session")
def _sample_rgb() -> np.ndarray:
    return read_rgb(_require(T91) / "t1.png")


@pytest.fixture
def sample_rgb(_sample_rgb) -> np.ndarray:
    """A real photo (T91 t1.png, 197×176) as RGB uint8; a fresh copy per test."""
    return _sample_rgb.copy()


class BadImages:
    """Writes a folder of good photos next to one file of each awkward kind.

    ``bad_images_dir(folder=None, n_good=3) -> Path``; the class attributes say what each file
    should become: converted to RGB, refused (ImageError naming it), or too small to use.
    """

    converted = ("cmyk.jpg", "deep16.png", "deep16_rgb.png", "palette.png", "rgba.png", "grey.png")
    unreadable = ("truncated.png", "truncated.jpg", "empty.png", "notes.jpg", "folder.png")
    too_small = ("sliver.png",)  # 1 px wide: no LR image at any scale
    size = (96, 96)  # height, width of the good and converted images

    def __init__(self, tmp_path: Path):
        self._tmp_path = tmp_path
        self._count = 0

    def __call__(self, folder: Path | None = None, n_good: int = 3) -> Path:
        if folder is None:
            self._count += 1
            folder = self._tmp_path / f"bad_images_{self._count}"
        folder.mkdir(parents=True, exist_ok=True)
        h, w = self.size
        photos = [read_rgb(p)[:h, :w] for p in sorted(_require(T91).glob("*.png"))[: n_good + 1]]
        for i, rgb in enumerate(photos[:n_good]):
            Image.fromarray(rgb).save(folder / f"good_{i}.png")
        rgb = photos[-1]
        grey = np.asarray(Image.fromarray(rgb).convert("L"))
        Image.fromarray(rgb).convert("CMYK").save(folder / "cmyk.jpg", quality=95)
        Image.fromarray(grey.astype(np.uint16) * 257).save(folder / "deep16.png")
        (folder / "deep16_rgb.png").write_bytes(png16_rgb(rgb.astype(np.uint16) * 257))
        # ≤ 64 colours, so the palette image is lossless and comparable pixel for pixel
        Image.fromarray(rgb // 64 * 64 + 32).quantize(64).save(folder / "palette.png")
        rgba = np.dstack([rgb, np.full((h, w), 255, np.uint8)])
        rgba[: h // 4, : w // 4, 3] = 0
        Image.fromarray(rgba).save(folder / "rgba.png")
        Image.fromarray(grey).save(folder / "grey.png")
        png, jpg = _encoded(rgb, "PNG"), _encoded(rgb, "JPEG")
        (folder / "truncated.png").write_bytes(png[: len(png) // 2])
        (folder / "truncated.jpg").write_bytes(jpg[: len(jpg) // 2])
        (folder / "empty.png").write_bytes(b"")
        (folder / "notes.jpg").write_text("not an image, just some notes\n")
        (folder / "folder.png").mkdir(exist_ok=True)
        Image.fromarray(rgb[:12, :1]).save(folder / "sliver.png")
        return folder


def _encoded(rgb: np.ndarray, fmt: str) -> bytes:
    import io

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, fmt)
    return buf.getvalue()


@pytest.fixture
def bad_images_dir(tmp_path) -> Callable[..., Path]:
    """Factory: ``bad_images_dir(folder=None, n_good=3)`` → a folder of good and bad images."""
    return BadImages(tmp_path)
