"""What every device command shares: its parser, the engine options and creating the upscaler
once from them, and how a problem becomes one line."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from pathlib import Path

from espcn_edge import commandline
from espcn_edge.commandline import DELEGATE_HELP, positive_int
from espcn_edge.errors import UserError
from espcn_edge.graph import VARIANTS
from espcn_edge.runtime import Upscaler
from espcn_edge.tflite_meta import MetadataError, read_metadata
from espcn_edge.tiers import DEFAULT_TIER, TIERS, default_model_path

log = logging.getLogger(__name__)


class CommandError(UserError):
    """A problem with a device command's request: one line, exit status 2 (1 for partial
    failures)."""


def command_parser(name: str, doc: str | None) -> argparse.ArgumentParser:
    """The parser of `espcn-edge NAME`, its help text the module docstring."""
    return commandline.parser(f"espcn-edge {name}", doc)


@dataclasses.dataclass(frozen=True)
class EngineOptions:
    """Which model and how to run it: what every device command takes from its flags."""

    scale: int | None = None  # None: the model's own (read from it), ×2 for a shipped one
    model: Path | None = None  # None: the shipped model of `tier` for `scale`
    tier: str = DEFAULT_TIER
    threads: int | None = None  # None: the number of cores
    delegate: str | None = None
    delegate_required: bool = False
    variant: str = "auto"  # "plain", "s2d" or "auto": the faster of the two, timed at start-up

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> EngineOptions:
        """From the flags, refusing those that contradict each other or mean nothing."""
        if args.model and args.tier:
            raise CommandError(
                f"--model {args.model} and --tier {args.tier} both name the model: pass one"
            )
        if args.delegate_required and not args.delegate:
            raise CommandError("--delegate-required without --delegate: name the delegate")
        fields = {f.name for f in dataclasses.fields(cls)} - {"tier"}
        return cls(tier=args.tier or DEFAULT_TIER, **{name: getattr(args, name) for name in fields})

    @property
    def model_path(self) -> Path:
        """The model these options run: --model, else the shipped one of the tier."""
        return self.model or default_model_path(self.shipped_scale, self.tier)

    def declared_scale(self) -> int | None:
        """The scale before any model is opened: --scale, a shipped model's, else the one in
        --model's metadata (None when it says none or cannot be read: opening it will tell)."""
        if self.model is None:
            default_model_path(self.shipped_scale, self.tier)  # a tier not shipped here: now
            return self.shipped_scale
        if self.scale:
            return self.scale
        try:
            return read_metadata(self.model).get("scale")
        except (OSError, MetadataError):
            return None

    @property
    def shipped_scale(self) -> int:
        """The scale of the shipped models these options pick: --scale, else ×2."""
        return self.scale or 2


DEFAULT_ENGINE = EngineOptions()  # frozen, so one shared default is safe


def add_engine_args(p: argparse.ArgumentParser, auto_tier: bool = False) -> None:
    """The model flags of EngineOptions, and -v. `auto_tier`: --tier auto is a choice too, and
    --tier defaults to None (the command decides)."""
    g = p.add_argument_group("model")
    g.add_argument(
        "--scale",
        type=int,
        choices=(2, 3, 4),
        default=None,
        help="upscaling factor (default: the --model's own, read from it; else 2); "
        "one that differs from the model's is refused",
    )
    tiers = "shipped model espcn_x{scale}_{tier}_int8.tflite: tiny (fastest), standard, quality"
    g.add_argument(
        "--tier",
        choices=(*TIERS, "auto") if auto_tier else TIERS,
        default=None,
        help=f"{tiers}, or auto: the best that holds --fps on this device, timed at start-up "
        f"(default: auto with --fps, else {DEFAULT_TIER})"
        if auto_tier
        else f"{tiers} (default: {DEFAULT_TIER})",
    )
    g.add_argument(
        "--model",
        type=Path,
        default=None,
        help="int8 .tflite model, instead of a shipped one",
    )
    g.add_argument(
        "--threads",
        type=positive_int,
        default=None,
        help="interpreter threads (default: the number of CPU cores)",
    )
    g.add_argument(
        "--variant",
        choices=("auto", *VARIANTS),
        default="auto",
        help="the graph's layout: plain, s2d (the same network on 2×2 pixel blocks, bit for bit "
        "the same output; faster where narrow int8 layers cost per pixel, as on CPUs with an "
        "int8 dot product), or auto: both timed at start-up, the faster kept (plain with "
        "--delegate) (default: %(default)s)",
    )
    g.add_argument("--delegate", default=None, help=DELEGATE_HELP)
    g.add_argument(
        "--delegate-required",
        action="store_true",
        help="fail instead of falling back to the CPU when the delegate cannot load",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def open_upscaler(engine: EngineOptions, size: tuple[int, int] | None = None) -> Upscaler:
    """The public engine, created once from the flags (a problem is a one-line UserError);
    `--variant auto` picks the layout for frames of `size` (default PROBE_SIZE)."""
    return Upscaler(
        engine.model,
        scale=engine.scale,
        tier=engine.tier,
        threads=engine.threads,
        delegate=engine.delegate,
        delegate_required=engine.delegate_required,
        variant=engine.variant,
        probe_size=size,
    )


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def fail(command: str, error: BaseException) -> int:
    """Print `espcn-edge COMMAND: error` as the one line a user sees; returns exit status 2."""
    return commandline.fail(f"espcn-edge {command}", error)
