"""Training throughput of `train.fit`'s step on this machine: steps/s with and without XLA,
plain and re-parameterized, on the real input pipeline (T91 + BSD200, 48×48 LR patches).

    python benchmarks/train_speed.py [--steps 150] [--spec seed-skip] [--scale 2]

Each configuration is compiled, warmed up, then timed over --steps steps; the input pipeline is
timed alone too (batches/s it can deliver), since a step cannot be faster than its input. CPU
time per step is printed beside wall time: on a busy machine it is the steadier comparison.
"""

from __future__ import annotations

import argparse
import sys
import time

from common import training_folder

from espcn_edge import parse_spec
from espcn_edge.machine import describe
from espcn_edge.quiet import import_tensorflow_quietly


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--steps", type=int, default=150)
    p.add_argument("--spec", default="seed-skip")
    p.add_argument("--scale", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=16)
    args = p.parse_args()
    import_tensorflow_quietly()
    import keras

    from espcn_edge.model import build_espcn
    from train.data import DataGenerator
    from train.reparam import reparam_conv

    spec = parse_spec(args.spec)
    gen = DataGenerator(training_folder(), args.scale, 48, args.batch_size)
    it = iter(gen.train_dataset())
    for _ in range(20):
        next(it)
    t, cpu = time.perf_counter(), time.process_time()
    for _ in range(args.steps):
        next(it)
    rows = {"input pipeline alone": (time.perf_counter() - t, time.process_time() - cpu)}
    for name, reparam, jit in [
        ("plain, no XLA (before)", "none", False),
        ("plain, XLA", "none", True),
        ("sesr re-parameterized, no XLA", "sesr", False),
        ("sesr re-parameterized, XLA", "sesr", True),
    ]:
        model = build_espcn(args.scale, spec, conv=reparam_conv(reparam))
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse", jit_compile=jit)
        ds = gen.train_dataset()
        model.fit(ds, epochs=1, steps_per_epoch=20, verbose=0)  # compile + warm up
        t, cpu = time.perf_counter(), time.process_time()
        model.fit(ds, epochs=1, steps_per_epoch=args.steps, verbose=0)
        rows[name] = (time.perf_counter() - t, time.process_time() - cpu)
    print(f"{describe()}; {args.spec} ×{args.scale}, batch {args.batch_size}, 48×48 LR")
    print(f"{'':34s} steps/s  wall ms/step  CPU ms/step")
    for name, (wall, cpu) in rows.items():
        ms = 1000 / args.steps
        print(f"  {name:32s} {args.steps / wall:6.1f}  {wall * ms:12.1f}  {cpu * ms:11.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
