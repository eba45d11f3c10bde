"""espcn-edge core: what training, conversion and the device runtime share.

Importing this package never imports TensorFlow; `espcn_edge.model` (Keras) is imported
explicitly by the stages that need it.
"""

from importlib.resources import files

from .errors import DelegateError, ModelError, UserError
from .formats import FORMATS, FrameError
from .runtime import Upscaler
from .spec import SPECS, ModelSpec, parse_spec
from .tiers import DEFAULT_SPEC, DEFAULT_TIER, MODELS_DIR, TIERS

__version__ = "0.1.0"

SAMPLES_DIR = files(__package__) / "samples"

__all__ = [
    "Upscaler",
    "FORMATS",
    "TIERS",
    "DEFAULT_TIER",
    "UserError",
    "ModelError",
    "DelegateError",
    "FrameError",
    "DEFAULT_SPEC",
    "SPECS",
    "ModelSpec",
    "parse_spec",
    "SAMPLES_DIR",
    "MODELS_DIR",
    "__version__",
]
