"""The shipped tiers in both layouts (plain and space-to-depth, `--variant`): Set5/Set14 Y-PSNR on
the published protocol and invoke time at a camera frame, measured side by side in one run.

    python benchmarks/variants.py [--scales 2 3 4] [--size 320x240] [--json FILE]

The blocked graph is the plain one bit for bit on even sides; the benchmark sets have odd
ones, where it sees the plane padded by one edge row or column, so its PSNR is measured, not
assumed. Times are interleaved medians (LiteRT, all cores); the first line names the CPU.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
from common import BENCHMARK_SETS, ROOT

from espcn_edge.evaluate import evaluate_models, load_images, y_model
from espcn_edge.graph import VARIANTS
from espcn_edge.machine import describe
from espcn_edge.runtime import Upscaler
from espcn_edge.tiers import TIERS, default_model_path


def invoke_ms(upscalers: dict, size: tuple[int, int], repeats: int) -> dict:
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (size[1], size[0]), dtype=np.uint8)
    times: dict = {k: [] for k in upscalers}
    for up in upscalers.values():
        up.upscale_y(frame)
    for _ in range(repeats):
        for k, up in upscalers.items():
            t0 = time.perf_counter()
            up.upscale_y(frame)
            times[k].append((time.perf_counter() - t0) * 1e3)
    return {k: round(float(np.median(v)), 2) for k, v in times.items()}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--scales", nargs="+", type=int, choices=(2, 3, 4), default=[2, 3, 4])
    p.add_argument("--size", default="320x240", help="LR frame W×H for the invoke time")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--json", help="also write the results here (relative to the repository)")
    args = p.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    print(describe())
    rows = []
    for scale in args.scales:
        ups = {
            (tier, v): Upscaler(default_model_path(scale, tier), variant=v)
            for tier in TIERS
            for v in VARIANTS
        }
        ms = invoke_ms(ups, size, args.repeats)
        psnr = {}
        for name, data in BENCHMARK_SETS.items():
            images = load_images(data, scale)
            models = [y_model(f"{t}.{v}", scale, up.upscale_y) for (t, v), up in ups.items()]
            found = evaluate_models(models, images, scale)["models"]
            for key in ups:
                psnr[key, name] = found[f"{key[0]}.{key[1]}"]["mean_psnr"]
        for tier, v in ups:
            rows.append({
                "scale": scale, "tier": tier, "variant": v, "invoke_ms": ms[tier, v],
                **{name: psnr[(tier, v), name] for name in BENCHMARK_SETS},
            })  # fmt: skip
            r = rows[-1]
            print(
                f"×{scale} {tier:<9}{v:<6} invoke {r['invoke_ms']:6.2f} ms at {args.size}  "
                + "  ".join(f"{n} {r[n]:.2f}" for n in BENCHMARK_SETS),
                flush=True,
            )
    if args.json:
        out = ROOT / args.json
        out.write_text(
            json.dumps({"machine": describe(), "size": args.size, "rows": rows}, indent=2) + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
