"""Train every candidate spec of a layer-size study with the same data and budget.

    python benchmarks/study_train.py [--scale 3] [--steps 6000]            # the ×3 study (2025)
    python benchmarks/study_train.py --study x2-efficient --scale 2 --steps 40000 \\
        --reparam sesr --multiscale                                         # the ×2 study

Runs `train.fit` once per spec into runs/study/<study>/<spec>[-<reparam>]/, skipping finished
runs and resuming interrupted ones (so it can be started again in every session until done);
`benchmarks/study_measure.py` then converts and measures them. Long studies outlive a session
and its work tree: `--snapshot` copies each run's small state (backup, checkpoints, card,
history: a few MB) to benchmarks/checkpoints/, which is committed, and a run missing from runs/
is restored from there before it resumes.

A run can start from a trained narrower network with `--widen-from` (train.fit widens it to each
spec without changing its output, `train/widen.py`) into <run>-widened/, e.g. the ×3 quality
network from the ×3 standard:

    python benchmarks/study_train.py --study x3-quality --scale 3 --reparam sesr --multiscale \
        --specs k5-28 --widen-from benchmarks/checkpoints/tiers/x3-k5-16-plus80k/best.keras \
        --steps 30000 --lr 5e-4

A finished run trains on with `--more`: --steps further steps from its best.keras (a warm restart
of the cosine schedule at --lr) into <run>-plus<steps/1000>k/, e.g. the ×2 standard past 40,000:

    python benchmarks/study_train.py --study x2-efficient --scale 2 --reparam sesr --multiscale \
        --specs k5-16 --more --steps 120000 --lr 5e-4
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from common import ROOT, SNAPSHOTS, copy_state, finished, restore, spec_text, training_folder

STUDY_SPECS = ["k3-16", "k5-16", "k3-24-16", "seed-skip", "seed", "k3-32", "k5-48-24", "k5-64-32"]
EPOCHS = 12


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--scale", type=int, default=3)
    p.add_argument("--steps", type=int, default=6000)
    p.add_argument("--specs", nargs="*", default=STUDY_SPECS)
    p.add_argument("--study", help="folder name under runs/study (default x{scale})")
    p.add_argument("--reparam", default="none", help="train.fit --reparam")
    p.add_argument("--multiscale", action="store_true", help="train.fit --multiscale")
    p.add_argument("--more", action="store_true", help="train on from each finished run")
    p.add_argument("--widen-from", type=Path, help="start each spec from this model, widened")
    p.add_argument("--lr", help="train.fit --lr (default: train.fit's)")
    p.add_argument(
        "--snapshot", action="store_true", help="only copy the runs' state to " + str(SNAPSHOTS)
    )
    args = p.parse_args()
    data = training_folder()
    epochs = max(EPOCHS, args.steps // 1000)
    for spec in args.specs:
        name = spec if args.reparam == "none" else f"{spec}-{args.reparam}"
        study = args.study or f"x{args.scale}"
        if args.widen_from:
            name += "-widened"
        seed = ROOT / "runs" / "study" / study / name / "best.keras"
        if args.more:
            name += f"-plus{args.steps // 1000}k"
        out, snapshot = ROOT / "runs" / "study" / study / name, SNAPSHOTS / study / name
        if args.snapshot:
            if out.is_dir():
                copy_state(out, snapshot)
                print(f"{name}: state copied to {snapshot}")
            continue
        restore(out, snapshot)
        if finished(out):
            print(f"{name}: done, skipping")
            continue
        cmd = [sys.executable, "-m", "train.fit", "--data", str(data), "--scale", str(args.scale),
               "--spec", spec_text(spec), "--epochs", str(epochs), "--steps-per-epoch",
               str(args.steps // epochs), "--reparam", args.reparam, "--out", str(out)]  # fmt: skip
        if args.multiscale:
            cmd.append("--multiscale")
        if args.more:
            restore(seed.parent, SNAPSHOTS / study / seed.parent.name)
            cmd += ["--init-from", str(seed)]
        elif args.widen_from:
            cmd += ["--init-from", str(args.widen_from)]
        if args.lr:
            cmd += ["--lr", args.lr]
        if (out / "backup").exists():
            cmd.append("--resume")
        print(" ".join(cmd), flush=True)
        subprocess.run(cmd, cwd=ROOT, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
