"""espcn-edge metadata inside a ``.tflite`` file, so the runtime needs no side file.

The payload is UTF-8 JSON stored as one entry of the flatbuffer's ``Model.metadata`` list (name
``espcn_edge``), pointing at one extra ``Model.buffers`` entry. Example payload::

    {"format": 1, "scale": 2, "color_space": "Y full-range BT.601",
     "value_range": "input Y/255 in [0, 1], output the same", "precision": "int8",
     "spec": {"name": "seed-skip", "string": "5:32,…,3+skip"},
     "input": {"dtype": "uint8", "scale": 0.00392, "zero_point": 0}, "output": {…},
     "input_size": null, "versions": {"espcn_edge": "0.1.0", "tensorflow": "2.21.0"}}

`read_metadata` is a small hand-written flatbuffer reader (no TensorFlow, no ``flatbuffers``
package) for the core and the device. `add_metadata` rewrites the model with the schema's object
API and is used by the converter only.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

from .errors import UserError
from .flatbuffer import pack, schema, unpack

METADATA_NAME = "espcn_edge"
FORMAT_VERSION = 1

# Field numbers of the TFLite schema (tensorflow/compiler/mlir/lite/schema/schema.fbs).
_MODEL_BUFFERS, _MODEL_METADATA = 4, 6
_METADATA_NAME, _METADATA_BUFFER = 0, 1
_BUFFER_DATA, _BUFFER_OFFSET, _BUFFER_SIZE = 0, 1, 2


class MetadataError(UserError, ValueError):
    """A file that is not a readable TFLite flatbuffer."""


class _Reader:
    """Just enough of the flatbuffer wire format to walk tables, vectors and strings."""

    def __init__(self, buf: bytes):
        self.buf = buf

    def u16(self, pos: int) -> int:
        return struct.unpack_from("<H", self.buf, pos)[0]

    def u32(self, pos: int) -> int:
        return struct.unpack_from("<I", self.buf, pos)[0]

    def u64(self, pos: int) -> int:
        return struct.unpack_from("<Q", self.buf, pos)[0]

    def field(self, table: int, index: int) -> int | None:
        """Absolute position of a table field, or None when it is absent."""
        vtable = table - struct.unpack_from("<i", self.buf, table)[0]
        entry = 4 + 2 * index
        if entry >= self.u16(vtable):
            return None
        offset = self.u16(vtable + entry)
        return table + offset if offset else None

    def deref(self, pos: int) -> int:
        return pos + self.u32(pos)

    def vector(self, pos: int) -> tuple[int, int]:
        """(start of the elements, element count) of the vector referenced at `pos`."""
        start = self.deref(pos)
        return start + 4, self.u32(start)

    def tables(self, pos: int) -> list[int]:
        start, n = self.vector(pos)
        return [self.deref(start + 4 * i) for i in range(n)]

    def string(self, pos: int) -> str:
        start, n = self.vector(pos)
        return self.buf[start : start + n].decode("utf-8")


def _buffer_bytes(r: _Reader, buffer: int) -> bytes:
    data = r.field(buffer, _BUFFER_DATA)
    if data is not None:
        start, n = r.vector(data)
        return r.buf[start : start + n]
    offset, size = r.field(buffer, _BUFFER_OFFSET), r.field(buffer, _BUFFER_SIZE)
    if offset is not None and size is not None:  # large models keep buffers after the flatbuffer
        start = r.u64(offset)
        return r.buf[start : start + r.u64(size)]
    return b""


def read_metadata_entries(model: bytes) -> dict[str, bytes]:
    """All ``Model.metadata`` entries of a TFLite flatbuffer: name → buffer bytes."""
    if len(model) < 8 or model[4:8] != b"TFL3":
        raise MetadataError("not a TFLite model (no TFL3 file identifier)")
    r = _Reader(model)
    try:
        root = r.deref(0)
        meta_pos = r.field(root, _MODEL_METADATA)
        if meta_pos is None:
            return {}
        buffers_pos = r.field(root, _MODEL_BUFFERS)
        buffers = r.tables(buffers_pos) if buffers_pos is not None else []
        entries = {}
        for table in r.tables(meta_pos):
            name_pos, buf_pos = r.field(table, _METADATA_NAME), r.field(table, _METADATA_BUFFER)
            if name_pos is None or buf_pos is None:
                continue
            index = r.u32(buf_pos)
            if index >= len(buffers):
                raise MetadataError(f"metadata buffer index {index} out of range")
            entries[r.string(name_pos)] = _buffer_bytes(r, buffers[index])
        return entries
    except (struct.error, IndexError, UnicodeDecodeError) as e:
        raise MetadataError(f"corrupt TFLite flatbuffer ({e})") from None


def read_metadata(model: bytes | str | os.PathLike, name: str = METADATA_NAME) -> dict:
    """The espcn-edge JSON metadata of a model (bytes or path); {} when the model has none."""
    data = model if isinstance(model, bytes | bytearray) else Path(model).read_bytes()
    payload = read_metadata_entries(bytes(data)).get(name)
    if payload is None:
        return {}
    try:
        meta = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise MetadataError(f"metadata {name!r} is not JSON ({e})") from None
    if not isinstance(meta, dict):
        raise MetadataError(f"metadata {name!r} is not a JSON object")
    return meta


def add_metadata(model: bytes, meta: dict, name: str = METADATA_NAME) -> bytes:
    """Return `model` with `meta` (JSON-serialisable) stored as metadata `name`, replacing any
    entry of that name. Needs the ``flatbuffers`` package and the generated TFLite schema."""
    obj, _ = unpack(model)
    s = schema()
    payload = json.dumps({"format": FORMAT_VERSION, **meta}, sort_keys=True).encode("utf-8")
    buffer = s.BufferT()
    buffer.data = list(payload)
    obj.buffers = list(obj.buffers or []) + [buffer]
    entry = s.MetadataT()
    entry.name = name
    entry.buffer = len(obj.buffers) - 1
    kept = [m for m in (obj.metadata or []) if _decode(m.name) != name]
    obj.metadata = kept + [entry]
    return pack(obj, len(model) + len(payload))


def _decode(name) -> str:
    return name.decode("utf-8") if isinstance(name, bytes) else str(name)
