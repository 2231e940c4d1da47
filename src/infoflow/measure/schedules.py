"""When information is measured: every epoch, every k epochs, or log-spaced epochs."""

from __future__ import annotations

import math

import numpy as np

from infoflow.validation import check_memory, integer_at_least

SCHEDULES = ("every", "interval", "log")


class MeasurementSchedule:
    """The epochs (0..epochs) at which information is measured, without listing them.

    ``epoch in schedule`` costs O(1) for "every" and "interval" whatever ``epochs`` is, so a run
    configured for 10**12 epochs allocates nothing per configured epoch; "log" holds at most
    ``points`` epochs.

    Parameters
    ----------
    schedule : {"every", "interval", "log"}
        "every": all epochs. "interval": 0, every, 2*every, ... "log": up to ``points`` epochs
        spaced evenly in log(1 + epoch), which samples the fast early changes densely.
    epochs : int
        The last epoch (always measured, like epoch 0).
    every, points : int
        Interval length; number of log-spaced points (>= 2).
    """

    def __init__(self, schedule: str, epochs: int, *, every: int = 1, points: int = 60) -> None:
        if schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}; got {schedule!r}")
        epochs = integer_at_least("epochs", epochs, 0)
        every = integer_at_least("every", every, 1)
        points = integer_at_least("points", points, 2)
        self.kind, self.epochs, self.every = schedule, epochs, every
        self.log_epochs: frozenset[int] = frozenset()
        if schedule == "log":
            # log(1 + e) spacing includes 0 naturally; rounding merges the crowded early points,
            # so fewer than ``points`` epochs may come out when epochs is small.
            check_memory("points", points, 3 * 8 * points, "the log schedule's grid")
            grid = np.expm1(np.linspace(0.0, math.log1p(epochs), points))
            self.log_epochs = frozenset({int(round(value)) for value in grid} | {0, epochs})

    def __contains__(self, epoch: object) -> bool:
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or not 0 <= epoch <= self.epochs:
            return False
        if epoch in (0, self.epochs) or self.kind == "every":
            return True
        if self.kind == "interval":
            return epoch % self.every == 0  # type: ignore[operator]
        return epoch in self.log_epochs


def measured_epochs(schedule: str, epochs: int, *, every: int = 1, points: int = 60) -> list[int]:
    """Return the sorted epochs (0..epochs) at which information is measured.

    A list of every measured epoch: for a long run prefer :class:`MeasurementSchedule`, which
    answers ``epoch in schedule`` without listing them.

    Parameters
    ----------
    schedule, epochs, every, points :
        As for :class:`MeasurementSchedule`.

    Returns
    -------
    list of int, always holding 0 and ``epochs``.
    """
    chosen = MeasurementSchedule(schedule, epochs, every=every, points=points)
    if schedule == "every":
        return list(range(epochs + 1))
    if schedule == "interval":
        return sorted(set(range(0, epochs + 1, every)) | {epochs})
    return sorted(chosen.log_epochs)
