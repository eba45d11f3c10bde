"""What a command reads it never writes over, deletes or empties, however either path is spelled.

Every command that writes checks its outputs against its inputs here before it touches anything:
relative or absolute, through `..`, symlinks, hard links or a trailing slash, a file that is an
input, lies inside an input folder or holds an input is refused in one line.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from .errors import UserError


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)  # hard links, bind mounts
    except OSError:  # one of them does not exist yet
        return False


def overlaps(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether `a` and `b` are the same file or folder, or one lies inside the other."""
    ra, rb = Path(a).resolve(), Path(b).resolve()
    return ra == rb or ra.is_relative_to(rb) or rb.is_relative_to(ra) or _same_file(ra, rb)


def refuse_inputs(
    option: str, output: str | os.PathLike, inputs: Iterable[str | os.PathLike | None]
) -> None:
    """Raise UserError when `output` (what `option` writes) is, holds or lies in an input."""
    for source in inputs:
        if source is not None and overlaps(output, source):
            raise UserError(
                f"{option} {output}: it is or overlaps the input {source}, which this command "
                "never writes over; pick another output"
            )


def refuse_unwritable(label: str, path: str | os.PathLike) -> None:
    """Raise UserError (`label`: what to name) unless `path` can be written: the first of its
    folders that exists is a folder where a file can be made (made and removed at once: root
    passes every permission check, but not a read-only or virtual file system's)."""
    folder = Path(path).parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # the first that exists: the rest are made
    if not folder.is_dir():
        raise UserError(f"{label}: cannot write there, {folder} is a file")
    try:
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as e:
        raise UserError(f"{label}: cannot write in {folder} ({e.strerror or e})") from None
