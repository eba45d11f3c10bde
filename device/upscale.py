"""`espcn-edge upscale`: super-resolve image files, folders of images and video files.

    espcn-edge upscale photo.jpg                  # → photo_x2.jpg beside it
    espcn-edge upscale photo.jpg big.png          # IN OUT
    espcn-edge upscale shots/ clip.mp4 out/       # many inputs → the folder out/
    espcn-edge upscale shots/                     # → shots_x2/

With two or more paths the last one is the output (a file for one input file, else a folder);
with -o/--output every path is an input. A file this command writes is never read as an input
(a rerun does the same thing again), and an existing output is replaced only with --overwrite —
never an existing image or video in the last place of several paths (`upscale *.jpg`): that
output must be named with -o — or kept with --skip-existing, which does only the rest.
Photos come out upright with their EXIF and colour profile; alpha and greyscale are kept.
Large images are run in tiles, in bounded memory, with the same result as whole. Videos become
H.264 (MP4, or MOV/MKV by name) frame by frame, each frame at its source timestamp, the audio
copied unchanged and the rotation kept; --crf sets their quality. Every file is written
atomically. A file that cannot be read is reported in one line and the others are still done;
the exit status is then 1 (2 when none was). An image or video whose header declares more pixels
than a 2 GB Pi can upscale is refused before decoding, in a line saying the limit and how to
raise it (ESPCN_EDGE_MAX_PIXELS=N). Ctrl-C or SIGTERM keeps the files already written, discards
the one being written and says how far it got (exit status 130 or 143); --skip-existing continues.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from espcn_edge.errors import UserError
from espcn_edge.frames import Frame, super_resolve
from espcn_edge.imageio import IMAGE_SUFFIXES, check_image, load_photo, save_photo
from espcn_edge.interrupt import Interrupted
from espcn_edge.limits import max_pixels
from espcn_edge.paths import refuse_unwritable
from espcn_edge.runtime import DEFAULT_TILE

from .engine import (
    DEFAULT_ENGINE,
    CommandError,
    EngineOptions,
    add_engine_args,
    command_parser,
    open_upscaler,
    setup_logging,
)
from .progress import Progress
from .sinks.h264 import CONTAINERS, DEFAULT_CRF, H264Writer
from .sources import Clip, SourceError

PREFIX = "espcn-edge upscale: "
DEEP_NOTE = (
    "images with more than 8 bits per sample are upscaled and written with 8 "
    "(the model works on 8 bits)"
)
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm"}
MEDIA_SUFFIXES = IMAGE_SUFFIXES | VIDEO_SUFFIXES
MIN_TILE = 64  # LR pixels: a tile of 17 repeats its 8-pixel overlap on every side (29 s vs 0.3)
WRITABLE_VIDEO = set(CONTAINERS)  # others (.avi, .webm, .m4v) are written as .mp4


@dataclass
class Job:
    src: Path
    dst: Path
    error: str | None = None  # set when the input cannot be used (reported, others still done)
    skip: bool = False  # the output exists and --skip-existing keeps it

    @property
    def is_video(self) -> bool:
        return self.src.suffix.lower() in VIDEO_SUFFIXES


def _media(folder: Path) -> list[Path]:
    """Image and video files directly in `folder` (not hidden ones: temporary files are)."""
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in MEDIA_SUFFIXES
    )


def _out_name(src: Path, scale: int, beside: bool) -> str:
    suffix = src.suffix.lower()
    if suffix in VIDEO_SUFFIXES and suffix not in WRITABLE_VIDEO:
        suffix = ".mp4"
    elif suffix not in VIDEO_SUFFIXES and suffix not in IMAGE_SUFFIXES:
        suffix = ".png"  # an image under an odd name (photo.txt): write something viewable
    return f"{src.stem}_x{scale}{suffix}" if beside else f"{src.stem}{suffix}"


def plan(
    paths: list[Path],
    output: Path | None,
    scale: int,
    overwrite: bool = False,
    skip_existing: bool = False,
) -> list[Job]:
    """Turn the command line into (input, output) pairs; raises CommandError for bad requests.

    Deterministic whatever exists already: the last of two or more paths is the output; an
    input that is another input's output is skipped (so rerunning into the same folder reads
    the same files); an output that exists is an error unless `overwrite`, or its job is
    marked `skip` with `skip_existing`.
    """
    if output is None and len(paths) >= 2:
        paths, output = paths[:-1], paths[-1]
        if output.is_file() and output.suffix.lower() in MEDIA_SUFFIXES:  # `upscale *.jpg`
            raise CommandError(
                f"{output}: the last path is the output, and this one is an existing image or "
                "video; name the output with -o (even with --overwrite, inputs are never replaced)"
            )
    seen: dict[Path, Path] = {}
    for path in paths:
        if not path.exists():
            raise CommandError(f"{path}: no such file or folder")
        if not (path.is_file() or path.is_dir()):  # /dev/zero would be read for ever
            raise CommandError(f"{path}: not a regular file (a device, pipe or socket); "
                               "upscale reads image and video files and folders")  # fmt: skip
        if (first := seen.setdefault(path.resolve(), path)) is not path:
            raise CommandError(f"{path}: given twice (also as {first}); name each input once")
    single_file = len(paths) == 1 and paths[0].is_file()
    if output is not None and not single_file and not output.is_dir():
        if output.is_file():
            raise CommandError(
                f"{output}: is a file, but the output of a folder or of several inputs is a "
                "folder (with -o/--output every path is an input)"
            )
        if output.suffix.lower() in MEDIA_SUFFIXES:
            raise CommandError(
                f"{output}: several inputs or a folder need an output folder, not a file name; "
                "name a folder with -o"
            )
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
    return _checked(jobs, overwrite, skip_existing)


def _checked(jobs: list[Job], overwrite: bool, skip_existing: bool) -> list[Job]:
    work = [j for j in jobs if j.error is None]
    outputs = {j.dst.resolve(): j for j in work}
    for job in work:
        if job.dst.resolve() == job.src.resolve():
            raise CommandError(f"{job.src}: refusing to overwrite the input; choose an output")
    jobs = [j for j in jobs if j.error is not None or j.src.resolve() not in outputs]
    seen: dict[Path, Job] = {}
    for job in jobs:
        if job.error is None and (other := seen.setdefault(job.dst.resolve(), job)) is not job:
            raise CommandError(f"{job.dst}: both {other.src} and {job.src} would be written here")
    for job in jobs:
        if job.error is None:
            _check_output(job)
    existing = [j for j in jobs if j.error is None and j.dst.exists()]
    if skip_existing:
        for job in existing:
            job.skip = True
    elif existing and not overwrite:
        more = f" (and {len(existing) - 1} more outputs)" if len(existing) > 1 else ""
        raise CommandError(
            f"{existing[0].dst}: already exists{more}; pass --overwrite to replace, "
            "--skip-existing to keep"
        )
    return jobs


def _check_output(job: Job) -> None:
    """Before any work: an output of the input's kind whose folder exists or can be made."""
    suffix = job.dst.suffix.lower()
    if job.is_video and suffix not in WRITABLE_VIDEO:
        raise CommandError(f"{job.dst}: the output of the video {job.src.name} is a video: "
                           f"name it {', '.join(sorted(WRITABLE_VIDEO))}")  # fmt: skip
    if not job.is_video and suffix not in IMAGE_SUFFIXES:
        raise CommandError(f"{job.dst}: the output of the image {job.src.name} is an image: "
                           f"name it {', '.join(sorted(IMAGE_SUFFIXES))}")  # fmt: skip
    refuse_unwritable(str(job.dst), job.dst)


