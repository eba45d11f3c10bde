"""Constants of a converted .tflite's object tree (espcn_edge.flatbuffer), for the int8 edits."""

from __future__ import annotations

import numpy as np


def constant_is(m, tensor: int, value: float, tolerance: float) -> bool:
    """True when `tensor` is a one-element int8 constant within `tolerance` of `value`."""
    found = scalar_constant(m, tensor)
    return found is not None and abs(found - value) <= tolerance


def scalar_constant(m, tensor: int) -> float | None:
    """The dequantized value of a one-element int8 constant tensor of subgraph 0, else None."""
    t = m.subgraphs[0].tensors[tensor]
    data = m.buffers[t.buffer].data if t.buffer < len(m.buffers) else None
    if data is None or len(data) != 1 or t.quantization is None:
        return None
    q = int(np.asarray(data, np.uint8).view(np.int8)[0])
    return (q - int(t.quantization.zeroPoint[0])) * float(t.quantization.scale[0])
