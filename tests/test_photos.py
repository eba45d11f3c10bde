"""`espcn-edge upscale` on the photos users bring: a 12 MP camera JPEG (EXIF orientation, ICC
profile) in bounded memory, alpha, greyscale and 16-bit PNGs, JPEG/WebP quality, and reruns
that never read their own outputs or replace a file without --overwrite."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import png16_rgb
from fakes import tiny_model
from fakes.photo import MAKE, MODEL, camera_jpeg, srgb_profile
from PIL import Image

from device import upscale
from device.cli import main as cli
from device.engine import CommandError
from espcn_edge.color import resize_bicubic
from espcn_edge.imageio import decode_photo, load_photo
from espcn_edge.runtime import Upscaler

ROOT = Path(__file__).parents[1]
NO_TF = "import sys; sys.modules['tensorflow'] = None; sys.modules['keras'] = None; "
HQ_CAMERA = (4056, 3040)  # a Raspberry Pi HQ camera still: 12.3 MP
MAX_RSS_MB = 700


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return tiny_model.session_model(tmp_path_factory)


def _exif(im: Image.Image) -> tuple[dict, dict]:
    exif = im.getexif()
    return dict(exif), dict(exif.get_ifd(0x8769))


def test_12_mp_camera_jpeg_comes_out_upright_with_its_metadata_in_bounded_memory(tmp_path):
    """orientation 6 (turn 90° clockwise to view), EXIF make/model, an sRGB profile; ×2 with the
    shipped model in a subprocess whose peak RSS (VmHWM) the kernel reports."""
    src = camera_jpeg(tmp_path / "still.jpg", *HQ_CAMERA, orientation=6)
    dst = tmp_path / "still_x2.jpg"
    code = NO_TF + (
        "from device.cli import main; "
        f"status = main({['upscale', str(src), '--scale', '2']!r}); "
        # the process's own high-water mark: getrusage's ru_maxrss would include this test
        # process's, inherited through vfork + exec
        "print('peak_rss_kb', open('/proc/self/status').read().split('VmHWM:')[1].split()[0]); "
        "sys.exit(status)"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    peak_mb = int(done.stdout.split("peak_rss_kb")[1].split()[0]) / 1024
    print(f"12 MP ×2 upscale: peak RSS {peak_mb:.0f} MB")
    assert peak_mb <= MAX_RSS_MB
    with Image.open(dst) as out:
        w, h = HQ_CAMERA
        assert out.size == (2 * h, 2 * w)  # upright: portrait
        tags, exif_ifd = _exif(out)
        assert tags.get(0x0112, 1) == 1 and tags[0x010F] == MAKE and tags[0x0110] == MODEL
        assert exif_ifd[0xA002] == 2 * h and exif_ifd[0xA003] == 2 * w
        assert out.info["icc_profile"] == Image.open(src).info["icc_profile"]
        out.draft("RGB", (out.width // 8, out.height // 8))  # decode at 1/8: cheap
        small = np.asarray(out.convert("RGB").resize((h // 4, w // 4)), np.float32)
    with Image.open(src) as im:
        im.draft("RGB", (w // 4, h // 4))
        stored = np.asarray(im.convert("RGB").resize((w // 4, h // 4)), np.float32)
    upright = np.rot90(stored, k=-1)  # orientation 6: 90° clockwise
    assert np.abs(small - upright).mean() < 4
    assert np.abs(small - np.rot90(stored, k=1)).mean() > 4 * np.abs(small - upright).mean()


def _png(path: Path, array: np.ndarray, **kw) -> Path:
    Image.fromarray(array).save(path, **kw)
    return path


@pytest.fixture
def rgb() -> np.ndarray:
    with Image.open(ROOT / "espcn_edge" / "samples" / "chelsea.png") as im:
        return np.asarray(im.convert("RGB"))[:60, :80].copy()


def test_rgba_keeps_alpha_upscaled_with_bicubic(tiny, tmp_path, rgb):
    alpha = np.zeros(rgb.shape[:2], np.uint8)
    alpha[10:50, 20:70] = 255
    src = _png(tmp_path / "logo.png", np.dstack([rgb, alpha]))
    assert cli(["upscale", str(src), "--model", str(tiny)]) == 0
    with Image.open(tmp_path / "logo_x2.png") as out:
        assert out.mode == "RGBA"
        got = np.asarray(out)
    up = Upscaler(tiny)
    assert np.array_equal(got[..., :3], up.upscale_rgb(rgb))
    assert np.array_equal(got[..., 3], resize_bicubic(alpha, (160, 120)))


def test_transparent_palette_and_grey_alpha_keep_their_alpha(tiny, tmp_path, rgb):
    grey = np.asarray(Image.fromarray(rgb).convert("L"))
    palette = Image.fromarray(rgb).quantize(16)
    palette.info["transparency"] = 0
    palette.save(tmp_path / "p.png", transparency=0)
    _png(tmp_path / "la.png", np.dstack([grey, np.full_like(grey, 200)]))
    assert cli(["upscale", str(tmp_path), "-o", str(tmp_path / "out"), "--model", str(tiny)]) == 0
    with Image.open(tmp_path / "out" / "p.png") as p, Image.open(tmp_path / "out" / "la.png") as la:
        assert p.mode == "RGBA" and la.mode == "LA" and la.size == (160, 120)
        assert (np.asarray(la)[..., 1] == 200).all()


def test_greyscale_stays_one_channel(tiny, tmp_path, rgb):
    grey = np.asarray(Image.fromarray(rgb).convert("L"))
    src = _png(tmp_path / "scan.png", grey)
    assert cli(["upscale", str(src), str(tmp_path / "scan2.jpg"), "--model", str(tiny)]) == 0
    assert cli(["upscale", str(src), "--model", str(tiny)]) == 0
    with Image.open(tmp_path / "scan_x2.png") as png, Image.open(tmp_path / "scan2.jpg") as jpg:
        assert png.mode == "L" and jpg.mode == "L"
        assert np.array_equal(np.asarray(png), Upscaler(tiny).upscale_y(grey))


def test_16_bit_inputs_are_written_as_8_bit_and_said_once(tiny, tmp_path, rgb, capsys):
    grey16 = np.asarray(Image.fromarray(rgb).convert("L")).astype(np.uint16) * 257
    _png(tmp_path / "deep_grey.png", grey16)
    (tmp_path / "deep_rgb.png").write_bytes(png16_rgb(rgb.astype(np.uint16) * 257))
    assert load_photo(tmp_path / "deep_rgb.png").bits == 16
    assert cli(["upscale", str(tmp_path), "--model", str(tiny)]) == 0
    captured = capsys.readouterr()
    notes = [line for line in captured.err.splitlines() if "8 bits" in line]
    assert len(notes) == 1 and notes[0].startswith("espcn-edge upscale: note:")
    assert captured.out.count("16-bit read as 8-bit") == 2
    out = tmp_path.with_name(f"{tmp_path.name}_x2")
    with Image.open(out / "deep_grey.png") as g, Image.open(out / "deep_rgb.png") as c:
        assert (g.mode, c.mode) == ("L", "RGB") and g.size == c.size == (160, 120)


def test_exif_and_icc_are_kept_in_png_and_webp_and_cmyk_profiles_dropped(tiny, tmp_path):
    src = camera_jpeg(tmp_path / "cam.jpg", 64, 48, orientation=8)
    icc = Image.open(src).info["icc_profile"]
    for out_name in ("cam.png", "cam.webp", "cam.jpg"):
        out = tmp_path / "out" / out_name
        assert cli(["upscale", str(src), str(out), "--model", str(tiny)]) == 0
        with Image.open(out) as im:
            tags, _ = _exif(im)
            assert im.size == (96, 128), out_name  # orientation 8: turned, upright
            assert tags[0x010F] == MAKE and tags.get(0x0112, 1) == 1, out_name
            assert im.info.get("icc_profile") == icc, out_name
    cmyk = io.BytesIO()
    cmyk_icc = bytearray(srgb_profile())
    cmyk_icc[16:20] = b"CMYK"  # a profile whose data colour space is CMYK
    Image.new("CMYK", (8, 8), (0, 0, 0, 0)).save(cmyk, "JPEG", icc_profile=bytes(cmyk_icc))
    photo = decode_photo(cmyk.getvalue(), "cmyk.jpg")
    assert photo.mode == "RGB" and photo.icc is None


def test_alpha_into_jpeg_is_composited_on_white(tiny, tmp_path, rgb):
    rgba = np.dstack([rgb, np.zeros(rgb.shape[:2], np.uint8)])  # fully transparent
    src = _png(tmp_path / "clear.png", rgba)
    assert cli(["upscale", str(src), str(tmp_path / "clear.jpg"), "--model", str(tiny)]) == 0
    with Image.open(tmp_path / "clear.jpg") as im:
        assert im.mode == "RGB" and np.asarray(im).min() > 245


@pytest.mark.parametrize("suffix", [".jpg", ".webp"])
def test_quality_sets_jpeg_and_webp_size(tiny, tmp_path, rgb, suffix):
    src = _png(tmp_path / "a.png", rgb)
    sizes = {}
    for q in (30, 95):
        out = tmp_path / f"q{q}{suffix}"
        assert cli(["upscale", str(src), str(out), "--quality", str(q), "--model", str(tiny)]) == 0
        sizes[q] = out.stat().st_size
    assert sizes[30] < sizes[95] * 0.7


def test_quality_out_of_range_is_one_line(tiny, tmp_path, rgb, capsys):
    src = _png(tmp_path / "a.png", rgb)
    assert cli(["upscale", str(src), "--quality", "0", "--model", str(tiny)]) == 2
    assert capsys.readouterr().err.strip() == "espcn-edge upscale: --quality 0: use 1 to 100"


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_rerun_in_out_refuses_without_overwrite_and_writes_nothing(tiny, tmp_path, rgb, capsys):
    src = _png(tmp_path / "photo.png", rgb)
    argv = ["upscale", str(src), "-o", str(tmp_path / "photo_x2.png"), "--model", str(tiny)]
    assert cli(argv) == 0
    first = _files(tmp_path)
    capsys.readouterr()
    assert cli(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "photo_x2.png: already exists" in err[0] and "--overwrite" in err[0]
    assert _files(tmp_path) == first  # no photo_x2_x2.png, nothing touched
    assert cli([*argv, "--overwrite"]) == 0
    assert _files(tmp_path).keys() == first.keys()


def test_an_existing_photo_is_never_the_output_of_the_two_path_form(tiny, tmp_path, rgb, capsys):
    """`upscale *.jpg --overwrite` in a folder of two photos is `upscale a.png b.png
    --overwrite`: b.png, a photo of the user's, would be replaced by a's upscale."""
    for name in ("a.png", "b.png"):
        _png(tmp_path / name, rgb)
    before = _files(tmp_path)
    for extra in ([], ["--overwrite"]):
        argv = ["upscale", str(tmp_path / "a.png"), str(tmp_path / "b.png"), *extra]
        assert cli([*argv, "--model", str(tiny)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "b.png: the last path is the output" in err[0] and "-o" in err[0]
        assert _files(tmp_path) == before


def test_several_inputs_into_a_file_name_is_one_line(tiny, tmp_path, rgb, capsys):
    for name in ("a.png", "b.png"):
        _png(tmp_path / name, rgb)
    before = _files(tmp_path)
    argv = ["upscale", "-o", str(tmp_path / "one.jpg"), str(tmp_path / "a.png")]
    assert cli([*argv, str(tmp_path / "b.png"), "--model", str(tiny)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "one.jpg: several inputs or a folder need an output folder" in err[0]
    assert _files(tmp_path) == before  # no folder named one.jpg


def test_one_existing_output_among_several_blocks_all_of_them(tiny, tmp_path, rgb, capsys):
    for name in ("a.png", "b.png"):
        _png(tmp_path / name, rgb)
    (tmp_path / "b_x2.png").write_bytes(b"keep me")
    argv = ["upscale", str(tmp_path / "a.png"), str(tmp_path / "b.png"), "-o", str(tmp_path)]
    assert cli([*argv, "--model", str(tiny)]) == 2
    assert not (tmp_path / "a_x2.png").exists() and (tmp_path / "b_x2.png").read_bytes() == (
        b"keep me"
    )


def test_rerun_into_the_input_folder_reads_the_same_inputs(tiny, tmp_path, rgb):
    shots = tmp_path / "shots"
    shots.mkdir()
    for name in ("a.png", "b.jpg"):
        _png(shots / name, rgb)
    argv = ["upscale", str(shots), "-o", str(shots), "--model", str(tiny), "--overwrite"]
    assert cli(argv) == 0
    first = sorted(p.name for p in shots.iterdir())
    assert first == ["a.png", "a_x2.png", "b.jpg", "b_x2.jpg"]
    assert cli(argv) == 0
    assert sorted(p.name for p in shots.iterdir()) == first  # no a_x2_x2.png


def test_plan_rules(tmp_path):
    for name in ("a.png", "b.png"):
        (tmp_path / name).write_bytes(b"")
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    with pytest.raises(CommandError, match="the last path is the output"):
        upscale.plan([a, b], None, 2, overwrite=True)  # b is a photo, not named with -o
    jobs = upscale.plan([a], b, 2, overwrite=True)  # -o b.png: replacing it is asked for
    assert [(j.src, j.dst) for j in jobs] == [(a, b)]
    with pytest.raises(CommandError, match="is a file"):
        upscale.plan([a, b], tmp_path / "a.png", 2)  # several inputs need a folder
    other = tmp_path / "other"
    other.mkdir()
    (other / "a.png").write_bytes(b"")
    with pytest.raises(CommandError, match="both"):
        upscale.plan([a, other / "a.png"], tmp_path / "out", 2)
    (tmp_path / ".a.png.abcd1234.png").write_bytes(b"")  # a temporary file left by a kill
    jobs = upscale.plan([tmp_path], None, 2)
    assert [j.src.name for j in jobs] == ["a.png", "b.png"]


def test_tile_option_gives_the_same_file(tiny, tmp_path, rgb):
    src = _png(tmp_path / "a.png", np.tile(rgb, (3, 3, 1)))
    outs = []
    for tile in ("0", "64", "80"):  # below 64 is refused: the overlap would cost more
        out = tmp_path / f"t{tile}.png"
        assert cli(["upscale", str(src), str(out), "--tile", tile, "--model", str(tiny)]) == 0
        outs.append(np.asarray(Image.open(out)))
    assert all(np.array_equal(outs[0], o) for o in outs[1:])
