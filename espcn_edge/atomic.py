"""Atomic file writes: a reader sees the old file or the new one, never half of one.

Every model, checkpoint, report and output image or video the toolkit writes goes through
`atomic_files` (or its one-file form `atomic_path`); `tests/test_faults_atomic.py` checks that
by watching the file system calls of each command.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import UserError
from .interrupt import pending

# The process umask, read once at import (os.umask can only be read by setting it).
_UMASK = os.umask(0o022)
os.umask(_UMASK)


class WriteError(UserError, OSError):
    """A file could not be written; one line naming the file and the reason (errno kept)."""

    def __init__(self, path: Path, error: OSError):
        super().__init__(error.errno, error.strerror or str(error), str(path))
        self.path = path

    def __str__(self) -> str:
        return f"{self.path}: cannot write ({self.strerror})"


@contextlib.contextmanager
def atomic_files(
    paths: list[str | os.PathLike], suffix: str | None = None, private: bool = False
) -> Iterator[list[Path]]:
    """Yield temporary paths beside `paths`; on success flush them all, then rename each over its
    target, else delete them. A failure while writing (disk full, read-only, killed) leaves every
    old file in place, so files that belong together (a model and its report) stay a pair.

    Temporary files keep the target's suffix (or `suffix`) so writers that pick a format from the
    file name (Pillow, Keras, OpenCV) still work. `private` files hold secrets (see `_flush`).
    """
    targets = [Path(p) for p in paths]
    temps: list[Path] = []
    current = targets[0]
    try:
        for current in targets:
            current.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(
                prefix=f".{current.name}.",
                suffix=suffix if suffix is not None else current.suffix,
                dir=current.parent,
            )
            os.close(fd)
            temps.append(Path(tmp))
        current = targets[0]
        yield temps
        for tmp, current in zip(temps, targets, strict=True):
            _flush(tmp, current, private)
        pending()  # a Ctrl-C whose exception a library swallowed: nothing is replaced
        for tmp, current in zip(temps, targets, strict=True):
            os.replace(tmp, current)
    except WriteError:
        raise
    except OSError as e:
        named = {str(t): p for t, p in zip(temps, targets, strict=False)}
        raise WriteError(named.get(str(e.filename), current), e) from None
    finally:
        for tmp in temps:
            tmp.unlink(missing_ok=True)


def _flush(tmp: Path, target: Path, private: bool = False) -> None:
    """fsync `tmp` and give it the mode a plain open() would (or the old file's): mkstemp
    makes files 0600. A `private` file gives others no access (a new one stays 0600) and keeps
    the old file's owner and group, so the service that reads it still can."""
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
        try:
            old = target.stat()
        except FileNotFoundError:
            mode = 0o600 if private else 0o666 & ~_UMASK
        else:
            mode = stat.S_IMODE(old.st_mode) & ~(0o007 if private else 0)
            if private:
                _keep_owner(f.fileno(), target, old)
        os.fchmod(f.fileno(), mode)


def _keep_owner(fd: int, target: Path, old: os.stat_result) -> None:
    """Give the open temporary file `fd` the owner and group of `old`: root may, and so may its
    owner when the group is one of its own. Anyone else would take the file over by the rename,
    so nothing is written."""
    try:
        os.fchown(fd, old.st_uid, old.st_gid)
    except PermissionError as e:
        reason = f"only root or its owner can keep its owner and group {old.st_uid}:{old.st_gid}"
        raise WriteError(target, PermissionError(e.errno, reason)) from None


@contextlib.contextmanager
def atomic_path(
    path: str | os.PathLike, suffix: str | None = None, private: bool = False
) -> Iterator[Path]:
    """`atomic_files` for one file: yield its temporary path."""
    with atomic_files([path], suffix, private) as (tmp,):
        yield tmp


def write_files(contents: dict[str | os.PathLike, bytes]) -> None:
    """Atomically write several files that belong together (see `atomic_files`)."""
    with atomic_files(list(contents)) as temps:
        for tmp, data in zip(temps, contents.values(), strict=True):
            tmp.write_bytes(data)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Atomically write `data` to `path`."""
    write_files({path: data})


def write_text(path: str | os.PathLike, text: str) -> None:
    """Atomically write `text` (UTF-8) to `path`."""
    write_bytes(path, text.encode("utf-8"))


def remove_stale(folder: str | os.PathLike) -> list[Path]:
    """Delete temporary files that `atomic_files` left in `folder` when its process was killed
    (``.NAME.XXXXXXXX.SUFFIX`` where NAME ends in .SUFFIX); returns what was removed.

    Call it only when no other process writes into `folder` (e.g. when a run resumes).
    """
    removed = []
    for tmp in Path(folder).glob(".*"):
        if is_temp_name(tmp.name) and tmp.is_file():
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def is_temp_name(name: str) -> bool:
    """Whether `name` is one of `atomic_files`' temporary file names."""
    m = _TEMP_NAME.match(name)
    return bool(m) and m.group(1).endswith(m.group(2) or "")


_TEMP_NAME = re.compile(r"^\.(.+)\.[a-z0-9_]{8}((?:\.[^.]+)*)$")  # suffixes like .weights.h5
