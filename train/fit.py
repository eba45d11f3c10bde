"""`python -m train.fit`: train an ESPCN on bicubic-degraded LR/HR pairs.

With no --data and no ./data/DIV2K, trains on the package's built-in sample photos so the
whole pipeline runs on a fresh machine in a few minutes.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import shutil
import sys
from pathlib import Path

from espcn_edge import DEFAULT_SPEC, SAMPLES_DIR, ModelSpec, commandline, parse_spec
from espcn_edge.atomic import WriteError, remove_stale, write_text
from espcn_edge.errors import UserError
from espcn_edge.interrupt import Interrupted, deferred, interruptible
from espcn_edge.paths import overlaps, refuse_unwritable
from espcn_edge.quiet import import_tensorflow_quietly, quiet_tensorflow

log = logging.getLogger("train.fit")
LOCAL_DIV2K = Path("data/DIV2K")


class FitError(UserError):
    """A problem with the user's request, reported as one line (exit status 2)."""


class TrainingStopped(RuntimeError):
    """Training failed inside TensorFlow (a lost worker, out of memory): one line, exit status 1,
    since the request itself was fine and the same command with --resume continues it."""


def tensorflow_error_gist(error, limit: int = 200) -> str:
    """`Type: first line` of a `tf.errors.OpError`'s own message, without the "Graph execution
    error" heading, the Python frames and the graph nodes and tensors that follow it."""
    lines = (line.strip() for line in error.message.splitlines())
    noise = ("Graph execution error", "Detected at node", 'File "')
    gist = next((line for line in lines if line and not line.startswith(noise)), "")
    if len(gist) > limit:
        gist = gist[: limit - 1] + "…"
    return f"{error.__class__.__name__}: {gist}"


@dataclasses.dataclass
class FitConfig:
    out: Path
    data: str | None = None
    scale: int = 2
    spec: ModelSpec = DEFAULT_SPEC
    epochs: int = 10
    steps_per_epoch: int = 100
    batch_size: int = 16
    patch_size: int = 48
    lr: float = 1e-3
    resume: bool = False
    overwrite: bool = False
    init_from: Path | None = None
    qat: bool = False
    reparam: str = "none"
    loss: str = "mse"
    teacher: Path | None = None
    teacher_weight: float = 0.5
    multiscale: bool = False
    xla: str = "auto"
    strategy: str = "auto"
    device_patches: bool = False
    mixed_precision: str = "auto"
    verbose: int = 1


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


def load_keras(path: Path, role: str):
    import keras

    try:
        return keras.models.load_model(path)
    except Exception as e:  # Keras raises many types for a bad file
        raise FitError(f"{path}: cannot load the {role} model ({e.__class__.__name__}: {e})") from e


def init_from(model, path: Path, spec: ModelSpec) -> None:
    """Start `model` (of `spec`) from the layers of another model with the same name and shape
    (into a re-parameterized model: blocks that collapse exactly into those layers); a narrower
    network of the same kernel sizes is first widened to `spec`, its output unchanged."""
    from espcn_edge.model import copy_weights
    from train.reparam import expand_from
    from train.widen import widen, widens

    source = load_keras(path, "--init-from")
    if widens(source, spec):
        source = widen(source, spec)
        print(f"Widened {path} to {spec.to_string()} (the same output)")
    copied = copy_weights(source, model) + expand_from(source, model)
    if not copied:
        raise FitError(f"{path}: no layer matches this model's names and shapes")
    print(f"Initialised {', '.join(copied)} from {path}")


def _load_card(cfg: FitConfig) -> dict:
    path = cfg.out / "card.json"
    card = json.loads(path.read_text()) if cfg.resume and path.exists() else {}
    if card and card.get("spec_string") != cfg.spec.to_string():
        raise FitError(
            f"--resume: {cfg.out} trains spec {card['spec_string']}, not --spec "
            f"{cfg.spec.name}; resume with --spec '{card['spec_string']}', or train the new "
            "spec into another --out"
        )
    planned = cfg.epochs * cfg.steps_per_epoch
    if card and card.get("planned_steps", planned) != planned:
        raise FitError(
            f"--resume: {cfg.out} was planned as {card['planned_steps']:,} steps, not "
            f"{planned:,} (the learning-rate schedule spans the plan); resume with its "
            "--epochs and --steps-per-epoch, or --init-from its best.keras for a new plan"
        )
    return card


