"""Where each millisecond of a shipped model goes: every op of its graph cut out alone (its own
one-op .tflite, tensors at their real sizes for the frame) and timed with LiteRT's XNNPACK
delegate and without it, interleaved, beside the whole graph.

    python benchmarks/profile_ops.py [--scale 2] [--size 320x240] [--threads 2] [--variant s2d]

LiteRT's Python interpreter has no op profiler, and XNNPACK runs a whole graph as one delegate
node, so this is the equivalent: one op at a time. "xnnpack" says whether the delegate takes
the op (a DELEGATE node in its one-op graph); an op it refuses runs in LiteRT's own kernels
inside the whole graph too, between delegate partitions. The sum of the ops is close to the
whole graph when nothing is fused across ops. The first line names the CPU.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time

import numpy as np
from common import ROOT

from espcn_edge.flatbuffer import pack, unpack
from espcn_edge.layout import space_to_depth
from espcn_edge.machine import describe
from espcn_edge.tiers import TIERS, default_model_path


def _interpreter(content: bytes, threads: int, xnnpack: bool = True):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = OpResolverType.AUTO if xnnpack else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    return Interpreter(
        model_content=content, num_threads=threads, experimental_op_resolver_type=resolver
    )


def _fill(interp) -> None:
    interp.allocate_tensors()
    for d in interp.get_input_details():
        interp.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))


def real_shapes(content: bytes, size: tuple[int, int], threads: int) -> dict[int, list[int]]:
    """Every tensor's shape once the graph is allocated for one W×H frame (LiteRT's own
    kernels: inside an XNNPACK partition the tensors keep their stored shapes)."""
    interp = _interpreter(content, threads, xnnpack=False)
    d = interp.get_input_details()[0]
    interp.resize_tensor_input(d["index"], [1, size[1], size[0], 1])
    interp.allocate_tensors()
    return {t["index"]: [int(v) for v in t["shape"]] for t in interp.get_tensor_details()}


def one_op_models(content: bytes, shapes: dict[int, list[int]]) -> list[tuple[str, list, bytes]]:
    """(op name, output shape, a graph of that op alone at the real shapes) for each op."""
    m, names = unpack(content)
    sg = m.subgraphs[0]
    models = []
    for op in sg.operators:
        one = copy.deepcopy(m)
        g = one.subgraphs[0]
        for i, t in enumerate(g.tensors):
            if i in shapes:
                t.shape, t.shapeSignature = np.array(shapes[i], np.int32), None
        constant = {
            i for i, t in enumerate(g.tensors) if t.buffer and m.buffers[t.buffer].data is not None
        }
        g.inputs = np.array([i for i in op.inputs if i >= 0 and i not in constant], np.int32)
        g.outputs = np.array(op.outputs, np.int32)
        g.operators = [copy.deepcopy(op)]
        one.signatureDefs = []
        models.append((names[op.opcodeIndex], shapes[int(op.outputs[0])], pack(one, len(content))))
    return models


def conv_macs(content: bytes, shapes: dict[int, list[int]]) -> list[int]:
    """Multiply-accumulates of each op (convolutions; 0 for the rest)."""
    m, names = unpack(content)
    sg = m.subgraphs[0]
    out = []
    for op in sg.operators:
        if names[op.opcodeIndex] != "CONV_2D":
            out.append(0)
            continue
        k = shapes[int(op.inputs[1])]  # OHWI
        o = shapes[int(op.outputs[0])]
        out.append(int(np.prod(o[:3])) * k[0] * k[1] * k[2] * k[3])
    return out


def median_ms(interps: dict, repeats: int) -> dict:
    times: dict = {k: [] for k in interps}
    for _ in range(repeats):
        for k, interp in interps.items():
            t0 = time.perf_counter()
            interp.invoke()
            times[k].append((time.perf_counter() - t0) * 1e3)
    return {k: float(np.median(v)) for k, v in times.items()}


def profile(path, size, threads: int, variant: str, repeats: int) -> dict:
    content = path.read_bytes()
    if variant == "s2d":
        content = space_to_depth(content)
    shapes = real_shapes(content, size, threads)
    whole = _interpreter(content, threads)
    d = whole.get_input_details()[0]
    whole.resize_tensor_input(d["index"], [1, size[1], size[0], 1])
    _fill(whole)
    interps = {"whole": whole}
    rows = []
    for i, (name, shape, one) in enumerate(one_op_models(content, shapes)):
        fast, plain = _interpreter(one, threads), _interpreter(one, threads, xnnpack=False)
        _fill(fast), _fill(plain)
        delegated = any(o["op_name"] == "DELEGATE" for o in fast._get_ops_details())
        interps[i, "xnnpack"], interps[i, "builtin"] = fast, plain
        rows.append({"op": name, "shape": shape, "xnnpack": delegated})
    for interp in interps.values():  # warm-up: first runs pack weights and size buffers
        interp.invoke()
    ms = median_ms(interps, repeats)
    for i, (row, macs) in enumerate(zip(rows, conv_macs(content, shapes), strict=True)):
        row["ms"], row["builtin_ms"] = round(ms[i, "xnnpack"], 3), round(ms[i, "builtin"], 3)
        row["macs"] = macs
        row["gmac_s"] = round(macs / ms[i, "xnnpack"] / 1e6, 1) if macs else None
    return {
        "model": path.name,
        "variant": variant,
        "whole_ms": round(ms["whole"], 3),
        "sum_ms": round(sum(r["ms"] for r in rows), 3),
        "ops": rows,
    }


def table(result: dict) -> list[str]:
    lines = [
        f"{result['model']} ({result['variant']}): whole graph {result['whole_ms']:.2f} ms, "
        f"ops alone {result['sum_ms']:.2f} ms",
        f"  {'op':<16}{'output':<20}{'xnnpack':<9}{'ms':>7}{'no-xnn ms':>11}"
        f"{'MMAC':>8}{'GMAC/s':>8}",
    ]
    for r in result["ops"]:
        shape = "×".join(str(v) for v in r["shape"][1:])
        gmac = f"{r['gmac_s']:.0f}" if r["gmac_s"] else ""
        mmac = f"{r['macs'] / 1e6:.0f}" if r["macs"] else ""
        lines.append(
            f"  {r['op']:<16}{shape:<20}{'yes' if r['xnnpack'] else 'NO':<9}{r['ms']:>7.2f}"
            f"{r['builtin_ms']:>11.2f}{mmac:>8}{gmac:>8}"
        )
    return lines


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--scale", type=int, default=2, choices=(2, 3, 4))
    p.add_argument("--size", default="320x240", help="LR frame W×H")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--tiers", nargs="+", choices=TIERS, default=list(TIERS))
    p.add_argument("--variant", nargs="+", choices=("plain", "s2d"), default=["plain"])
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    print(describe())
    print(f"×{args.scale} at {args.size}, {args.threads} threads, median of {args.repeats}")
    results = []
    for tier in args.tiers:
        for variant in args.variant:
            path = default_model_path(args.scale, tier)
            results.append(profile(path, size, args.threads, variant, args.repeats))
            print("\n".join(table(results[-1])), flush=True)
    if args.json:
        out = ROOT / args.json if not args.json.startswith("/") else args.json
        with open(out, "w") as f:
            json.dump({"machine": describe(), "size": args.size, "results": results}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
