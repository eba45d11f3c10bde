"""Stand-in for Raspberry Pi OS's python3-kms++ (in neither Debian nor PyPI), for the emulated Pi.

picamera2 imports it for its DRM preview, whose class body reads pixel formats
(`pykms.PixelFormat.NV12`, …); nothing here can drive a display, and any other name fails on use.
"""


class _AnyFormat(type):
    def __getattr__(cls, name: str) -> str:
        return name


class PixelFormat(metaclass=_AnyFormat):
    """Every pixel format picamera2 names, as its name."""


def __getattr__(name: str):
    raise AttributeError(f"pykms.{name}: the emulated Pi has no DRM display")
