"""Is the int8 model faster end to end with its first layer left in float?

    python benchmarks/float_first_layer.py

The first layer has one input channel, and XNNPACK's int8 convolution runs it at a tenth of the
other layers' MAC rate (`benchmarks/profile_layers.py`). For each shipped ×2 tier this converts
its `.keras` with the same calibration: full int8 (uint8 in and out: TF's graph before
`convert.tflite`'s own edits), with conv1 left in float (TF's QuantizationDebugger with conv1's
tensors denylisted; that graph takes and returns float32, as a mixed graph must), and each of
the two with the converter's int8 edits (`int8_rewrites`: pre-tanh ranges, folded clip, exact
residual), which is what `--int8` and `--int8 --float-conv1` write. All four are timed through
the runtime (`Upscaler.upscale_y`, one 320×240 Y plane, 2 threads), interleaved in one run, and
evaluated on Set5 and Set14 (the published protocol). Writes
benchmarks/results/float_first_layer_x2.json.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from common import ROOT, benchmark_psnr, training_folder
from study_measure import time_models

from convert.keras_model import convert_int8_float_conv1, convert_model, load_keras
from convert.tflite import ConvertOptions, int8_calibration, int8_rewrites
from espcn_edge.atomic import write_text
from espcn_edge.machine import cpu_info
from espcn_edge.tiers import TIERS, default_model_path


def main() -> int:
    options = ConvertOptions(precision="int8")
    planes = int8_calibration(training_folder(), 2, options)
    paths = {}
    with tempfile.TemporaryDirectory() as tmp:
        for tier in TIERS:
            model, _ = load_keras(default_model_path(2, tier).with_name(f"espcn_x2_{tier}.keras"))
            int8 = convert_model(model, "int8", planes=planes)
            mixed = convert_int8_float_conv1(model, planes)
            variants = {
                "int8": int8,
                "float conv1": mixed,
                "float conv1 + edits": int8_rewrites(mixed, options)[0],
                "int8 + edits": int8_rewrites(int8, options)[0],
            }
            for i, (kind, content) in enumerate(variants.items()):
                path = Path(tmp) / f"{tier}-{i}.tflite"
                path.write_bytes(content)
                paths[f"{tier}: {kind}"] = path
        ms = time_models(paths, rounds=30)
        load = round(os.getloadavg()[0], 2)
        psnr = {name: benchmark_psnr(path, 2) for name, path in paths.items()}
    results = {"cpu": cpu_info(), "load_average": load, "ms_320x240": ms, "psnr": psnr}
    out = ROOT / "benchmarks" / "results" / "float_first_layer_x2.json"
    write_text(out, json.dumps(results, indent=2) + "\n")
    print(json.dumps({"ms_320x240": ms, "psnr": psnr}, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
