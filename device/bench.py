"""`espcn-edge bench`: per-stage time, fps and peak memory, and — on the same frames, in the
same run, interleaved frame by frame — the time ratio to OpenCV's dnn_superres models and to
plain bicubic. The report starts with the CPU (model, cores, int8 SIMD features): the ratios
change several times with it.

    espcn-edge bench --scale 2 --size 320x240 --vs-opencv ESPCN_x2.pb
    espcn-edge bench --tiers --vs-opencv ESPCN_x2.pb --vs-opencv FSRCNN_x2.pb

`--tiers` times every shipped tier the same way (the frame and the camera path of each) and
prints one table.

Stages of one frame (RGB in, RGB out, like OpenCV's `upsample`): convert (RGB → Y/Cb/Cr),
invoke (the model on Y), chroma (bicubic Cb/Cr), rgb (merge back), each timed on its own; the
frame time is a separate, real `Upscaler.upscale_rgb` call (chroma made beside invoke).
`encode` (a 4:2:0 JPEG of the SR planes, what the live view sends) is timed too but not part of
the RGB → RGB frame. The camera frame is the live path, also a real call: the frame as the Pi
camera delivers it (Y and 4:2:0 chroma), super-resolved for the live view, then its JPEG.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import resource
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from espcn_edge import layout_cache
from espcn_edge.atomic import write_text
from espcn_edge.color import resize_bicubic, rgb_to_ycbcr, ycbcr_to_rgb
from espcn_edge.commandline import non_negative_int, parse_size, plural, positive_int
from espcn_edge.evaluate import opencv_algorithm, opencv_superres
from espcn_edge.frames import Frame, half_size, resize_chroma, super_resolve
from espcn_edge.machine import cpu_info, describe
from espcn_edge.rgb_model import RgbModel
from espcn_edge.spec import parse_spec
from espcn_edge.tiers import shipped

from .engine import (
    DEFAULT_ENGINE,
    CommandError,
    EngineOptions,
    add_engine_args,
    command_parser,
    open_upscaler,
    setup_logging,
)
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
        return opencv_superres(pb, scale)
    except ValueError as e:
        raise CommandError(f"--vs-opencv: {e}") from None


def opencv_name(pb: Path) -> str:
    """ESPCN_x2.pb → opencv_espcn: the report's key for that model."""
    return "opencv_" + opencv_algorithm(pb)


def load_rgb_model(path: Path, scale: int) -> RgbModel:
    model = RgbModel(path)
    if model.scale != scale:
        raise CommandError(f"--vs-rgb {path}: an ×{model.scale} model; bench it with --scale "
                           f"{model.scale}, not ×{scale}")  # fmt: skip
    return model


def peer_label(name: str) -> str:
    """opencv_espcn → OpenCV ESPCN, rgb_ABPN_x3_int8 → ABPN_x3_int8: a table's label."""
    if name.startswith("rgb_"):
        return name.removeprefix("rgb_")
    return "OpenCV dnn_superres " + name.removeprefix("opencv_").upper()


def all_peers(rep: dict) -> list[str]:
    return [*rep["opencv_models"], *rep.get("rgb_models", {})]


def _bgr_upsample(sr, rgb: np.ndarray) -> np.ndarray:
    """OpenCV's upsample, given RGB as a user holds it (the channel flip is the caller's)."""
    return sr.upsample(rgb[..., ::-1])


def _ours(upscaler, rgb: np.ndarray) -> dict[str, float]:
    t = [time.perf_counter()]
    y, cb, cr = rgb_to_ycbcr(rgb)
    t.append(time.perf_counter())
    y_sr = upscaler.upscale_y(y)
    t.append(time.perf_counter())
    size = (y_sr.shape[1], y_sr.shape[0])
    cb_sr, cr_sr = resize_chroma(cb, cr, size)
    t.append(time.perf_counter())
    ycbcr_to_rgb(y_sr, cb_sr, cr_sr)
    t.append(time.perf_counter())
    ms = dict(zip(FRAME_STAGES, np.diff(t) * 1e3, strict=True))
    half = half_size(size)  # the SR frame's 4:2:0 chroma: at ×2 the LR chroma itself
    chroma = (cb, cr) if cb.shape[::-1] == half else resize_chroma(cb, cr, half)
    ms["encode"] = _timed(encode_planes, y_sr, *chroma)
    ms["frame"] = _timed(upscaler.upscale_rgb, rgb)  # the real call, all stages
    ms["camera"] = _timed(_camera_frame, upscaler, _as_camera_delivers(y, cb, cr))
    return ms


def _as_camera_delivers(y: np.ndarray, cb: np.ndarray, cr: np.ndarray) -> Frame:
    """The frame as the Pi camera's YUV420 stream gives it: chroma at half the size."""
    half = half_size((y.shape[1], y.shape[0]))
    return Frame(y, resize_bicubic(cb, half), resize_bicubic(cr, half))


