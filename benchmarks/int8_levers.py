"""What closes the int8 gap: the same ×3 network (k3-16) after plain post-training quantization,
with the converter's pre-tanh clamp, and after quantization-aware training (fine-tuned from the
float model, or from scratch), each measured on Set5 and Set14 in float and int8.

    python benchmarks/int8_levers.py

Needs the runs made by:
    python benchmarks/study_train.py --specs k3-16
    python -m train.fit --data runs/data/t91_bsd200 --scale 3 --spec k3-16 --qat \
        --init-from runs/study/x3/k3-16/best.keras --lr 5e-4 --epochs 6 --steps-per-epoch 500 \
        --out runs/qat/k3-16-ft5e4
    python -m train.fit --data runs/data/t91_bsd200 --scale 3 --spec k3-16 --qat \
        --epochs 12 --steps-per-epoch 500 --out runs/qat/k3-16-scratch
Writes benchmarks/results/int8_levers_x3.json (read by report.py).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from common import BENCHMARK_SETS, ROOT, training_folder

from convert.tflite import ConvertOptions
from convert.tflite import run as convert
from espcn_edge.atomic import write_text
from espcn_edge.evaluate import evaluate_models, load_images, load_model

RUNS = {
    "float training (6k steps)": ROOT / "runs/study/x3/k3-16/best.keras",
    "+ QAT fine-tune (3k steps)": ROOT / "runs/qat/k3-16-ft5e4/best.keras",
    "QAT from scratch (6k steps)": ROOT / "runs/qat/k3-16-scratch/best.keras",
}
CLAMPS = {"plain int8": 0.0, "int8, pre-tanh clamp ±2": 2.0}


def main() -> int:
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for run_name, keras_path in RUNS.items():
            models = {"float": str(keras_path)}
            for label, clamp in CLAMPS.items():
                out = Path(tmp) / f"{len(results)}_{clamp}.tflite"
                convert(
                    keras_path,
                    out,
                    training_folder(),
                    ConvertOptions(precision="int8", pre_tanh_clamp=clamp, eval_images=2),
                )
                models[label] = str(out)
            entry = {}
            for set_name, folder in BENCHMARK_SETS.items():
                r = evaluate_models(
                    [load_model(m, 3) for m in models.values()], load_images(folder, 3), 3
                )
                entry[set_name] = dict(
                    zip(models, (m["mean_psnr"] for m in r["models"].values()), strict=True)
                )
            results[run_name] = entry
            print(run_name, entry, flush=True)
    write_text(
        ROOT / "benchmarks" / "results" / "int8_levers_x3.json",
        json.dumps(results, indent=2) + "\n",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