def _trim_history(out: Path, backup: Path) -> None:
    """Drop history rows of epochs that the resumed run will train again."""
    history, metadata = out / "history.csv", backup / "training_metadata.json"
    try:
        header, *rows = history.read_text().splitlines()
    except (OSError, ValueError):
        return
    try:
        resume_epoch = json.loads(metadata.read_text())["epoch"]
    except FileNotFoundError:  # killed before the first backup: training restarts at epoch 0
        resume_epoch = 0
    except (OSError, ValueError, KeyError):
        return
    kept = [row for row in rows if int(row.split(",", 1)[0]) < resume_epoch]
    write_text(history, "\n".join([header, *kept]) + "\n")


RUN_FILES = ("best.keras", "last.keras", "card.json", "history.csv", "logs", "backup")


def check_out(cfg: FitConfig) -> None:
    """Before TensorFlow or any data is loaded: an --out that can be a run's folder, and no
    --init-from or --teacher among the files the run replaces."""
    for option, model in (("--init-from", cfg.init_from), ("--teacher", cfg.teacher)):
        if model and any(overlaps(cfg.out / name, model) for name in RUN_FILES):
            raise FitError(f"{option} {model} is one of the files this run in --out {cfg.out} "
                           "replaces: copy it elsewhere first, or pick another --out")  # fmt: skip
    if cfg.out.exists() and not cfg.out.is_dir():
        raise FitError(f"--out {cfg.out}: is a file, not a folder; pick a folder for the run")
    refuse_unwritable(f"--out {cfg.out}", cfg.out / "card.json")


def claim_out(cfg: FitConfig) -> None:
    """Refuse an --out that holds a run (finished or not) unless --resume (an unfinished one) or
    --overwrite: a new run would silently replace its best.keras, even with a worse model.
    --overwrite removes that run's files first, so nothing of it is mixed into the new one."""
    check_out(cfg)
    backup = cfg.out / "backup"
    finished = (cfg.out / "best.keras").exists() or (cfg.out / "card.json").exists()
    if cfg.overwrite:
        for name in RUN_FILES:
            path = cfg.out / name
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
    elif cfg.resume and backup.exists():
        return
    elif cfg.resume and finished:
        raise FitError(
            f"{cfg.out} holds a finished run, nothing to resume ({cfg.out / 'best.keras'} is "
            "kept): train it further with --init-from, or --overwrite to start afresh"
        )
    elif backup.exists():
        raise FitError(
            f"{cfg.out} holds an unfinished run: add --resume to continue it, --overwrite to "
            "start afresh, or pick another --out"
        )
    elif finished:
        raise FitError(
            f"{cfg.out} holds a finished run ({cfg.out / 'best.keras'}): pick another --out, "
            "add --overwrite to replace it, or train it further with --init-from"
        )


def run_card(cfg: FitConfig, data, train_images: list, valid_images: list, bicubic: float,
             policy: str, xla: bool) -> dict:  # fmt: skip
    """What a run's card.json says of how it was trained (train.fit's and train.jax_fit's)."""
    spec, scale = cfg.spec, cfg.scale
    return {
        "scale": scale,
        "spec": spec.to_dict(),
        "spec_string": spec.to_string(),
        "params": spec.params(scale),
        "macs_per_lr_pixel": spec.macs_per_lr_pixel(scale),
        "data": str(data),
        "train_images": len(train_images),
        "valid_images": len(valid_images),
        "bicubic_val_psnr": round(bicubic, 3),
        "planned_steps": cfg.epochs * cfg.steps_per_epoch,
        "batch_size": cfg.batch_size,
        "patch_size": cfg.patch_size,
        "init_from": str(cfg.init_from) if cfg.init_from else None,
        "quantization_aware": cfg.qat,
        "reparam": cfg.reparam,
        "loss": cfg.loss,
        "teacher": str(cfg.teacher) if cfg.teacher else None,
        "teacher_weight": cfg.teacher_weight if cfg.teacher else None,
        "multiscale": cfg.multiscale,
        "device_patches": cfg.device_patches,
        "dtype_policy": policy,
        "xla": xla,
    }


