"""Mixed precision for training (`train.fit --mixed-precision`): float16 on a GPU, bfloat16 on a
CPU that computes in it (AVX-512 BF16 or AMX; elsewhere TensorFlow only emulates it). The network
ends in float32 (`build_espcn(head_dtype=…)`), so its output and the loss stay float32."""

from __future__ import annotations

import contextlib
from pathlib import Path

import keras

POLICIES = {"off": "float32", "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_has_bf16(cpuinfo: str | None = None) -> bool:
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return False
    return any(flag in cpuinfo.split() for flag in BF16_CPU_FLAGS)


def choose_policy(name: str, gpu: bool, bf16_cpu: bool) -> str:
    """The Keras dtype policy for `--mixed-precision NAME`; `auto`: fp16 on a GPU, bf16 on a CPU
    with BF16 instructions, else float32."""
    if name == "auto":
        name = "fp16" if gpu else "bf16" if bf16_cpu else "off"
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
