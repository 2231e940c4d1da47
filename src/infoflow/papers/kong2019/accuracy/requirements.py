"""Step 3 of the accuracy study: how many samples each of Kong 2019's claims needs."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from infoflow.papers.kong2019.accuracy.study import AccuracyRow

# A claim's MI difference counts as resolved at n when the estimation error of the difference
# is at most this fraction of it: the difference then stands >= 4 errors away from zero.
EFFECT_FRACTION = 0.25


@dataclass(frozen=True)
class ClaimEffect:
    """A key MI difference behind one of the seed's claims: I(larger) - I(smaller), exact.

    Attributes
    ----------
    claim : str
        "C1" ... "C6".
    description : str
        What the difference is, for the report.
    experiment : str
    larger : (int, int)
        (epoch, layer) of the quantity expected to be the larger.
    smaller : (int, int) or None
        (epoch, layer) of the other quantity; None compares with ``reference_nats``.
    reference_nats : float
        A constant the larger quantity is compared with when ``smaller`` is None.
    """

    claim: str
    description: str
    experiment: str
    larger: tuple[int, int]
    smaller: tuple[int, int] | None
    reference_nats: float = 0.0


# The epochs are PHASE_EPOCHS'; an effect whose snapshots a study lacks is left out of its answer.
CLAIM_EFFECTS = (
    ClaimEffect("C1", "I(X;T_1) drop over the 4 → 3 merge (epoch 11 → 50)", "fig2", (11, 1), (50, 1)),
    ClaimEffect("C1", "I(X;T_1) drop over the 3 → 2 merge (epoch 50 → 300)", "fig2", (50, 1), (300, 1)),
    ClaimEffect("C2", "I(X;T_1) fall from its peak as clusters merge (epoch 100 → 300)", "fig3", (100, 1), (300, 1)),
    ClaimEffect("C3", "I(X;T_2) rise when T_2 splits (epoch 100 → 150)", "fig3", (150, 2), (100, 2)),
    ClaimEffect("C4", "I(X;T_1) fall (epoch 15 → 300)", "fig4", (15, 1), (300, 1)),
    ClaimEffect("C4", "I(X;T_2) fall (epoch 15 → 300)", "fig4", (15, 2), (300, 2)),
    ClaimEffect("C4", "gap I(X;T_1) - I(X;T_2) at the end (epoch 300)", "fig4", (300, 1), (300, 2)),
    ClaimEffect("C5", "late rise of I(X;T_1) (epoch 60 → 300)", "fig5", (300, 1), (60, 1)),
    ClaimEffect("C6", "I(X;T_1) fall from its peak (epoch 35 → 600)", "fig6", (35, 1), (600, 1)),
    ClaimEffect("C6", "end value I(X;T_1) above log 2 (epoch 600)", "fig6", (600, 1), None, math.log(2.0)),
)


@dataclass(frozen=True)
class ClaimRequirement:
    """How many samples one claim effect needs.

    Attributes
    ----------
    effect : ClaimEffect
    effect_nats : float
        The exact difference (nats).
    error_by_n : dict of int to float
        Per n, the RMSE (nats) of the estimated difference, see :func:`difference_rmse`.
    n_needed : int or None
        The smallest studied n from which on (at it and every larger studied n) the error is
        <= ``EFFECT_FRACTION`` x effect; None if no studied n reaches it (or the effect is <= 0).
    """

    effect: ClaimEffect
    effect_nats: float
    error_by_n: dict[int, float]
    n_needed: int | None


def difference_rmse(larger: AccuracyRow, smaller: AccuracyRow | None) -> float:
    """Return the RMSE (nats) of the SP estimate of I(larger) - I(smaller), or of I(larger) alone.

    * Different epochs: a run measures every epoch with fresh draws, so the two errors are
      independent; only their biases may cancel: sqrt((bias_a - bias_b)^2 + SD_a^2 + SD_b^2).
    * Same epoch (two layers): one measurement's layers share their samples and the rows do not
      hold the correlation, so the bound RMSE_a + RMSE_b (Minkowski), true for any correlation.
    * ``smaller`` None (a constant): RMSE_a.
    """
    if smaller is None:
        return larger.rmse_nats
    if larger.epoch == smaller.epoch:
        return larger.rmse_nats + smaller.rmse_nats
    return math.sqrt((larger.bias_nats - smaller.bias_nats) ** 2 + larger.sd_nats**2 + smaller.sd_nats**2)


def samples_needed(
    rows: Sequence[AccuracyRow],
    effects: Sequence[ClaimEffect] = CLAIM_EFFECTS,
    *,
    fraction: float = EFFECT_FRACTION,
) -> list[ClaimRequirement]:
    """Return, per claim effect present in ``rows``, the smallest n that resolves it.

    An effect is present when the study has rows for each of its (experiment, epoch, layer)
    points at the same sample sizes; others are left out.

    Parameters
    ----------
    rows : sequence of AccuracyRow
    effects : sequence of ClaimEffect
    fraction : float
        The RMSE of the estimated difference must be <= fraction x the exact difference.
    """
    by_point: dict[tuple[str, int, int], dict[int, AccuracyRow]] = {}
    for row in rows:
        by_point.setdefault((row.experiment, row.epoch, row.layer), {})[row.n_samples] = row
    requirements = []
    for effect in effects:
        larger = by_point.get((effect.experiment, *effect.larger))
        smaller = None if effect.smaller is None else by_point.get((effect.experiment, *effect.smaller))
        if larger is None or (effect.smaller is not None and smaller is None):
            continue
        sizes = sorted(larger if smaller is None else set(larger) & set(smaller))
        first = larger[sizes[0]]
        if smaller is None:
            effect_nats = first.exact_mi_nats - effect.reference_nats
            error_by_n = {n: difference_rmse(larger[n], None) for n in sizes}
        else:
            effect_nats = first.exact_mi_nats - smaller[sizes[0]].exact_mi_nats
            error_by_n = {n: difference_rmse(larger[n], smaller[n]) for n in sizes}
        n_needed = None
        if effect_nats > 0:
            # The smallest n from which every larger studied n also resolves the effect.
            for n in reversed(sizes):
                if error_by_n[n] > fraction * effect_nats:
                    break
                n_needed = n
        requirements.append(ClaimRequirement(effect, effect_nats, error_by_n, n_needed))
    return requirements
