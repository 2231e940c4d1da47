"""The SZT experiment's questions, answered from a run folder: which layers compress, when, by how
much, and whether that coincides with clustering (Goldfeld et al. 2019, §6).

Per layer and seed, from metrics.csv:

* the I(X;T_l) trajectory over the measured epochs with its standard error (``std_error_nats``);
* its peak (the maximum of a 3-point centred rolling median, ``analysis.trajectories``, so a
  single noisy point is not a peak; the first and last points are kept as they are) and
  its end value (the median over the last ``END_FRACTION`` of the measured epochs);
* **compression**: peak - end, called significant when it exceeds ``COMPRESSION_MIN_NATS`` and
  ``COMPRESSION_SE_MULTIPLE`` standard errors of the difference;
* **clustering** over the same window: the change of H(Bin(S_l)) (``binned_entropy_nats``): a fall
  by ``CLUSTERING_MIN_NATS`` or more means the representation gathered into fewer cells;
* the ceiling: no estimate may exceed H(X) = log 4096 by more than ``CEILING_SE_MULTIPLE`` SE;
* the bounds (``mi_lower_nats``, ``mi_upper_nats``, ``resolved``) at the peak epoch and over the end
  window (the least lower and largest upper bound there; resolved when every epoch there is), NaN
  for a run measured with bounds off.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from infoflow.analysis.claims import ClaimResult, aggregate, outcome_of
from infoflow.analysis.trajectories import rolling_median
from infoflow.runs.reader import read_run

H_X_NATS = math.log(4096)
# The end state: median over the last tenth of the measured epochs (log-spaced: the last ~8 points).
END_FRACTION = 0.1
SMOOTHING_POINTS = 3
# A fall of I(X;T_l) counts as compression when it exceeds both 0.05 nats (the smallest fall the
# Kong 2019 checks count, C7) and 4 standard errors of the peak-minus-end difference.
COMPRESSION_MIN_NATS = 0.05
COMPRESSION_SE_MULTIPLE = 4.0
# Clustering: H(Bin(S_l)) falls by at least this much between the MI peak and the end.
CLUSTERING_MIN_NATS = 0.05
CEILING_SE_MULTIPLE = 4.0


@dataclass(frozen=True)
class LayerFinding:
    """What one layer of one seed did.

    Attributes are in nats except epochs; ``compresses`` and ``clusters`` are the verdicts.
    ``peak_lower``/``peak_upper`` bound I(X;T_l) at the peak epoch, ``end_lower``/``end_upper``
    over the end window; ``*_resolved`` says whether the estimates there are resolved (None
    without bounds).
    """

    seed: int
    layer: int
    peak_nats: float
    peak_epoch: int
    end_nats: float
    compression_nats: float
    compression_std_error: float
    compresses: bool
    clustering_change_nats: float
    clusters: bool
    max_nats: float
    max_std_error: float
    within_ceiling: bool
    peak_lower: float = math.nan
    peak_upper: float = math.nan
    peak_resolved: bool | None = None
    end_lower: float = math.nan
    end_upper: float = math.nan
    end_resolved: bool | None = None

    @property
    def coincides(self) -> bool:
        """True when the layer compresses and clusters over the same window."""
        return self.compresses and self.clusters


def layer_findings(metrics: pd.DataFrame) -> list[LayerFinding]:
    """Return one :class:`LayerFinding` per (seed, layer) of a run's tidy metrics table."""
    findings = []
    measured = metrics[metrics["mi_nats"].notna()]
    for (seed, layer), rows in measured.groupby(["seed", "layer"], sort=True):
        rows = rows.sort_values("epoch")
        epochs = rows["epoch"].to_numpy()
        mi = rows["mi_nats"].to_numpy(dtype=np.float64)
        se = rows["std_error_nats"].fillna(0.0).to_numpy(dtype=np.float64) if "std_error_nats" in rows else 0 * mi
        smooth = rolling_median(mi, SMOOTHING_POINTS)
        peak_index = int(np.argmax(smooth))
        n_end = max(1, math.ceil(END_FRACTION * len(mi)))
        end_nats = float(np.median(mi[-n_end:]))
        end_se = float(np.sqrt(np.mean(se[-n_end:] ** 2)) / math.sqrt(n_end))
        compression = float(smooth[peak_index] - end_nats)
        compression_se = math.hypot(float(se[peak_index]), end_se)
        compresses = compression > max(COMPRESSION_MIN_NATS, COMPRESSION_SE_MULTIPLE * compression_se)
        clustering_change = math.nan
        if "binned_entropy_nats" in rows and rows["binned_entropy_nats"].notna().any():
            binned = rolling_median(rows["binned_entropy_nats"].to_numpy(dtype=np.float64), SMOOTHING_POINTS)
            clustering_change = float(np.median(binned[-n_end:]) - binned[peak_index])
        clusters = bool(clustering_change <= -CLUSTERING_MIN_NATS)
        top = int(np.argmax(mi))
        peak_bounds = _bounds(rows.iloc[[peak_index]])
        end_bounds = _bounds(rows.iloc[-n_end:])
        findings.append(
            LayerFinding(
                seed=int(seed),
                layer=int(layer),
                peak_nats=float(smooth[peak_index]),
                peak_epoch=int(epochs[peak_index]),
                end_nats=end_nats,
                compression_nats=compression,
                compression_std_error=compression_se,
                compresses=bool(compresses),
                clustering_change_nats=clustering_change,
                clusters=clusters,
                max_nats=float(mi[top]),
                max_std_error=float(se[top]),
                within_ceiling=bool(mi[top] <= H_X_NATS + CEILING_SE_MULTIPLE * se[top] + 1e-9),
                peak_lower=peak_bounds[0],
                peak_upper=peak_bounds[1],
                peak_resolved=peak_bounds[2],
                end_lower=end_bounds[0],
                end_upper=end_bounds[1],
                end_resolved=end_bounds[2],
            )
        )
    return findings


