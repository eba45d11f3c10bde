"""Peak memory and time of `espcn-edge upscale` on large photos, per tile size, side by side.

    python benchmarks/tiles.py [--sizes 3,6,12] [--tiles 0,256,384,512,1024] [--rounds 2]
                               [--whole-limit 7] [--baseline ../old-checkout]

For each photo size (megapixels, 4:3, a generated JPEG with EXIF and an ICC profile) and each
`--tile` (0 = the whole image in one interpreter run), runs the real command in a fresh process and
reads its peak RSS from the kernel (its VmHWM as it exits). Rounds are interleaved, so a busy
machine slows every configuration alike; the time is the median, the RSS the largest. Whole-image
runs above `--whole-limit` MP are skipped (they need ~700 bytes per LR pixel: 12 MP ≈ 9 GB).
`--baseline DIR` adds the command of another checkout (e.g. the commit before tiling) as "before".
Writes benchmarks/results/tiles.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT

from espcn_edge.atomic import write_text

sys.path.insert(0, str(ROOT / "tests"))
from fakes.photo import camera_jpeg  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "tiles.json"


def make_photo(path: Path, megapixels: float, orientation: int = 6) -> tuple[int, int]:
    """A camera-like 4:3 JPEG of `megapixels` (tests/fakes/photo.py); returns (width, height)."""
    width = int(round((megapixels * 1e6 * 4 / 3) ** 0.5 / 8)) * 8
    height = width * 3 // 4
    camera_jpeg(path, width, height, orientation)
    return width, height


def run_once(root: Path, args: list[str]) -> tuple[float, float]:
    """(seconds, peak RSS MB) of `espcn-edge ARGS` run from the checkout `root`.

    The peak is the child's own VmHWM, read as it exits: getrusage's ru_maxrss of a child
    includes the parent's peak when the child was spawned with vfork (as Python does)."""
    env = dict(os.environ, PYTHONPATH=str(root), TF_CPP_MIN_LOG_LEVEL="3")
    code = (
        "import sys; from device.cli import main; status = main(" + repr(args) + "); "
        "hwm = open('/proc/self/status').read().split('VmHWM:')[1].split()[0]; "
        "print('VmHWM_kB', hwm, file=sys.stderr); sys.exit(status)"
    )
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    seconds = time.perf_counter() - t0
    if done.returncode != 0 or "VmHWM_kB" not in done.stderr:
        raise RuntimeError(f"espcn-edge {' '.join(args)} failed: {done.stderr[-500:]}")
    return seconds, int(done.stderr.split("VmHWM_kB")[1].split()[0]) / 1024


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="3,12", help="photo sizes in megapixels")
    p.add_argument("--tiles", default="0,256,384,512,1024", help="--tile values (0: whole)")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--scale", type=int, default=2)
    p.add_argument("--whole-limit", type=float, default=7.0, help="largest MP run whole")
    p.add_argument("--baseline", type=Path, default=None, help="another checkout, as 'before'")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    sizes = [float(v) for v in args.sizes.split(",")]
    tiles = [int(v) for v in args.tiles.split(",")]
    work = Path(tempfile.mkdtemp(prefix="espcn_tiles_"))
    runs: dict[tuple[float, str], list[tuple[float, float]]] = {}
    photos = {}
    for mp in sizes:
        photos[mp] = work / f"photo_{mp:g}mp.jpg"
        size = make_photo(photos[mp], mp)
        print(f"{photos[mp].name}: {size[0]}×{size[1]}", file=sys.stderr)
    for round_ in range(args.rounds):
        for mp in sizes:
            configs = [(f"--tile {t}", ROOT, ["--tile", str(t)]) for t in tiles]
            configs = [c for c in configs if c[2] != ["--tile", "0"] or mp <= args.whole_limit]
            if args.baseline is not None and mp <= args.whole_limit:
                configs.append(("before (whole image)", args.baseline.resolve(), []))
            for name, root, extra in configs:
                out = work / f"out_{mp:g}.jpg"
                cmd = ["upscale", str(photos[mp]), str(out), "--scale", str(args.scale)]
                if root == ROOT:  # the checkout before has neither flag
                    cmd += [*extra, "--overwrite"]
                out.unlink(missing_ok=True)
                seconds, rss = run_once(root, cmd)
                runs.setdefault((mp, name), []).append((seconds, rss))
                print(f"round {round_ + 1} {mp:g} MP {name}: {seconds:.1f} s, {rss:.0f} MB",
                      file=sys.stderr)  # fmt: skip
    rows = [
        {
            "megapixels": mp,
            "config": name,
            "seconds": statistics.median(s for s, _ in values),
            "peak_rss_mb": max(r for _, r in values),
            "runs": values,
        }
        for (mp, name), values in runs.items()
    ]
    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "load_average": os.getloadavg(),
        "scale": args.scale,
        "rounds": args.rounds,
        "rows": rows,
    }
    write_text(args.out, json.dumps(report, indent=1) + "\n")
    print(f"| photo | config | time (s, median of {args.rounds}) | peak RSS (MB) |")
    print("|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['megapixels']:g} MP | {row['config']} | {row['seconds']:.1f} "
            f"| {row['peak_rss_mb']:.0f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
