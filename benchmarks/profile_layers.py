"""Per-layer cost of a spec on this machine: each convolution converted alone to int8 and fp32
TFLite and timed with LiteRT side by side (interleaved), plus the whole network both ways.

    python benchmarks/profile_layers.py --spec k5-16 [--scale 2] [--size 320x240] [--threads 2]

MACs are not milliseconds: on a CPU without an int8 dot product (AVX2, Cortex-A72) a layer with
one input channel runs int8 at a tenth of the others' speed. Pick kernel sizes and widths by
what this prints, on the machine that will run them. The first line names the CPU.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import time

import numpy as np
from common import spec_text

from espcn_edge import parse_spec
from espcn_edge.machine import cpu_info, describe
from espcn_edge.quiet import import_tensorflow_quietly


def _convert(model, int8: bool, sample_shape) -> bytes:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8:
        rng = np.random.default_rng(0)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: (
            [rng.uniform(-1, 1, sample_shape).astype(np.float32)] for _ in range(4)
        )
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = converter.inference_output_type = tf.int8
    with contextlib.redirect_stdout(io.StringIO()):  # the converter's "Saved artifact" chatter
        return converter.convert()


def _interpreter(content: bytes, threads: int):
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=content, num_threads=threads)
    interp.allocate_tensors()
    d = interp.get_input_details()[0]
    interp.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
    return interp


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--spec", default="seed-skip")
    p.add_argument("--scale", type=int, default=2)
    p.add_argument("--size", default="320x240", help="LR frame W×H")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--json", help="also write the table here")
    args = p.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    import_tensorflow_quietly()
    import keras

    from espcn_edge.model import build_espcn

    spec = parse_spec(spec_text(args.spec))
    rows = []
    for i, (k, cin, cout) in enumerate(spec._layers(args.scale), start=1):
        act = "sigmoid" if i == 7 else "tanh"
        x = keras.Input((h, w, cin), batch_size=1)
        model = keras.Model(x, keras.layers.Conv2D(cout, k, padding="same", activation=act)(x))
        rows.append({"layer": f"conv{i} {k}×{k} {cin}→{cout} {act}", "macs": k * k * cin * cout,
                     "model": model, "shape": (1, h, w, cin)})  # fmt: skip
    x = keras.Input((h, w, 1), batch_size=1)
    whole = keras.Model(x, build_espcn(args.scale, spec)(x))
    rows.append({"layer": "whole network", "macs": spec.macs_per_lr_pixel(args.scale),
                 "model": whole, "shape": (1, h, w, 1)})  # fmt: skip
    runs = {}
    for n, row in enumerate(rows):
        for precision in ("int8", "fp32"):
            content = _convert(row["model"], precision == "int8", row["shape"])
            runs[n, precision] = (_interpreter(content, args.threads), [])
    for _ in range(args.repeats):  # interleaved: every model once per round
        for interp, times in runs.values():
            t = time.perf_counter()
            interp.invoke()
            times.append(1000 * (time.perf_counter() - t))
    info = cpu_info()
    print(f"{describe(info)}; {args.spec} ×{args.scale}, {w}×{h} LR, {args.threads} threads")
    print("| layer | MAC/px | int8 ms | int8 GMAC/s | fp32 ms |\n|---|---|---|---|---|")
    table = []
    for n, row in enumerate(rows):
        i8, f32 = (float(np.median(runs[n, p][1])) for p in ("int8", "fp32"))
        gmacs = row["macs"] * w * h / i8 / 1e6
        print(f"| {row['layer']} | {row['macs']:,} | {i8:.2f} | {gmacs:.1f} | {f32:.2f} |")
        table.append({"layer": row["layer"], "macs": row["macs"], "int8_ms": round(i8, 3),
                      "fp32_ms": round(f32, 3)})  # fmt: skip
    if args.json:
        from espcn_edge.atomic import write_text

        result = {"cpu": info, "spec": args.spec, "size": [w, h], "threads": args.threads}
        write_text(args.json, json.dumps({**result, "layers": table}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
