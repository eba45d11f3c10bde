"""A fake of the parts of libcamera's Python bindings that picamera2 users touch (ColorSpace,
Transform), for tests without a camera."""

from __future__ import annotations

import enum


class ColorSpace:
    class Primaries(enum.Enum):
        Raw = 0
        Smpte170m = 1
        Rec709 = 2

    class TransferFunction(enum.Enum):
        Linear = 0
        Srgb = 1
        Rec709 = 2

    class YcbcrEncoding(enum.Enum):
        Null = 0
        Rec601 = 1
        Rec709 = 2

    class Range(enum.Enum):
        Full = 0
        Limited = 1

    def __init__(self, primaries, transfer_function=None, ycbcr_encoding=None, range_=None):
        if isinstance(primaries, ColorSpace):  # copy constructor, as in the bindings
            primaries, transfer_function, ycbcr_encoding, range_ = primaries._key()
        self.primaries = primaries
        self.transferFunction = transfer_function
        self.ycbcrEncoding = ycbcr_encoding
        self.range = range_

    def _key(self):
        return (self.primaries, self.transferFunction, self.ycbcrEncoding, self.range)

    def __eq__(self, other):
        return isinstance(other, ColorSpace) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        return f"<libcamera.ColorSpace '{self.primaries.name}/{self.range.name}'>"

    @staticmethod
    def Sycc():
        cs = ColorSpace
        return cs(
            cs.Primaries.Rec709, cs.TransferFunction.Srgb, cs.YcbcrEncoding.Rec601, cs.Range.Full
        )

    @staticmethod
    def Smpte170m():
        cs = ColorSpace
        return cs(
            cs.Primaries.Smpte170m,
            cs.TransferFunction.Rec709,
            cs.YcbcrEncoding.Rec601,
            cs.Range.Limited,
        )

    @staticmethod
    def Rec709():
        cs = ColorSpace
        return cs(
            cs.Primaries.Rec709,
            cs.TransferFunction.Rec709,
            cs.YcbcrEncoding.Rec709,
            cs.Range.Limited,
        )


class Transform:
    def __init__(self, hflip: int = 0, vflip: int = 0, transpose: int = 0):
        self.hflip, self.vflip, self.transpose = hflip, vflip, transpose
