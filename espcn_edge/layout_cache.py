"""Which graph layout is faster for a model on this machine, measured once and remembered.

Timing both layouts costs about a second at start-up (more on a Pi), so the answer is kept in
a small JSON file keyed by what decides it: the CPU and its int8 features, the thread count, the
interpreter and its version, the model's SHA-256 and the frame size. A new model, CPU, LiteRT
release or thread count is timed afresh. `forget()` (`espcn-edge bench --forget-layouts`)
deletes the file. The folder is $ESPCN_EDGE_CACHE, else $XDG_CACHE_HOME/espcn-edge, else
~/.cache/espcn-edge; a cache that cannot be read or written is ignored (the layout is timed).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from importlib import metadata
from pathlib import Path

from .atomic import WriteError, write_text
from .machine import describe

log = logging.getLogger(__name__)
FILE_NAME = "layouts.json"


def folder() -> Path:
    if explicit := os.environ.get("ESPCN_EDGE_CACHE"):
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "espcn-edge"


def _version(backend: str) -> str:
    name = {"ai_edge_litert": "ai-edge-litert", "tflite_runtime": "tflite-runtime"}
    try:
        return metadata.version(name.get(backend, backend))
    except metadata.PackageNotFoundError:
        return "unknown"


def key(model: Path, backend: str, threads: int, size: tuple[int, int]) -> str:
    digest = hashlib.sha256(model.read_bytes()).hexdigest()[:16]
    return (f"{describe()} | {backend} {_version(backend)} | {threads} threads | "
            f"{model.name} {digest} | {size[0]}x{size[1]}")  # fmt: skip


def _read() -> dict:
    try:
        entries = json.loads((folder() / FILE_NAME).read_text())
    except (OSError, ValueError):
        return {}
    return entries if isinstance(entries, dict) else {}


def lookup(entry_key: str) -> str | None:
    """The remembered layout ("plain" or "s2d") for this key, or None."""
    found = _read().get(entry_key)
    return found.get("variant") if isinstance(found, dict) else None


def store(entry_key: str, variant: str, ms: dict[str, float]) -> None:
    entries = _read()
    entries[entry_key] = {"variant": variant, "ms": {k: round(v, 3) for k, v in ms.items()}}
    try:
        write_text(folder() / FILE_NAME, json.dumps(entries, indent=1, sort_keys=True) + "\n")
    except (WriteError, OSError) as e:  # a read-only home: time again next start
        log.debug("layout cache not written (%s)", e)


def forget() -> Path | None:
    """Delete the remembered layouts; returns the file deleted, or None if there was none."""
    path = folder() / FILE_NAME
    try:
        path.unlink()
    except FileNotFoundError:
        return None
    return path
