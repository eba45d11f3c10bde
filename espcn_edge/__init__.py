"""espcn-edge core: what training, conversion and the device runtime share.

Importing this package never imports TensorFlow; `espcn_edge.model` (Keras) is imported
explicitly by the stages that need it.
"""

from importlib.resources import files

from .spec import DEFAULT_SPEC, SPECS, ModelSpec, parse_spec

__version__ = "0.1.0"

SAMPLES_DIR = files(__package__) / "samples"
MODELS_DIR = files(__package__) / "models"

__all__ = [
    "DEFAULT_SPEC",
    "SPECS",
    "ModelSpec",
    "parse_spec",
    "SAMPLES_DIR",
    "MODELS_DIR",
    "__version__",
]
