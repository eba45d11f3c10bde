"""Frame sources behind one interface (`Source`: start / read / stop), chosen by a spec string."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from .demo import DemoSource
from .images import ImagesSource
from .opencv import WebcamSource
from .picamera2 import Picamera2Source
from .source import Source, SourceError
from .video import Clip, VideoSource

SPECS_HELP = "auto, picamera2[:N], webcam[:N], video:PATH, images:DIR, demo"

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
    "SPECS_HELP",
]


def _number(kind: str, arg: str) -> int:
    if not arg:
        return 0
    if not arg.isdigit():
        raise SourceError(f"{kind}:{arg}: expected a camera number, e.g. {kind}:0")
    return int(arg)


def open_source(spec: str, size: tuple[int, int] | None = None, fps: float | None = None) -> Source:
    """Make (not start) the source `spec` names. `auto` is picamera2 on a Pi, else demo."""
    kind, _, arg = spec.partition(":")
    if kind == "auto":
        kind = "picamera2" if importlib.util.find_spec("picamera2") else "demo"
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
