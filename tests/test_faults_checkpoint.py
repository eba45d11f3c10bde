"""Disk full or a read-only file system while training saves its checkpoints.

The fault is armed once the first epoch is on disk and hits the next checkpoint write: the run
stops with one line naming the file, every file the first epoch wrote is byte-for-byte intact,
no temporary file is left, and once the disk is fine again `--resume` finishes the run.
"""

from __future__ import annotations

import csv
import errno
import os
import tempfile
from pathlib import Path

import pytest
from fakes import tiny_model

TINY = tiny_model.SPEC
EPOCHS = 3
FAULTS = {
    # the data cannot be flushed: ENOSPC at fsync, after the temp file was written
    "disk full": ("fsync", errno.ENOSPC, "No space left on device"),
    # nothing can be created in the output folder any more
    "read-only": ("mkstemp", errno.EROFS, "Read-only file system"),
}


def _first_epoch_saved(out: Path) -> bool:
    """Epoch 1 is complete on disk: its backup (the last file an epoch writes) exists."""
    return (out / "backup" / "training_metadata.json").is_file()


def _epochs_done(out: Path) -> int:
    try:
        with open(out / "history.csv") as f:
            return len(list(csv.DictReader(f)))
    except FileNotFoundError:
        return 0


def _snapshot(out: Path) -> dict[str, bytes]:
    files = (p for p in out.rglob("*") if p.is_file() and not p.name.startswith("."))
    return {str(p.relative_to(out)): p.read_bytes() for p in files}


@pytest.mark.parametrize("fault", FAULTS)
def test_checkpoint_write_fault_is_one_line_and_resume_finishes(
    fault, tmp_path, div2k_onthefly, capsys, monkeypatch
):
    from train.fit import main

    out = tmp_path / "run"
    args = [
        "--data", str(div2k_onthefly), "--scale", "2", "--spec", TINY, "--epochs", str(EPOCHS),
        "--steps-per-epoch", "4", "--patch-size", "16", "--batch-size", "4", "--out", str(out),
    ]  # fmt: skip
    call, code, reason = FAULTS[fault]
    real = {"fsync": os.fsync, "mkstemp": tempfile.mkstemp}
    at_fault = {}

    def faulty(*a, **kw):
        if _first_epoch_saved(out):  # from now on the disk fails
            at_fault.setdefault("files", _snapshot(out))
            raise OSError(code, os.strerror(code))
        return real[call](*a, **kw)

    monkeypatch.setattr(os if call == "fsync" else tempfile, call, faulty)
    capsys.readouterr()
    assert main(args) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"python -m train.fit: {out}")
    assert f"cannot write ({reason})" in errors[0]
    assert "--resume" in errors[0]
    before = at_fault["files"]
    assert {"best.keras", "last.keras", "card.json", "history.csv"} <= set(before)
    assert _epochs_done(out) == 1
    after = _snapshot(out)
    assert {k: after.get(k) for k in before} == before  # what epoch 1 wrote is untouched
    assert not [p for p in out.rglob(".*") if p.is_file()], "temporary files left behind"

    monkeypatch.setattr(os if call == "fsync" else tempfile, call, real[call])  # room again
    assert main([*args, "--resume"]) == 0
    assert _epochs_done(out) == EPOCHS
