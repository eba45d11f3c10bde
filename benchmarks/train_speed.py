"""Training throughput of `train.fit`'s step on this machine: steps/s and LR pixels/s with and
without XLA, plain and re-parameterized, in float32 and bf16 mixed precision, at several batch
sizes, on the real input pipeline (T91 + BSD200, 48×48 LR patches).

    python benchmarks/train_speed.py [--steps 150] [--spec seed-skip] [--rows bf16 batch]

bf16 pays only where the CPU computes in it (AVX-512 BF16 or AMX: `grep -oE 'avx512_bf16|amx_bf16'
/proc/cpuinfo`); elsewhere TensorFlow emulates it. Larger batches raise pixels/s when a step is
dominated by per-step overhead rather than by the convolutions.

Each configuration is compiled, warmed up, then timed over --steps steps; the input pipeline is
timed alone too (batches/s it can deliver), since a step cannot be faster than its input. CPU
time per step is printed beside wall time: on a busy machine it is the steadier comparison.
"""

from __future__ import annotations

import argparse
import sys
import time

from common import spec_text, training_folder

from espcn_edge import parse_spec
from espcn_edge.machine import describe
from espcn_edge.quiet import import_tensorflow_quietly


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--steps", type=int, default=150)
    p.add_argument("--spec", default="seed-skip")
    p.add_argument("--scale", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=16, help="the batch of the first rows")
    p.add_argument("--rows", nargs="*", help="time only the rows whose name has one of these words")
    args = p.parse_args()
    import_tensorflow_quietly()
    import keras

    from espcn_edge.model import build_espcn
    from train.data import DataGenerator
    from train.reparam import reparam_conv

    spec = parse_spec(spec_text(args.spec))
    gen = DataGenerator(training_folder(), args.scale, 48, args.batch_size)
    it = iter(gen.train_dataset())
    for _ in range(20):
        next(it)
    t, cpu = time.perf_counter(), time.process_time()
    for _ in range(args.steps):
        next(it)
    rows = {"input pipeline alone": (time.perf_counter() - t, time.process_time() - cpu)}
    batches = {"input pipeline alone": args.batch_size}
    b = args.batch_size
    for name, reparam, jit, batch, policy in [
        ("plain, no XLA (before)", "none", False, b, "float32"),
        ("plain, XLA", "none", True, b, "float32"),
        ("sesr re-parameterized, no XLA", "sesr", False, b, "float32"),
        ("sesr re-parameterized, XLA", "sesr", True, b, "float32"),
        ("sesr, XLA, bf16", "sesr", True, b, "mixed_bfloat16"),
        ("sesr, no XLA, bf16", "sesr", False, b, "mixed_bfloat16"),  # oneDNN's own bf16 kernels
        (f"sesr, XLA, batch {2 * b}", "sesr", True, 2 * b, "float32"),
        (f"sesr, XLA, batch {4 * b}", "sesr", True, 4 * b, "float32"),
        (f"sesr, XLA, bf16, batch {4 * b}", "sesr", True, 4 * b, "mixed_bfloat16"),
    ]:
        if args.rows and not any(word in name for word in args.rows):
            continue
        keras.config.set_dtype_policy(policy)
        model = build_espcn(args.scale, spec, conv=reparam_conv(reparam))
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse", jit_compile=jit)
        ds = DataGenerator(training_folder(), args.scale, 48, batch).train_dataset()
        model.fit(ds, epochs=1, steps_per_epoch=20, verbose=0)  # compile + warm up
        t, cpu = time.perf_counter(), time.process_time()
        model.fit(ds, epochs=1, steps_per_epoch=args.steps, verbose=0)
        rows[name], batches[name] = (time.perf_counter() - t, time.process_time() - cpu), batch
    keras.config.set_dtype_policy("float32")
    print(f"{describe()}; {args.spec} ×{args.scale}, 48×48 LR")
    print(f"{'':34s} batch  steps/s  LR Mpx/s  wall ms/step  CPU ms/step")
    for name, (wall, cpu) in rows.items():
        ms, mpx = 1000 / args.steps, batches[name] * 48 * 48 * args.steps / wall / 1e6
        print(
            f"  {name:32s} {batches[name]:5d}  {args.steps / wall:7.1f}  {mpx:8.3f}  "
            f"{wall * ms:12.1f}  {cpu * ms:11.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
