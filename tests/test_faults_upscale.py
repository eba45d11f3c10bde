"""Fault injection for `espcn-edge upscale`: ~200 generated malformed inputs in one invocation.

Every bad input must end with exactly one clear stderr line naming it (no traceback), the exit
status must be non-zero, no output (partial or temporary) may be left for it, and the valid
images given in the same batch must still be written.
"""

from __future__ import annotations

import io
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import png_bytes
from fakes import tiny_model
from PIL import Image

ROOT = Path(__file__).parents[1]
PREFIX = "espcn-edge upscale: "


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return tiny_model.session_model(tmp_path_factory)


def _valid_png(rng: np.random.Generator, w: int = 40, h: int = 30) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def _valid_jpeg(rng: np.random.Generator, w: int = 40, h: int = 30) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(buf, "JPEG")
    return buf.getvalue()


def make_malformed(folder: Path, seed: int = 6) -> tuple[list[Path], list[str]]:
    """Write the malformed inputs; returns (paths, kinds) where kinds[i] describes paths[i]."""
    rng = np.random.default_rng(seed)
    pyrng = random.Random(seed)
    png, jpeg = _valid_png(rng, 64, 48), _valid_jpeg(rng, 64, 48)
    items: list[tuple[str, str, bytes | None]] = []  # (name, kind, data or None for a folder)
    suffixes = [".png", ".jpg", ".jpeg", ".bmp", ".tif", ".webp", ".ppm"]
    for i in range(60):  # random bytes under every image suffix
        n = int(rng.integers(1, 4000))
        items.append(
            (
                f"random{i:03d}{suffixes[i % len(suffixes)]}",
                "random bytes",
                rng.integers(0, 256, n, dtype=np.uint8).tobytes(),
            )
        )
    for i in range(35):  # truncated PNGs, cut anywhere after the signature
        cut = pyrng.randrange(1, len(png) - 13)  # the IEND chunk is the last 12 bytes
        items.append((f"trunc{i:03d}.png", "truncated PNG", png[:cut]))
    for i in range(35):  # truncated JPEGs
        cut = pyrng.randrange(1, len(jpeg) // 2)
        items.append((f"trunc{i:03d}.jpg", "truncated JPEG", jpeg[:cut]))
    for i, (w, h) in enumerate(
        [
            (100_000, 100_000),
            (2**31 - 1, 1),
            (1, 2**31 - 1),
            (65_536, 65_536),
            (9000, 9000),
            (8193, 8193),
            (0, 10),
            (10, 0),
            (0, 0),
            (2**32 - 1, 2**32 - 1),
        ]
        + [(int(rng.integers(10_000, 2**30)), int(rng.integers(10_000, 2**30))) for _ in range(10)]
    ):  # huge (or zero) dimensions in a hand-written PNG header, a few bytes of pixels
        items.append((f"huge{i:03d}.png", f"PNG header {w}×{h}", png_bytes(w, h, b"\x00" * 64)))
    for i in range(10):  # zero-byte files
        items.append((f"empty{i:03d}{suffixes[i % len(suffixes)]}", "empty file", b""))
    wrong = [
        (".png", jpeg[: len(jpeg) // 3]),
        (".jpg", png[: len(png) // 3]),
        (".png", b"GIF89a" + bytes(20)),
        (".jpg", b"%PDF-1.4\n" + bytes(200)),
        (".bmp", b"BM" + bytes(10)),
        (".tif", b"II*\x00" + bytes(6)),
        (".webp", b"RIFF\x00\x00\x00\x00WEBP"),
        (".png", b"<html>not an image</html>"),
        (".jpg", "éèà unicode text".encode()),
        (".ppm", b"P6\n99999 99999\n255\n"),
    ]
    for i in range(20):  # a wrong extension: other formats' (broken) bytes or plain text
        suffix, data = wrong[i % len(wrong)]
        items.append((f"wrongext{i:03d}{suffix}", "wrong extension", data))
    for i in range(10):  # a file whose suffix is no image at all (given explicitly)
        suffix = [".txt", ".gif", ".exe", ".tflite", ""][i % 5]
        items.append(
            (
                f"notimage{i:03d}{suffix}",
                "not an image suffix",
                rng.integers(0, 256, 300, dtype=np.uint8).tobytes(),
            )
        )
    for i in range(6):  # videos that are not videos (empty, a truncated header, text)
        # (not random bytes: FFmpeg happily decodes a "frame" out of some random .mkv bytes)
        data = [b"", b"\x00\x00\x00\x18ftypmp42", b"not a video at all\n" * 200]
        items.append((f"video{i:03d}.{['mp4', 'avi', 'mkv'][i % 3]}", "broken video", data[i % 3]))
    for i in range(10):  # folders named like images, holding nothing usable
        items.append((f"folder{i:03d}.png", "directory", None))
    paths, kinds = [], []
    for name, kind, data in items:
        path = folder / name
        if data is None:
            path.mkdir()
            (path / "readme.txt").write_text("no images here")
        else:
            path.write_bytes(data)
        paths.append(path)
        kinds.append(kind)
    return paths, kinds


def test_two_hundred_malformed_inputs_each_fail_in_one_line_and_valid_ones_complete(tiny, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    bad, kinds = make_malformed(src)
    assert len(bad) >= 200
    rng = np.random.default_rng(1)
    good = []
    for name, data in [
        ("good0.png", _valid_png(rng)),
        ("good1.jpg", _valid_jpeg(rng)),
        ("good2.png", _valid_png(rng, 33, 17)),
        ("photo.txt", _valid_jpeg(rng)),
    ]:
        (src / name).write_bytes(data)
        good.append(src / name)
    # valid files first, in the middle and last, so a crash anywhere would show
    paths = [good[0], *bad[:100], good[1], good[3], *bad[100:], good[2]]
    out = tmp_path / "out"
    args = ["upscale", *map(str, paths), str(out), "--model", str(tiny)]
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3")
    code = f"import sys; from device.cli import main; sys.exit(main({args!r}))"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert done.returncode == 1, done.stderr[-3000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith(PREFIX)]
    for path, kind in zip(bad, kinds, strict=True):
        lines = [line for line in errors if f"{path}:" in line or f"{path} " in line]
        assert len(lines) == 1, (kind, path.name, lines)
        assert len(lines[0]) < 300, lines[0]  # one short, readable reason
    assert len(errors) == len(bad), [e for e in errors if not any(str(p) in e for p in bad)]
    expected = ["good0.png", "good1.jpg", "good2.png", "photo.png"]  # odd suffix → .png
    for path, name in zip(good, expected, strict=True):  # the valid ones were all completed
        with Image.open(out / name) as im, Image.open(path) as orig:
            assert im.size == (orig.width * 2, orig.height * 2)
    written = sorted(p.name for p in out.iterdir())
    assert written == expected, written  # no partial or temporary files


def _cli(args):
    from device.cli import main

    return main(args)


@pytest.fixture
def two_photos(tmp_path):
    rng = np.random.default_rng(2)
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("a.png", "b.jpg"):
        (folder / name).write_bytes(_valid_png(rng) if name.endswith("png") else _valid_jpeg(rng))
    return folder


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_input_is_one_line(tiny, two_photos, tmp_path, capsys):
    locked = two_photos / "locked.png"
    locked.write_bytes(_valid_png(np.random.default_rng(3)))
    locked.chmod(0)
    out = tmp_path / "out"
    assert _cli(["upscale", str(two_photos), str(out), "--model", str(tiny)]) == 1
    errors = [e for e in capsys.readouterr().err.splitlines() if e.startswith(PREFIX)]
    assert len(errors) == 1 and "locked.png" in errors[0] and "cannot read" in errors[0]
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.jpg"]


def test_output_folder_that_cannot_be_created_is_one_line_before_any_work(
    tiny, two_photos, tmp_path, capsys
):
    # Tests run as root, which ignores directory permissions: an output "folder" whose parent
    # is a regular file is unwritable for everyone. Known before anything is upscaled, so one
    # line and exit 2 for the whole request (1 is for batches where some files were written).
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    out = blocker / "out"
    assert _cli(["upscale", str(two_photos), str(out), "--model", str(tiny)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    errors = [e for e in err.splitlines() if e.startswith(PREFIX)]
    assert len(errors) == 1 and "blocker is a file" in errors[0], errors
    assert blocker.read_text() == "a file, not a folder"


def test_disk_full_mid_write_keeps_the_earlier_output_and_leaves_no_temp_file(
    tiny, two_photos, tmp_path, capsys, monkeypatch
):
    import errno

    out = tmp_path / "out"
    assert _cli(["upscale", str(two_photos), str(out), "--model", str(tiny)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    real_save = Image.Image.save

    def save_then_disk_full(self, fp, *args, **kwargs):
        real_save(self, fp, *args, **kwargs)
        with open(fp, "r+b") as f:  # the device filled up halfway through the file
            f.truncate(max(1, os.path.getsize(fp) // 2))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Image.Image, "save", save_then_disk_full)
    again = ["upscale", str(two_photos), str(out), "--model", str(tiny), "--overwrite"]
    assert _cli(again) == 2  # no file written: 1 is for a batch that wrote some
    errors = [e for e in capsys.readouterr().err.splitlines() if e.startswith(PREFIX)]
    assert len(errors) == 2 and all("No space left on device" in e for e in errors), errors
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # intact, no temp files
