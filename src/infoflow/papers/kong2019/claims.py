"""The seed's claims (Kong 2019, C1-C7) as checks over run folders.

Everything here reads a run folder (``config.toml``, ``metrics.csv``, ``densities.npz``,
``manifest.json``; see docs/DESIGN.md), never live objects, so old runs can be re-checked.

Two measurements carry the checks:

* the mutual-information trajectory of each layer over its *measured* epochs (runs with MI on a
  schedule leave NaN elsewhere), smoothed by a short rolling median against estimator noise;
* a cluster analysis of each recorded density of T_l on its grid (:func:`find_clusters`), giving per
  epoch the number of clusters, the effective number of clusters exp(H(cluster masses)) and the
  mass-weighted within-cluster spread.

Clustering is measured from the density's shape (merging: fewer effective clusters; tightening:
smaller within-cluster spread), not by its entropy h(T_l): for layer 1, I(X;T_1) = h(T_1) minus a
constant, so "MI falls when h(T_1) falls" would hold by construction and C7 could not fail.

A claim is checked per seed (``checks``: one :class:`~infoflow.analysis.claims.Outcome` per seed)
and passes when it passes for a majority of the seeds (k/K reported; the protocol of
:mod:`infoflow.analysis.claims`). Every threshold is a named constant in ``thresholds`` with the
reason for its value.
"""

from __future__ import annotations

from pathlib import Path

from infoflow.analysis.claims import ClaimResult, Outcome, aggregate
from infoflow.papers.kong2019.checks import SINGLE_CHECKS, SeedContext, check_c7
from infoflow.papers.kong2019.thresholds import (
    C1_END_NATS,
    C4_MIN_FALL_NATS,
    C5_FIT_FRACTION,
    CLAIMS_BY_EXPERIMENT,
    EXPECTED,
    LOG_4,
    STATEMENTS,
)
from infoflow.runs.reader import read_run

__all__ = [
    "C1_END_NATS",
    "C4_MIN_FALL_NATS",
    "C5_FIT_FRACTION",
    "CLAIMS_BY_EXPERIMENT",
    "EXPECTED",
    "LOG_4",
    "STATEMENTS",
    "ClaimResult",
    "SeedOutcome",
    "check_claims",
]

# The per-seed outcome of a claim (analysis.claims.Outcome), under its earlier name.
SeedOutcome = Outcome


def _aggregate(claim: str, experiment: str, outcomes: list[Outcome], layer: int | None = None) -> ClaimResult:
    statement = STATEMENTS[claim]
    if layer is not None:
        statement = statement.replace("{layer}", str(layer))
    return aggregate(claim, experiment, outcomes, statement=statement, expected=EXPECTED[claim], layer=layer)


def check_claims(run_dir: str | Path, experiment: str | None = None) -> list[ClaimResult]:
    """Return the seed's claims checked on a run folder, one ClaimResult per claim (C7 per layer).

    Parameters
    ----------
    run_dir : path
        A run folder (config.toml, metrics.csv, densities.npz).
    experiment : {"fig2", ..., "fig6"}, optional
        Which experiment's claims apply; default the config's ``name``. A run whose name is none of
        these has no claims (empty list).

    Raises
    ------
    ValueError
        For an unknown ``experiment``, a malformed run folder, or one lacking what a claim needs.
    """
    run = read_run(run_dir)
    name = experiment if experiment is not None else run.name
    if name not in CLAIMS_BY_EXPERIMENT:
        if experiment is not None:
            raise ValueError(f"experiment must be one of {', '.join(CLAIMS_BY_EXPERIMENT)}, got {experiment!r}")
        return []
    contexts = [SeedContext(run, index) for index in range(run.seeds.size)]
    results = []
    for claim in CLAIMS_BY_EXPERIMENT[name]:
        if claim == "C7":
            for layer in range(1, run.n_layers + 1):
                outcomes = [check_c7(context, layer) for context in contexts]
                results.append(_aggregate("C7", name, outcomes, layer=layer))
        else:
            outcomes = [SINGLE_CHECKS[claim](context) for context in contexts]
            results.append(_aggregate(claim, name, outcomes))
    return results