XLA_MIN_STEPS = 1000  # XLA's compile (seconds) pays for itself only over this many steps


def use_xla(xla: str, steps: int, replicas: int, cpu_bf16: bool = False) -> bool:
    """Compile the step with XLA: `on`, or `auto` for runs of at least XLA_MIN_STEPS unless the
    step computes bfloat16 on a CPU (XLA emulates it there: 68.5 ms a step against 19.9 with
    oneDNN's kernels, docs/training.md); never with several replicas (XLA cannot place one
    replica's variables on another's device)."""
    if replicas > 1:
        return False
    return xla == "on" or (xla == "auto" and steps >= XLA_MIN_STEPS and not cpu_bf16)


def run(cfg: FitConfig) -> dict:
    """Train and return the model card of the best checkpoint."""
    claim_out(cfg)
    import keras
    import tensorflow as tf

    from espcn_edge.model import build_espcn, copy_weights
    from train import loop
    from train.callbacks import (
        AtomicBackupAndRestore,
        Checkpoints,
        StopOnSignal,
        ValidationPSNR,
        bicubic_psnr,
        finished_backup,
        versions,
    )
    from train.data import DataGenerator
    from train.losses import make_loss, with_teacher
    from train.patches import DevicePatches, DevicePatchModel
    from train.precision import choose_policy, cpu_has_amx, dtype_policy
    from train.qat import QuantConv2D
    from train.reparam import collapse_into, reparam_conv
    from train.strategy import choose_strategy

    backup = cfg.out / "backup"
    if cfg.qat and cfg.reparam != "none":
        raise FitError("--qat fine-tunes a plain model: train with --reparam first, then --qat "
                       "--init-from its best.keras")  # fmt: skip
    card = _load_card(cfg)
    strategy = choose_strategy(cfg.strategy)
    if cfg.device_patches and (cfg.teacher or strategy.num_replicas_in_sync > 1):
        raise FitError("--device-patches trains on one device without a --teacher")
    gpu = bool(tf.config.list_logical_devices("GPU"))
    policy = choose_policy(cfg.mixed_precision, gpu, cpu_has_amx(), cfg.qat)
    root = resolve_data(cfg.data)
    gen = DataGenerator(root, cfg.scale, cfg.patch_size, cfg.batch_size, cfg.multiscale)
    bicubic = bicubic_psnr(gen.valid_images, cfg.scale)
    spec, scale, total_steps = cfg.spec, cfg.scale, cfg.epochs * cfg.steps_per_epoch
    cpu_bf16 = policy == "mixed_bfloat16" and not gpu
    xla = use_xla(cfg.xla, total_steps, strategy.num_replicas_in_sync, cpu_bf16)
    print(
        f"{strategy.num_replicas_in_sync} replica(s); {len(gen.train_images)} training / "
        f"{len(gen.valid_images)} validation images, ×{scale}, spec {spec.name} "
        f"({spec.params(scale)} params, {spec.macs_per_lr_pixel(scale)} MAC/LR px)"
        f"{', quantization-aware' if cfg.qat else ''}; bicubic val_psnr {bicubic:.2f} dB; "
        f"{policy}{', XLA' if xla else ''}"
        f"{', patches cut in the step on the ' if cfg.device_patches else ''}"
        f"{('GPU' if gpu else 'CPU') if cfg.device_patches else ''}"
    )
    card.update(
        run_card(cfg, root, gen.train_images, gen.valid_images, bicubic, policy, xla),
        init_from=str(cfg.init_from) if cfg.init_from else card.get("init_from"),
        versions=versions(),
    )

    def export(model: keras.Model) -> keras.Model:
        """The plain, uncompiled model to save (loads with no custom objects, whatever the loss):
        QAT weights or collapsed blocks go into built-in layers."""
        if cfg.reparam != "none":
            return collapse_into(model, plain)
        copy_weights(model, plain)
        return plain

    teacher = load_keras(cfg.teacher, "--teacher") if cfg.teacher else None
    dataset = gen.train_dataset()
    if teacher is not None:
        dataset = with_teacher(dataset, teacher)
    with strategy.scope():
        plain = build_espcn(scale, spec)
        conv = QuantConv2D if cfg.qat else reparam_conv(cfg.reparam)
        with dtype_policy(policy):
            model = build_espcn(scale, spec, conv=conv, head_dtype="float32")
            if cfg.device_patches:
                patches = DevicePatches(gen.train_images, scale, cfg.patch_size, cfg.batch_size)
                model = DevicePatchModel(model, patches)
                dataset = model.placeholder()
        if cfg.init_from:
            init_from(model, cfg.init_from, spec)
        schedule = keras.optimizers.schedules.CosineDecay(cfg.lr, total_steps, alpha=0.02)
        model.compile(
            optimizer=keras.optimizers.Adam(schedule),
            loss=make_loss(cfg.loss, cfg.teacher_weight if teacher is not None else None),
            jit_compile=xla,
        )
    chief = strategy.extended.should_checkpoint  # every worker trains; one writes the files
    if chief:
        cfg.out.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(finished_backup(backup), ignore_errors=True)  # a kill in the final delete
        if cfg.resume:
            remove_stale(cfg.out)  # half-written checkpoints of the killed run
            remove_stale(backup)
            _trim_history(cfg.out, backup)
    callbacks = [
        ValidationPSNR(gen.valid_images, scale),
        Checkpoints(cfg.out, card, export, best=card.get("best_val_psnr", float("-inf"))),
        keras.callbacks.CSVLogger(str(cfg.out / "history.csv"), append=cfg.resume),
        keras.callbacks.TensorBoard(str(cfg.out / "logs"), update_freq="epoch"),
        # last: an epoch counts as done only once its checkpoints and history row are written
        # (first, a kill after the backup lost that epoch's history row on resume)
        AtomicBackupAndRestore(backup),
    ]
    try:
        with deferred() as check:  # Ctrl-C taken between steps, not inside TensorFlow
            training = dict(
                epochs=cfg.epochs,
                steps_per_epoch=cfg.steps_per_epoch,
                callbacks=[StopOnSignal(check), *(callbacks if chief else [])],
                verbose=cfg.verbose,
            )
            if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
                loop.fit(model, dataset, strategy, **training)
            else:
                model.fit(dataset, **training)
    except tf.errors.OpError as e:  # a worker lost, out of memory: no tensor dumps, one line
        raise TrainingStopped(
            f"training stopped inside TensorFlow ({tensorflow_error_gist(e)}); start the run "
            f"(every worker) again with --resume to continue {cfg.out} from its last finished "
            "epoch"
        ) from None
    if not chief:
        return card
    print(
        f"Best val_psnr {card.get('best_val_psnr')} dB (bicubic {bicubic:.2f}): "
        f"{cfg.out / 'best.keras'}"
    )
    return card