def _bounds(rows: pd.DataFrame) -> tuple[float, float, bool | None]:
    """Return (least lower bound, largest upper bound, all resolved) of I(X;T_l) over ``rows``.

    (NaN, NaN, None) when the rows carry no bounds.
    """
    if not {"mi_lower_nats", "mi_upper_nats"} <= set(rows.columns) or rows["mi_lower_nats"].isna().all():
        return math.nan, math.nan, None
    resolved = None
    if "resolved" in rows and rows["resolved"].notna().all():
        resolved = bool((rows["resolved"] == 1).all())
    return float(rows["mi_lower_nats"].min()), float(rows["mi_upper_nats"].max()), resolved


def run_findings(run_dir: str) -> list[LayerFinding]:
    """Return :func:`layer_findings` of the run folder ``run_dir``."""
    return layer_findings(read_run(run_dir).metrics)


# The verdicts of a finding, as claims over seeds per layer: (verdict attribute, statement).
VERDICTS = (
    ("compresses", "I(X;T_l) falls significantly from its peak to its end"),
    ("coincides", "I(X;T_l) compresses while H(Bin(S_l)) falls over the same window"),
    ("within_ceiling", "no estimate of I(X;T_l) exceeds H(X) = log 4096 beyond its error"),
)


def layer_claims(findings: list[LayerFinding], experiment: str = "szt") -> list[ClaimResult]:
    """Return each verdict checked per layer over seeds (the claim protocol, majority rule)."""
    expected = (
        f"compression > max({COMPRESSION_MIN_NATS} nats, {COMPRESSION_SE_MULTIPLE:g} s.e.); clustering: "
        f"H(Bin(S_l)) falls >= {CLUSTERING_MIN_NATS} nats; ceiling: <= log 4096 + {CEILING_SE_MULTIPLE:g} s.e."
    )
    return [
        aggregate(
            verdict,
            experiment,
            [outcome_of(finding, verdict) for finding in findings if finding.layer == layer],
            statement=statement,
            expected=expected,
            layer=layer,
        )
        for layer in sorted({finding.layer for finding in findings})
        for verdict, statement in VERDICTS
    ]