def _camera_frame(upscaler, frame: Frame) -> bytes:
    """The live path of one frame: super-resolved for the live view, then its JPEG."""
    return encode_planes(*super_resolve(frame, upscaler.upscale_y, upscaler.scale).planes())


def macs_per_lr_pixel(upscaler) -> int | None:
    """From the spec in the model's metadata (None for a model without one)."""
    spec = upscaler.metadata.get("spec") or {}
    return (
        parse_spec(spec["string"]).macs_per_lr_pixel(upscaler.scale) if "string" in spec else None
    )


def _timed(fn, *args) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return (time.perf_counter() - t0) * 1e3


def run(
    size: tuple[int, int] = (320, 240),
    engine: EngineOptions = DEFAULT_ENGINE,
    frames: int = 60,
    warmup: int = 5,
    vs_opencv: Sequence[Path] = (),
    tiers: bool = False,
    vs_rgb: Sequence[Path] = (),
) -> dict:
    """Measure; returns the report as a dict (all times in ms, medians over `frames`). With
    `tiers`, every shipped tier of the scale instead of the one model."""
    if tiers:
        upscalers = {
            t: open_upscaler(dataclasses.replace(engine, model=None, tier=t), size)
            for t in shipped(engine.shipped_scale)
        }
    else:
        upscalers = {"espcn_edge": open_upscaler(engine, size)}
    upscaler = next(iter(upscalers.values()))
    r = upscaler.scale
    peers = {opencv_name(pb): pb for pb in vs_opencv}
    rgb_peers = {f"rgb_{path.stem}": path for path in vs_rgb}
    others = {name: functools.partial(_bgr_upsample, load_opencv(pb, r))
              for name, pb in peers.items()}  # fmt: skip
    others.update({name: load_rgb_model(path, r).upscale_rgb for name, path in rgb_peers.items()})
    clips = demo_frames(size, frames + warmup)
    out_size = (size[0] * r, size[1] * r)
    rows: dict[str, list[float]] = {}
    for i, rgb in enumerate(clips):
        sample = {}
        camera = _as_camera_delivers(*rgb_to_ycbcr(rgb)) if tiers else None
        for name, up in upscalers.items():
            if tiers:
                sample[f"{name}.invoke"] = _timed(up.upscale_y, camera.y)
                sample[f"{name}.frame"] = _timed(up.upscale_rgb, rgb)
                sample[f"{name}.camera"] = _timed(_camera_frame, up, camera)
            else:
                sample.update({f"{name}.{k}": v for k, v in _ours(up, rgb).items()})
        sample["bicubic.frame"] = _timed(resize_bicubic, rgb, out_size)
        for name, upsample in others.items():
            sample[f"{name}.frame"] = _timed(upsample, rgb)
        if i >= warmup:
            for k, v in sample.items():
                rows.setdefault(k, []).append(v)
    med = {k: round(float(np.median(v)), 3) for k, v in rows.items()}
    report = {
        "cpu": cpu_info(),
        "load_average": round(os.getloadavg()[0], 1),  # other work slows the absolute times
        "size": f"{size[0]}x{size[1]}",
        "scale": r,
        "frames": frames,
        "backend": upscaler.backend,
        "threads": engine.threads or os.cpu_count(),
        "jpeg_encoder": ENCODER,
        "median_ms": med,
        "opencv_models": {name: str(pb) for name, pb in peers.items()},
        "rgb_models": {name: str(path) for name, path in rgb_peers.items()},
    }
    for name, up in upscalers.items():
        ours = med[f"{name}.frame"]
        entry = {
            "model": str(up.model_path),
            "variant": up.variant,  # the layout it ran in: --variant auto's pick
            "macs_per_lr_pixel": macs_per_lr_pixel(up),
            "fps": round(1000.0 / ours, 1),
            "fps_camera_path": round(1000.0 / med[f"{name}.camera"], 1),
            "ratio_to_bicubic": round(ours / med["bicubic.frame"], 2),
            "invoke": med[f"{name}.invoke"],
            "frame_to_invoke": round(ours / med[f"{name}.invoke"], 2),
            "camera_to_invoke": round(med[f"{name}.camera"] / med[f"{name}.invoke"], 2),
            **{f"ratio_to_{o}": round(ours / med[f"{o}.frame"], 3) for o in others},
        }
        if tiers:
            report.setdefault("tiers", {})[name] = entry
        else:
            report.update(entry)
    report["peak_rss_mb"] = round(peak_rss_mb(), 1)
    return report


def _header(rep: dict) -> list[str]:
    return [
        f"CPU: {describe(rep['cpu'])}; load average {rep['load_average']}",
        f"bench ×{rep['scale']} at {rep['size']}, {plural(rep['frames'], 'frame')}, backend "
        f"{rep['backend']}, {plural(rep['threads'], 'thread')}"
        + (f", model {rep['model']}" if "model" in rep else ""),
    ]


