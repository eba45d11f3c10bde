"""Atomic file writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

# The process umask, read once at import (os.umask can only be read by setting it).
_UMASK = os.umask(0o022)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success rename it over `path`, else delete it.

    The temporary file keeps the target's suffix (or `suffix`) so writers that pick a format from
    the file name (Pillow, Keras, OpenCV) still work.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.",
        suffix=suffix if suffix is not None else path.suffix,
        dir=path.parent,
    )
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as f:
            os.fsync(f.fileno())
        # mkstemp makes the file 0600; give it the mode a plain open() would (or the old file's)
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            mode = 0o666 & ~_UMASK
        os.chmod(tmp_path, mode)
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Atomically write `data` to `path`."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Atomically write `text` (UTF-8) to `path`."""
    write_bytes(path, text.encode("utf-8"))


def remove_stale(folder: str | os.PathLike) -> list[Path]:
    """Delete temporary files that `atomic_path` left in `folder` when its process was killed
    (``.NAME.XXXXXXXX.SUFFIX`` where NAME ends in .SUFFIX); returns what was removed.

    Call it only when no other process writes into `folder` (e.g. when a run resumes).
    """
    removed = []
    for tmp in Path(folder).glob(".*"):
        m = _TEMP_NAME.match(tmp.name)
        if m and tmp.is_file() and m.group(1).endswith(m.group(2) or ""):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


_TEMP_NAME = re.compile(r"^\.(.+)\.[a-z0-9_]{8}(\.[^.]+)?$")
