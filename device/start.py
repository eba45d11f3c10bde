"""The `espcn-edge` console command's first and last lines. Ctrl-C or SIGTERM while its modules
load (a second or more on a Pi) ends it in one line, not a KeyboardInterrupt traceback: nothing
has been done yet then, so it exits at once. While a command runs, `espcn_edge.interrupt` takes
over. Once it has finished, its outputs are in place and a signal changes nothing: left to
Python, one arriving while the interpreter shuts down would kill the process silently, exit
status -2, as if the finished work had been lost."""

from __future__ import annotations

import os
import signal


def _while_starting(signum: int, frame) -> None:
    os.write(2, b"espcn-edge: interrupted while starting; nothing was done\n")
    os._exit(128 + signum)


def _on_signals(handler) -> None:
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, handler)


def finished(status: int) -> int:
    """`status`, with SIGINT and SIGTERM ignored from here to the process's end."""
    _on_signals(signal.SIG_IGN)
    return status


def main() -> int:
    _on_signals(_while_starting)
    from device.cli import main as run  # numpy, Pillow, the interpreter: the slow part

    return finished(run())
