"""`espcn-edge upscale`: super-resolve image files, folders of images and video files.

    espcn-edge upscale photo.jpg                  # → photo_x2.jpg beside it
    espcn-edge upscale photo.jpg big.png          # IN OUT
    espcn-edge upscale shots/ clip.mp4 out/       # many inputs → the folder out/
    espcn-edge upscale shots/                     # → shots_x2/

When two or more paths are given and the last is not an existing file, it is the output (a
file for one input file, else a folder); -o/--output says it explicitly. Every file is written
atomically. A file that cannot be read is reported in one line and the others are still done;
the exit status is then 1. Videos become H.264 (MP4, or MOV/MKV by name) frame by frame, each
frame at its source timestamp, the audio copied unchanged and the rotation kept; --crf sets
their quality.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from espcn_edge.imageio import IMAGE_SUFFIXES, ImageError, load_rgb, save_rgb
from espcn_edge.runtime import ModelError

from .engine import (
    DEFAULT_ENGINE,
    CommandError,
    EngineOptions,
    add_engine_args,
    command_parser,
    open_upscaler,
    setup_logging,
)
from .frames import Frame, super_resolve
from .progress import Progress
from .sinks import SinkError
from .sinks.h264 import CONTAINERS, DEFAULT_CRF, H264Writer
from .sources import Clip, SourceError

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm"}
WRITABLE_VIDEO = set(CONTAINERS)  # others (.avi, .webm, .m4v) are written as .mp4


@dataclass
class Job:
    src: Path
    dst: Path
    error: str | None = None  # set when the input cannot be used (reported, others still done)

    @property
    def is_video(self) -> bool:
        return self.src.suffix.lower() in VIDEO_SUFFIXES


def _media(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES
    )


def _out_name(src: Path, scale: int, beside: bool) -> str:
    suffix = src.suffix.lower()
    if suffix in VIDEO_SUFFIXES and suffix not in WRITABLE_VIDEO:
        suffix = ".mp4"
    elif suffix not in VIDEO_SUFFIXES and suffix not in IMAGE_SUFFIXES:
        suffix = ".png"  # an image under an odd name (photo.txt): write something viewable
    return f"{src.stem}_x{scale}{suffix}" if beside else f"{src.stem}{suffix}"


def plan(paths: list[Path], output: Path | None, scale: int) -> list[Job]:
    """Turn the command line into (input, output) pairs; raises CommandError for bad requests."""
    if output is None and len(paths) >= 2 and not paths[-1].is_file():
        paths, output = paths[:-1], paths[-1]
    for path in paths:
        if not path.exists():
            raise CommandError(f"{path}: no such file or folder")
    single_file = len(paths) == 1 and paths[0].is_file()
    jobs = []
    for path in paths:
        if path.is_dir():
            out_dir = output or path.with_name(f"{path.name}_x{scale}")
            found = _media(path)
            if not found:
                message = f"{path}: no image or video files in this folder"
                if len(paths) == 1:
                    raise CommandError(message)
                jobs.append(Job(path, out_dir, error=message))  # one of many: report, go on
            jobs += [Job(f, out_dir / _out_name(f, scale, out_dir == path)) for f in found]
        elif single_file and output is not None and not output.is_dir() and output.suffix:
            jobs.append(Job(path, output))
        else:
            out_dir = output or path.parent
            jobs.append(Job(path, out_dir / _out_name(path, scale, out_dir == path.parent)))
    for job in jobs:
        if job.error is None and job.dst.resolve() == job.src.resolve():
            raise CommandError(f"{job.src}: refusing to overwrite the input; choose an output")
    return jobs


def _image(job: Job, upscaler) -> str:
    t0 = time.perf_counter()
    rgb = load_rgb(job.src)
    sr = upscaler.upscale_rgb(rgb)
    save_rgb(job.dst, sr)
    ms = (time.perf_counter() - t0) * 1e3
    return f"{rgb.shape[1]}×{rgb.shape[0]} → {sr.shape[1]}×{sr.shape[0]}, {ms:.0f} ms"


def _video(job: Job, upscaler, crf: int = DEFAULT_CRF) -> str:
    """Decode, upscale and encode frame by frame: each frame keeps its timestamp and duration,
    the audio is copied unchanged, the rotation is kept; nothing is left behind on failure."""
    with Clip(job.src) as clip:
        writer = H264Writer(job.dst, clip.time_base, clip.fps, crf, audio=clip.audio)
        bar = Progress(clip.frame_count, job.src.name)
        try:
            for decoded, audio in clip.packets():
                if audio is not None:
                    writer.copy_audio(audio)
                    continue
                frame = Frame.from_rgb(decoded.to_ndarray(format="rgb24"))
                sr = super_resolve(frame, upscaler.upscale_y, upscaler.scale)
                writer.write(*sr.planes(), decoded.pts, decoded.duration, clip.display_matrix)
                bar.update()
            if writer.count == 0:
                raise SourceError(f"{job.src}: no frames could be read")
            writer.close()
        except BaseException:
            writer.abort()
            raise
        finally:
            bar.close()
    audio = f", {clip.audio.codec_context.name} audio copied" if clip.audio else ""
    return f"{writer.count} frames, {writer.seconds:.2f} s at {clip.fps:.3g} fps{audio}"


def run(
    paths: list[Path],
    output: Path | None = None,
    engine: EngineOptions = DEFAULT_ENGINE,
    crf: int = DEFAULT_CRF,
) -> int:
    """Upscale everything; returns the number of inputs that failed."""
    jobs = plan(paths, output, engine.scale)
    upscaler = open_upscaler(engine)
    failed = 0
    bar = Progress(len(jobs), "files")
    for job in jobs:
        try:
            if job.error:
                raise CommandError(job.error)
            info = _video(job, upscaler, crf) if job.is_video else _image(job, upscaler)
            print(f"{job.src} → {job.dst} ({info})", flush=True)
        except (CommandError, ImageError, ModelError, SourceError, SinkError, OSError) as e:
            failed += 1
            msg = str(e) if str(job.src) in str(e) else f"{job.src}: {e}"
            print(f"espcn-edge upscale: {msg}", file=sys.stderr, flush=True)
        bar.update(note=job.src.name)
    bar.close()
    return failed


def build_parser() -> argparse.ArgumentParser:
    p = command_parser("upscale", __doc__)
    p.add_argument(
        "paths",
        nargs="+",
        type=Path,
        metavar="PATH",
        help="inputs (image files, folders, video files), optionally followed by the output",
    )
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        help="output file (one input) or folder (default: beside each input)",
    )
    p.add_argument(
        "--crf",
        type=_crf,
        default=DEFAULT_CRF,
        help="video quality, x264's constant rate factor: 0 lossless … 51 smallest; "
        "18 looks lossless",
    )
    add_engine_args(p)
    return p


def _crf(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 51:
        raise argparse.ArgumentTypeError(f"{value} is not between 0 and 51")
    return value


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    failed = run(args.paths, args.output, EngineOptions.from_args(args), args.crf)
    return 1 if failed else 0
