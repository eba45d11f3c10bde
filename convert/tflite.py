"""`python -m convert.tflite`: a trained `.keras` ESPCN → `.tflite` for the device.

    python -m convert.tflite --int8 --model runs/x2/best.keras --data DIV2K_ROOT_OR_HR_FOLDER

`--int8` is full-integer post-training quantization (builtin int8 ops only, checked after
conversion), uint8 I/O by default (scale 1/255, zero point 0: camera Y bytes go straight in);
`--int8 --float-conv1` leaves the first layer in float (float32 I/O; faster where its
one-channel int8 kernel is slow, docs/convert.md). `--fp16` stores float16 weights; the default
is float32. `--space-to-depth` writes the same network on 2×2 pixel blocks (its output bit for
bit the same on even sides; `espcn-edge --variant s2d` makes it from any model at start-up).
The model's scale, colour space, spec, I/O quantization and versions are stored
inside the file (`espcn_edge.tflite_meta`). A report (size, ops, white level, PSNR/SSIM of
bicubic / Keras / TFLite fp32 / the result, and the int8 drop) is printed and written as JSON
beside the output. Nothing is written if any step fails;
the `.tflite` and its report are written as one pair (the report holds the model's SHA-256).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from espcn_edge import SAMPLES_DIR, __version__, commandline
from espcn_edge.atomic import write_files
from espcn_edge.dataset import find_pairs
from espcn_edge.errors import UserError
from espcn_edge.evaluate import EvalImage, images_from_pairs, load_images
from espcn_edge.interrupt import Interrupted, interruptible
from espcn_edge.layout import space_to_depth
from espcn_edge.paths import refuse_inputs
from espcn_edge.quiet import import_tensorflow_quietly, quiet_tensorflow
from espcn_edge.spec import PRE_TANH_RANGE
from espcn_edge.tflite_meta import add_metadata

from .calibration import calibration_lr, calibration_planes
from .fold_clip import fold_clip
from .keras_model import (
    ConvertError,
    convert_int8_float_conv1,
    convert_model,
    io_details,
    load_keras,
    model_spec,
)
from .ops import check_int8, read_graph
from .ranges import clamp_pre_tanh, exact_residual
from .report import evaluate, format_report, white_level


@dataclass
class ConvertOptions:
    precision: str = "fp32"  # "int8" | "fp16" | "fp32"
    io_type: str = "uint8"  # int8 models only: "uint8" | "int8"
    calibration_samples: int = 300  # random LR patches
    calibration_frames: int = 8  # whole LR frames (centre-cropped)
    patch_size: int = 48
    seed: int = 0
    input_size: tuple[int, int] | None = None  # (w, h); None = dynamic
    eval_images: int = 10
    pre_tanh_clamp: float = PRE_TANH_RANGE  # int8: clip pre-tanh ranges to ±this; 0 = off
    fold_clip: bool = True  # int8: fold the identity path's clip into its ADD (one XNNPACK part)
    exact_residual: bool = True  # int8: requantize sigmoid − 0.5 onto the sigmoid's own grid
    float_conv1: bool = False  # int8: leave the first layer in float (float32 I/O)
    space_to_depth: bool = False  # the graph on 2×2 pixel blocks (espcn_edge.layout)


def int8_calibration(data: Path, scale: int, options: ConvertOptions) -> list[np.ndarray]:
    """The uint8 LR Y planes int8 conversion calibrates on, as `options` draws them."""
    return calibration_planes(
        calibration_lr(data, scale), options.calibration_samples, options.calibration_frames,
        options.patch_size, options.seed, options.input_size,
    )  # fmt: skip


def int8_rewrites(content: bytes, options: ConvertOptions) -> tuple[bytes, dict]:
    """The converter's post-conversion int8 graph edits: (model, what each one changed)."""
    done = {"pre_tanh_ranges_clamped": 0, "clip_folded": False, "residual_exact": False}
    if options.pre_tanh_clamp > 0:
        content, done["pre_tanh_ranges_clamped"] = clamp_pre_tanh(content, options.pre_tanh_clamp)
    if options.fold_clip:
        content, done["clip_folded"] = fold_clip(content)
    if options.exact_residual:
        content, done["residual_exact"] = exact_residual(content)
    return content, done


def _eval_images(eval_data, data: Path, scale: int, count: int) -> list[EvalImage]:
    """--eval-data whole; else up to `count` validation images of the calibration data —
    for the bundled samples (a handful) all of them, the validation one first."""
    if eval_data:
        return load_images(eval_data, scale)
    pairs = find_pairs(data, scale, "valid")
    if not pairs or data == Path(str(SAMPLES_DIR)):
        pairs += find_pairs(data, scale, "train")
    return images_from_pairs(pairs[:count], scale, data)


