"""The claim protocol every paper uses: a check per seed (an :class:`Outcome`), a verdict over seeds.

A paper states a claim, measures what it needs from a run folder seed by seed, and turns each
seed's measurement into an :class:`Outcome` (passed or not, the numbers used, one line of
detail). :func:`aggregate` collects the outcomes of one claim into a :class:`ClaimResult` that
passes when a strict majority of the seeds pass (k/K reported); :func:`tally` counts them.
A measurement record (a dataclass with ``seed``, optionally ``layer``, numeric fields and flags)
gives the outcome of one of its flags with :func:`outcome_of`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["ClaimResult", "Outcome", "aggregate", "outcome", "outcome_of", "tally"]


@dataclass(frozen=True)
class Outcome:
    """One claim checked on one seed.

    Attributes
    ----------
    seed : int
    passed : bool
    measured : dict of str to float
        The numbers the check used (nats, epochs, counts, ratios).
    detail : str
        One line with those numbers and, when it failed, why.
    """

    seed: int
    passed: bool
    measured: Mapping[str, float]
    detail: str


@dataclass(frozen=True)
class ClaimResult:
    """One claim checked on one run, across its seeds.

    Attributes
    ----------
    claim : str
        The claim's label (e.g. "C1", "compression").
    experiment : str
        The experiment (run) it was checked on.
    statement : str
        The claim in words.
    passed : bool
        True when the claim passes for a strict majority of the seeds.
    seeds_passed, seeds_total : int
        k and K.
    per_seed : tuple of Outcome
    detail : str
        One line: k/K and each seed's numbers.
    expected : str
        What the check requires.
    layer : int or None
        The layer (or step) a per-layer claim is about.
    """

    claim: str
    experiment: str
    statement: str
    passed: bool
    seeds_passed: int
    seeds_total: int
    per_seed: tuple[Outcome, ...]
    detail: str
    expected: str
    layer: int | None = None

    @property
    def measured(self) -> dict[int, Mapping[str, float]]:
        """Per-seed measured numbers, keyed by seed."""
        return {outcome.seed: outcome.measured for outcome in self.per_seed}


def outcome(seed: int, measured: dict[str, float], summary: str, failures: Sequence[str]) -> Outcome:
    """Return the outcome of a check that passes when ``failures`` is empty (they join the detail)."""
    detail = summary if not failures else f"{summary} - fails: {'; '.join(failures)}"
    return Outcome(seed=seed, passed=not failures, measured=measured, detail=detail)


def outcome_of(record: Any, verdict: str) -> Outcome:
    """Return the outcome of one flag of a measurement record (a dataclass with ``seed``).

    ``passed`` is ``bool(record.<verdict>)`` (None: not measured, counts as not passed);
    ``measured`` its numeric fields; ``detail`` its ``line()`` when it has one.
    """
    measured = {
        field.name: float(value)
        for field in dataclasses.fields(record)
        if isinstance(value := getattr(record, field.name), (int, float)) and not isinstance(value, bool)
        and field.name != "seed"
    }
    detail = record.line() if callable(getattr(record, "line", None)) else ""
    return Outcome(seed=int(record.seed), passed=bool(getattr(record, verdict)), measured=measured, detail=detail)


def tally(outcomes: Iterable[Outcome]) -> tuple[int, int]:
    """Return (k, K): how many of the K outcomes passed."""
    flags = [item.passed for item in outcomes]
    return sum(flags), len(flags)


def aggregate(
    claim: str,
    experiment: str,
    outcomes: Sequence[Outcome],
    *,
    statement: str,
    expected: str,
    layer: int | None = None,
) -> ClaimResult:
    """Return the claim's result over seeds: passed when a strict majority of ``outcomes`` pass."""
    passed_count, total = tally(outcomes)
    per_seed = "; ".join(f"seed {o.seed}: {o.detail}" for o in outcomes)
    return ClaimResult(
        claim=claim,
        experiment=experiment,
        statement=statement,
        passed=2 * passed_count > total,
        seeds_passed=passed_count,
        seeds_total=total,
        per_seed=tuple(outcomes),
        detail=f"{passed_count}/{total} seeds pass; {per_seed}",
        expected=expected,
        layer=layer,
    )
