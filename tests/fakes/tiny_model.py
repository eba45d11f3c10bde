"""Make a small real int8 ESPCN `.tflite` for device tests (TensorFlow is used to MAKE it only).

The model is built untrained from `espcn_edge.model.build_espcn` (with the identity path its
output is already a plausible upscale) and converted with uint8 input and output, like the
shipped models. Run in a subprocess so the test process itself never imports TensorFlow.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SPEC = "3:8,3:8,3:8,3:8,3:8,3:8,3+skip"  # tiny: converts in seconds, runs in a millisecond


def build(out: Path, scale: int = 2, spec: str = SPEC) -> Path:
    """Write `out` (int8 model for `scale`) unless it exists; returns `out`."""
    out = Path(out)
    if not out.exists():
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
        cmd = [sys.executable, __file__, str(out), str(scale), spec]
        subprocess.run(cmd, check=True, env=env, timeout=300, capture_output=True)
    return out


COMMITTED = Path(__file__).parent / "tiny_x2.tflite"  # made by this script; rebuild: see below


def session_model(tmp_path_factory, scale: int = 2) -> Path:
    """The tiny model: the committed ×2 file, else built once per test session.

    Regenerate it with ``python tests/fakes/tiny_model.py tests/fakes/tiny_x2.tflite 2``.
    """
    if scale == 2 and COMMITTED.is_file():
        return COMMITTED
    return build(tmp_path_factory.getbasetemp() / "device_models" / f"tiny_x{scale}.tflite", scale)


def _convert(out: Path, scale: int, spec: str) -> None:
    import numpy as np
    import tensorflow as tf

    from espcn_edge import parse_spec
    from espcn_edge.model import build_espcn

    model = build_espcn(scale, parse_spec(spec, name="tiny"))
    rng = np.random.default_rng(0)

    def representative():
        for _ in range(8):
            yield [rng.random((1, 24, 24, 1), dtype=np.float32)]

    import tempfile

    saved = Path(tempfile.mkdtemp(prefix="tiny_espcn_"))
    model.export(str(saved), format="tf_saved_model", verbose=False)
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.uint8
    converter.inference_output_type = tf.uint8
    data = converter.convert()
    from espcn_edge.tflite_meta import add_metadata

    data = add_metadata(
        data, {"scale": scale, "precision": "int8", "spec": {"name": "tiny", "string": spec}}
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".part")
    tmp.write_bytes(data)
    os.replace(tmp, out)


if __name__ == "__main__":
    _convert(Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else SPEC)
