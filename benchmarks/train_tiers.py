"""Train the tiny and standard tiers at ×2/×3/×4 from the ×2 study's networks, ready to ship.

    python benchmarks/train_tiers.py --tiers tiny standard --scales 2 3 4
    python benchmarks/ship.py runs/study/x2-efficient/k5-16-sesr-qat/best.keras --tier standard
    python benchmarks/ship.py runs/tiers/x3-tiny-qat/best.keras --tier tiny

Every tier starts from the ×2 study's SESR run of its spec (benchmarks/study_train.py), as its
best checkpoint was when the tiers were first trained: copied to runs/tiers/x2-{tier}/ the first
time, so later study epochs do not change them. ×3/×4: `--steps` steps of the study's recipe
(SESR blocks, multi-scale HR copies, T91 + BSD200) with conv1–conv6 started from that copy
(`--init-from`; conv7 has r² filters, so it starts afresh). Then `--qat-steps` of
quantization-aware fine-tuning at `--lr 5e-4` into runs/tiers/x{r}-{tier}-qat/ (×2: from the
copy itself). Standard ×2 instead takes the finished study run (40,000 steps) and
`--x2-qat-steps` at `--lr 3e-4`, into the study folder as `k5-16-sesr-qat` (so study_measure.py
measures it beside the rest): int8 Set5 / Set14 36.77 / 32.52 against 36.76 / 32.51 by the
copy's recipe, where tiny's finished run lost 0.06 / 0.01 dB that way. Resumable: run the same command again. The quality tier is the
earlier 22 k MAC network (docs/benchmarks.md says how).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from common import ROOT, training_folder

TIER_SPECS = {"tiny": "k3-10", "standard": "k5-16"}
STUDY = ROOT / "runs" / "study" / "x2-efficient"  # <spec>-sesr/best.keras
TIERS_DIR = ROOT / "runs" / "tiers"
FROM_FINISHED_STUDY = {"standard"}  # ×2 QAT from the finished study run (see above)


def train(out: Path, args: list[str]) -> None:
    """`python -m train.fit ARGS --out OUT`, resumed if interrupted, skipped if done."""
    if (out / "last.keras").exists() and not (out / "backup").exists():
        print(f"{out.name}: done, skipping")
        return
    cmd = [sys.executable, "-m", "train.fit", *args, "--out", str(out)]
    cmd.append("--resume" if (out / "backup").exists() else "--overwrite")
    print(" ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True)


def x2_network(tier: str) -> Path:
    """The ×2 float network the tier's ×3/×4 start from, copied once from the study run."""
    out = TIERS_DIR / f"x2-{tier}"
    if not (out / "best.keras").exists():
        study = STUDY / f"{TIER_SPECS[tier]}-sesr"
        out.mkdir(parents=True, exist_ok=True)
        for name in ("best.keras", "card.json", "history.csv"):
            shutil.copy2(study / name, out / name)
        print(f"x2-{tier}: copied from {study}")
    return out / "best.keras"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--tiers", nargs="+", choices=TIER_SPECS, default=list(TIER_SPECS))
    p.add_argument("--scales", nargs="+", type=int, choices=(2, 3, 4), default=[2, 3, 4])
    p.add_argument("--steps", type=int, default=3000, help="×3/×4 float training steps")
    p.add_argument("--qat-steps", type=int, default=2000, help="quantization-aware steps")
    p.add_argument("--x2-qat-steps", type=int, default=4000, help="standard ×2's QAT steps")
    args = p.parse_args()
    data = str(training_folder())
    for tier in args.tiers:
        spec, x2 = TIER_SPECS[tier], x2_network(tier)
        for scale in args.scales:
            common = ["--data", data, "--scale", str(scale), "--spec", spec, "--multiscale"]
            if scale == 2 and tier in FROM_FINISHED_STUDY:
                study = STUDY / f"{spec}-sesr"
                epochs = ["--epochs", str(args.x2_qat_steps // 500), "--steps-per-epoch", "500"]
                qat = ["--qat", "--init-from", str(study / "best.keras"), "--lr", "3e-4", *epochs]
                train(study.with_name(f"{spec}-sesr-qat"), [*common, *qat])
                continue
            network = x2
            if scale != 2:
                out = TIERS_DIR / f"x{scale}-{tier}"
                epochs = ["--epochs", str(args.steps // 1000), "--steps-per-epoch", "1000"]
                train(out, [*common, "--init-from", str(x2), "--reparam", "sesr", *epochs])
                network = out / "best.keras"
            epochs = ["--epochs", str(args.qat_steps // 500), "--steps-per-epoch", "500"]
            qat = ["--qat", "--init-from", str(network), "--lr", "5e-4", *epochs]
            train(TIERS_DIR / f"x{scale}-{tier}-qat", [*common, *qat])
    return 0


if __name__ == "__main__":
    sys.exit(main())
