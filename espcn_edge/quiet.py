"""Import TensorFlow without its native start-up lines on stderr.

TensorFlow's C++ side prints absl/oneDNN/CUDA notices straight to file descriptor 2 while it
loads, whatever TF_CPP_MIN_LOG_LEVEL says; they would stand before the one-line errors of
`train.fit` and `convert.tflite`. Only the import is silenced, and if it fails what it printed is
shown after all. (The device side never calls this: it does not use TensorFlow.)
"""

from __future__ import annotations

import importlib
import os
import sys
import tempfile


def import_tensorflow_quietly() -> None:
    """Import tensorflow and keras with fd 2 sent to a temporary file (replayed on failure)."""
    if "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as captured:
            os.dup2(captured.fileno(), 2)
            try:
                importlib.import_module("tensorflow")
                importlib.import_module("keras")
            except BaseException:
                os.dup2(saved, 2)
                captured.seek(0)
                os.write(2, captured.read())
                raise
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)
