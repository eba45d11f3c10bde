"""Image loading: every awkward file becomes RGB uint8 or one ImageError naming the file;
saving is atomic and leaves an ordinary file behind."""

from __future__ import annotations

import io
import os
import stat
import time

import numpy as np
import pytest
from conftest import T91, png_bytes, read_rgb
from PIL import Image

from espcn_edge.atomic import atomic_path, write_text
from espcn_edge.imageio import ImageError, decode_rgb, list_images, load_rgb, save_rgb


@pytest.fixture
def bad(bad_images_dir):
    folder = bad_images_dir()
    h, w = bad_images_dir.size
    source = read_rgb(sorted(T91.glob("*.png"))[3])[:h, :w]  # the photo the odd files were made of
    return folder, source


def _assert_rgb(img: np.ndarray, shape: tuple[int, int]) -> None:
    assert img.dtype == np.uint8 and img.shape == (*shape, 3)


def test_good_images_load_unchanged(bad):
    folder, _ = bad
    for path in sorted(folder.glob("good_*.png")):
        assert np.array_equal(load_rgb(path), read_rgb(path))


def test_cmyk_jpeg_becomes_close_rgb(bad):
    folder, source = bad
    img = load_rgb(folder / "cmyk.jpg")
    _assert_rgb(img, source.shape[:2])
    # JPEG at quality 95: a few levels of error, not an inverted or channel-swapped image
    assert np.abs(img.astype(int) - source).mean() < 3


def test_16_bit_greyscale_png_is_scaled_to_8_bits(bad):
    folder, source = bad
    img = load_rgb(folder / "deep16.png")
    _assert_rgb(img, source.shape[:2])
    grey = np.asarray(Image.fromarray(source).convert("L"))
    for c in range(3):
        assert np.array_equal(img[..., c], grey)


def test_16_bit_rgb_png_keeps_its_colours(bad):
    folder, source = bad
    assert np.array_equal(load_rgb(folder / "deep16_rgb.png"), source)


def test_dark_16_bit_png_is_not_mistaken_for_8_bit(tmp_path):
    """Values ≤ 255 in a 16-bit file are near-black, not full-scale 8-bit values."""
    plane = np.arange(256, dtype=np.uint16).reshape(16, 16)
    Image.fromarray(plane).save(tmp_path / "dark16.png")
    assert load_rgb(tmp_path / "dark16.png").max() <= 1


def test_palette_png_becomes_its_colours(bad):
    folder, source = bad
    assert np.array_equal(load_rgb(folder / "palette.png"), source // 64 * 64 + 32)


def test_rgba_png_is_composited_on_white(bad):
    folder, source = bad
    img = load_rgb(folder / "rgba.png")
    h, w = source.shape[:2]
    transparent = np.zeros((h, w), bool)
    transparent[: h // 4, : w // 4] = True
    assert (img[transparent] == 255).all()
    assert np.array_equal(img[~transparent], source[~transparent])


def test_greyscale_png_becomes_three_equal_channels(bad):
    folder, source = bad
    img = load_rgb(folder / "grey.png")
    grey = np.asarray(Image.fromarray(source).convert("L"))
    assert all(np.array_equal(img[..., c], grey) for c in range(3))


@pytest.mark.parametrize(
    "name",
    ["truncated.png", "truncated.jpg", "empty.png", "notes.jpg", "folder.png", "missing.png"],
)
def test_unusable_file_raises_one_line_error_naming_it(bad, name):
    folder, _ = bad
    with pytest.raises(ImageError) as e:
        load_rgb(folder / name)
    message = str(e.value)
    assert str(folder / name) in message and "\n" not in message


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_any_truncation_gives_an_image_or_image_error(sample_rgb, fmt):
    """No truncated file may escape as another exception type (zlib, struct, …)."""
    buf = io.BytesIO()
    Image.fromarray(sample_rgb[:48, :48]).save(buf, fmt)
    data = buf.getvalue()
    for n in range(0, len(data), max(1, len(data) // 120)):
        try:
            img = decode_rgb(data[:n], f"cut{n}")
        except ImageError as e:
            assert f"cut{n}" in str(e)
        else:
            assert img.shape == (48, 48, 3)


@pytest.mark.parametrize("size", [(100_000, 100_000), (9000, 9000), (65_535, 3)])
def test_huge_header_dimensions_are_refused_before_decoding(size):
    width, height = size
    start = time.perf_counter()
    with pytest.raises(ImageError, match="bomb.png"):
        decode_rgb(png_bytes(width, height), "bomb.png")
    assert time.perf_counter() - start < 1.0  # refused from the header, nothing allocated


def test_a_large_but_legal_image_still_loads():
    img = decode_rgb(png_bytes(3000, 1, b"\x00" + bytes(3000 * 3)), "wide.png")
    assert img.shape == (1, 3000, 3)


def test_list_images_filters_by_suffix_case_insensitively_and_sorts(tmp_path):
    for name in ["b.PNG", "a.jpg", "c.JPEG", "notes.txt", "d.webp", ".hidden"]:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "e.png").write_bytes(b"x")
    assert [p.name for p in list_images(tmp_path)] == ["a.jpg", "b.PNG", "c.JPEG", "d.webp"]


def test_save_rgb_png_round_trip_and_jpeg_close(tmp_path, sample_rgb):
    save_rgb(tmp_path / "x.png", sample_rgb)
    assert np.array_equal(read_rgb(tmp_path / "x.png"), sample_rgb)
    save_rgb(tmp_path / "x.jpg", sample_rgb, quality=95)
    assert Image.open(tmp_path / "x.jpg").format == "JPEG"
    assert np.abs(read_rgb(tmp_path / "x.jpg").astype(int) - sample_rgb).mean() < 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.jpg", "x.png"]  # no temp files left


def test_atomic_write_gets_the_usual_file_mode(tmp_path):
    """A model or card written atomically must be readable like any other file (not 0600)."""
    umask = os.umask(0o022)
    os.umask(umask)
    write_text(tmp_path / "card.json", "{}")
    (tmp_path / "plain.json").write_text("{}")
    mode = stat.S_IMODE((tmp_path / "card.json").stat().st_mode)
    assert mode == stat.S_IMODE((tmp_path / "plain.json").stat().st_mode) == 0o666 & ~umask


def test_atomic_overwrite_keeps_the_old_files_mode(tmp_path):
    target = tmp_path / "model.keras"
    target.write_bytes(b"old")
    target.chmod(0o640)
    write_text(target, "new")
    assert target.read_text() == "new" and stat.S_IMODE(target.stat().st_mode) == 0o640


def test_failed_atomic_write_leaves_the_old_file_and_no_temp(tmp_path):
    target = tmp_path / "best.keras"
    target.write_text("old model")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        assert tmp.suffix == ".keras" and tmp.parent == tmp_path
        tmp.write_text("half a mod")
        raise RuntimeError("killed while writing")
    assert target.read_text() == "old model"
    assert [p.name for p in tmp_path.iterdir()] == ["best.keras"]


def test_reading_leaves_pillows_own_limits_to_the_caller(tmp_path, monkeypatch):
    """The library checks sizes itself; a caller's Pillow settings (its decompression-bomb
    limit, its choice about truncated files) are not switched off by reading through it."""
    from PIL import Image, ImageFile

    from espcn_edge.imageio import load_rgb

    Image.new("RGB", (8, 6)).save(tmp_path / "a.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 89_478_485)
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    assert load_rgb(tmp_path / "a.png").shape == (6, 8, 3)
    assert Image.MAX_IMAGE_PIXELS == 89_478_485 and ImageFile.LOAD_TRUNCATED_IMAGES is True