def _peers(rep: dict, ours: str) -> list[str]:
    med, lines = rep["median_ms"], []
    for name in all_peers(rep):
        ratio = rep[f"ratio_to_{name}"]
        label = peer_label(name)
        lines.append(
            f"{label}: {med[name + '.frame']:.2f} ms → {ours} takes {ratio}× its time "
            f"({1 / ratio:.2f}× as fast)"
        )
    return lines


def format_tiers(rep: dict) -> str:
    """One row per tier, then bicubic and the OpenCV models: frame ms, fps, ratios."""
    med, peers = rep["median_ms"], all_peers(rep)
    head = f"{'tier':<14}{'MAC/LR px':>10}{'layout':>7}{'invoke ms':>10}{'frame ms':>10}{'fps':>8}"
    head += f"{'camera fps':>12}"
    head += "".join(f"{'× ' + peer_label(p).split()[-1]:>15}" for p in peers)
    lines = [
        *_header(rep),
        "invoke = the model on Y; RGB → RGB frame (median); camera path = YUV420 → SR → 4:2:0 JPEG",
        head,
    ]
    for tier, e in rep["tiers"].items():
        macs = f"{e['macs_per_lr_pixel']:,}" if e["macs_per_lr_pixel"] else "?"
        row = f"{tier:<14}{macs:>10}{e['variant']:>7}{e['invoke']:>10.2f}"
        row += f"{med[tier + '.frame']:>10.2f}{e['fps']:>8.1f}"
        row += f"{e['fps_camera_path']:>12.1f}"
        lines.append(row + "".join(f"{e['ratio_to_' + p]:>15.3f}" for p in peers))
    for name in ("bicubic", *peers):
        label = name if name == "bicubic" else peer_label(name).replace(" dnn_superres", "")
        ms = med[name + ".frame"]
        lines.append(f"{label:<14}{'':>27}{ms:>10.2f}{1000 / ms:>8.1f}")
    lines.append(f"peak RSS (all tiers loaded): {rep['peak_rss_mb']} MB")
    return "\n".join(lines)


def format_report(rep: dict) -> str:
    if "tiers" in rep:
        return format_tiers(rep)
    med = rep["median_ms"]
    lines = [
        *_header(rep),
        "espcn-edge per stage (median ms): "
        + ", ".join(f"{s} {med['espcn_edge.' + s]:.2f}" for s in (*FRAME_STAGES, "encode")),
        f"espcn-edge frame (RGB → RGB): {med['espcn_edge.frame']:.2f} ms = {rep['fps']} fps",
        f"camera path (YUV420 → SR → 4:2:0 JPEG): {med['espcn_edge.camera']:.2f} ms = "
        f"{rep['fps_camera_path']} fps, {rep['camera_to_invoke']}× invoke's time",
        f"bicubic (Pillow): {med['bicubic.frame']:.2f} ms → espcn-edge takes "
        f"{rep['ratio_to_bicubic']}× bicubic's time",
        *_peers(rep, "espcn-edge"),
        f"peak RSS: {rep['peak_rss_mb']} MB",
    ]
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
        action="append",
        default=[],
        metavar="PATH.pb",
        help="also time this OpenCV dnn_superres model (ESPCN_x2.pb, FSRCNN_x2.pb, …) on the "
        "same frames (repeat for several)",
    )
    p.add_argument(
        "--vs-rgb",
        type=Path,
        action="append",
        default=[],
        metavar="PATH.tflite",
        help="also time this RGB-in, RGB-out TFLite model as it is (e.g. ABPN_x3_int8.tflite, "
        "with --scale 3) on the same frames",
    )
    p.add_argument(
        "--tiers",
        action="store_true",
        help="time every shipped tier of --scale (tiny, standard, quality) instead of one model",
    )
    p.add_argument("--json", type=Path, default=None, help="also write the report as JSON")
    p.add_argument(
        "--forget-layouts",
        action="store_true",
        help="first delete the remembered --variant auto choices (layout_cache), so each model's "
        "layout is timed again",
    )
    add_engine_args(p)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    engine = EngineOptions.from_args(args)
    if args.tiers and args.model:
        raise CommandError("--tiers times the shipped models: leave out --model")
    if args.forget_layouts:
        forgotten = layout_cache.forget()
        print(
            f"forgot the remembered layouts ({forgotten})"
            if forgotten
            else "no layouts were remembered"
        )
    report = run(
        args.size, engine, args.frames, args.warmup, args.vs_opencv, args.tiers, args.vs_rgb
    )
    print(format_report(report))
    if args.json:
        write_text(args.json, json.dumps(report, indent=2) + "\n")
    return 0
