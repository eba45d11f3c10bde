"""A `.tflite` file as the TFLite schema's object tree and back: the one reader and writer of
every graph edit (the metadata, the blocked layout, the converter's int8 edits).

The generated schema is ai-edge-litert's (else TensorFlow's copy); tflite-runtime ships none,
so there the edits raise ImportError and their callers say what to install.
"""

from __future__ import annotations


def schema():
    """The generated TFLite schema module (ImportError where no package ships it)."""
    try:
        from ai_edge_litert import schema_py_generated
    except ImportError:  # pragma: no cover - TensorFlow's copy of the same generated code
        from tensorflow.lite.python import schema_py_generated
    return schema_py_generated


def unpack(model: bytes):
    """(the model's object tree, the builtin operator name of each opcode index)."""
    s = schema()
    m = s.ModelT.InitFromPackedBuf(model, 0)
    names = {v: k for k, v in vars(s.BuiltinOperator).items() if not k.startswith("_")}
    return m, [names[max(c.builtinCode, c.deprecatedBuiltinCode)] for c in m.operatorCodes]


def pack(m, size_hint: int = 0) -> bytes:
    """The object tree `m` back as .tflite bytes (`size_hint`: the bytes expected, to size the
    builder once)."""
    import flatbuffers

    builder = flatbuffers.Builder(size_hint + 1024)
    builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
