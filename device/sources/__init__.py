"""Frame sources behind one interface (`Source`: start / read / stop), chosen by a spec string."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

from .demo import DemoSource
from .images import ImagesSource
from .opencv import WebcamSource
from .picamera2 import INSTALL_HINT, Picamera2Source
from .source import Source, SourceError
from .video import Clip, VideoSource

SPECS_HELP = "auto, picamera2[:N], webcam[:N], video:PATH, images:DIR, demo"
DEVICE_TREE_MODEL = Path("/proc/device-tree/model")  # "Raspberry Pi 4 Model B Rev 1.4\0"

log = logging.getLogger(__name__)

__all__ = [
    "Clip",
    "DemoSource",
    "ImagesSource",
    "Picamera2Source",
    "Source",
    "SourceError",
    "VideoSource",
    "WebcamSource",
    "open_source",
    "source_path",
    "SPECS_HELP",
]


def _number(kind: str, arg: str) -> int:
    if not arg:
        return 0
    if not arg.isdigit():
        raise SourceError(f"{kind}:{arg}: expected a camera number, e.g. {kind}:0")
    return int(arg)


def raspberry_pi_model() -> str | None:
    """The board's name when this is a Raspberry Pi (from the device tree), else None."""
    try:
        model = DEVICE_TREE_MODEL.read_bytes().rstrip(b"\0").decode(errors="replace")
    except OSError:
        return None
    return model if model.startswith("Raspberry Pi") else None


def _auto() -> str:
    """picamera2 where it can be imported; on a Pi without it a service must not stream sample
    photos for ever, so that is an error; elsewhere the demo frames, said loudly."""
    if importlib.util.find_spec("picamera2"):
        return "picamera2"
    if pi := raspberry_pi_model():
        raise SourceError(
            f"--source auto on a {pi}, but picamera2 cannot be imported: {INSTALL_HINT} "
            "(or pass --source demo to stream the built-in frames)"
        )
    log.warning("--source auto: no picamera2 here, streaming the built-in DEMO frames")
    return "demo"


def source_path(spec: str) -> Path | None:
    """The file or folder a `video:PATH` or `images:DIR` source reads (None for a camera)."""
    kind, _, arg = spec.partition(":")
    return Path(arg) if kind in ("video", "images") and arg else None


def open_source(spec: str, size: tuple[int, int] | None = None, fps: float | None = None) -> Source:
    """Make (not start) the source `spec` names. `auto` is picamera2 on a Pi, else demo."""
    kind, _, arg = spec.partition(":")
    if kind == "auto":
        kind = _auto()
    if kind == "picamera2":
        return Picamera2Source(size, camera_num=_number(kind, arg), fps=fps)
    if kind == "webcam":
        return WebcamSource(_number(kind, arg), size=size)
    if kind == "video" and arg:
        return VideoSource(Path(arg), size=size)
    if kind == "images" and arg:
        return ImagesSource(Path(arg), size=size, fps=fps)
    if kind == "demo" and not arg:
        return DemoSource(size, fps=fps or 30.0)
    raise SourceError(f"unknown source {spec!r}: use one of {SPECS_HELP}")
