"""`espcn-edge bench`: per-stage time, fps and peak memory, and — on the same frames, in the
same run, interleaved frame by frame — the time ratio to OpenCV's dnn_superres ESPCN and to
plain bicubic. The report starts with the CPU (model, cores, int8 SIMD features): the ratios
change several times with it.

    espcn-edge bench --scale 2 --size 320x240 --vs-opencv ESPCN_x2.pb

Stages of one frame (RGB in, RGB out, like OpenCV's `upsample`): convert (RGB → Y/Cb/Cr),
invoke (the model on Y), chroma (bicubic Cb/Cr), rgb (merge back), each timed on its own; the
frame time is a separate, real `Upscaler.upscale_rgb` call, in which chroma overlaps invoke.
`encode` (a 4:2:0 JPEG of the SR planes, what the live view sends) is timed too but not part of
the RGB → RGB frame. The camera frame is the live path, also a real call: the frame as the Pi
camera delivers it (Y and 4:2:0 chroma), super-resolved for the live view, then its JPEG.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path

import numpy as np

from espcn_edge.atomic import write_text
from espcn_edge.color import resize_bicubic, rgb_to_ycbcr, ycbcr_to_rgb
from espcn_edge.commandline import non_negative_int, parse_size, plural, positive_int
from espcn_edge.machine import cpu_info, describe

from .engine import (
    DEFAULT_ENGINE,
    CommandError,
    EngineOptions,
    add_engine_args,
    command_parser,
    open_upscaler,
    setup_logging,
)
from .frames import Frame, half_size, super_resolve
from .sinks.jpeg import ENCODER, encode_planes
from .sources import DemoSource

FRAME_STAGES = ("convert", "invoke", "chroma", "rgb")


def peak_rss_mb() -> float:
    """Peak resident memory of this process. VmHWM where /proc exists: ru_maxrss survives exec
    on Linux, so a bench started by a big parent process would report the parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def demo_frames(size: tuple[int, int], count: int) -> list[np.ndarray]:
    """`count` distinct RGB frames of the demo pan at `size`."""
    source = DemoSource(size, fps=None, frames_per_image=max(count // 2, 1))
    source.start()
    return [source.read().rgb() for _ in range(count)]


def load_opencv(pb: Path, scale: int):
    try:
        import cv2
    except ImportError as e:
        raise CommandError("--vs-opencv needs opencv-contrib-python(-headless)") from e
    if not hasattr(cv2, "dnn_superres"):
        raise CommandError(
            "--vs-opencv needs OpenCV's contrib modules: pip install opencv-contrib-python-headless"
        )
    if not pb.is_file():
        raise CommandError(f"--vs-opencv {pb}: no such file")
    sr = cv2.dnn_superres.DnnSuperResImpl_create()
    try:
        sr.readModel(str(pb))
        sr.setModel("espcn", scale)
    except cv2.error as e:
        raise CommandError(f"--vs-opencv {pb}: OpenCV cannot load it ({e.msg.strip()})") from e
    return sr


def _ours(upscaler, rgb: np.ndarray) -> dict[str, float]:
    t = [time.perf_counter()]
    y, cb, cr = rgb_to_ycbcr(rgb)
    t.append(time.perf_counter())
    y_sr = upscaler.upscale_y(y)
    t.append(time.perf_counter())
    size = (y_sr.shape[1], y_sr.shape[0])
    cb_sr, cr_sr = resize_bicubic(cb, size), resize_bicubic(cr, size)
    t.append(time.perf_counter())
    ycbcr_to_rgb(y_sr, cb_sr, cr_sr)
    t.append(time.perf_counter())
    encode_planes(y_sr, cb, cr)  # at ×2 the LR chroma is the 4:2:0 chroma of the SR frame
    t.append(time.perf_counter())
    ms = dict(zip((*FRAME_STAGES, "encode"), np.diff(t) * 1e3, strict=True))
    ms["frame"] = _timed(upscaler.upscale_rgb, rgb)  # the real call: chroma overlaps invoke
    ms["camera"] = _timed(_camera_frame, upscaler, _as_camera_delivers(y, cb, cr))
    return ms


def _as_camera_delivers(y: np.ndarray, cb: np.ndarray, cr: np.ndarray) -> Frame:
    """The frame as the Pi camera's YUV420 stream gives it: chroma at half the size."""
    half = half_size((y.shape[1], y.shape[0]))
    return Frame(y, resize_bicubic(cb, half), resize_bicubic(cr, half))


def _camera_frame(upscaler, frame: Frame) -> bytes:
    """The live path of one frame: super-resolved for the live view, then its JPEG."""
    return encode_planes(*super_resolve(frame, upscaler.upscale_y, upscaler.scale).planes())


def _timed(fn, *args) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return (time.perf_counter() - t0) * 1e3


def run(
    size: tuple[int, int] = (320, 240),
    engine: EngineOptions = DEFAULT_ENGINE,
    frames: int = 60,
    warmup: int = 5,
    vs_opencv: Path | None = None,
) -> dict:
    """Measure; returns the report as a dict (all times in ms, medians over `frames`)."""
    upscaler = open_upscaler(engine)
    opencv = load_opencv(vs_opencv, upscaler.scale) if vs_opencv else None
    clips = demo_frames(size, frames + warmup)
    r = upscaler.scale
    out_size = (size[0] * r, size[1] * r)
    rows: dict[str, list[float]] = {}
    for i, rgb in enumerate(clips):
        sample = {f"espcn_edge.{k}": v for k, v in _ours(upscaler, rgb).items()}
        sample["bicubic.frame"] = _timed(resize_bicubic, rgb, out_size)
        if opencv is not None:
            sample["opencv_espcn.frame"] = _timed(opencv.upsample, rgb[..., ::-1])
        if i >= warmup:
            for k, v in sample.items():
                rows.setdefault(k, []).append(v)
    med = {k: round(float(np.median(v)), 3) for k, v in rows.items()}
    ours = med["espcn_edge.frame"]
    report = {
        "cpu": cpu_info(),
        "load_average": round(os.getloadavg()[0], 1),  # other work slows the absolute times
        "size": f"{size[0]}x{size[1]}",
        "scale": r,
        "frames": frames,
        "backend": upscaler.backend,
        "model": str(upscaler.model_path),
        "threads": engine.threads or os.cpu_count(),
        "jpeg_encoder": ENCODER,
        "median_ms": med,
        "fps": round(1000.0 / ours, 1),
        "fps_camera_path": round(1000.0 / med["espcn_edge.camera"], 1),
        "camera_to_invoke": round(med["espcn_edge.camera"] / med["espcn_edge.invoke"], 2),
        "ratio_to_bicubic": round(ours / med["bicubic.frame"], 2),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
    if opencv is not None:
        report["ratio_to_opencv_espcn"] = round(ours / med["opencv_espcn.frame"], 3)
        report["opencv_model"] = str(vs_opencv)
    return report


def format_report(rep: dict) -> str:
    med = rep["median_ms"]
    lines = [
        f"CPU: {describe(rep['cpu'])}; load average {rep['load_average']}",
        f"bench ×{rep['scale']} at {rep['size']}, {plural(rep['frames'], 'frame')}, backend "
        f"{rep['backend']}, {plural(rep['threads'], 'thread')}, model {rep['model']}",
        "espcn-edge per stage (median ms): "
        + ", ".join(f"{s} {med['espcn_edge.' + s]:.2f}" for s in (*FRAME_STAGES, "encode")),
        f"espcn-edge frame (RGB → RGB): {med['espcn_edge.frame']:.2f} ms = {rep['fps']} fps",
        f"camera path (YUV420 → SR → 4:2:0 JPEG): {med['espcn_edge.camera']:.2f} ms = "
        f"{rep['fps_camera_path']} fps, {rep['camera_to_invoke']}× invoke's time",
        f"bicubic (Pillow): {med['bicubic.frame']:.2f} ms → espcn-edge takes "
        f"{rep['ratio_to_bicubic']}× bicubic's time",
    ]
    if "ratio_to_opencv_espcn" in rep:
        ratio = rep["ratio_to_opencv_espcn"]
        lines.append(
            f"OpenCV dnn_superres ESPCN: {med['opencv_espcn.frame']:.2f} ms → espcn-edge "
            f"takes {ratio}× its time ({1 / ratio:.2f}× as fast)"
        )
    lines.append(f"peak RSS: {rep['peak_rss_mb']} MB")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = command_parser("bench", __doc__)
    p.add_argument("--size", type=parse_size, default="320x240", help="LR frame size WxH")
    p.add_argument(
        "--frames", type=positive_int, default=60, help="frames measured (after warm-up)"
    )
    p.add_argument("--warmup", type=non_negative_int, default=5, help="frames run before measuring")
    p.add_argument(
        "--vs-opencv",
        type=Path,
        default=None,
        metavar="PATH.pb",
        help="also time OpenCV dnn_superres ESPCN (e.g. ESPCN_x2.pb) on the same frames",
    )
    p.add_argument("--json", type=Path, default=None, help="also write the report as JSON")
    add_engine_args(p)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    report = run(args.size, EngineOptions.from_args(args), args.frames, args.warmup, args.vs_opencv)
    print(format_report(report))
    if args.json:
        write_text(args.json, json.dumps(report, indent=2) + "\n")
    return 0
