"""What CPU a speed figure was measured on: model, cores and the SIMD features that decide int8
speed (x86 AVX-512 VNNI / AVX2, Arm dot product / i8mm). Every benchmark prints this first."""

from __future__ import annotations

import os
import platform
from pathlib import Path

# the features that change int8 convolution throughput by several times
SIMD_FEATURES = ("avx512_vnni", "avx_vnni", "avx512f", "avx2", "asimddp", "i8mm", "asimd", "neon")
# an int8 dot product (x86 VNNI; Arm's, which a Pi 5 has and a Pi 4 lacks): the two CPU classes
DOT_PRODUCT_FEATURES = ("avx512_vnni", "avx_vnni", "asimddp", "i8mm")


def cpu_info(cpuinfo: str | None = None) -> dict:
    """{"model", "machine", "cores", "simd": [features of SIMD_FEATURES present]}."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo = ""
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip().lower(), value.strip())
    flags = set((fields.get("flags") or fields.get("features") or "").split())
    model = fields.get("model name") or _arm_model(fields) or platform.processor() or "unknown"
    return {
        "model": model,
        "machine": platform.machine(),
        "cores": os.cpu_count() or 1,
        "simd": [f for f in SIMD_FEATURES if f in flags],
    }


def _arm_model(fields: dict[str, str]) -> str | None:
    """Arm kernels give no model name: the board (a Pi's 'Model' line, else the device tree)
    and the core named from its part number."""
    board = fields.get("model")
    if not board:
        try:
            board = Path("/proc/device-tree/model").read_text().rstrip("\x00")
        except OSError:
            board = None
    part = {"0xd08": "Cortex-A72", "0xd0b": "Cortex-A76", "0xd03": "Cortex-A53"}.get(
        fields.get("cpu part", "")
    )
    return " / ".join(x for x in (board, part) if x) or None


def has_int8_dot_product(info: dict | None = None) -> bool:
    """Whether the CPU multiplies int8 by dot product: the speed goals differ by it."""
    return any(f in (info or cpu_info())["simd"] for f in DOT_PRODUCT_FEATURES)


def describe(info: dict | None = None) -> str:
    """One line, e.g. 'AMD EPYC (x86_64), 2 cores, avx2'."""
    info = info or cpu_info()
    simd = ", ".join(info["simd"]) or "no int8 SIMD extensions found"
    return f"{info['model']} ({info['machine']}), {info['cores']} cores, {simd}"
