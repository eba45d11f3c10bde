"""A warm start for a wider network: a trained narrower one, widened without changing its output.

Each layer keeps the source's kernel in its first channels; each new channel gets small random
incoming weights (so it learns from the first step) and zero outgoing weights (so the output is
exactly the source's until training moves them: Net2Net's idea, Chen et al., ICLR 2016). At ×3
the quality network (`k5-28`) so starts from standard's 120,000 trained steps instead of from
nothing (benchmarks/results/levers_x3_quality.txt).
"""

from __future__ import annotations

import numpy as np

from espcn_edge.model import build_espcn, model_scale
from espcn_edge.spec import ModelSpec

NEW_CHANNEL_SCALE = 0.1  # the new incoming weights' spread, × the layer's own weights' spread
LAYERS = [f"conv{i}" for i in range(1, 8)]


def widens(source, spec: ModelSpec) -> bool:
    """Whether `source` is `spec` with fewer channels somewhere (same kernel sizes and depth)."""
    try:
        shapes = [source.get_layer(name).get_weights()[0].shape for name in LAYERS]
    except ValueError:  # not the seven conv layers of an ESPCN
        return False
    widths = [s[3] for s in shapes[:6]]
    return (
        [s[0] for s in shapes] == list(spec.kernels)
        and all(a <= b for a, b in zip(widths, spec.widths, strict=True))
        and widths != list(spec.widths)
    )


def widen(source, spec: ModelSpec, seed: int = 0):
    """A plain model of `spec` (and `source`'s scale) computing exactly what `source` computes."""
    rng = np.random.default_rng(seed)
    target = build_espcn(model_scale(source), spec)
    for name in LAYERS:
        kernel, bias = source.get_layer(name).get_weights()
        layer = target.get_layer(name)
        wide, wide_bias = (np.zeros(v.shape, np.float32) for v in layer.get_weights())
        cin, cout = kernel.shape[2:]
        new = wide[:, :, :cin, cout:]
        wide[:, :, :cin, cout:] = rng.normal(0, NEW_CHANNEL_SCALE * kernel.std(), new.shape)
        wide[:, :, :cin, :cout] = kernel  # rows cin: (the new inputs) stay zero
        wide_bias[:cout] = bias
        layer.set_weights([wide, wide_bias])
    return target
