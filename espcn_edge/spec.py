"""Model specification: the kernel sizes and widths of the seven-layer ESPCN, and its cost.

Layers 1–6 are feature extractors (kernel f_l, width n_l, tanh); layer 7 is the sub-pixel
convolution (kernel f7, r² filters, sigmoid) followed by depth-to-space. With ``skip`` the
network adds an image-space identity path (sigmoid − 0.5 + the LR input repeated r² times,
clipped to [0, 1]) that keeps it accurate after int8 quantization.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import UserError

# int8 models quantize each pre-tanh tensor over at most ±PRE_TANH_RANGE: tanh(2) = 0.964, so
# the clamp changes little while the 256 levels land where tanh is not flat. Quantization-aware
# training simulates it and the converter writes it into the .tflite (docs/convert.md).
PRE_TANH_RANGE = 2.0


class SpecError(UserError, ValueError):
    """A spec string or name that is not a seven-layer ESPCN."""


@dataclass(frozen=True)
class ModelSpec:
    name: str
    kernels: tuple[int, int, int, int, int, int, int]  # f1 … f7
    widths: tuple[int, int, int, int, int, int]  # n1 … n6
    skip: bool = True

    def __post_init__(self):
        if len(self.kernels) != 7 or len(self.widths) != 6:
            raise SpecError(f"spec {self.name!r}: needs 7 kernel sizes and 6 widths")
        if any(k < 1 or k % 2 == 0 for k in self.kernels) or any(n < 1 for n in self.widths):
            raise SpecError(f"spec {self.name!r}: kernels must be odd and ≥ 1, widths ≥ 1")

    def _layers(self, scale: int) -> list[tuple[int, int, int]]:
        """(kernel, in_channels, out_channels) per conv layer."""
        ins = (1, *self.widths)
        outs = (*self.widths, scale * scale)
        return list(zip(self.kernels, ins, outs, strict=True))

    def params(self, scale: int) -> int:
        return sum(k * k * cin * cout + cout for k, cin, cout in self._layers(scale))

    def macs_per_lr_pixel(self, scale: int) -> int:
        """Multiply-accumulates per low-resolution input pixel."""
        return sum(k * k * cin * cout for k, cin, cout in self._layers(scale))

    def to_string(self) -> str:
        """Compact form accepted by `parse_spec`, e.g. ``5:32,3:32,3:16,3:16,3:16,3:16,3+skip``."""
        body = ",".join(f"{k}:{n}" for k, n in zip(self.kernels, self.widths, strict=False))
        return f"{body},{self.kernels[6]}" + ("+skip" if self.skip else "")

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "kernels": list(self.kernels),
            "widths": list(self.widths),
            "skip": self.skip,
        }


def parse_spec(text: str, name: str | None = None) -> ModelSpec:
    """A named spec (see SPECS) or ``f1:n1,…,f6:n6,f7`` with an optional ``+skip`` suffix."""
    if text in SPECS:
        return SPECS[text]
    m = re.fullmatch(r"((?:\d+:\d+,){6})(\d+)(\+skip)?", text.replace(" ", ""))
    if not m:
        known = ", ".join(SPECS)
        raise SpecError(f"unknown spec {text!r}: use one of {known} or 'f1:n1,…,f6:n6,f7[+skip]'")
    pairs = [tuple(int(v) for v in p.split(":")) for p in m.group(1).rstrip(",").split(",")]
    kernels = tuple(k for k, _ in pairs) + (int(m.group(2)),)
    widths = tuple(n for _, n in pairs)
    return ModelSpec(name or text, kernels, widths, skip=bool(m.group(3)))


SPECS: dict[str, ModelSpec] = {}
for _name, _text in {
    # the seed network the issues were measured on, without and with the identity path
    "seed": "5:32,3:32,3:16,3:16,3:16,3:16,3",
    "seed-skip": "5:32,3:32,3:16,3:16,3:16,3:16,3+skip",
    # the tiers' networks (espcn_edge/tiers.py); the studies' other candidates are named in
    # benchmarks/common.py (STUDY_CANDIDATES)
    "k3-8": "3:8,3:8,3:8,3:8,3:8,3:8,3+skip",
    "k5-16": "5:16,3:16,3:16,3:16,3:16,3:16,3+skip",
    # quality's candidate: ABPN's width 28 at ABPN's cost (≤ 42,300 MAC/LR px at ×3)
    "k5-28": "5:28,3:28,3:28,3:28,3:28,3:28,3+skip",
}.items():
    SPECS[_name] = parse_spec(_text, name=_name)
