"""Train every candidate spec of the layer-size study with the same data and budget.

    python benchmarks/study_train.py [--scale 3] [--steps 6000]

Runs `train.fit` once per spec into runs/study/x{scale}/{spec}/, skipping finished runs and
resuming interrupted ones; `benchmarks/study_report.py` then converts and measures them.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from common import ROOT, training_folder

STUDY_SPECS = ["k3-16", "k5-16", "k3-24-16", "seed-skip", "seed", "k3-32", "k5-48-24", "k5-64-32"]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--scale", type=int, default=3)
    p.add_argument("--steps", type=int, default=6000)
    p.add_argument("--specs", nargs="*", default=STUDY_SPECS)
    args = p.parse_args()
    data = training_folder()
    epochs = 12
    for spec in args.specs:
        out = ROOT / "runs" / "study" / f"x{args.scale}" / spec
        if (out / "last.keras").exists() and not (out / "backup").exists():
            print(f"{spec}: done, skipping")
            continue
        cmd = [
            sys.executable,
            "-m",
            "train.fit",
            "--data",
            str(data),
            "--scale",
            str(args.scale),
            "--spec",
            spec,
            "--epochs",
            str(epochs),
            "--steps-per-epoch",
            str(args.steps // epochs),
            "--out",
            str(out),
        ]
        if (out / "backup").exists():
            cmd.append("--resume")
        print(" ".join(cmd), flush=True)
        subprocess.run(cmd, cwd=ROOT, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
