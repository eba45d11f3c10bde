"""Is the int8 model faster end to end with its first layer left in float? (issue 12's lever)

    python benchmarks/float_first_layer.py

The first layer has one input channel, and XNNPACK's int8 convolution runs it at a tenth of the
other layers' MAC rate (`benchmarks/profile_layers.py`). For each shipped ×2 tier this converts
its `.keras` twice with the same calibration: full int8 (uint8 in and out: TF's graph before
`convert.tflite`'s own edits) and with conv1 left in float (TF's QuantizationDebugger with
conv1's tensors denylisted; that graph takes and returns float32, as a mixed graph must). Both
and the shipped model are timed through the runtime (`Upscaler.upscale_y`, one 320×240 Y plane,
2 threads), interleaved in one run, and evaluated on Set5 and Set14 (the published protocol).
Writes benchmarks/results/float_first_layer_x2.json.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from common import ROOT, benchmark_psnr, training_folder
from study_measure import time_models

from convert.calibration import calibration_lr, calibration_planes, representative_dataset
from convert.keras_model import convert_model, fixed_batch, load_keras
from convert.tflite import ConvertOptions
from espcn_edge.atomic import write_text
from espcn_edge.machine import cpu_info
from espcn_edge.runtime import TIERS, default_model_path


def float_conv1(model, planes) -> bytes:
    """int8 TFLite of `model` with conv1 (its kernel, bias and output) left in float."""
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    tensors = Interpreter(model_content=convert_model(model, "fp32")).get_tensor_details()
    converter = tf.lite.TFLiteConverter.from_keras_model(fixed_batch(model, None))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative_dataset(planes)
    debugger = tf.lite.experimental.QuantizationDebugger(
        converter=converter,
        debug_dataset=representative_dataset(planes[:4], progress=False),
        debug_options=tf.lite.experimental.QuantizationDebugOptions(
            denylisted_nodes=[t["name"] for t in tensors if "conv1" in t["name"]]
        ),
    )
    return debugger.get_nondebug_quantized_model()


def main() -> int:
    options = ConvertOptions(precision="int8")
    planes = calibration_planes(
        calibration_lr(training_folder(), 2), options.calibration_samples,
        options.calibration_frames, options.patch_size, options.seed, options.input_size,
    )  # fmt: skip
    paths = {}
    with tempfile.TemporaryDirectory() as tmp:
        for tier in TIERS:
            shipped = default_model_path(2, tier)
            model, _ = load_keras(shipped.with_name(f"espcn_x2_{tier}.keras"))
            for kind, content in (
                ("int8", convert_model(model, "int8", planes=planes)),
                ("float conv1", float_conv1(model, planes)),
            ):
                path = Path(tmp) / f"{tier}-{kind.replace(' ', '-')}.tflite"
                path.write_bytes(content)
                paths[f"{tier}: {kind}"] = path
            paths[f"{tier}: shipped int8"] = shipped
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
