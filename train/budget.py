"""`python -m train.budget`: train a tier at SESR's budget, for a GPU, in one command.

SESR (ARM-software/sesr, train.py) trains 300 epochs of 64 random 64×64 LR patches from each
training image at batch 32: 300 × 800 × 64 / 32 = 480,000 steps on DIV2K. This runs that budget
with SESR's re-parameterized blocks (`--reparam sesr`), patches cut inside the step on the device,
XLA (train.fit's auto) and mixed precision (auto: float16 on a GPU, bfloat16 without XLA on an
AMX CPU), into OUT; then quantization-aware fine-tuning
of OUT/best.keras (float32, the project's recipe) into OUT/qat, whose best.keras converts to int8.

`--backend jax` runs the float stage on Keras's JAX backend instead (`train.jax_fit`), for an
accelerator that has JAX and no TensorFlow, and prints the quantization-aware command to run
where TensorFlow is.

    python -m train.budget --tier standard --scale 2 --data DIV2K_ROOT [--out DIR] [--resume]
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from espcn_edge import commandline
from espcn_edge.dataset import DatasetError, find_pairs
from espcn_edge.tiers import BY_NAME, DEFAULT_TIER, TIERS
from train import fit

PROG = "python -m train.budget"
SESR = {"epochs": 300, "patches_per_image": 64, "batch_size": 32, "patch_size": 64}
QAT_STEPS, QAT_STEPS_PER_EPOCH = 4000, 500
QAT_LR = {2: 3e-4, 3: 5e-4, 4: 5e-4}  # the shipped ×2 standard's and ×3/×4's fine-tunes


def finished(out: Path) -> bool:
    """A train.fit run trained to its end: its last epoch saved, no backup left to resume."""
    return (out / "last.keras").exists() and not (out / "backup").exists()


def stages(args: argparse.Namespace, out: Path, steps_per_epoch: int) -> list[list[str]]:
    """train.fit's arguments for the float run and the quantization-aware run after it."""
    spec = BY_NAME[args.tier].spec_name
    common = ["--data", args.data, "--scale", str(args.scale), "--spec", spec,
              "--batch-size", str(args.batch_size), "--patch-size", str(args.patch_size),
              "--xla", "auto", "--device-patches"]  # fmt: skip
    float_run = [*common, "--out", str(out), "--reparam", "sesr", "--epochs", str(args.epochs),
                 "--steps-per-epoch", str(steps_per_epoch), "--lr", str(args.lr),
                 "--mixed-precision", args.mixed_precision]  # fmt: skip
    if args.init_from:
        float_run += ["--init-from", str(args.init_from)]
    if args.multiscale:
        float_run.append("--multiscale")
    qat_epochs = -(-args.qat_steps // QAT_STEPS_PER_EPOCH)
    qat_run = [*common, "--out", str(out / "qat"), "--qat", "--init-from", str(out / "best.keras"),
               "--lr", str(QAT_LR[args.scale]), "--epochs", str(qat_epochs),
               "--steps-per-epoch", str(-(-args.qat_steps // qat_epochs))]  # fmt: skip
    for run, folder in ((float_run, out), (qat_run, out / "qat")):
        if args.overwrite:
            run.append("--overwrite")
        elif args.resume and (folder / "backup").exists():
            run.append("--resume")
    return [float_run, qat_run]


def run(args: argparse.Namespace) -> int:
    """Both stages in turn; a finished float run is not trained again under --resume."""
    out = args.out or Path(f"runs/budget/x{args.scale}-{args.tier}")
    if args.resume and finished(out) and finished(out / "qat"):
        return commandline.fail(
            PROG, f"{out} holds a finished budget run, nothing to resume: --overwrite to start "
            "afresh, or pick another --out"
        )  # fmt: skip
    images = len(find_pairs(args.data, args.scale, "train"))
    steps_per_epoch = max(1, images * args.patches_per_image // args.batch_size)
    float_run, qat_run = stages(args, out, steps_per_epoch)
    steps = args.epochs * steps_per_epoch
    print(
        f"Budget: {args.epochs} epochs × {images} images × {args.patches_per_image} patches of "
        f"{args.patch_size}×{args.patch_size} LR / batch {args.batch_size} = {steps:,} steps "
        f"(re-parameterized) into {out}, then {args.qat_steps:,} quantization-aware steps into "
        f"{out / 'qat'}",
        flush=True,
    )
    if args.backend == "jax":
        return _float_stage_in_jax(args, out, steps_per_epoch, qat_run)
    for stage in (float_run, qat_run):
        if stage is float_run and args.resume and finished(out):
            print(f"{out}: the float run is finished; continuing with {out / 'qat'}")
            continue
        print(f"{fit.PROG} {shlex.join(stage)}", flush=True)
        status = fit.main(stage)
        if status:
            return status
    return 0


def _float_stage_in_jax(args, out: Path, steps_per_epoch: int, qat_run: list[str]) -> int:
    if args.resume:
        return commandline.fail(
            PROG, "--backend jax runs start afresh (no --resume): a lent accelerator's run is "
            "one call; use --overwrite or another --out"
        )  # fmt: skip
    if args.mixed_precision == "fp16":
        return commandline.fail(
            PROG, "--backend jax trains in bf16 or float32 (fp16 needs loss scaling): use "
            "--mixed-precision bf16, auto or off"
        )  # fmt: skip
    os.environ["KERAS_BACKEND"] = "jax"  # read when Keras is first imported, just below
    try:
        from train import jax_fit
    except ImportError as e:
        return commandline.fail(
            PROG, f"--backend jax needs JAX ({e}): pip install jax (with CUDA: jax[cuda13]), or "
            "train with --backend tensorflow"
        )  # fmt: skip
    from train.precision import POLICIES

    if jax_fit.keras.backend.backend() != "jax":
        return commandline.fail(
            PROG, "Keras was imported with another backend before --backend jax: run it as its "
            "own command"
        )  # fmt: skip
    cfg = fit.FitConfig(
        out=out, data=args.data, scale=args.scale, spec=BY_NAME[args.tier].spec,
        epochs=args.epochs, steps_per_epoch=steps_per_epoch, batch_size=args.batch_size,
        patch_size=args.patch_size, lr=args.lr, overwrite=args.overwrite,
        init_from=args.init_from, reparam="sesr", multiscale=args.multiscale, device_patches=True,
    )  # fmt: skip
    precision = "bf16" if args.mixed_precision == "auto" else args.mixed_precision
    try:
        fit.claim_out(cfg)
        card = jax_fit.train(cfg, POLICIES[precision])
    except fit.FitError as e:
        return commandline.fail(PROG, e)
    print(f"{out / 'best.keras'}: val_psnr {card['best_val_psnr']:.3f} dB after "
          f"{card['steps']:,} steps. Quantization-aware training, where TensorFlow is:\n"
          f"{fit.PROG} {shlex.join(qat_run)}")  # fmt: skip
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = commandline.parser(PROG, __doc__)
    add = p.add_argument
    positive = commandline.positive_int
    add("--tier", choices=TIERS, default=DEFAULT_TIER, help="the spec of a tier (espcn_edge.tiers)")
    add("--scale", type=int, choices=(2, 3, 4), default=2, help="upscaling factor r")
    add("--data", help="DIV2K root or a folder of HR images (as train.fit)")
    add("--out", type=Path, help="output folder (default: runs/budget/x{scale}-{tier})")
    add(
        "--init-from",
        type=Path,
        metavar="MODEL.keras",
        help="start conv1–conv6 from another model (×3/×4 from the ×2 network, as SESR does)",
    )
    add("--mixed-precision", choices=("off", "auto", "bf16", "fp16"), default="auto",
        help="of the float run (as train.fit's); the QAT run stays float32")  # fmt: skip
    add("--epochs", type=positive, default=SESR["epochs"], help="SESR's; smaller to try it")
    add("--patches-per-image", type=positive, default=SESR["patches_per_image"],
        help="patches per training image per epoch (SESR's)")  # fmt: skip
    add("--batch-size", type=positive, default=SESR["batch_size"], help="SESR's")
    add("--patch-size", type=positive, default=SESR["patch_size"], help="LR patch side (SESR's)")
    add("--qat-steps", type=positive, default=QAT_STEPS, help="quantization-aware steps after")
    add("--lr", type=float, default=1e-3, help="the float run's initial learning rate")
    add(
        "--multiscale",
        action="store_true",
        help="add train.fit's ×0.9 … ×0.6 copies (for small training sets; DIV2K needs none)",
    )
    add(
        "--backend",
        choices=("tensorflow", "jax"),
        default="tensorflow",
        help="jax: the float stage on Keras's JAX backend (an accelerator without TensorFlow)",
    )
    again = p.add_mutually_exclusive_group()
    again.add_argument(
        "--resume", action="store_true", help="continue an interrupted run (either stage)"
    )
    again.add_argument("--overwrite", action="store_true", help="delete both stages' runs first")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        args.data = str(fit.resolve_data(args.data))
        return run(args)
    except DatasetError as e:
        return commandline.fail(PROG, e)


if __name__ == "__main__":
    sys.exit(main())
