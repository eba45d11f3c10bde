"""Which training levers help: short fine-tunes of one trained network, one lever each.

    python benchmarks/train_levers.py [--steps 3000]

Every run starts from the same trained network (`--base`, all seven layers via `--init-from`)
and trains `--steps` steps with the ×2 study's recipe (SESR blocks, multi-scale HR copies,
T91 + BSD200, 16 48×48 patches, `--lr 3e-4` cosine) changing one thing against the control:
distillation from `--teacher` (half the loss on its output), L1 or Charbonnier instead of MSE,
64×64 patches (1.8× the pixels per step). Runs go to runs/levers/<lever>/ and are resumed or
skipped like the study's; each best checkpoint is evaluated in float on Set5 and Set14 by the
published protocol. Writes benchmarks/results/train_levers_x2.json (`benchmarks/report.py`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from common import ROOT, benchmark_psnr, training_folder
from train_tiers import train

from espcn_edge.atomic import write_text

STUDY = ROOT / "runs" / "study" / "x2-efficient"
LEVERS = {
    "control (MSE)": [],
    "distilled": ["--teacher", "{teacher}"],
    "L1": ["--loss", "l1"],
    "Charbonnier": ["--loss", "charbonnier"],
    "64×64 patches": ["--patch-size", "64"],
}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--base", type=Path, default=STUDY / "k3-8-sesr" / "best.keras")
    p.add_argument("--teacher", type=Path, default=STUDY / "k5-16-sesr" / "best.keras")
    p.add_argument("--steps", type=int, default=3000)
    args = p.parse_args()
    spec = json.loads((args.base.parent / "card.json").read_text())["spec_string"]
    results = {
        "base": str(args.base.relative_to(ROOT)),
        "teacher": str(args.teacher.relative_to(ROOT)),
        "steps": args.steps,
        "spec": spec,
        "runs": {"start (no fine-tune)": benchmark_psnr(args.base, 2)},
    }
    recipe = [
        "--data", str(training_folder()), "--scale", "2", "--spec", spec,
        "--reparam", "sesr", "--multiscale", "--init-from", str(args.base),
        "--epochs", str(args.steps // 500), "--steps-per-epoch", "500", "--lr", "3e-4",
    ]  # fmt: skip
    for lever, extra in LEVERS.items():
        out = ROOT / "runs" / "levers" / lever.split(" ")[0].lower().replace("×", "x")
        train(out, [*recipe, *(a.format(teacher=args.teacher) for a in extra)])
        results["runs"][lever] = benchmark_psnr(out / "best.keras", 2)
        print(lever, results["runs"][lever], flush=True)
    path = ROOT / "benchmarks" / "results" / "train_levers_x2.json"
    write_text(path, json.dumps(results, indent=2) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
