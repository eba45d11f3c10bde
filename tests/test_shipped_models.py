"""The models inside the package: present for ×2/×3/×4, self-describing, and better on the
standard protocol than what users already have (OpenCV's ESPCN and FSRCNN), within 0.3 dB of
the float models they came from. Real evaluation runs; the numbers are in docs/benchmarks.md."""

from __future__ import annotations

import pytest
from conftest import SHARED, _require

from espcn_edge.evaluate import evaluate_models, load_images, load_model
from espcn_edge.runtime import Upscaler, default_model_path

PEERS = SHARED / "peers" / "opencv_dnn_superres"
SCALES = (2, 3, 4)


@pytest.mark.parametrize("scale", SCALES)
def test_shipped_model_describes_itself(scale):
    up = Upscaler(scale=scale)
    assert up.model_path == default_model_path(scale)
    assert up.metadata["scale"] == scale and up.metadata["precision"] == "int8"
    assert up.metadata["input"]["dtype"] == "uint8"


@pytest.mark.parametrize("set_name", ["Set5", "Set14"])
@pytest.mark.parametrize("scale", SCALES)
def test_shipped_int8_beats_opencv_espcn_and_fsrcnn(scale, set_name):
    pytest.importorskip("cv2")
    images = load_images(_require(SHARED / "data" / "benchmark" / set_name), scale)
    models = [
        load_model(m, scale)
        for m in (
            str(default_model_path(scale)),
            f"opencv:{_require(PEERS) / f'ESPCN_x{scale}.pb'}",
            f"opencv:{PEERS / f'FSRCNN_x{scale}.pb'}",
        )
    ]
    ours, espcn, fsrcnn = (
        m["mean_psnr"] for m in evaluate_models(models, images, scale)["models"].values()
    )
    assert ours > max(espcn, fsrcnn), (ours, espcn, fsrcnn)


@pytest.mark.parametrize("scale", SCALES)
def test_shipped_int8_loses_at_most_0_3_db_to_its_float_model(scale):
    pytest.importorskip("tensorflow")
    images = load_images(_require(SHARED / "data" / "benchmark" / "Set5"), scale)
    keras_path = default_model_path(scale).with_name(f"espcn_x{scale}.keras")
    models = [load_model(str(default_model_path(scale)), scale), load_model(str(keras_path), scale)]
    int8, float_ = (
        m["mean_psnr"] for m in evaluate_models(models, images, scale)["models"].values()
    )
    assert float_ - int8 <= 0.3, (float_, int8)