def _header_problem(job: Job) -> str | None:
    """Why the input cannot be read as far as its header tells (a file no reader takes, a size
    above the limit), or None: known before any model is opened."""
    try:
        if job.is_video:
            Clip(job.src).close()
        else:
            check_image(job.src)
    except UserError as e:
        return str(e)
    return None


def _image(job: Job, upscaler, quality: int = 95) -> tuple[str, bool]:
    """Upscale one photo into a canvas band by band (the engine's tiles), then save it.
    Returns the line to print and whether the file had more than 8 bits per sample."""
    t0 = time.perf_counter()
    photo = load_photo(job.src)
    h, w = photo.pixels.shape[:2]
    s = upscaler.scale
    canvas = Image.new(photo.mode, (w * s, h * s))
    for row, band in upscaler.bands(photo.pixels):
        canvas.paste(Image.fromarray(band), (0, row))
    save_photo(job.dst, canvas, photo, quality)
    ms = (time.perf_counter() - t0) * 1e3
    deep = f", {photo.bits}-bit read as 8-bit" if photo.bits > 8 else ""
    return f"{w}×{h} → {w * s}×{h * s}, {ms:.0f} ms{deep}", photo.bits > 8


def _video(job: Job, upscaler, crf: int = DEFAULT_CRF) -> str:
    """Decode, upscale and encode frame by frame: each frame keeps its timestamp and duration,
    the audio is copied unchanged, the rotation is kept; nothing is left behind on failure."""
    with Clip(job.src) as clip:
        declared = clip.video.frames  # the container's own count (0: it gives none)
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
        # read while the file is open: PyAV 18.1.1 (a Pi's) refuses a closed container's
        fps = clip.fps
        audio = f", {clip.audio.codec_context.name} audio copied" if clip.audio else ""
    missing = (
        f"; {declared - writer.count} of the {declared} frames its header declares could not "
        "be read (the file is cut short or damaged)"
        if declared > writer.count
        else ""
    )
    return f"{writer.count} frames, {writer.seconds:.2f} s at {fps:.3g} fps{audio}{missing}"


