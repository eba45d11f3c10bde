"""The `espcn-edge` console command's first lines: Ctrl-C or SIGTERM while its modules load (a
second or more on a Pi) ends it in one line, not a KeyboardInterrupt traceback. Nothing has been
done yet then, so it exits at once; once a command runs, `espcn_edge.interrupt` takes over."""

from __future__ import annotations

import os
import signal


def _while_starting(signum: int, frame) -> None:
    os.write(2, b"espcn-edge: interrupted while starting; nothing was done\n")
    os._exit(128 + signum)


def main() -> int:
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _while_starting)
    from device.cli import main as run  # numpy, Pillow, the interpreter: the slow part

    return run()
