"""The sink interface: `start()`, `output(result)` once per super-resolved frame, `stop()`."""

from __future__ import annotations

from espcn_edge.errors import UserError
from espcn_edge.frames import Result


class SinkError(UserError, ValueError):
    """A sink that cannot start or write; the message says what to do."""


class Sink:
    """Base class. `output` runs on the inference thread, so it must not block for long;
    a sink that wants the pipeline to end (a closed window) sets `wants_stop`. A sink that
    shows or saves RGB sets `needs_rgb`, so full-size chroma is made for it alongside the model
    (the others take 4:2:0 planes)."""

    wants_stop = False
    needs_rgb = False

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def output(self, result: Result) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        return type(self).__name__
