"""The shipped models: one table of what each tier is, read by training's defaults, the model
files, `--tier auto`, the reports and the tests.

Each tier is one network (`espcn_edge.spec`) shipped per scale as an int8 `.tflite` (what the
device runs), its `.json` conversion report, the float `.keras` it was converted from and that
model's training `.card.json`, all in `espcn_edge/models/`. docs/benchmarks.md says how each
was trained and what it measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from .errors import ModelError
from .spec import SPECS, ModelSpec

MODELS_DIR = files(__package__) / "models"


@dataclass(frozen=True)
class Tier:
    name: str
    spec_name: str  # the network, a name in espcn_edge.spec.SPECS
    scales: tuple[int, ...] = (2, 3, 4)  # where it ships: only where it is on the Pareto front
    not_shipped: str = ""  # why it ships at no other scale, for the one line that says so

    @property
    def spec(self) -> ModelSpec:
        return SPECS[self.spec_name]

    def file(self, scale: int, kind: str = "int8.tflite") -> Path:
        """espcn_x{scale}_{tier}_{kind}: int8.tflite, int8.json (its report), keras (the float
        model), card.json (how that was trained)."""
        separator = "_" if kind.startswith("int8") else "."
        return Path(str(MODELS_DIR)) / f"espcn_x{scale}_{self.name}{separator}{kind}"


# fastest first. quality: k5-28 (ABPN's width at ABPN's cost), started from standard's network
# widened (train/widen.py), ships where it measures better than standard on Set5 and Set14:
# at every scale (docs/benchmarks.md)
TABLE = (
    Tier("tiny", "k3-8"),
    Tier("standard", "k5-16"),
    Tier("quality", "k5-28"),
)
TIERS = tuple(t.name for t in TABLE)
DEFAULT_TIER = "standard"
BY_NAME = {t.name: t for t in TABLE}
# what `python -m train.fit` trains without --spec: the network that ships by default
DEFAULT_SPEC = BY_NAME[DEFAULT_TIER].spec


def tier(name: str) -> Tier:
    if name not in BY_NAME:
        raise ModelError(f"unknown tier {name!r}: one of {', '.join(TIERS)}")
    return BY_NAME[name]


def shipped(scale: int) -> tuple[str, ...]:
    """The tiers that ship at `scale`, fastest first."""
    return tuple(t.name for t in TABLE if scale in t.scales)


def default_model_path(scale: int, name: str = DEFAULT_TIER) -> Path:
    """The shipped int8 model: espcn_edge/models/espcn_x{scale}_{tier}_int8.tflite; a tier that
    does not ship at `scale` is a ModelError that says why and what ships."""
    found = tier(name)
    if scale not in found.scales:
        raise ModelError(
            f"--tier {name} does not ship at ×{scale}: {found.not_shipped or 'not trained'}; "
            f"use --tier {' or --tier '.join(shipped(scale))}"
        )
    return found.file(scale)
