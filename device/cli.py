"""`espcn-edge` console command: one subcommand per module, each with its own `main(argv)`."""

from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "eval": ("espcn_edge.evaluate", "PSNR/SSIM of models on a benchmark set (Set5, Set14, …)"),
    "camera": ("device.camera", "stream camera frames through the upscaler"),
    "upscale": ("device.upscale", "upscale image or video files"),
    "bench": ("device.bench", "per-stage timing and the ratio to OpenCV's ESPCN"),
    "demo": ("device.demo", "run the whole pipeline on built-in frames, no camera needed"),
}


def _usage() -> str:
    lines = ["usage: espcn-edge COMMAND [options]   (espcn-edge COMMAND --help for details)", ""]
    lines += [f"  {name:<8} {help_}" for name, (_, help_) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    if argv[0] not in COMMANDS:
        print(f"espcn-edge: unknown command {argv[0]!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[argv[0]][0])
    return module.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
