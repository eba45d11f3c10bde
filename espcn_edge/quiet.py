"""Keep native libraries' notices off stderr unless asked for (`-v`).

TensorFlow's C++ side prints absl/oneDNN/CUDA notices straight to file descriptor 2 while it
loads, whatever TF_CPP_MIN_LOG_LEVEL says; its converter prints "fully_quantize: 0, …", and
LiteRT prints "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." for every interpreter.
They would stand before the one-line errors and reports of every command. Only the native calls
are wrapped; what a failing import printed is shown after all. (The device side uses only
`native_stderr_hidden`: it never imports TensorFlow.)
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import sys
import tempfile
import warnings


@contextlib.contextmanager
def native_stderr_hidden(show: bool = False, replay_on_error: bool = False):
    """Send fd 2 to a temporary file for the block (unless `show`); with `replay_on_error`,
    what was written there is printed if the block raises. Call from one thread at a time."""
    if show:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as captured:
            os.dup2(captured.fileno(), 2)
            try:
                yield
            except BaseException:
                os.dup2(saved, 2)
                if replay_on_error:
                    captured.seek(0)
                    os.write(2, captured.read())
                raise
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def import_tensorflow_quietly() -> None:
    """Import tensorflow and keras with fd 2 hidden (replayed on failure); shown when the
    command logs at DEBUG (-v)."""
    if "tensorflow" in sys.modules:
        return
    show = logging.getLogger().isEnabledFor(logging.DEBUG)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0" if show else "3")
    with native_stderr_hidden(show=show, replay_on_error=True):
        importlib.import_module("tensorflow")
        importlib.import_module("keras")


def quiet_tensorflow(verbose: bool) -> None:
    """Python-side TensorFlow/Keras chatter off unless `verbose`: TF's "Assets written to"
    INFO lines, and Keras's warning that `shuffle` is ignored for a tf.data dataset (the
    pipeline shuffles itself)."""
    if verbose:
        return
    logging.getLogger("tensorflow").setLevel(logging.WARNING)
    logging.getLogger("absl").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r".*`shuffle=True` was passed", category=UserWarning)
