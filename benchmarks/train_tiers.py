"""Train the tiers at ×2/×3/×4 from the ×2 study's networks, ready to ship.

    python benchmarks/train_tiers.py --tiers tiny standard quality --scales 2 3 4
    python benchmarks/ship.py runs/study/x2-efficient/k5-16-sesr-qat/best.keras --tier standard
    python benchmarks/ship.py runs/tiers/x3-k3-8-qat/best.keras --tier tiny

Every tier starts from the ×2 study's SESR run of its spec (benchmarks/study_train.py, 40,000
steps). ×2: quantization-aware fine-tuning of that run (`--qat`, steps and learning rate per tier
in X2_QAT) into the study folder as `<spec>-sesr-qat`, so study_measure.py measures it beside the
rest. ×3/×4: the ×2 float network copied to runs/tiers/x2-<spec>/ the first time (so later study
epochs do not change them; standard's copy was taken after 25,000 steps, while the study was
still training), then `--steps` steps of the study's recipe (SESR blocks, multi-scale HR copies,
T91 + BSD200) with conv1–conv6 started from it (`--init-from`; conv7 has r² filters, so it starts
afresh), then `--qat-steps` of quantization-aware fine-tuning at `--lr 5e-4` into
runs/tiers/x{r}-<spec>-qat/. Resumable: run the same command again. Runs outlive a session the
way the study's do: `--snapshot` copies runs/tiers/*'s small state to
benchmarks/checkpoints/tiers/ (committed), and a run (or the ×2 study run it starts from) missing
from runs/ is restored from there first. ×3/×4 at the ×2 study's budget:

    python benchmarks/train_tiers.py --tiers standard quality --scales 3 4 --steps 40000 \
        --qat-steps 4000
 A tier whose study run is
still training stops with a message. (The shipped ×3/×4 quality models are still the earlier
default's network: this script's ×3 fell short of it, docs/benchmarks.md.)
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from common import ROOT, SNAPSHOTS, copy_state, finished, restore, training_folder

from espcn_edge.tiers import BY_NAME, TIERS

# ×2 QAT (steps, learning rate) per tier, each the better of the two measured on its network
# (quality: standard's, not yet compared)
X2_QAT = {"tiny": (2000, "5e-4"), "standard": (4000, "3e-4"), "quality": (4000, "3e-4")}
STUDY = ROOT / "runs" / "study" / "x2-efficient"  # <spec>-sesr/best.keras
TIERS_DIR = ROOT / "runs" / "tiers"


def train(out: Path, args: list[str]) -> None:
    """`python -m train.fit ARGS --out OUT`, resumed if interrupted, skipped if done."""
    restore(out, SNAPSHOTS / "tiers" / out.name)
    if finished(out):
        print(f"{out.name}: done, skipping")
        return
    cmd = [sys.executable, "-m", "train.fit", *args, "--out", str(out)]
    cmd.append("--resume" if (out / "backup").exists() else "--overwrite")
    print(" ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True)


def x2_network(spec: str) -> Path:
    """The ×2 float network ×3/×4 start from, copied once from the study run."""
    out = TIERS_DIR / f"x2-{spec}"
    restore(out, SNAPSHOTS / "tiers" / out.name)
    if not (out / "best.keras").exists():
        study = STUDY / f"{spec}-sesr"
        out.mkdir(parents=True, exist_ok=True)
        for name in ("best.keras", "card.json", "history.csv"):
            shutil.copy2(study / name, out / name)
        print(f"x2-{spec}: copied from {study}")
    return out / "best.keras"


def qat(steps: int, lr: str, network: Path) -> list[str]:
    epochs = ["--epochs", str(steps // 500), "--steps-per-epoch", "500"]
    return ["--qat", "--init-from", str(network), "--lr", lr, *epochs]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--tiers", nargs="+", choices=TIERS, default=list(TIERS))
    p.add_argument("--scales", nargs="+", type=int, choices=(2, 3, 4), default=[2, 3, 4])
    p.add_argument("--steps", type=int, default=3000, help="×3/×4 float training steps")
    p.add_argument("--qat-steps", type=int, default=2000, help="×3/×4 quantization-aware steps")
    p.add_argument("--snapshot", action="store_true", help="only copy runs/tiers/* state to commit")
    args = p.parse_args()
    if args.snapshot:
        for run in sorted(TIERS_DIR.glob("x*")):
            copy_state(run, SNAPSHOTS / "tiers" / run.name)
            print(f"{run.name}: state copied to {SNAPSHOTS / 'tiers' / run.name}")
        return 0
    data = str(training_folder())
    for tier in args.tiers:
        spec = BY_NAME[tier].spec_name
        restore(STUDY / f"{spec}-sesr", SNAPSHOTS / STUDY.name / f"{spec}-sesr")
        if not finished(STUDY / f"{spec}-sesr"):
            print(
                f"{tier}: the study run {STUDY / f'{spec}-sesr'} is not finished; train it first "
                "(benchmarks/study_train.py --study x2-efficient, docs/benchmarks.md)"
            )
            return 2
        for scale in args.scales:
            common = ["--data", data, "--scale", str(scale), "--spec", spec, "--multiscale"]
            if scale == 2:
                study = STUDY / f"{spec}-sesr"
                steps, lr = X2_QAT[tier]
                train(
                    study.with_name(f"{spec}-sesr-qat"),
                    [*common, *qat(steps, lr, study / "best.keras")],
                )
                continue
            x2 = x2_network(spec)
            out = TIERS_DIR / f"x{scale}-{spec}"
            epochs = ["--epochs", str(args.steps // 1000), "--steps-per-epoch", "1000"]
            train(out, [*common, "--init-from", str(x2), "--reparam", "sesr", *epochs])
            network = out / "best.keras"
            train(
                out.with_name(f"{out.name}-qat"), [*common, *qat(args.qat_steps, "5e-4", network)]
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
