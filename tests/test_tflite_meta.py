"""Metadata inside the .tflite flatbuffer: round trip, and the reader without TensorFlow."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from test_convert import make_models

from espcn_edge.tflite_meta import MetadataError, add_metadata, read_metadata, read_metadata_entries


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    return make_models(tmp_path_factory.getbasetemp())


def test_round_trip_and_replace(models):
    plain = models["fp32"].read_bytes()
    assert read_metadata(plain) == {}  # a model without our entry
    meta = {"scale": 2, "spec": {"name": "x", "string": "3:8"}, "note": "Y ünïcode"}
    once = add_metadata(plain, meta)
    assert read_metadata(once) == {"format": 1, **meta}
    twice = add_metadata(once, {"scale": 3})
    assert read_metadata(twice) == {"format": 1, "scale": 3}
    assert set(read_metadata_entries(twice)) >= {"espcn_edge", "min_runtime_version"}


def test_model_still_runs_after_adding_metadata(models, tmp_path):
    import numpy as np

    from espcn_edge.runtime import Upscaler

    path = tmp_path / "m.tflite"
    path.write_bytes(add_metadata(models["int8"].read_bytes(), {"scale": 2, "extra": [1, 2]}))
    up = Upscaler(path)
    assert up.metadata["extra"] == [1, 2]
    same = Upscaler(models["int8"]).upscale_y(np.arange(64, dtype=np.uint8).reshape(8, 8))
    assert (up.upscale_y(np.arange(64, dtype=np.uint8).reshape(8, 8)) == same).all()


def test_corrupt_files(models):
    with pytest.raises(MetadataError, match="TFL3"):
        read_metadata(b"not a model at all")
    with pytest.raises(MetadataError):
        read_metadata(models["int8"].read_bytes()[:2000])


READER_WITHOUT_TF = """
import json, sys
sys.modules["tensorflow"] = None   # any import of TensorFlow now fails
sys.modules["keras"] = None
from espcn_edge.tflite_meta import read_metadata
from espcn_edge.runtime import Upscaler
import numpy as np
up = Upscaler(sys.argv[1])
out = up.upscale_y(np.zeros((6, 7), np.uint8))
print(json.dumps({"meta": read_metadata(sys.argv[1]), "shape": out.shape, "backend": up.backend}))
"""


def test_reader_and_runtime_without_tensorflow(models):
    proc = subprocess.run(
        [sys.executable, "-c", READER_WITHOUT_TF, str(models["int8"])],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["meta"]["scale"] == 2 and result["shape"] == [12, 14]
    assert result["backend"] == "ai_edge_litert"
