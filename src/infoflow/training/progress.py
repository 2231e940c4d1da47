"""The progress bar of a run (tqdm, on stderr): seed, epoch, latest I(X;T_l), accuracy, elapsed time."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, TextIO

from tqdm.auto import tqdm

from infoflow.runs.records import EpochRecord

# Seconds between redraws: on a terminal often, in a log file (no terminal) rarely.
TERMINAL_INTERVAL_S = 0.1
LOG_INTERVAL_S = 10.0


class RunProgress:
    """One tqdm bar per seed of a run, or nothing when ``enabled`` is False.

    Parameters
    ----------
    enabled : bool
    name : str
        The experiment's name, the start of each bar's label.
    seeds : sequence of int
        The run's seeds (the label shows "seed S (i/K)").
    epochs : int
        Epochs per seed, the bar's total.
    stream : text stream, optional
        Default stderr.
    """

    def __init__(
        self, enabled: bool, name: str, seeds: Sequence[int], epochs: int, stream: TextIO | None = None
    ) -> None:
        self.enabled = enabled
        self.name = name
        self.seeds = list(seeds)
        self.epochs = epochs
        self.stream = stream if stream is not None else sys.stderr
        is_terminal = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = TERMINAL_INTERVAL_S if is_terminal else LOG_INTERVAL_S
        self.bar: Any = None
        self.last_mi: list[float] | None = None

    def start_seed(self, seed: int) -> None:
        """Start the bar of ``seed``."""
        self.close()
        self.last_mi = None
        if self.enabled:
            position = f"seed {seed} ({self.seeds.index(seed) + 1}/{len(self.seeds)})"
            self.bar = tqdm(
                total=self.epochs,
                desc=f"{self.name} {position}",
                file=self.stream,
                mininterval=self.interval,
                unit="epoch",
                dynamic_ncols=True,
            )

    def update(self, seed: int, record: EpochRecord) -> None:
        """Show the epoch ``record`` (of ``seed``) ended; the bar closes at the last epoch."""
        if self.bar is None:
            return
        if record.mi_input is not None:
            self.last_mi = record.mi_input
        mi = " ".join(f"{value:.3f}" for value in self.last_mi) if self.last_mi else "-"
        self.bar.set_postfix_str(f"I(X;T) {mi}  acc {record.accuracy:.3f}", refresh=False)
        self.bar.update(record.epoch - self.bar.n)
        if record.epoch >= self.epochs:
            self.close()

    def message(self, text: str) -> None:
        """Print one line (above the bar, if one is drawn)."""
        if self.enabled:
            tqdm.write(text, file=self.stream)

    def close(self) -> None:
        """Close the current bar, if any."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None
