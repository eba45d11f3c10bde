"""Fault injection for training: SIGKILL at 5 moments (4 random, 1 in the middle of a checkpoint
write), then `--resume` until done.

The run must finish exactly its planned epochs (history rows 0..N-1, once each), every
`*.keras` checkpoint on disk must load after every kill, and the final model must load.
"""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from fakes import tiny_model

from espcn_edge.atomic import is_temp_name

ROOT = Path(__file__).resolve().parents[1]
TINY = tiny_model.SPEC
EPOCHS, STEPS = 12, 30
KILLS = 5
MID_WRITE = 2  # this kill waits for a checkpoint's temporary file to appear


def _history(out: Path) -> list[int]:
    try:
        with open(out / "history.csv") as f:
            return [int(row["epoch"]) for row in csv.DictReader(f)]
    except FileNotFoundError:
        return []


def _checkpoints_load(out: Path) -> list[str]:
    """Load every checkpoint a user could pick up (not the hidden temp files); return names."""
    import keras

    import espcn_edge  # noqa: F401  (registers the custom layers)

    names = []
    for path in sorted(p for p in out.glob("*.keras") if not p.name.startswith(".")):
        model = keras.models.load_model(path, compile=False)
        assert model.output.shape[-1] == 1, path
        names.append(path.name)
    return names


def test_sigkill_at_random_moments_then_resume_finishes_the_planned_epochs(
    tmp_path, div2k_onthefly
):
    out = tmp_path / "run"
    args = [
        "--data", str(div2k_onthefly), "--scale", "2", "--spec", TINY, "--epochs", str(EPOCHS),
        "--steps-per-epoch", str(STEPS), "--patch-size", "16", "--batch-size", "4",
        "--out", str(out),
    ]  # fmt: skip
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    rng = random.Random(int(os.environ.get("FAULT_SEED", "6")))
    kills, missed = [], 0
    while len(kills) < KILLS:
        if kills and not (out / "backup").exists() and _history(out) == list(range(EPOCHS)):
            break  # the killed process had already finished the run (and removed its backup)
        mid_write = len(kills) == MID_WRITE
        proc = subprocess.Popen(
            [sys.executable, "-m", "train.fit", *args, *(["--resume"] if kills else [])],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        # wait until this process is training (a new history row or a checkpoint appears),
        # then kill it after a random extra delay: mid-epoch, mid-validation or mid-save;
        # or, for the mid-write kill, as soon as a new checkpoint file is being written
        seen = (len(_history(out)), _mtimes(out))
        stale = set(_checkpoint_temps(out))  # left by the previous kill (removed by --resume)
        deadline = time.time() + 60
        while time.time() < deadline and proc.poll() is None:
            if mid_write and set(_checkpoint_temps(out)) - stale:
                break
            if not mid_write and (len(_history(out)), _mtimes(out)) != seen:
                time.sleep(rng.uniform(0.0, 0.3))  # an epoch takes ~0.2 s here
                break
            time.sleep(0.001)
        if proc.poll() is not None:  # finished before the kill: nothing left to interrupt
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        cut_short = sorted(p.name for p in set(_checkpoint_temps(out)) - stale)
        _checkpoints_load(out)  # every checkpoint on disk still loads
        epochs = _history(out)
        assert epochs == list(range(len(epochs))), epochs  # (trimmed on resume if repeated)
        if mid_write and not cut_short and missed < 3:
            missed += 1  # the ~10 ms write finished before the kill landed: try again
            continue
        kills.append((len(epochs), cut_short))
    print(f"killed after epochs (with the checkpoint cut short) {kills}; {missed} missed")
    assert len(kills) == KILLS, kills  # the faults were really injected
    assert kills[MID_WRITE][1], kills  # that kill really cut a checkpoint write short
    for _ in range(2):  # resume until done (one run suffices; a second one must be a no-op)
        if _history(out) == list(range(EPOCHS)) and not (out / "backup").exists():
            break
        done = subprocess.run(
            [sys.executable, "-m", "train.fit", *args, "--resume"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
    assert _history(out) == list(range(EPOCHS))
    card = json.loads((out / "card.json").read_text())
    assert card["planned_steps"] == EPOCHS * STEPS
    assert {"best.keras", "last.keras"} <= set(_checkpoints_load(out))
    assert not [p for p in out.rglob(".*") if p.is_file() and is_temp_name(p.name)]


def _checkpoint_temps(out: Path) -> list[Path]:
    """The temporary file of a `.keras` checkpoint being written (by `atomic_files`)."""
    return [p for p in out.glob(".*.keras") if is_temp_name(p.name)]


def _mtimes(out: Path) -> tuple:
    return tuple(sorted((p.name, p.stat().st_mtime_ns) for p in out.glob("*.keras")))
