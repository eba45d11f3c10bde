"""Mixed precision for training (`train.fit --mixed-precision`, auto by default): float16 on a
GPU, bfloat16 on a CPU with AMX, whose oneDNN kernels compute in it (1.75× the steps/s of float32
with XLA at equal PSNR, docs/training.md; AVX-512 BF16 alone, under XLA, gained nothing: float32
there). The network ends in float32 (`build_espcn(head_dtype=…)`), so output and loss stay
float32; quantization-aware training stays float32 (its int8 simulation)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import keras

POLICIES = {"off": "float32", "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}


def cpu_has_amx(cpuinfo: str | None = None) -> bool:
    """Whether the CPU multiplies bfloat16 matrices in hardware (AMX)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return False
    return "amx_bf16" in cpuinfo.split()


def choose_policy(name: str, gpu: bool, amx: bool, qat: bool = False) -> str:
    """The Keras dtype policy for `--mixed-precision NAME`; `auto`: fp16 on a GPU, bf16 on a CPU
    with AMX, float32 elsewhere and for quantization-aware training."""
    if name == "auto":
        name = "off" if qat else "fp16" if gpu else "bf16" if amx else "off"
    return POLICIES[name]


@contextlib.contextmanager
def dtype_policy(policy: str):
    """Layers built inside take `policy`; the global policy is restored after."""
    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(before)
