"""The entropy engine: h(P_hat * N(0, beta^2 I)) in nats; knows nothing of networks.

Modules: ``quadrature`` (d <= 2, deterministic), ``monte_carlo`` (any d: sampling, control
variate, standard errors), ``dense`` (BLAS-tiled kernel sums), ``neighbours`` (grid-hashed cut-off
kernel sums with a truncation bound), ``density`` (densities for plots), ``api`` (``sp_entropy``),
``common`` (input checks, result type).
"""

from infoflow.entropy.api import METHODS, sp_entropy
from infoflow.entropy.common import EntropyEstimate, gaussian_entropy
from infoflow.entropy.density import smoothed_density
from infoflow.entropy.monte_carlo import choose_algorithms, monte_carlo_entropy
from infoflow.entropy.quadrature import dense_quadrature_entropy, quadrature_entropy

__all__ = [
    "METHODS",
    "EntropyEstimate",
    "choose_algorithms",
    "dense_quadrature_entropy",
    "gaussian_entropy",
    "monte_carlo_entropy",
    "quadrature_entropy",
    "smoothed_density",
    "sp_entropy",
]
