"""Folding the identity path's clip into the ADD before it, so XNNPACK runs one partition.

The `+skip` spec ends with ``clip(sigmoid − 0.5 + anchor, 0, 1)``, which the converter emits as
ADD → MINIMUM(1) → RELU. XNNPACK does not take the int8 MINIMUM, so the graph splits into two
delegate partitions with two element-wise reference kernels between them. With uint8 output (the
default) the clip is free: giving the ADD (and the DEPTH_TO_SPACE after it) the clipped tensor's
quantization — exactly [0, 1] at scale 1/255 — makes the ADD's own int8 saturation the clip, and
the final QUANTIZE into uint8 an exact shift. That also removes a rounding: calibration gave the
ADD a wider range (a step of ~1.1 Y levels) that was then requantized to 1/255; the folded graph
rounds once, on the output grid (+0.10 dB on Set5 ×2, docs/convert.md). Float output (a graph
with float layers, `--float-conv1`: `convert_int8_float_conv1`) folds the same way: the final
DEQUANTIZE of the [0, 1] grid is exact. With int8 output there is no final conversion to rely on
and the graph is left alone.
"""

from __future__ import annotations

import numpy as np

from espcn_edge.flatbuffer import pack, schema, unpack

from .graph_edit import constant_is


def fold_clip(model: bytes) -> tuple[bytes, bool]:
    """Return (model, True) with ADD → MINIMUM → RELU folded into the ADD, or
    (model, False) when the pattern is not there (or the output is neither uint8 over [0, 1]
    nor float)."""
    m, codes = unpack(model)
    g = m.subgraphs[0]
    ops = g.operators
    for i in range(len(ops) - 2):
        add, mini, relu = ops[i : i + 3]
        if [codes[o.opcodeIndex] for o in (add, mini, relu)] != ["ADD", "MINIMUM", "RELU"]:
            continue
        a_out, m_out, r_out = int(add.outputs[0]), int(mini.outputs[0]), int(relu.outputs[0])
        limit = [int(t) for t in mini.inputs if int(t) != a_out]
        if a_out not in [int(t) for t in mini.inputs] or int(relu.inputs[0]) != m_out:
            continue
        if len(limit) != 1 or not constant_is(m, limit[0], 1.0, 1e-2):
            continue
        users = [o for o in ops if a_out in [int(t) for t in o.inputs]]
        if len(users) != 1 or r_out in [int(t) for t in g.outputs]:
            continue
        q = g.tensors[r_out].quantization
        if abs(float(q.scale[0]) * 255.0 - 1.0) > 1e-6 or int(q.zeroPoint[0]) != -128:
            continue  # the clipped output is not exactly [0, 1]
        rest = ops[i + 3 :]
        tail = [codes[o.opcodeIndex] for o in rest]
        if len(tail) != 2 or tail[0] != "DEPTH_TO_SPACE" or int(rest[0].inputs[0]) != r_out:
            continue
        output = g.tensors[int(rest[1].outputs[0])]
        if not (
            (tail[1] == "QUANTIZE" and _is_unit_uint8(output))
            or (tail[1] == "DEQUANTIZE" and output.type == schema().TensorType.FLOAT32)
        ):
            continue
        # the ADD saturates on the clipped [0, 1] grid: it becomes the clip
        g.tensors[a_out].quantization = q
        g.tensors[int(rest[0].outputs[0])].quantization = q
        for op in rest:
            op.inputs = np.array([a_out if int(t) == r_out else t for t in op.inputs], np.int32)
        g.operators = ops[: i + 1] + rest
        return pack(m, len(model)), True
    return model, False


def _is_unit_uint8(t) -> bool:
    """A uint8 tensor quantized over exactly [0, 1] (scale 1/255, zero point 0)."""
    q = t.quantization
    return (
        t.type == schema().TensorType.UINT8
        and q is not None
        and abs(float(q.scale[0]) * 255.0 - 1.0) < 1e-6
        and int(q.zeroPoint[0]) == 0
    )
