"""Where a frame's glue should run: chroma resized beside the interpreter (during invoke) or
between invokes, and with 1 or 2 interpreter threads — every variant on the same demo frames,
interleaved frame by frame in one run, as × the invoke of the shipped configuration.

    python benchmarks/glue.py [--size 320x240] [--frames 40] [--tiers tiny standard quality]

The RGB → RGB frame and the camera path (YUV420 → SR → 4:2:0 JPEG) are the real calls
(`Upscaler.upscale_rgb`, `frames.super_resolve`), whose chroma is made on a worker beside invoke
(`color.chroma_beside`); the "after" variants make the same chroma after invoke on the calling
thread instead. The first line names the CPU and the load.

Each tier ends with the floors on this machine's cores, from the same run: the glue's parts timed
alone (RGB → Y/Cb/Cr, both chroma planes, the merge; the camera's 4:2:0 chroma, the JPEG) and
invoke with 1 and 2 threads, combined as if the chroma filled every gap the interpreter's threads
leave and the merge were split evenly across the cores:
frame ≥ convert + max(invoke₂, (invoke₁ + chroma) / cores) + merge / cores, and
camera ≥ max(invoke₂, (invoke₁ + 4:2:0 chroma) / cores) + JPEG.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import time

import numpy as np

from device.bench import _as_camera_delivers, demo_frames
from device.engine import DEFAULT_ENGINE, open_upscaler
from device.sinks.jpeg import encode_planes
from espcn_edge.color import resize_bicubic, rgb_to_ycbcr, ycbcr_to_rgb
from espcn_edge.commandline import parse_size
from espcn_edge.frames import half_size, resize_chroma, super_resolve
from espcn_edge.machine import cpu_info, describe
from espcn_edge.tiers import TIERS


def invoke(up, rgb, cam):
    return up.upscale_y(cam.y)


def rgb_beside(up, rgb, cam):
    return up.upscale_rgb(rgb)


def rgb_after(up, rgb, cam):
    """The RGB frame with its chroma upscaled after invoke, on the calling thread."""
    y, cb, cr = rgb_to_ycbcr(rgb)
    return ycbcr_to_rgb(up.upscale_y(y), cb, cr)


def camera_beside(up, rgb, cam):
    return encode_planes(*super_resolve(cam, up.upscale_y, up.scale).planes())


def camera_after(up, rgb, cam):
    """The camera path with its 4:2:0 chroma resized after invoke, on the calling thread."""
    y_sr = up.upscale_y(cam.y)
    size = half_size((cam.size[0] * up.scale, cam.size[1] * up.scale))
    return encode_planes(y_sr, *resize_chroma(cam.cb, cam.cr, size))


VARIANTS = {
    "invoke": invoke,
    "RGB frame, chroma beside invoke": rgb_beside,
    "RGB frame, chroma after invoke": rgb_after,
    "camera, chroma beside invoke": camera_beside,
    "camera, chroma after invoke": camera_after,
}


PARTS = ("convert", "chroma", "merge", "4:2:0 chroma", "JPEG")


def parts(rgb: np.ndarray, cam, y_sr: np.ndarray) -> dict:
    """The glue's parts, each alone (Pillow's and libjpeg's C loops) on its own inputs, called as
    the variants are."""
    ycc = rgb_to_ycbcr(rgb)
    size = (y_sr.shape[1], y_sr.shape[0])

    def chroma(rgb, cam):
        return [resize_bicubic(c, size) for c in ycc[1:]]

    def chroma_420(rgb, cam):
        return [resize_bicubic(c, half_size(size)) for c in (cam.cb, cam.cr)]

    full, planes = chroma(rgb, cam), chroma_420(rgb, cam)
    return {
        "convert": lambda rgb, cam: rgb_to_ycbcr(rgb),
        "chroma": chroma,
        "merge": lambda rgb, cam: ycbcr_to_rgb(y_sr, *full),
        "4:2:0 chroma": chroma_420,
        "JPEG": lambda rgb, cam: encode_planes(y_sr, *planes),
    }


def floors(med: dict[str, float], cores: int) -> tuple[float, float]:
    """The RGB frame's and the camera path's lowest times from their parts (module doc)."""
    invoke, alone = med["invoke, 2 thr"], med["invoke, 1 thr"]
    frame = med["convert"] + max(invoke, (alone + med["chroma"]) / cores) + med["merge"] / cores
    return frame, max(invoke, (alone + med["4:2:0 chroma"]) / cores) + med["JPEG"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=parse_size, default="320x240")
    p.add_argument("--frames", type=int, default=40)
    p.add_argument("--tiers", nargs="+", default=list(TIERS), choices=TIERS)
    args = p.parse_args()
    print(f"CPU: {describe(cpu_info())}; load average {os.getloadavg()[0]:.1f}")
    clips = demo_frames(args.size, args.frames + 5)
    for tier in args.tiers:
        ups = {
            t: open_upscaler(dataclasses.replace(DEFAULT_ENGINE, tier=tier, threads=t))
            for t in (2, 1)
        }
        variants = {
            f"{name}, {t} thr": functools.partial(fn, up)
            for t, up in ups.items()
            for name, fn in VARIANTS.items()
        }
        times: dict[str, list[float]] = {k: [] for k in (*variants, *PARTS)}
        for i, rgb in enumerate(clips):
            cam = _as_camera_delivers(*rgb_to_ycbcr(rgb))
            alone = parts(rgb, cam, ups[2].upscale_y(cam.y))
            for name, fn in {**variants, **alone}.items():
                t0 = time.perf_counter()
                fn(rgb, cam)
                if i >= 5:
                    times[name].append((time.perf_counter() - t0) * 1e3)
        med = {k: float(np.median(v)) for k, v in times.items()}
        base = med["invoke, 2 thr"]
        size = f"{args.size[0]}x{args.size[1]}"
        print(f"\n{tier} ({size}, {args.frames} frames): median ms, × invoke with 2 threads")
        for name, ms in med.items():
            if name not in PARTS:
                print(f"  {name:<42}{ms:8.2f}{ms / base:7.2f}×")
        cores = os.cpu_count() or 1
        for name, low in zip(("RGB frame", "camera"), floors(med, cores), strict=True):
            print(f"  {name}'s floor on {cores} cores{low:{27 - len(name)}.2f}{low / base:7.2f}×")
        print("  (alone: " + ", ".join(f"{k} {med[k]:.2f}" for k in PARTS) + " ms)")
    print(f"\nload average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
