"""Put a trained model into the package: int8 `.tflite` (what the device runs), the `.keras`
it came from and its card, as espcn_edge/models/espcn_x{r}{_int8.tflite,.keras,.card.json}.

    python benchmarks/ship.py runs/final/x2-qat/best.keras

Converts with the default int8 options, calibrated on T91 + BSD200 (the training data), and
keeps the converter's report (Set5 measured) beside the model.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from common import BENCHMARK_SETS, training_folder

from convert.tflite import ConvertOptions
from convert.tflite import run as convert
from espcn_edge import MODELS_DIR
from espcn_edge.atomic import write_bytes, write_text


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("model", type=Path, help="trained best.keras with card.json beside it")
    args = p.parse_args()
    card = json.loads((args.model.parent / "card.json").read_text())
    scale, models = card["scale"], Path(str(MODELS_DIR))
    report = convert(
        args.model,
        models / f"espcn_x{scale}_int8.tflite",
        training_folder(),
        ConvertOptions(precision="int8"),
        eval_data=BENCHMARK_SETS["Set5"],
    )
    write_bytes(models / f"espcn_x{scale}.keras", args.model.read_bytes())
    write_text(models / f"espcn_x{scale}.card.json", json.dumps(card, indent=2) + "\n")
    print(f"shipped ×{scale}: int8 drop on Set5 {report['drop_db']} dB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
