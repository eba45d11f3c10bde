"""Reading and writing a converted .tflite as an object tree, for the int8 graph edits."""

from __future__ import annotations

import numpy as np

from espcn_edge.tflite_meta import _schema


def unpack(model: bytes):
    """(the model's object tree, the builtin operator name of each opcode index)."""
    schema = _schema()
    m = schema.ModelT.InitFromPackedBuf(model, 0)
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    return m, [names[max(c.builtinCode, c.deprecatedBuiltinCode)] for c in m.operatorCodes]


def pack(m, size_hint: int = 0) -> bytes:
    """The object tree `m` back as .tflite bytes."""
    import flatbuffers

    builder = flatbuffers.Builder(size_hint + 1024)
    builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


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
