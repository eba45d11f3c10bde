"""`espcn-edge` console command: one subcommand per module, each with its own `main(argv)`.

The problems a user can meet while a command runs (a bad request, a missing model or camera, an
unreadable input, a full or read-only disk) are caught here, once for all commands, and become
one line `espcn-edge COMMAND: …` with exit status 2. So do Ctrl-C and SIGTERM (exit status 130,
143), once every temporary file is removed (`espcn_edge.interrupt`).
"""

from __future__ import annotations

import importlib
import sys

from espcn_edge import __version__
from espcn_edge.errors import UserError
from espcn_edge.interrupt import Interrupted, interruptible

from .engine import fail

COMMANDS = {
    "eval": ("espcn_edge.evaluate", "PSNR/SSIM of models on a benchmark set (Set5, Set14, …)"),
    "camera": ("device.camera", "stream camera frames through the upscaler"),
    "upscale": ("device.upscale", "upscale image or video files"),
    "bench": ("device.bench", "per-stage timing and the ratio to OpenCV's ESPCN"),
    "demo": ("device.demo", "run the whole pipeline on built-in frames, no camera needed"),
    "passwd": ("device.passwd", "add or change a live-view user in a --view-auth file"),
}


def _usage() -> str:
    lines = ["usage: espcn-edge COMMAND [options]   (espcn-edge COMMAND --help for details)"]
    lines += ["       espcn-edge --version", ""]
    lines += [f"  {name:<8} {help_}" for name, (_, help_) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:  # a command is needed: the usage, as for any other usage error
        print(_usage(), file=sys.stderr)
        return 2
    if argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    if argv[0] in ("-V", "--version"):
        print(f"espcn-edge {__version__}")
        return 0
    if argv[0] not in COMMANDS:
        print(f"espcn-edge: unknown command {argv[0]!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[argv[0]][0])
    try:
        with interruptible():
            return module.main(argv[1:])
    except (UserError, OSError) as e:  # OSError: a file or device the system refused
        return fail(argv[0], e)
    except Interrupted as e:  # Ctrl-C, SIGTERM: cleaned up on the way here
        fail(argv[0], e)
        return e.status


if __name__ == "__main__":
    from .start import finished

    sys.exit(finished(main()))