PROG = "python -m train.fit"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = commandline.parser(PROG, __doc__)
    add = p.add_argument
    positive = commandline.positive_int
    add(
        "--data",
        help="DIV2K root (DIV2K_train_HR/…) or a folder of HR images; "
        "default: ./data/DIV2K, else the built-in samples",
    )
    add("--scale", type=int, choices=(2, 3, 4), default=2, help="upscaling factor r")
    add(
        "--spec",
        default=DEFAULT_SPEC.name,
        help="model spec: a name from espcn_edge.spec.SPECS or 'f1:n1,…,f6:n6,f7[+skip]'",
    )
    add("--epochs", type=positive, default=10, help="number of epochs")
    add("--steps-per-epoch", type=positive, default=100, help="training steps per epoch")
    add("--batch-size", type=positive, default=16, help="patches per step (global batch)")
    add("--patch-size", type=positive, default=48, help="LR patch side in pixels (HR is r× larger)")
    add("--lr", type=float, default=1e-3, help="initial learning rate (cosine decay to 2 %%)")
    add("--out", type=Path, help="output folder (default: runs/x{scale})")
    again = p.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    again.add_argument(
        "--overwrite", action="store_true", help="delete the run in --out and start afresh"
    )
    add(
        "--init-from",
        type=Path,
        metavar="MODEL.keras",
        help="start layers of the same name and shape from another model (e.g. another scale); "
        "a narrower one of the same kernel sizes is widened first, its output unchanged",
    )
    add(
        "--qat",
        action="store_true",
        help="quantization-aware fine-tuning: simulate int8 TFLite arithmetic while training "
        "(use with --init-from a float model and a lower --lr)",
    )
    add(
        "--reparam",
        choices=("none", "sesr"),
        default="none",
        help="train each convolution as a linear block that collapses exactly into it (sesr: "
        "k×k to 256 channels, 1×1 back, + identity); checkpoints hold the plain network",
    )
    add("--loss", choices=("mse", "l1", "charbonnier"), default="mse", help="pixel loss on Y")
    add(
        "--teacher",
        type=Path,
        metavar="MODEL.keras",
        help="distil from this larger trained model: the loss mixes the HR target and its output",
    )
    add(
        "--teacher-weight",
        type=float,
        default=0.5,
        help="weight of the teacher's term in the loss (the HR term gets 1 − this)",
    )
    add(
        "--multiscale",
        action="store_true",
        help="also train on copies of each HR image downscaled ×0.9 … ×0.6 (FSRCNN's augmentation)",
    )
    add(
        "--xla",
        choices=("auto", "on", "off"),
        default="auto",
        help="compile the training step with XLA: about 40 %% less CPU per step on the AVX2 EPYC, "
        "after a compile of seconds; auto: for runs of 1000 steps or more, not when computing "
        "bf16 on a CPU (XLA emulates it) and never with several replicas",
    )
    add(
        "--strategy",
        choices=("auto", "default", "mirrored", "multiworker"),
        default="auto",
        help="tf.distribute strategy; auto picks by visible GPUs and TF_CONFIG",
    )
    add(
        "--device-patches",
        action="store_true",
        help="upload the training images once and cut the random patches inside the compiled "
        "step (for a GPU, which a CPU generator cannot keep busy); one device, no --teacher",
    )
    add(
        "--mixed-precision",
        choices=("off", "auto", "bf16", "fp16"),
        default="auto",
        help="compute in 16 bits, output and loss in float32; auto (default): fp16 on a GPU, "
        "bf16 on a CPU with AMX, else off (and off for --qat)",
    )
    add("-v", "--verbose", action="store_true", help="TensorFlow's and Keras's own messages too")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s: %(message)s"
    )
    out = args.out or Path(f"runs/x{args.scale}")
    try:
        with interruptible():
            return _train(args, out)
    except Interrupted as e:  # Ctrl-C, SIGTERM: the checkpoint being written was discarded
        again = "--resume in place of --overwrite" if args.overwrite else "--resume"
        commandline.fail(
            PROG,
            f"{e}: {out} keeps {epochs_done(out)} finished of {args.epochs} epochs; run the "
            f"same command with {again} to continue",
        )
        return e.status


def epochs_done(out: Path) -> int:
    """Epochs of the unfinished run in `out` that --resume keeps (its backup's count)."""
    try:
        return int(json.loads((out / "backup" / "training_metadata.json").read_text())["epoch"])
    except (OSError, ValueError, KeyError):
        return 0


def _train(args: argparse.Namespace, out: Path) -> int:
    try:
        taken = {f.name for f in dataclasses.fields(FitConfig)} - {"out", "spec", "verbose"}
        cfg = FitConfig(  # by field name: each flag's dest is its field's name
            out=out,
            spec=parse_spec(args.spec),
            verbose=1 if sys.stdout.isatty() else 2,
            **{name: getattr(args, name) for name in taken},
        )
        check_out(cfg)  # a bad --out is said in a second, not after TensorFlow's import
        import_tensorflow_quietly()
        quiet_tensorflow(args.verbose)
        run(cfg)
    except WriteError as e:  # disk full or read-only while saving: the earlier files are intact
        return commandline.fail(
            PROG, f"{e}; the earlier checkpoints are intact: make room, then --resume"
        )
    except UserError as e:
        return commandline.fail(PROG, e)
    except TrainingStopped as e:
        commandline.fail(PROG, e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
