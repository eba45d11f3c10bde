"""`import_tensorflow_quietly`: native start-up lines on fd 2 hidden, shown again on failure.

A stand-in `tensorflow` package that writes to file descriptor 2 from the import (as TF's C++
side does) makes the behaviour visible without depending on what a TF version prints.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _import_with(tmp_path: Path, tensorflow_body: str) -> subprocess.CompletedProcess:
    (tmp_path / "tensorflow").mkdir()
    (tmp_path / "tensorflow" / "__init__.py").write_text(textwrap.dedent(tensorflow_body))
    (tmp_path / "keras.py").write_text("")
    code = (
        "import sys; from espcn_edge.quiet import import_tensorflow_quietly\n"
        "import_tensorflow_quietly(); print('imported', flush=True)\n"
        "sys.stderr.write('our own line\\n')\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )


def test_native_start_up_lines_are_hidden_and_stderr_works_after(tmp_path):
    r = _import_with(tmp_path, "import os\nos.write(2, b'I0000 port.cc:153] oneDNN notice\\n')\n")
    assert r.returncode == 0 and r.stdout == "imported\n"
    assert r.stderr == "our own line\n"


def test_what_a_failing_import_printed_is_shown(tmp_path):
    r = _import_with(
        tmp_path,
        """
        import os
        os.write(2, b'F0000 cpu_feature_guard.cc] AVX not available\\n')
        raise ImportError("DLL load failed")
        """,
    )
    assert r.returncode == 1 and "imported" not in r.stdout
    assert "AVX not available" in r.stderr and "ImportError: DLL load failed" in r.stderr


def _make_upscaler(verbose: bool) -> subprocess.CompletedProcess:
    code = (
        "import logging, numpy as np\n"
        f"logging.basicConfig(level=logging.{'DEBUG' if verbose else 'INFO'})\n"
        "from espcn_edge.runtime import Upscaler\n"
        "Upscaler(scale=2).upscale_y(np.zeros((16, 16), np.uint8))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )


def test_litert_delegate_notice_shows_only_when_verbose():
    """LiteRT prints "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." natively on its
    first allocation; it is kept for -v (debug logging)."""
    quiet, verbose = _make_upscaler(False), _make_upscaler(True)
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr
    assert verbose.returncode == 0 and "XNNPACK delegate" in verbose.stderr, verbose.stderr


def test_eval_of_a_keras_model_prints_only_its_table():
    """TensorFlow's start-up lines (CUDA stubs, cpu_feature_guard, cuInit) only with -v."""
    root = Path(__file__).parents[1]
    model = root / "espcn_edge" / "models" / "espcn_x2_tiny.keras"
    data = root.parent / "shared" / "data" / "benchmark" / "Set5"
    argv = [sys.executable, "-m", "device.cli", "eval", "--model", str(model), "--data", str(data)]
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    quiet = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=root, env=env)
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr
    assert "espcn_x2_tiny.keras" in quiet.stdout
