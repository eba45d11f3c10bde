"""Measure every trained candidate of the layer-size study: int8 conversion, quality, speed.

    python benchmarks/study_measure.py [--scale 3]
    python benchmarks/study_measure.py --study x2-efficient --scale 2 --shipped

For each runs/study/<study>/<run>/best.keras (a `-qat` run is a quantization-aware fine-tune of
the run it is named after): convert to int8 (calibrated on the training folder, as the shipped
models are), evaluate the float and int8 models on Set5 and Set14 by the published protocol, and
time the int8 models on one 320×240 LR frame with 2 threads (30 rounds), interleaved so that
all are measured side by side in the same run. `--shipped` measures the shipped tiers of that
scale with them (their .keras and int8 files as shipped) and, where the study keeps one in
benchmarks/checkpoints/<study>/earlier-default/, the model that shipped when the study began
(the study's fixed reference, converted all-int8 as it shipped then). A run still training is
measured at its best checkpoint so far and marked (`training`); delete its best_int8.tflite to
measure it again.
Writes benchmarks/results/study_<study>.json, which `benchmarks/report.py` turns into tables and
plots.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from common import BENCHMARK_SETS, ROOT, finished, training_folder

from convert.tflite import ConvertOptions
from convert.tflite import run as convert
from espcn_edge import SAMPLES_DIR, parse_spec
from espcn_edge.atomic import write_text
from espcn_edge.color import luma, resize_bicubic
from espcn_edge.evaluate import evaluate_models, load_images, load_model
from espcn_edge.imageio import load_rgb
from espcn_edge.machine import cpu_info
from espcn_edge.runtime import Upscaler
from espcn_edge.tiers import TIERS, default_model_path

FRAME = (320, 240)
EARLIER_DEFAULT = "earlier default"


def time_models(paths: dict[str, Path], rounds: int = 10, invokes: int = 5) -> dict[str, float]:
    """Median ms per 320×240 invoke for each model, measured round-robin in one run."""
    y = luma(resize_bicubic(load_rgb(Path(str(SAMPLES_DIR)) / "astronaut.png"), FRAME))
    engines = {name: Upscaler(path, threads=2) for name, path in paths.items()}
    for engine in engines.values():
        engine.upscale_y(y)  # resize + warm up
    samples: dict[str, list[float]] = {name: [] for name in engines}
    for _ in range(rounds):
        for name, engine in engines.items():
            start = time.perf_counter()
            for _ in range(invokes):
                engine.upscale_y(y)
            samples[name].append((time.perf_counter() - start) * 1000 / invokes)
    return {name: round(float(np.median(s)), 2) for name, s in samples.items()}


def all_int8(keras_path: Path, int8: Path) -> Path:
    """`int8`, converted from `keras_path` (all-int8, default options) unless it exists."""
    if not int8.exists():
        convert(keras_path, int8, training_folder(), ConvertOptions(precision="int8"))
    return int8


def candidates(study: str, scale: int, shipped: bool) -> dict[str, tuple[Path, Path, Path]]:
    """name → (float .keras, int8 .tflite, card), converting the study runs that have no int8
    yet."""
    found = {}
    for keras_path in sorted((ROOT / "runs" / "study" / study).glob("*/best.keras")):
        int8 = all_int8(keras_path, keras_path.with_name("best_int8.tflite"))
        found[keras_path.parent.name] = (keras_path, int8, keras_path.with_name("card.json"))
    if shipped:
        earlier = ROOT / "benchmarks" / "checkpoints" / study / "earlier-default"
        if (earlier / "best.keras").exists():
            baseline = ROOT / "runs" / "baselines" / study / "earlier-default_int8.tflite"
            int8 = all_int8(earlier / "best.keras", baseline)
            found[EARLIER_DEFAULT] = (earlier / "best.keras", int8, earlier / "card.json")
        for tier in TIERS:
            int8 = default_model_path(scale, tier)
            keras_path = int8.with_name(f"espcn_x{scale}_{tier}.keras")
            found[f"shipped {tier}"] = (keras_path, int8, keras_path.with_suffix(".card.json"))
    return found


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--scale", type=int, default=3)
    p.add_argument("--study", help="folder name under runs/study (default x{scale})")
    p.add_argument("--shipped", action="store_true", help="measure the shipped tiers too")
    args = p.parse_args()
    study = args.study or f"x{args.scale}"
    results, int8_paths = {}, {}
    for name, (keras_path, int8, card_path) in candidates(study, args.scale, args.shipped).items():
        int8_paths[name] = int8
        shipped = name.startswith("shipped ")
        reference = shipped or name == EARLIER_DEFAULT
        card = json.loads(card_path.read_text())
        spec = parse_spec(card["spec_string"])
        entry = {
            "spec": spec.to_string(),
            "params": spec.params(args.scale),
            "macs_per_lr_pixel": spec.macs_per_lr_pixel(args.scale),
            "steps": card["steps"],
            "val_psnr": card["best_val_psnr"],
            "reparam": card.get("reparam", "none"),
            "qat": bool(card.get("quantization_aware")),
            "shipped": shipped,
            "training": not reference and not finished(keras_path.parent),
        }
        models = [load_model(str(keras_path), args.scale), load_model(str(int8), args.scale)]
        for set_name, folder in BENCHMARK_SETS.items():
            r = evaluate_models(models, load_images(folder, args.scale), args.scale)
            float_r, int8_r = r["models"].values()
            entry[set_name] = {
                "float": float_r["mean_psnr"],
                "int8": int8_r["mean_psnr"],
                "int8_ssim": int8_r["mean_ssim"],
            }
        results[name] = entry
        print(name, entry, flush=True)
    for name, ms in time_models(int8_paths, rounds=30).items():
        results[name]["int8_ms_320x240"] = ms
    results = {"cpu": cpu_info(), "load_average": round(os.getloadavg()[0], 2), "runs": results}
    out = ROOT / "benchmarks" / "results" / f"study_{study}.json"
    write_text(out, json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