def _default_out(model_path: Path, precision: str) -> Path:
    return model_path.with_name(f"{model_path.stem}_{precision}.tflite")


def _metadata(scale, spec, options, io, model_path) -> dict:
    import tensorflow as tf

    return {
        "scale": scale, "color_space": "Y full-range BT.601",
        "value_range": "input and output Y/255 in [0, 1]; uint8 I/O = Y bytes",
        "precision": options.precision, "spec": spec, **io,
        "input_size": list(options.input_size) if options.input_size else None,
        "source_model": model_path.name,
        "calibration": {
            "patches": options.calibration_samples, "frames": options.calibration_frames,
            "seed": options.seed, "pre_tanh_clamp": options.pre_tanh_clamp,
        } if options.precision == "int8" else None,
        "versions": {"espcn_edge": __version__, "tensorflow": tf.__version__},
    }  # fmt: skip


def run(
    model_path: str | os.PathLike,
    out: str | os.PathLike | None = None,
    data: str | os.PathLike | None = None,
    options: ConvertOptions | None = None,
    scale: int | None = None,
    eval_data: str | os.PathLike | None = None,
) -> dict:
    """Convert, verify, evaluate, then write the `.tflite` and its JSON report (returned)."""
    options = options or ConvertOptions()
    if options.float_conv1 and options.precision != "int8":
        raise ConvertError("--float-conv1 leaves one layer of an int8 model in float: add --int8")
    if options.float_conv1 and options.io_type != "uint8":
        raise ConvertError("--float-conv1 models take and return float32: drop --io-type")
    model_path = Path(model_path)
    out = Path(out) if out else _default_out(model_path, options.precision)
    model, model_scale_ = load_keras(model_path)
    if scale is not None and scale != model_scale_:
        raise ConvertError(
            f"--scale {scale} disagrees with {model_path.name}, which is ×{model_scale_}"
        )
    scale = model_scale_
    data = Path(data) if data else Path(str(SAMPLES_DIR))
    int8 = options.precision == "int8"
    planes = int8_calibration(data, scale, options) if int8 else None
    if int8 and options.float_conv1:
        content = convert_int8_float_conv1(model, planes, options.input_size)
    else:
        content = convert_model(
            model, options.precision, options.io_type, planes, options.input_size
        )
    edits = {}
    if int8:
        content, edits = int8_rewrites(content, options)
    io = io_details(content)
    content = add_metadata(
        content, _metadata(scale, model_spec(model, model_path), options, io, model_path)
    )
    if options.space_to_depth:
        content = space_to_depth(content)
    graph = check_int8(content, options.float_conv1) if int8 else read_graph(content)

    images = _eval_images(eval_data, data, scale, options.eval_images)
    with tempfile.TemporaryDirectory(prefix="espcn-convert-") as tmp:
        result = Path(tmp) / out.name
        result.write_bytes(content)
        tflite = {f"tflite {options.precision}": result}
        if options.precision != "fp32":
            fp32 = Path(tmp) / "fp32.tflite"
            fp32.write_bytes(convert_model(model, "fp32", input_size=options.input_size))
            tflite = {"tflite fp32": fp32, **tflite}
        report = {
            "out": str(out), "model": str(model_path), "precision": options.precision,
            "file_size": len(content), "sha256": hashlib.sha256(content).hexdigest(),
            "ops": graph.summary(), "op_counts": graph.op_counts(),
            **edits,
            **io, "white_level": white_level(result, model), "options": asdict(options),
            "calibration_data": str(data) if planes else None, "eval_data": str(eval_data or data),
            "eval_default": not eval_data,
            "evaluation": evaluate(model, tflite, images, scale),
        }  # fmt: skip
    means = {k: v["mean_psnr"] for k, v in report["evaluation"]["models"].items()}
    if options.precision != "fp32":
        report["drop_db"] = round(means["keras float"] - means[f"tflite {options.precision}"], 4)
        report["gain_over_bicubic_db"] = round(
            means[f"tflite {options.precision}"] - means["bicubic"], 4
        )
    # one atomic pair: a failure while writing either leaves both earlier files in place
    write_files(
        {out: content, out.with_suffix(".json"): (json.dumps(report, indent=2) + "\n").encode()}
    )
    return report


