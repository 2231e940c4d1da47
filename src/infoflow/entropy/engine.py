"""Compatibility shim: the engine now lives in modules by concept (see ``infoflow.entropy``).

``from infoflow.entropy.engine import ...`` keeps working for every name it used to export.
"""

from __future__ import annotations

from infoflow.entropy.api import METHODS, sp_entropy
from infoflow.entropy.common import (
    DEFAULT_TARGET_STD_ERROR,
    MAX_SPREAD,
    TILE_ENTRIES,
    EntropyEstimate,
    gaussian_entropy,
)
from infoflow.entropy.dense import EXPANSION_LIMIT
from infoflow.entropy.density import smoothed_density
from infoflow.entropy.monte_carlo import monte_carlo_entropy
from infoflow.entropy.quadrature import (
    BLOCK_BYTES,
    HERMITE_TERMS,
    KERNEL_RADIUS,
    MAX_SET_BYTES,
    PADDING,
    STEP_RATIO,
    dense_quadrature_entropy,
    quadrature_entropy,
)

__all__ = [
    "BLOCK_BYTES",
    "DEFAULT_TARGET_STD_ERROR",
    "EXPANSION_LIMIT",
    "HERMITE_TERMS",
    "KERNEL_RADIUS",
    "MAX_SET_BYTES",
    "MAX_SPREAD",
    "METHODS",
    "PADDING",
    "STEP_RATIO",
    "TILE_ENTRIES",
    "EntropyEstimate",
    "dense_quadrature_entropy",
    "gaussian_entropy",
    "monte_carlo_entropy",
    "quadrature_entropy",
    "smoothed_density",
    "sp_entropy",
]
