"""Replacing calibrated int8 ranges where calibration's min/max wastes levels or rounds.

A CONV_2D whose output feeds a TANH is quantized by calibration over the extreme values it saw
(often ±3 or more). Beyond ±PRE_TANH_RANGE tanh is flat, so those levels carry almost nothing
while the region that matters gets a coarse grid. Rewriting that tensor's scale and zero point
makes the int8 kernel saturate there instead: measured on a ×3 model it recovers about half of
the int8 drop (docs/convert.md). Quantization-aware training simulates the same clamp.

The identity path's residual `sigmoid − 0.5` is exact in int8 (TFLite's LOGISTIC output has
scale 1/256, so subtracting 0.5 is a shift of the zero point by 128), but calibration gives the
SUB its own, unrelated range (e.g. [−0.35, 1.16], a step of 1.5 Y levels) and every output pixel
is rounded onto it: 0.16 dB on Set5 ×2 for the `k5-16` network. `exact_residual` puts the SUB on
the LOGISTIC's grid shifted by 0.5, so it rounds nothing.
"""

from __future__ import annotations

from espcn_edge.flatbuffer import pack, unpack
from espcn_edge.spec import PRE_TANH_RANGE

from .graph_edit import constant_is


def clamp_pre_tanh(model: bytes, limit: float = PRE_TANH_RANGE) -> tuple[bytes, int]:
    """Return the model with every int8 CONV_2D → TANH tensor's range clipped to ±`limit`,
    and how many tensors changed."""
    m, codes = unpack(model)
    graph = m.subgraphs[0]
    consumers: dict[int, list[str]] = {}
    for op in graph.operators:
        for t in op.inputs:
            consumers.setdefault(int(t), []).append(codes[op.opcodeIndex])
    changed = 0
    for op in graph.operators:
        out = int(op.outputs[0])
        q = graph.tensors[out].quantization
        if (
            codes[op.opcodeIndex] != "CONV_2D"
            or consumers.get(out) != ["TANH"]
            or not _quantized(q)
        ):
            continue
        scale, zero_point = float(q.scale[0]), int(q.zeroPoint[0])
        lo = max((-128 - zero_point) * scale, -limit)
        hi = min((127 - zero_point) * scale, limit)
        new_scale = (hi - lo) / 255.0
        q.scale, q.zeroPoint = [new_scale], [int(round(-128 - lo / new_scale))]
        changed += new_scale < scale
    return pack(m, len(model)), changed


def _quantized(q) -> bool:
    """Whether a tensor's quantization holds a scale (a float tensor's is None or empty)."""
    return q is not None and q.scale is not None and len(q.scale) > 0


def exact_residual(model: bytes) -> tuple[bytes, bool]:
    """Return (model, True) with the LOGISTIC → SUB(0.5) output requantized exactly onto the
    LOGISTIC's grid, or (model, False) when the pattern is not there."""
    m, codes = unpack(model)
    graph = m.subgraphs[0]
    made_by = {int(op.outputs[0]): codes[op.opcodeIndex] for op in graph.operators}
    for op in graph.operators:
        if codes[op.opcodeIndex] != "SUB" or len(op.inputs) != 2:
            continue
        sigmoid, half = (int(t) for t in op.inputs)
        q_in, out = graph.tensors[sigmoid].quantization, graph.tensors[int(op.outputs[0])]
        if (
            made_by.get(sigmoid) != "LOGISTIC"
            or not _quantized(q_in)
            or not constant_is(m, half, 0.5, 1e-3)
        ):
            continue
        scale, zero_point = float(q_in.scale[0]), int(q_in.zeroPoint[0])
        shift = 0.5 / scale
        if abs(shift - round(shift)) > 1e-6 or not -128 <= zero_point + round(shift) <= 127:
            continue
        exact = ([scale], [zero_point + round(shift)])
        if (list(out.quantization.scale), list(out.quantization.zeroPoint)) == exact:
            return model, False  # already exact
        out.quantization.scale, out.quantization.zeroPoint = exact
        return pack(m, len(model)), True
    return model, False