def main(argv: list[str] | None = None) -> int:
    prog = "python -m convert.tflite"
    p = commandline.parser(prog, __doc__)
    kind = p.add_mutually_exclusive_group()
    kind.add_argument(
        "--int8", action="store_const", const="int8", dest="precision", help="full-integer int8"
    )
    kind.add_argument(
        "--fp16", action="store_const", const="fp16", dest="precision", help="float16 weights"
    )
    p.add_argument("--model", required=True, type=Path, help="trained .keras model")
    p.add_argument(
        "--data",
        type=Path,
        help="calibration data: DIV2K root or HR folder (default: the bundled sample photos)",
    )
    p.add_argument("--out", type=Path, help="output .tflite (default: beside the model)")
    p.add_argument(
        "--overwrite", action="store_true", help="replace an --out that exists (else: exit 2)"
    )
    positive = commandline.positive_int
    p.add_argument("--calibration-samples", type=positive, default=300, help="random LR patches")
    p.add_argument(
        "--calibration-frames", type=commandline.non_negative_int, default=8,
        help="whole LR frames",
    )  # fmt: skip
    p.add_argument("--patch-size", type=positive, default=48, help="calibration patch side (LR px)")
    p.add_argument("--seed", type=int, default=0, help="seed of the calibration draw")
    p.add_argument(
        "--io-type", choices=("uint8", "int8"), default="uint8", help="int8 model I/O type"
    )
    p.add_argument(
        "--input-size", type=commandline.parse_size, help="fixed input WxH (default: dynamic)"
    )
    p.add_argument("--scale", type=int, help="expected scale (checked against the model)")
    p.add_argument(
        "--eval-data", type=Path,
        help="evaluate on this set instead, e.g. ../shared/data/benchmark/Set5 (the published "
        "protocol); default: all bundled samples, or validation images of --data",
    )  # fmt: skip
    p.add_argument(
        "--eval-images", type=positive, default=10,
        help="images evaluated without --eval-data: validation images of --data, or the "
        "bundled samples (all 4 by default)",
    )  # fmt: skip
    p.add_argument(
        "--pre-tanh-clamp",
        type=float,
        default=PRE_TANH_RANGE,
        help="int8: clip calibrated pre-tanh ranges to ±this (0: off)",
    )
    p.add_argument("--no-fold-clip", dest="fold_clip", action="store_false",
                   help="int8: keep the identity path's clip as MINIMUM + RELU")  # fmt: skip
    p.add_argument("--no-exact-residual", dest="exact_residual", action="store_false",
                   help="int8: keep calibration's range for sigmoid − 0.5")  # fmt: skip
    p.add_argument("--float-conv1", action="store_true",
                   help="int8: leave the first layer in float (float32 in and out); faster "
                   "where its one-channel int8 kernel is slow (docs/convert.md)")  # fmt: skip
    p.add_argument(
        "--space-to-depth",
        action="store_true",
        help="write the graph on 2×2 pixel blocks: the same output, faster where narrow int8 "
        "layers cost per pixel (device: --variant, docs/convert.md)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="TensorFlow's own log lines too")
    args = p.parse_args(argv)
    out = args.out or _default_out(args.model, args.precision or "fp32")
    if out.is_dir():
        example = out / _default_out(args.model, "int8").name
        return commandline.fail(prog, f"--out {out}: is a folder; name the file, e.g. {example}")
    try:
        for written in (out, out.with_suffix(".json")):  # the model and its report
            refuse_inputs("--out", written, [args.model, args.data, args.eval_data])
    except UserError as e:
        return commandline.fail(prog, e)
    if out.suffix != ".tflite":
        return commandline.fail(prog, f"--out {out}: name a .tflite file")
    if out.exists() and not args.overwrite:  # checked before minutes of converting
        return commandline.fail(prog, f"{out}: already exists; pass --overwrite to replace it")
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s: %(message)s"
    )
    import_tensorflow_quietly()
    quiet_tensorflow(args.verbose)
    fields = {f.name for f in dataclasses.fields(ConvertOptions)} - {"precision"}
    options = ConvertOptions(
        precision=args.precision or "fp32", **{name: getattr(args, name) for name in fields}
    )  # by field name: each flag's dest is its field's name
    existed = out.exists()
    try:
        with interruptible():
            print(f"converting {args.model} to {options.precision}: {out}", flush=True)
            report = run(args.model, out, args.data, options, args.scale, args.eval_data)
    except (UserError, OSError) as e:  # OSError: a file the system refused
        return commandline.fail(prog, e)
    except Interrupted as e:  # Ctrl-C, SIGTERM: the pair is written whole or not at all
        kept = f"the earlier {out} is kept" if existed else f"nothing written to {out}"
        commandline.fail(prog, f"{e}: {kept}; run the same command again to convert")
        return e.status
    print(format_report(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
