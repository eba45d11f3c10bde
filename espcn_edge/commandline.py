"""What every command line of the toolkit shares, so `espcn-edge …`, `python -m convert.tflite`
and `python -m train.fit` look and fail alike: the help formatter, argument types that say
what is wrong, and the one-line error (`PROG: message`, exit status 2)."""

from __future__ import annotations

import argparse
import sys

USAGE_ERROR = 2  # usage and input errors, as argparse's own

DELEGATE_HELP = (
    "gpu, nnapi, edgetpu or a delegate .so path; on a Raspberry Pi only a GPU "
    "delegate built for the Pi or an Edge TPU (edgetpu-compiled, fixed-size model) "
    "can work — NNAPI exists on Android only (see docs/device.md)"
)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults shown in --help only where they say something: not for required options,
    flags, None, or a help text that already names its default; docstring examples kept."""

    def _get_help_string(self, action):
        help_ = action.help or ""
        if (
            action.default in (None, False)
            or action.required
            or action.nargs == 0  # store_true/false/const: the flag itself is the choice
            or "default" in help_
        ):
            return help_
        return super()._get_help_string(action)


def parser(prog: str, doc: str | None) -> argparse.ArgumentParser:
    """An argument parser with the shared formatter; `doc` (a module docstring) is its help."""
    return argparse.ArgumentParser(prog=prog, description=doc, formatter_class=HelpFormatter)


def fail(prog: str, error: BaseException | str) -> int:
    """Print `PROG: error` as the one line a user sees; returns exit status 2."""
    print(f"{prog}: {error}", file=sys.stderr)
    return USAGE_ERROR


def parse_size(text: str) -> tuple[int, int]:
    """'320x240' → (320, 240); an ArgumentTypeError (shown by argparse as is) otherwise."""
    try:
        w, h = (int(v) for v in text.lower().replace("×", "x").split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected WIDTHxHEIGHT, e.g. 320x240") from None
    if not (8 <= w <= 4096 and 8 <= h <= 4096):
        raise argparse.ArgumentTypeError(f"{text!r}: width and height must be between 8 and 4096")
    return w, h


def _int_at_least(low: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{value}: must be at least {low}")
        return value

    return parse


positive_int = _int_at_least(1)
non_negative_int = _int_at_least(0)


def positive_float(text: str) -> float:
    """'29.97' → 29.97; zero, negative, infinite or not a number is an ArgumentTypeError."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a number") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text}: must be a positive number")
    return value


def plural(count: int, noun: str) -> str:
    """'1 frame', '2 frames' (nouns that take an s)."""
    return f"{count} {noun}{'' if count == 1 else 's'}"
