"""`python -m train.fit`: train an ESPCN on bicubic-degraded LR/HR pairs.

With no --data and no ./data/DIV2K, trains on the package's built-in sample photos so the
whole pipeline runs on a fresh machine in a few minutes.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from espcn_edge import DEFAULT_SPEC, SAMPLES_DIR, ModelSpec, parse_spec  # noqa: E402
from espcn_edge.dataset import DatasetError  # noqa: E402

log = logging.getLogger("train.fit")
LOCAL_DIV2K = Path("data/DIV2K")


class FitError(RuntimeError):
    """A problem with the user's request, reported as one line."""


def resolve_data(data: str | None) -> Path:
    if data:
        return Path(data)
    if LOCAL_DIV2K.is_dir():
        print(f"No --data given: training on {LOCAL_DIV2K}")
        return LOCAL_DIV2K
    print(
        f"No --data and no ./{LOCAL_DIV2K}: training on the built-in sample photos "
        f"({SAMPLES_DIR}). Fine for trying the pipeline; use --data for a real model."
    )
    return Path(str(SAMPLES_DIR))


def init_from(model, path: Path) -> None:
    """Copy the weights of layers with the same name and shape (conv1–conv6 across scales)."""
    import keras

    try:
        source = keras.models.load_model(path)
    except Exception as e:  # Keras raises many types for a bad file
        raise FitError(
            f"{path}: cannot load the --init-from model ({e.__class__.__name__}: {e})"
        ) from e
    copied = []
    for layer in model.layers:
        try:
            other = source.get_layer(layer.name)
        except ValueError:
            continue
        if layer.weights and [w.shape for w in layer.weights] == [w.shape for w in other.weights]:
            layer.set_weights(other.get_weights())
            copied.append(layer.name)
    if not copied:
        raise FitError(f"{path}: no layer matches this model's names and shapes")
    print(f"Initialised {', '.join(copied)} from {path}")


def run(
    data: str | None,
    scale: int,
    spec: ModelSpec,
    epochs: int,
    steps_per_epoch: int,
    batch_size: int,
    patch_size: int,
    lr: float,
    out: Path,
    resume: bool = False,
    init_from_path: Path | None = None,
    strategy_name: str = "auto",
    verbose: int = 1,
) -> dict:
    """Train and return the model card of the best checkpoint."""
    import keras

    from espcn_edge.model import build_espcn
    from train.callbacks import Checkpoints, ValidationPSNR, bicubic_psnr, versions
    from train.data import DataGenerator
    from train.strategy import choose_strategy

    backup = out / "backup"
    if backup.exists() and not resume:
        raise FitError(
            f"{out} holds an unfinished run: add --resume to continue it, or pick another --out"
        )
    strategy = choose_strategy(strategy_name)
    root = resolve_data(data)
    gen = DataGenerator(root, scale, patch_size, batch_size)
    bicubic = bicubic_psnr(gen.valid_images, scale)
    print(
        f"{strategy.num_replicas_in_sync} replica(s); {len(gen.train_images)} training / "
        f"{len(gen.valid_images)} validation images, "
        f"×{scale}, spec {spec.name} ({spec.params(scale)} params, "
        f"{spec.macs_per_lr_pixel(scale)} MAC/LR px); bicubic val_psnr {bicubic:.2f} dB"
    )

    card = (
        json.loads((out / "card.json").read_text())
        if resume and (out / "card.json").exists()
        else {}
    )
    if card and card.get("spec_string") != spec.to_string():
        raise FitError(
            f"{out} was trained with spec {card.get('spec_string')}, not {spec.to_string()}"
        )
    card.update(
        scale=scale,
        spec=spec.to_dict(),
        spec_string=spec.to_string(),
        params=spec.params(scale),
        macs_per_lr_pixel=spec.macs_per_lr_pixel(scale),
        data=str(root),
        train_images=len(gen.train_images),
        valid_images=len(gen.valid_images),
        bicubic_val_psnr=round(bicubic, 3),
        planned_steps=epochs * steps_per_epoch,
        batch_size=batch_size,
        patch_size=patch_size,
        versions=versions(),
    )
    with strategy.scope():
        model = build_espcn(scale, spec)
        if init_from_path:
            init_from(model, init_from_path)
        schedule = keras.optimizers.schedules.CosineDecay(lr, epochs * steps_per_epoch, alpha=0.02)
        model.compile(optimizer=keras.optimizers.Adam(schedule), loss="mse")
    out.mkdir(parents=True, exist_ok=True)
    callbacks = [
        keras.callbacks.BackupAndRestore(str(backup), double_checkpoint=True),
        ValidationPSNR(gen.valid_images, scale),
        Checkpoints(out, card, best=card.get("best_val_psnr", float("-inf"))),
        keras.callbacks.CSVLogger(str(out / "history.csv"), append=resume),
        keras.callbacks.TensorBoard(str(out / "logs"), update_freq="epoch"),
    ]
    model.fit(
        gen.train_dataset(),
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        callbacks=callbacks,
        verbose=verbose,
    )
    print(
        f"Best val_psnr {card.get('best_val_psnr')} dB (bicubic {bicubic:.2f}): "
        f"{out / 'best.keras'}"
    )
    return card


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m train.fit",
        description=__doc__,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--data",
        help="DIV2K root (DIV2K_train_HR/…) or a folder of HR images; "
        "default ./data/DIV2K, else the built-in samples",
    )
    p.add_argument("--scale", type=int, choices=(2, 3, 4), default=2, help="upscaling factor r")
    p.add_argument(
        "--spec",
        default=DEFAULT_SPEC.name,
        help="model spec: a name from espcn_edge.spec.SPECS or 'f1:n1,…,f6:n6,f7[+skip]'",
    )
    p.add_argument("--epochs", type=int, default=10, help="number of epochs")
    p.add_argument("--steps-per-epoch", type=int, default=100, help="training steps per epoch")
    p.add_argument("--batch-size", type=int, default=16, help="patches per step (global batch)")
    p.add_argument("--patch-size", type=int, default=48, help="LR patch side in pixels (HR = r×)")
    p.add_argument("--lr", type=float, default=1e-3, help="initial learning rate (cosine decay)")
    p.add_argument("--out", type=Path, help="output folder (default runs/x{scale})")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    p.add_argument(
        "--init-from",
        type=Path,
        metavar="MODEL.keras",
        help="start layers of the same name and shape from another model",
    )
    p.add_argument(
        "--strategy",
        choices=("auto", "default", "mirrored", "multiworker"),
        default="auto",
        help="tf.distribute strategy (auto: by GPUs and TF_CONFIG)",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    try:
        spec = parse_spec(args.spec)
        run(
            args.data,
            args.scale,
            spec,
            args.epochs,
            args.steps_per_epoch,
            args.batch_size,
            args.patch_size,
            args.lr,
            args.out or Path(f"runs/x{args.scale}"),
            args.resume,
            args.init_from,
            args.strategy,
            verbose=1 if sys.stdout.isatty() else 2,
        )
    except (FitError, DatasetError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
