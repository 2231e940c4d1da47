"""The digits experiment's three questions, answered from its seed folders.

1. **Which layers compress?** Per (seed, layer) of the noisy net, from the probe's records: the
   peak of the I(X;T_l) estimate and its end value (the last record). The fall is *resolved*
   when the bounds say so: the lower bound at the peak exceeds the upper bound at the end (the
   two intervals are disjoint, so the true I(X;T_l) fell, at the bounds' confidence); a fall of
   the estimate inside overlapping intervals is *unresolved*; no fall of the estimate (by more
   than ``FALL_MIN_NATS``) is *no fall*.
2. **Does compression coincide with clustering?** Over the same window (peak epoch -> end): the
   change of the cosine gap (within-class minus between-class mean cosine similarity, noise-free
   S_l of the noisy net); clustering grew when it rose by more than ``GAP_MIN``. The deterministic
   twin's gap and binned entropy over the same window are given beside it.
3. **Is the noisy net a faithful proxy?** The final test error of both nets per seed; the mean
   difference against twice its binomial standard error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from infoflow.papers.goldfeld2019.digits import NOISY_RUN, REPRESENTATIONS_FILE, TIMINGS_FILE
from infoflow.runs.reader import read_run

# A fall of the I(X;T_l) estimate smaller than this is no fall (the probe's default target error is 0.1).
FALL_MIN_NATS = 0.05
# The cosine gap (dimensionless) must rise by more than this to count as more clustering.
GAP_MIN = 0.01
# The two nets' test errors agree when their mean difference is within this many standard errors.
PROXY_SE_MULTIPLE = 2.0


@dataclass(frozen=True)
class DigitsSeed:
    """One seed's tables: the noisy net's probe metrics, the per-epoch representations, timings."""

    seed: int
    metrics: pd.DataFrame
    representations: pd.DataFrame
    timings: dict[str, float]


def read_seeds(folder: str | Path) -> list[DigitsSeed]:
    """Return every finished seed folder ``folder/seed-S``, in seed order."""
    seeds = []
    for path in Path(folder).glob("seed-*"):
        suffix = path.name.removeprefix("seed-")
        if not suffix.isdigit() or not path.is_dir():
            continue
        timings = pd.read_csv(path / TIMINGS_FILE).iloc[0].to_dict()
        seeds.append(
            DigitsSeed(
                seed=int(suffix),
                metrics=read_run(path / NOISY_RUN).metrics,
                representations=pd.read_csv(path / REPRESENTATIONS_FILE),
                timings={key: float(value) for key, value in timings.items() if key != "seed"},
            )
        )
    return sorted(seeds, key=lambda seed: seed.seed)


@dataclass(frozen=True)
class LayerCompression:
    """What one layer of one seed's noisy net did, and the clustering over the same window."""

    seed: int
    layer: int
    peak_epoch: int
    end_epoch: int
    peak_nats: float
    peak_lower: float
    peak_upper: float
    end_nats: float
    end_lower: float
    end_upper: float
    verdict: str  # "resolved fall" | "unresolved fall" | "no fall"
    gap_change: float  # cosine gap, end minus peak epoch, noisy net (noise off)
    twin_gap_change: float
    twin_binned_change: float  # H(Bin(S_l)) of the twin, end minus peak epoch, nats

    @property
    def fall_nats(self) -> float:
        return self.peak_nats - self.end_nats

    @property
    def clusters(self) -> bool:
        return self.gap_change > GAP_MIN


def _value(representations: pd.DataFrame, net: str, layer: int, epoch: int, column: str) -> float:
    rows = representations[
        (representations["net"] == net) & (representations["layer"] == layer) & (representations["epoch"] == epoch)
    ]
    return float(rows[column].iloc[0]) if len(rows) else math.nan


def layer_compression(seed: DigitsSeed) -> list[LayerCompression]:
    """Return one :class:`LayerCompression` per layer of the seed's noisy net."""
    findings = []
    measured = seed.metrics[seed.metrics["mi_nats"].notna()]
    for layer, rows in measured.groupby("layer", sort=True):
        rows = rows.sort_values("epoch")
        mi = rows["mi_nats"].to_numpy(dtype=np.float64)
        lower = rows["mi_lower_nats"].to_numpy(dtype=np.float64)
        upper = rows["mi_upper_nats"].to_numpy(dtype=np.float64)
        epochs = rows["epoch"].to_numpy()
        peak = int(np.argmax(mi))
        end = len(mi) - 1
        if mi[peak] - mi[end] <= FALL_MIN_NATS:
            verdict = "no fall"
        elif lower[peak] > upper[end]:
            verdict = "resolved fall"
        else:
            verdict = "unresolved fall"
        layer = int(layer)
        peak_epoch, end_epoch = int(epochs[peak]), int(epochs[end])
        reps = seed.representations

        def change(net: str, column: str) -> float:
            return _value(reps, net, layer, end_epoch, column) - _value(reps, net, layer, peak_epoch, column)

        findings.append(
            LayerCompression(
                seed=seed.seed,
                layer=layer,
                peak_epoch=peak_epoch,
                end_epoch=end_epoch,
                peak_nats=float(mi[peak]),
                peak_lower=float(lower[peak]),
                peak_upper=float(upper[peak]),
                end_nats=float(mi[end]),
                end_lower=float(lower[end]),
                end_upper=float(upper[end]),
                verdict=verdict,
                gap_change=change("noisy", "cosine_gap"),
                twin_gap_change=change("deterministic", "cosine_gap"),
                twin_binned_change=change("deterministic", "binned_entropy_nats"),
            )
        )
    return findings


@dataclass(frozen=True)
class ProxyFinding:
    """Final test errors of both nets over seeds, and whether they agree."""

    noisy_errors: tuple[float, ...]
    twin_errors: tuple[float, ...]
    n_test: int

    @property
    def difference(self) -> float:
        return float(np.mean(self.noisy_errors) - np.mean(self.twin_errors))

    @property
    def std_error(self) -> float:
        """Binomial standard error of the difference of the two mean errors (test rows x seeds)."""
        p, q = float(np.mean(self.noisy_errors)), float(np.mean(self.twin_errors))
        trials = self.n_test * len(self.noisy_errors)
        return math.sqrt((p * (1 - p) + q * (1 - q)) / trials)

    @property
    def faithful(self) -> bool:
        # One error in all the test rows is the resolution when both errors are 0.
        floor = 1.0 / (self.n_test * len(self.noisy_errors))
        return abs(self.difference) <= PROXY_SE_MULTIPLE * max(self.std_error, floor)


def proxy_finding(seeds: list[DigitsSeed], n_test: int) -> ProxyFinding:
    """Return the final test errors of both nets (noisy net: its noise on, as it is used)."""
    noisy, twin = [], []
    for seed in seeds:
        reps = seed.representations
        last = int(reps["epoch"].max())
        noisy.append(_value(reps, "noisy", 1, last, "test_error"))
        twin.append(_value(reps, "deterministic", 1, last, "test_error"))
    return ProxyFinding(tuple(noisy), tuple(twin), n_test)
