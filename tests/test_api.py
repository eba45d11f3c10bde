"""The public API: `espcn_edge.Upscaler(...).upscale(frame, format=...)` on the frames picamera2,
OpenCV, numpy and Pillow give, in their own memory orders, with the shipped model.

Every format is checked against the RGB path (bit for bit: only the byte order differs), YUV420
against the camera pipeline's own planes with padded rows, and every wrong frame is one
FrameError line that names what to pass instead."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import espcn_edge
from espcn_edge import FrameError, Upscaler
from espcn_edge.formats import RGB_ORDER, from_rgb, yuv420_array, yuv420_planes
from espcn_edge.frames import Frame, super_resolve
from espcn_edge.imageio import load_rgb

H, W = 60, 80


@pytest.fixture(scope="module")
def up() -> Upscaler:
    return Upscaler(scale=2, tier="tiny", threads=1)


@pytest.fixture(scope="module")
def rgb() -> np.ndarray:
    return np.ascontiguousarray(load_rgb(espcn_edge.SAMPLES_DIR / "chelsea.png")[:H, :W])


def test_exported_and_documented():
    assert espcn_edge.Upscaler is Upscaler and "Upscaler" in espcn_edge.__all__
    assert Upscaler.upscale.__doc__ and "XBGR8888" in Upscaler.upscale.__doc__
    assert Upscaler(scale=3, variant="plain").scale == 3


@pytest.mark.parametrize("fmt", sorted(RGB_ORDER))
def test_every_rgb_format_gives_the_rgb_result_in_its_own_memory_order(up, rgb, fmt):
    want = up.upscale(rgb)
    frame = from_rgb(rgb, fmt)
    got = up.upscale(frame, format=fmt)
    assert got.shape == (2 * H, 2 * W, frame.shape[2]) and got.dtype == np.uint8
    assert np.array_equal(got, from_rgb(want, fmt))
    if fmt in ("RGB888", "BGR"):  # B,G,R in memory: OpenCV's and picamera2's RGB888
        assert np.array_equal(got[..., ::-1], want)
    if fmt == "XBGR8888":  # picamera2's default: R,G,B,255
        assert np.array_equal(got[..., :3], want) and (got[..., 3] == 255).all()


def test_an_rgba_array_keeps_its_alpha_and_xbgr_as_rgba_is_the_same_picture(up, rgb):
    alpha = np.full((H, W), 255, np.uint8)
    rgba = up.upscale(np.dstack([rgb, alpha]))
    assert rgba.shape == (2 * H, 2 * W, 4) and (rgba[..., 3] == 255).all()
    assert np.array_equal(rgba[..., :3], up.upscale(rgb))


def test_yuv420_with_padded_rows_is_the_camera_paths_frame(up, rgb):
    """A picamera2 YUV420 array (rows padded to 128 bytes): Y by the model and 4:2:0 chroma,
    as the camera pipeline makes them, back as an unpadded YUV420 array of twice the size."""
    frame = Frame.from_rgb(rgb)
    u, v = (np.ascontiguousarray(c[::2, ::2]) for c in (frame.cb, frame.cr))
    stride = 128
    padded = np.full((H * 3 // 2, stride), 0xA5, np.uint8)
    flat = padded.reshape(-1)
    flat[: H * stride].reshape(H, stride)[:, :W] = frame.y
    for i, plane in enumerate((u, v)):
        start = H * stride + i * (H // 2) * (stride // 2)
        flat[start : start + (H // 2) * (stride // 2)].reshape(H // 2, stride // 2)[:, : W // 2] = (
            plane
        )
    got = up.upscale(padded, format="YUV420", width=W)
    assert got.shape == (2 * H * 3 // 2, 2 * W)
    want = super_resolve(Frame(frame.y, u, v), up.upscale_y, 2).planes()
    for a, b in zip(yuv420_planes(got, 2 * W, 2 * H, 2 * W), want, strict=True):
        assert np.array_equal(a, b)
    assert np.array_equal(yuv420_array(*want), got)


def test_grey_and_pillow_images(up, rgb):
    grey = np.ascontiguousarray(rgb[..., 1])
    assert np.array_equal(up.upscale(grey), up.upscale_y(grey))
    image = up.upscale(Image.fromarray(rgb))
    assert image.mode == "RGB" and image.size == (2 * W, 2 * H)
    assert np.array_equal(np.asarray(image), up.upscale(rgb))
    assert up.upscale(Image.fromarray(grey)).mode == "L"


@pytest.mark.parametrize(
    "frame, fmt, says",
    [
        (np.zeros((H, W, 4), np.uint8), "RGB888", "not a RGB888 frame"),
        (np.zeros((H, W, 3), np.uint8), "XBGR8888", "not a XBGR8888 frame"),
        (np.zeros((H, W, 3), np.float32), None, "uint8"),
        (np.zeros((H, W, 5), np.uint8), None, "give format="),
        (np.zeros((H, W, 3), np.uint8), "NV12", "unknown format"),
        (np.zeros((H + 1, W), np.uint8), "YUV420", "not a YUV420 frame"),
    ],
)
def test_a_wrong_frame_is_one_line_naming_what_to_pass(up, frame, fmt, says):
    with pytest.raises(FrameError, match=says) as caught:
        up.upscale(frame, format=fmt)
    assert "\n" not in str(caught.value)


def test_upscale_rgb_refuses_four_channels_at_every_size(up):
    """picamera2's XBGR8888 given to upscale_rgb: one line pointing to upscale(format=…), small
    or large (above 1280×960 output it once returned 4 channels silently)."""
    for h, w in ((240, 320), (700, 700)):
        with pytest.raises(FrameError, match="use upscale\\(frame, format="):
            up.upscale_rgb(np.zeros((h, w, 4), np.uint8))
