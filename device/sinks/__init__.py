"""Frame sinks behind one interface (`Sink`: start / output / stop)."""

from .jpeg import encode_planes
from .record import RecordSink
from .sink import Sink, SinkError
from .view import ViewSink, parse_address
from .window import WindowSink

__all__ = [
    "RecordSink",
    "Sink",
    "SinkError",
    "ViewSink",
    "WindowSink",
    "encode_planes",
    "parse_address",
]
