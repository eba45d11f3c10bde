"""Ctrl-C and SIGTERM end a command the way an error does: every `finally` and atomic write
cleans up on the way out (no temporary file is left) and the user reads one line, exit status
128 + the signal's number (130, 143) as a shell reports a process killed by it."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived. A BaseException, like KeyboardInterrupt, so that no
    `except Exception` on the way up mistakes it for a failure of one file and goes on."""

    def __init__(self, signum: int, message: str = "interrupted"):
        super().__init__(message)
        self.signum = signum

    @property
    def status(self) -> int:
        return 128 + self.signum


@contextlib.contextmanager
def _handling(handler: Callable[[int], None]) -> Iterator[None]:
    """Call `handler(signum)` on SIGINT and SIGTERM while inside; the old handlers after.
    Signals reach the main thread only, so elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, lambda signum, frame: handler(signum)) for s in SIGNALS}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


# signals `interruptible` raised for while its block runs: their exception can be lost (raised
# inside a finalizer, whose exceptions Python ignores, or a library callback that swallows them)
_arrived: list[int] = []


def pending() -> None:
    """Raise Interrupted for a signal whose exception was lost. Atomic writes call this before
    they commit, so a command interrupted this way still keeps the earlier files."""
    if _arrived:
        raise Interrupted(_arrived[0])


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Raise Interrupted in the main thread on SIGINT or SIGTERM; one whose exception was lost
    is raised again before the next atomic commit (`pending`) or when the block ends, and one
    that a library turned into another error (TensorFlow's converter does) is raised instead."""

    def handler(signum: int) -> None:
        _arrived.append(signum)
        raise Interrupted(signum)

    try:
        with _handling(handler):
            yield
        pending()
    except Interrupted:
        raise
    except BaseException:
        if _arrived:
            raise Interrupted(_arrived[0]) from None
        raise
    finally:
        _arrived.clear()


def stop_on_signals(stop: Callable[[], None]) -> contextlib.AbstractContextManager[None]:
    """Call `stop()` on the first SIGINT or SIGTERM, so a stream ends normally (its recording
    finished); a second Ctrl-C raises Interrupted at once."""
    calls: list[int] = []

    def handler(signum: int) -> None:
        if calls and signum == signal.SIGINT:
            raise Interrupted(signum)
        calls.append(signum)
        stop()

    return _handling(handler)


@contextlib.contextmanager
def deferred() -> Iterator[Callable[[], None]]:
    """Inside, SIGINT or SIGTERM is only noted; the context gives `check()`, which raises
    Interrupted for it at a point the caller picks. For TensorFlow's loops: raised from the
    handler, the exception can land while TensorFlow's C++ converts a Python object, which then
    aborts the process (`Check failed: !PyErr_Occurred()`) instead of cleaning up. A second
    Ctrl-C raises at once. On the way out a noted signal is raised too."""
    noted: list[int] = []

    def handler(signum: int) -> None:
        if noted and signum == signal.SIGINT:
            raise Interrupted(signum)
        noted.append(signum)

    def check() -> None:
        if noted:
            raise Interrupted(noted[0])

    with _handling(handler):
        yield check
    check()
