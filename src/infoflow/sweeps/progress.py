"""The progress bar of a batch of runs (tqdm, on stderr): done / running / failed of the total, ETA."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from tqdm.auto import tqdm

# Seconds between redraws: on a terminal often, in a log file (no terminal) rarely.
TERMINAL_INTERVAL_S = 0.5
LOG_INTERVAL_S = 10.0


class CellProgress:
    """One tqdm bar over the runs of a sweep or reproduction, or nothing when ``enabled`` is False.

    Parameters
    ----------
    enabled : bool
    name : str
        What the bar calls the work ("sweep", "reproduce").
    total : int
        Runs in all.
    reused : int
        Runs complete before this call (counted done from the start).
    stream : text stream, optional
        Default stderr.
    """

    def __init__(self, enabled: bool, name: str, total: int, reused: int, stream: TextIO | None = None) -> None:
        self.enabled = enabled
        self.name = name
        self.total = total
        self.reused = reused
        self.stream = stream if stream is not None else sys.stderr
        is_terminal = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = TERMINAL_INTERVAL_S if is_terminal else LOG_INTERVAL_S
        # Drawn from the first update on (a refused batch prints nothing).
        self.bar: Any = None

    def _counts(self, done: int) -> str:
        reused = f" ({self.reused} reused)" if self.reused else ""
        return f"{self.name}: {done}/{self.total} done{reused}"

    def update(self, done: int, running: int, failed: int, final: bool = False) -> None:
        """Show the counts (``done`` includes reused runs); ``final`` draws them and closes the bar."""
        if not self.enabled:
            return
        if self.bar is None:
            # "sweep: 3/4 done (1 reused), 1 running, 0 failed  00:12 elapsed, ETA 00:04"
            self.bar = tqdm(
                total=self.total,
                initial=self.reused,
                desc=self._counts(done),
                bar_format="{desc}{postfix}  {elapsed} elapsed, ETA {remaining}",
                postfix=f"{running} running, {failed} failed",
                file=self.stream,
                mininterval=self.interval,
                dynamic_ncols=True,
            )
        self.bar.set_description_str(self._counts(done), refresh=False)
        self.bar.set_postfix_str(f"{running} running, {failed} failed", refresh=False)
        self.bar.update(done + failed - self.bar.n)
        if final:
            self.close()

    def close(self) -> None:
        """Close the bar (its last state stays on its own line); nothing if none is drawn."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def message(self, text: str) -> None:
        """Print one line (above the bar, if one is drawn)."""
        if self.enabled:
            tqdm.write(text, file=self.stream)