def run(
    paths: list[Path],
    output: Path | None = None,
    engine: EngineOptions = DEFAULT_ENGINE,
    crf: int = DEFAULT_CRF,
    tile: int | None = None,
    quality: int = 95,
    overwrite: bool = False,
    skip_existing: bool = False,
) -> int:
    """Upscale everything; returns the exit status: 0, 1 when some inputs failed and others were
    written (or kept by `skip_existing`), 2 when every input failed. `tile`: the engine's
    largest tile side in LR pixels (None: its default, 0: whole images). On SIGINT or SIGTERM
    (see `espcn_edge.interrupt`) raises Interrupted saying how many files were written."""
    if overwrite and skip_existing:
        raise CommandError(
            "--overwrite replaces the outputs that exist and --skip-existing keeps them: "
            "pass one of the two"
        )
    if tile is not None and (tile < 0 or 0 < tile < MIN_TILE):
        raise CommandError(
            f"--tile {tile}: below {MIN_TILE} LR pixels the overlap every tile repeats costs "
            f"more than the tile (--tile 17 took 29 s where 0 took 0.3 s); use 0 (whole "
            f"images) or {MIN_TILE} or more"
        )
    if not 1 <= quality <= 100:
        raise CommandError(f"--quality {quality}: use 1 to 100")
    max_pixels()  # a bad ESPCN_EDGE_MAX_PIXELS: one line for the request, not one per input
    scale = engine.declared_scale()  # the outputs are named by it; None: read by opening
    upscaler = None if scale else open_upscaler(engine)
    jobs = plan(paths, output, scale or upscaler.scale, overwrite, skip_existing)
    for job in jobs:
        if job.error is None and not job.skip:
            job.error = _header_problem(job)
    skipped = sum(job.skip for job in jobs)
    todo = sum(not job.skip and job.error is None for job in jobs)
    if todo:  # after every input and output is checked; never for nothing to do
        upscaler = upscaler or open_upscaler(engine)
        if tile is not None:
            upscaler.tile = tile
    failed = written = 0
    noted = False
    bar = Progress(len(jobs), "files")
    try:
        for job in jobs:
            if job.skip:
                bar.update(note=job.src.name)
                continue
            try:
                if job.error:
                    raise CommandError(job.error)
                if job.is_video:
                    info = _video(job, upscaler, crf)
                else:
                    info, deep = _image(job, upscaler, quality)
                    if deep and not noted:  # said once per run
                        noted = True
                        print(f"{PREFIX}note: {DEEP_NOTE}", file=sys.stderr, flush=True)
                written += 1
                print(f"{job.src} → {job.dst} ({info})", flush=True)
            except (UserError, OSError) as e:
                failed += 1
                msg = str(e) if str(job.src) in str(e) else f"{job.src}: {e}"
                print(f"{PREFIX}{msg}", file=sys.stderr, flush=True)
            bar.update(note=job.src.name)
    except Interrupted as e:
        kept = f", {skipped} skipped (already there)" if skipped else ""
        raise Interrupted(
            e.signum,
            f"interrupted: {written} of {todo} written{kept}, none half-written; run again "
            "with --skip-existing to do the rest",
        ) from None
    finally:
        bar.close()
    if skipped:  # "0 of 0 written" when there was nothing to do said nothing
        done = f"{written} of {todo} written, " if todo else ""
        print(f"{done}{skipped} skipped (already there)", flush=True)
    return 0 if not failed else 1 if written or skipped else 2


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
        help="output file (one input) or folder (default: beside each input); every PATH "
        "is then an input",
    )
    p.add_argument(
        "--overwrite", action="store_true", help="replace outputs that exist (else: exit 2)"
    )
    p.add_argument(
        "--skip-existing",
        action="store_true",
        help="leave outputs that exist as they are and do the rest (to finish an interrupted run)",
    )
    p.add_argument(
        "--quality", type=int, default=95, help="JPEG and WebP quality of the outputs (1-100)"
    )
    p.add_argument(
        "--tile",
        type=int,
        default=None,
        help=f"largest tile side in LR pixels (default: {DEFAULT_TILE['s2d']} in the s2d "
        f"layout, {DEFAULT_TILE['plain']} in the plain one); memory grows with its square, "
        "the result is the same; 0 runs every image whole",
    )
    p.add_argument(
        "--crf",
        type=crf,
        default=DEFAULT_CRF,
        help="video quality, x264's constant rate factor: 0 lossless … 51 smallest; "
        "18 looks lossless",
    )
    add_engine_args(p)
    return p


def crf(text: str) -> int:
    """x264's constant rate factor, 0 … 51 (argparse names this function in its message)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number 0 … 51") from None
    if not 0 <= value <= 51:
        raise argparse.ArgumentTypeError(f"{value} is not between 0 and 51")
    return value


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    engine = EngineOptions.from_args(args)
    return run(
        args.paths,
        args.output,
        engine,
        args.crf,
        args.tile,
        args.quality,
        args.overwrite,
        args.skip_existing,
    )
