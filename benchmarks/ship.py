"""Put a trained model into the package as one tier: int8 `.tflite` (what the device runs), the
`.keras` it came from and its card, as espcn_edge/models/espcn_x{r}_{tier}{_int8.tflite,.keras,
.card.json}.

    python benchmarks/ship.py runs/tiers/x2-standard/best.keras --tier standard --float-conv1

Converts with the default int8 options (`--float-conv1`: the first layer left in float, as the
standard and quality tiers ship: docs/convert.md), calibrated on T91 + BSD200 (the training
data), and keeps the converter's report (Set5 measured) beside the model. The card gets the
tier and the int8 model's Set5/Set14 PSNR (the published protocol, `espcn-edge eval`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from common import BENCHMARK_SETS, training_folder

from convert.tflite import ConvertOptions
from convert.tflite import run as convert
from espcn_edge.atomic import write_bytes, write_text
from espcn_edge.evaluate import evaluate_models, load_images, load_model
from espcn_edge.tiers import TIERS, default_model_path


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("model", type=Path, help="trained best.keras with card.json beside it")
    p.add_argument("--tier", choices=TIERS, required=True, help="the tier it ships as")
    p.add_argument("--float-conv1", action="store_true", help="leave the first layer in float")
    args = p.parse_args()
    card = json.loads((args.model.parent / "card.json").read_text())
    scale = card["scale"]
    int8 = default_model_path(scale, args.tier)
    stem = int8.name.removesuffix("_int8.tflite")
    report = convert(
        args.model,
        int8,
        training_folder(),
        ConvertOptions(precision="int8", float_conv1=args.float_conv1),
        eval_data=BENCHMARK_SETS["Set5"],
    )
    card["tier"] = args.tier
    shipped = [load_model(str(int8), scale)]
    card["int8_psnr"] = {
        name: evaluate_models(shipped, load_images(data, scale), scale)["models"][int8.name][
            "mean_psnr"
        ]
        for name, data in BENCHMARK_SETS.items()
    }
    write_bytes(int8.with_name(f"{stem}.keras"), args.model.read_bytes())
    write_text(int8.with_name(f"{stem}.card.json"), json.dumps(card, indent=2) + "\n")
    print(
        f"shipped ×{scale} {args.tier}: int8 PSNR {card['int8_psnr']}, "
        f"drop on Set5 {report['drop_db']} dB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
