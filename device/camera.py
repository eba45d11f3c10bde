"""`espcn-edge camera`: live frames → the int8 upscaler → browser view / window / recording.

espcn-edge camera --scale 2 --source demo --view 127.0.0.1:8000
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from pathlib import Path

from espcn_edge.commandline import parse_size, positive_float, positive_int
from espcn_edge.errors import UserError
from espcn_edge.interrupt import stop_on_signals
from espcn_edge.tiers import DEFAULT_TIER

from .autotier import pick_tier
from .engine import (
    DEFAULT_ENGINE,
    CommandError,
    EngineOptions,
    add_engine_args,
    command_parser,
    open_upscaler,
    setup_logging,
)
from .pipeline import Pipeline
from .sinks import RecordSink, Sink, ViewSink, WindowSink, parse_address
from .sinks.guard import Guard, make_guard
from .sinks.record import claim_target
from .sources import SPECS_HELP, open_source, source_path
from .stats import Stats

log = logging.getLogger("device.camera")


def run(
    source: str = "auto",
    size: tuple[int, int] | None = None,
    engine: EngineOptions = DEFAULT_ENGINE,
    view: str | None = None,
    guard: Guard | None = None,
    compare: bool = False,
    window: bool = False,
    record: Path | None = None,
    frames: int | None = None,
    fps: float | None = None,
    overwrite: bool = False,
    stats: Stats | None = None,
) -> Stats:
    """Stream until `frames` frames, the source's end, Ctrl-C or SIGTERM; returns the stats.
    `engine.tier` "auto": the best tier that holds `fps` here (device/autotier.py);
    `guard`: the view's password and TLS (default: open, plain HTTP, loopback only); `stats`:
    the caller's, to say what a run that fails mid-stream did."""
    address = parse_address(view) if view else None
    if record:
        claim_target(record, overwrite, (source_path(source), engine.model))
    if address and guard is None:
        guard = make_guard(address[0])  # refuses a network address
    src = open_source(source, size, fps)
    src.check()  # a missing file or folder: said before the model is loaded
    window_sink = WindowSink(compare) if window else None
    if window_sink:
        window_sink.check()
    if engine.tier == "auto" and engine.model is None:
        if not fps:
            raise CommandError("--tier auto picks the tier that holds a frame rate: add --fps F")
        if src.size is None:
            log.info("tier auto: the %s source's frame size is unknown until it runs, so "
                     "%s (add --size WxH to time the tiers)", src.name, DEFAULT_TIER)  # fmt: skip
            upscaler = open_upscaler(dataclasses.replace(engine, tier=DEFAULT_TIER))
        else:
            pick = pick_tier(engine, src.size, fps)
            log.info("%s", pick.reason)
            upscaler = pick.upscaler
    else:
        upscaler = open_upscaler(engine, src.size)
    stats = Stats() if stats is None else stats
    stats.info = {
        "backend": upscaler.backend,
        "model": upscaler.model_path.name,
        "scale": upscaler.scale,
        "source": src.name,
    }
    sinks: list[Sink] = []
    if address:
        sinks.append(ViewSink(address, stats, upscaler.scale, compare, guard))
    if window_sink:
        sinks.append(window_sink)
    if record:
        sinks.append(RecordSink(record, compare=compare, stats=stats, replace=overwrite))
    pipeline = Pipeline(
        src, upscaler.upscale_y, sinks, max_frames=frames, stats=stats, scale=upscaler.scale
    )
    with stop_on_signals(pipeline.request_stop):
        log.info(
            "streaming %s through %s ×%d (%s); Ctrl-C to stop",
            src.name,
            upscaler.model_path.name,
            upscaler.scale,
            upscaler.backend,
        )
        pipeline.run()
    if stats.frames == 0 and not pipeline.interrupted:
        lost = f"nothing recorded to {record}" if record else "nothing shown"
        raise CommandError(f"{source}: no frame could be read, {lost}")
    return stats


def build_parser() -> argparse.ArgumentParser:
    p = command_parser("camera", __doc__)
    p.add_argument(
        "--source",
        default="auto",
        help=f"frame source: {SPECS_HELP} (auto = picamera2 on a Raspberry Pi, else demo)",
    )
    p.add_argument(
        "--size",
        type=parse_size,
        default=None,
        help="low-resolution frame size WxH (default 320x240 for picamera2/demo, "
        "the native size for other sources)",
    )
    p.add_argument(
        "--fps",
        type=positive_float,
        default=None,
        help="frame rate to ask of the source (and to hold)",
    )
    add_engine_args(p, auto_tier=True)
    out = p.add_argument_group("output")
    out.add_argument(
        "--view",
        metavar="HOST:PORT",
        default=None,
        help="serve a browser live view (0.0.0.0:PORT to allow other machines: needs --view-auth)",
    )
    out.add_argument(
        "--view-auth",
        type=Path,
        default=None,
        metavar="FILE",
        help="ask the view's visitors for a password from FILE (see `espcn-edge passwd`); "
        "needed to --view a non-loopback address",
    )
    out.add_argument(
        "--view-insecure",
        action="store_true",
        help="serve a non-loopback --view without a password, to anyone who can reach it",
    )
    out.add_argument("--tls-cert", type=Path, default=None, metavar="FILE",
                     help="serve the view over HTTPS with this PEM certificate")  # fmt: skip
    out.add_argument("--tls-key", type=Path, default=None, metavar="FILE",
                     help="the certificate's PEM private key")  # fmt: skip
    out.add_argument("--compare", action="store_true", help="show bicubic | ESPCN side by side")
    out.add_argument("--window", action="store_true", help="show an OpenCV window")
    out.add_argument(
        "--record",
        type=Path,
        default=None,
        metavar="OUT.mp4|DIR",
        help="record the super-resolved frames: H.264 video stamped with capture times "
        "(.mp4, .mov, .mkv) or PNG files in a folder",
    )
    out.add_argument(
        "--overwrite", action="store_true", help="replace an earlier --record (else: exit 2)"
    )
    out.add_argument(
        "--frames", type=positive_int, default=None, help="stop after N frames (default: run on)"
    )
    return p


def _refuse_meaningless(args: argparse.Namespace) -> None:
    """Options that would do nothing, or another option's job, said before anything runs."""
    needs = [(args.view_auth, "--view-auth", args.view, "--view"),
             (args.view_insecure, "--view-insecure", args.view, "--view"),
             (args.tls_cert or args.tls_key, "--tls-cert/--tls-key", args.view, "--view"),
             (args.compare, "--compare", args.view or args.window or args.record,
              "--view, --window or --record"),
             (args.overwrite, "--overwrite", args.record, "--record")]  # fmt: skip
    for given, option, needed, other in needs:
        if given and not needed:
            raise CommandError(f"{option} does nothing without {other}: add it, or drop {option}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    _refuse_meaningless(args)
    tier = args.tier or ("auto" if args.fps and not args.model else DEFAULT_TIER)
    stats = Stats()
    try:
        run(
            source=args.source,
            size=args.size,
            engine=dataclasses.replace(EngineOptions.from_args(args), tier=tier),
            view=args.view,
            guard=make_guard(
                parse_address(args.view)[0],
                args.view_auth,
                args.view_insecure,
                args.tls_cert,
                args.tls_key,
            )
            if args.view
            else None,
            compare=args.compare,
            window=args.window,
            record=args.record,
            frames=args.frames,
            fps=args.fps,
            overwrite=args.overwrite,
            stats=stats,
        )
    except (UserError, OSError):  # a full disk mid-recording: the summary, then the one line
        if stats.frames:
            print(stats.summary())
        raise
    print(stats.summary())
    return 0
