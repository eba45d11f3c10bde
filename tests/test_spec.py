"""Model specification: cost figures by hand and by Keras, the string form, and bad specs."""

from __future__ import annotations

import pytest

from espcn_edge.spec import SPECS, ModelSpec, parse_spec
from espcn_edge.tiers import DEFAULT_SPEC

CUSTOM = "5:8,3:12,1:4,3:4,5:6,3:10,1+skip"


def _hand_cost(scale: int) -> tuple[int, int]:
    """The seed network counted by hand: (params, MACs per LR pixel).

    conv1 5×5, 1→32 · conv2 3×3, 32→32 · conv3 3×3, 32→16 · conv4–6 3×3, 16→16 ·
    conv7 3×3, 16→r². Each output channel has one bias; each MAC is one weight use per pixel.
    """
    r2 = scale * scale
    macs = 25 * 1 * 32 + 9 * 32 * 32 + 9 * 32 * 16 + 3 * (9 * 16 * 16) + 9 * 16 * r2
    biases = 32 + 32 + 16 + 3 * 16 + r2
    return macs + biases, macs


@pytest.mark.parametrize("name", ["seed", "seed-skip"])
@pytest.mark.parametrize(
    "scale, params, macs", [(2, 22244, 22112), (3, 22969, 22832), (4, 23984, 23840)]
)
def test_seed_cost_matches_hand_computation(name, scale, params, macs):
    assert _hand_cost(scale) == (params, macs)  # the arithmetic in the docstring
    spec = SPECS[name]
    assert spec.params(scale) == params and spec.macs_per_lr_pixel(scale) == macs


def test_custom_spec_cost_by_hand():
    spec = parse_spec(CUSTOM)
    # 5×5 1→8, 3×3 8→12, 1×1 12→4, 3×3 4→4, 5×5 4→6, 3×3 6→10, 1×1 10→r²
    macs = 25 * 8 + 9 * 8 * 12 + 12 * 4 + 9 * 4 * 4 + 25 * 4 * 6 + 9 * 6 * 10 + 10 * 4
    assert spec.macs_per_lr_pixel(2) == macs
    assert spec.params(2) == macs + 8 + 12 + 4 + 4 + 6 + 10 + 4


@pytest.mark.parametrize("text", ["seed", "seed-skip", CUSTOM])
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_params_match_keras_count_params(text, scale):
    keras = pytest.importorskip("keras")
    from espcn_edge.model import build_espcn

    spec = parse_spec(text)
    assert build_espcn(scale, spec).count_params() == spec.params(scale)
    keras.backend.clear_session()


def test_named_specs():
    assert parse_spec("seed") is SPECS["seed"] and parse_spec("seed-skip") is SPECS["seed-skip"]
    assert not SPECS["seed"].skip and SPECS["seed-skip"].skip
    assert SPECS["seed"].kernels == SPECS["seed-skip"].kernels == (5, 3, 3, 3, 3, 3, 3)
    assert SPECS["seed"].widths == SPECS["seed-skip"].widths == (32, 32, 16, 16, 16, 16)
    assert DEFAULT_SPEC in SPECS.values()


@pytest.mark.parametrize("text", ["seed", "seed-skip", CUSTOM, CUSTOM.replace("+skip", "")])
def test_string_round_trips(text):
    spec = parse_spec(text)
    again = parse_spec(spec.to_string(), name=spec.name)
    assert again == spec


def test_parse_spec_reads_kernels_widths_and_skip():
    spec = parse_spec(" 5:8, 3:12,1:4,3:4,5:6,3:10, 1 +skip", name="mine")
    assert spec.name == "mine" and spec.skip
    assert spec.kernels == (5, 3, 1, 3, 5, 3, 1) and spec.widths == (8, 12, 4, 4, 6, 10)
    assert not parse_spec(CUSTOM.replace("+skip", "")).skip


@pytest.mark.parametrize(
    "text",
    [
        "",
        "seedy",
        "5:32",
        "5:32,3:32,3:16,3:16,3:16,3:16",  # no f7
        "5:32,3:32,3:16,3:16,3:16,3:16,3:16,3",  # seven feature layers
        "5:32,3:32,3:16,3:16,3:16,3:16,3+skip+skip",
        "5:32,3:32,3:16,3:16,3:16,3:16,3 skip",
        "a:32,3:32,3:16,3:16,3:16,3:16,3",
        "4:32,3:32,3:16,3:16,3:16,3:16,3",  # even kernel
        "5:32,3:32,3:16,3:16,3:16,3:16,2",  # even last kernel
        "5:32,3:0,3:16,3:16,3:16,3:16,3",  # zero width
        "0:32,3:32,3:16,3:16,3:16,3:16,3",  # zero kernel
        "5:-3,3:32,3:16,3:16,3:16,3:16,3",
    ],
)
def test_bad_specs_raise_value_error(text):
    with pytest.raises(ValueError, match="spec"):
        parse_spec(text)


def test_model_spec_validates_its_fields():
    with pytest.raises(ValueError):
        ModelSpec("x", (3,) * 6, (8,) * 6)
    with pytest.raises(ValueError):
        ModelSpec("x", (3,) * 7, (8,) * 7)
    with pytest.raises(ValueError):
        ModelSpec("x", (3, 3, 3, 3, 3, 3, 4), (8,) * 6)
