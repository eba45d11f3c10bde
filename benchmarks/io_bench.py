"""Measure the int8 model's I/O type: uint8 vs int8, speed (XNNPACK) and exactness.

    python benchmarks/io_bench.py --model runs/x2/best.keras [--data DIR] [--size 320x240]

Converts the model twice with the same calibration and the converter's int8 graph edits
(uint8 I/O and int8 I/O), then times
`Upscaler.upscale_y` (host-side encode/decode included) on a real LR frame of `--size`, and
compares the two outputs pixel by pixel. The numbers behind the converter's default are in
docs/convert.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from convert.calibration import calibration_lr, calibration_planes  # noqa: E402
from convert.keras_model import convert_model, load_keras  # noqa: E402
from convert.tflite import ConvertOptions, int8_rewrites  # noqa: E402
from espcn_edge import SAMPLES_DIR  # noqa: E402
from espcn_edge.color import resize_bicubic  # noqa: E402
from espcn_edge.runtime import Upscaler  # noqa: E402


def _time(upscalers: dict[str, Upscaler], y: np.ndarray, runs: int) -> dict[str, dict]:
    """Per-call latency, the models interleaved so that load from other processes hits both
    alike; the minimum is the figure least disturbed by a shared machine."""
    times: dict[str, list[float]] = {name: [] for name in upscalers}
    for up in upscalers.values():
        up.upscale_y(y)  # allocate for this shape
    for _ in range(runs):
        for name, up in upscalers.items():
            start = time.perf_counter()
            up.upscale_y(y)
            times[name].append((time.perf_counter() - start) * 1000.0)
    return {n: {"min_ms": round(min(t), 3), "median_ms": round(float(np.median(t)), 3)}
            for n, t in times.items()}  # fmt: skip


def run(model_path: Path, data: Path, size: tuple[int, int], runs: int, threads: int) -> dict:
    model, scale = load_keras(model_path)
    lr = calibration_lr(data, scale)
    planes = calibration_planes(lr, 200, 4, seed=0)
    frame = resize_bicubic(max(lr, key=lambda y: y.size), size)  # a real picture at `size`
    with tempfile.TemporaryDirectory() as tmp:
        ups = {}
        for io_type in ("uint8", "int8"):
            path = Path(tmp) / f"{io_type}.tflite"
            content = convert_model(model, "int8", io_type, planes)
            path.write_bytes(int8_rewrites(content, ConvertOptions("int8", io_type))[0])
            ups[io_type] = Upscaler(path, threads=threads)
        outs = {name: up.upscale_y(frame) for name, up in ups.items()}
        results: dict = _time(ups, frame, runs)
    diff = np.abs(outs["uint8"].astype(int) - outs["int8"].astype(int))
    results["max_abs_diff"], results["identical"] = int(diff.max()), bool(diff.max() == 0)
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python benchmarks/io_bench.py", formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--model", type=Path, required=True, help="trained .keras model")
    p.add_argument("--data", type=Path, default=Path(str(SAMPLES_DIR)), help="calibration data")
    p.add_argument("--size", default="320x240", help="LR frame WxH")
    p.add_argument("--runs", type=int, default=100, help="timed calls per model")
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="interpreter threads")
    args = p.parse_args(argv)
    w, h = (int(v) for v in args.size.split("x"))
    try:
        r = run(args.model, args.data, (w, h), args.runs, args.threads)
    except (ValueError, OSError) as e:
        print(f"convert.io_bench: {e}", file=sys.stderr)
        return 1
    print(f"{args.size} LR frame, {args.threads} threads, {args.runs} interleaved calls each:")
    for io_type in ("uint8", "int8"):
        t = r[io_type]
        print(f"  {io_type} I/O: min {t['min_ms']:.2f} ms, median {t['median_ms']:.2f} ms")
    print(f"  outputs identical: {r['identical']} (max |Δ| = {r['max_abs_diff']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
