"""`espcn-edge demo`: the whole device path on built-in frames, no camera needed.

Runs the demo source (a slow pan over the package's sample photos) through the shipped model —
or, when none ships yet, a quick model trained and converted on the spot in a separate process
(a few minutes, needs the `train` extra) — writes a bicubic | ESPCN comparison image (each half
labelled, with a magnified crop of both; `device/figure.py`) and prints the pipeline statistics
and the bench numbers.

    espcn-edge demo                 # → espcn_demo_x2.png
    espcn-edge demo --view 127.0.0.1:8000 --frames 0    # watch it in a browser until Ctrl-C
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
from pathlib import Path

from espcn_edge.commandline import non_negative_int, parse_size
from espcn_edge.frames import Result
from espcn_edge.imageio import save_rgb
from espcn_edge.paths import refuse_inputs

from . import bench
from .engine import (
    DEFAULT_ENGINE,
    CommandError,
    EngineOptions,
    add_engine_args,
    command_parser,
    open_upscaler,
    setup_logging,
)
from .figure import ZOOM, comparison
from .pipeline import Pipeline
from .sinks import Sink, ViewSink, parse_address
from .sources import DemoSource
from .stats import Stats

QUICK_TRAIN = ["--epochs", "3", "--steps-per-epoch", "80", "--batch-size", "16"]


class KeepLast(Sink):
    """Remembers the newest result, for the side-by-side picture."""

    result: Result | None = None

    def output(self, result: Result) -> None:
        self.result = result


def cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "espcn-edge"


def quick_model(scale: int, missing: Path) -> Path:
    """A freshly trained and int8-converted model, cached; made in child processes so this
    process never imports TensorFlow."""
    out = cache_dir() / f"quick_x{scale}_int8.tflite"
    if out.is_file():
        print(f"no shipped ×{scale} model: using the quick model trained earlier, {out}")
        return out
    print(
        f"no shipped ×{scale} model ({missing}): training a quick one on "
        "the sample photos (a few minutes) …",
        flush=True,
    )
    run_dir = cache_dir() / f"quick_x{scale}"
    steps = [
        [
            sys.executable,
            "-m",
            "train.fit",
            "--scale",
            str(scale),
            "--out",
            str(run_dir),
            "--overwrite",  # a run left there earlier, whose conversion did not finish
            *QUICK_TRAIN,
        ],
        [
            sys.executable,
            "-m",
            "convert.tflite",
            "--int8",
            "--model",
            str(run_dir / "best.keras"),
            "--out",
            str(out),
            "--scale",
            str(scale),
            "--calibration-samples",
            "64",
            "--calibration-frames",
            "2",
            "--eval-images",
            "2",
        ],
    ]
    for cmd in steps:
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0 or (cmd is steps[-1] and not out.is_file()):
            last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise CommandError(
                f"could not make a quick model ({' '.join(cmd[2:4])}: {last[0]}); "
                "install the train extra (pip install 'espcn-edge[train]') or "
                "pass --model PATH.tflite"
            )
    return out


def run(
    engine: EngineOptions = DEFAULT_ENGINE,
    frames: int = 90,
    size: tuple[int, int] = (320, 240),
    out: Path | None = None,
    view: str | None = None,
    vs_opencv: Path | None = None,
) -> tuple[Stats, dict]:
    if out is not None:
        refuse_inputs("--out", out, [engine.model, vs_opencv])
    if engine.model is None and not engine.model_path.is_file():
        engine = dataclasses.replace(
            engine, model=quick_model(engine.shipped_scale, engine.model_path)
        )
    upscaler = open_upscaler(engine)
    stats = Stats()
    stats.info = {
        "backend": upscaler.backend,
        "model": upscaler.model_path.name,
        "scale": upscaler.scale,
        "source": "demo",
    }
    keep = KeepLast()
    sinks: list[Sink] = [keep]
    if view:
        sinks.append(ViewSink(parse_address(view), stats, upscaler.scale, compare=True))
    pipeline = Pipeline(
        DemoSource(size, fps=30.0),
        upscaler.upscale_y,
        sinks,
        max_frames=frames or None,
        stats=stats,
        scale=upscaler.scale,
    )
    pipeline.run()  # Ctrl-C, SIGTERM: one line and 130 / 143, no figure, no bench (cli.py)
    out = out or Path(f"espcn_demo_x{upscaler.scale}.png")
    if keep.result is not None:
        save_rgb(out, comparison(keep.result, upscaler.model_path.name))
        print(
            f"wrote {out}: bicubic (left) | ESPCN ×{upscaler.scale} (right), "
            f"below them the outlined region magnified {ZOOM}×"
        )
    report = bench.run(
        size,
        dataclasses.replace(engine, model=upscaler.model_path),
        frames=20,
        warmup=3,
        vs_opencv=[vs_opencv] if vs_opencv else [],
    )
    return stats, report


def build_parser() -> argparse.ArgumentParser:
    p = command_parser("demo", __doc__)
    p.add_argument(
        "--frames", type=non_negative_int, default=90, help="frames to stream (0: until Ctrl-C)"
    )
    p.add_argument("--size", type=parse_size, default="320x240", help="LR frame size WxH")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="comparison image to write (default: espcn_demo_x{scale}.png)",
    )
    p.add_argument("--view", metavar="HOST:PORT", default=None, help="also serve a live view")
    p.add_argument(
        "--vs-opencv",
        type=Path,
        default=None,
        metavar="PATH.pb",
        help="also time OpenCV dnn_superres ESPCN on the same frames",
    )
    add_engine_args(p)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    stats, report = run(
        EngineOptions.from_args(args), args.frames, args.size, args.out, args.view, args.vs_opencv
    )
    print(f"pipeline: {stats.summary()}")
    print(bench.format_report(report))
    return 0
