"""Step 1 of the accuracy study: each shipped experiment's network, copied at the epochs of its phases."""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from infoflow.config.schema import ExperimentConfig, load_config
from infoflow.data.distributions import InputDistribution
from infoflow.models.mlp import NoisyMLP
from infoflow.threads import torch_threads
from infoflow.training.experiment import build_trainer
from infoflow.validation import integer_at_least

DEFAULT_EXPERIMENTS = ("fig2", "fig3", "fig4", "fig5", "fig6")
# Fractions of training used for experiments without phase epochs (or whose epochs differ from
# the shipped ones).
DEFAULT_FRACTIONS = (0.1, 0.3, 1.0)

# Snapshot epochs of the shipped experiments (seed 0), with the phase each one shows. Read off
# the exact I(X;T_l) of a training run of the shipped configs (values at seed 0, in nats):
# fig2: log 4 plateau epochs ~9-16 (1.386), 3 clusters ~45-65 (1.04), 2 clusters at the end (0.58);
# fig3: I(X;T_1) = log 8 from ~70 to ~160, T_2 splits ~130-150 (I(X;T_2) 0.49 -> 0.73), end 1.83/0.88;
# fig4: both layers peak at ~15 (2.30 / 1.83) and fall to 1.63 / 0.82;
# fig5: I(X;T_2) peaks at ~16 (1.74) while I(X;T_1) rises throughout (2.18 -> 3.10 -> 3.46);
# fig6: peak at ~35 (2.10), falling at 150 (1.53), 1.10 at epoch 600.
# They hold for the shipped configs only: ``snapshot_networks`` uses them when the config's last
# epoch is the last one listed here, and fractions of training otherwise.
PHASE_EPOCHS: dict[str, dict[int, str]] = {
    "fig2": {11: "peak, 4 clusters", 50: "3 clusters", 300: "end, 2 clusters"},
    "fig3": {100: "T1 peak, before T2 splits", 150: "T2 split", 300: "end"},
    "fig4": {15: "peak", 60: "falling", 300: "end"},
    "fig5": {16: "T2 peak", 60: "T1 rising", 300: "end"},
    "fig6": {35: "peak", 150: "falling", 600: "end"},
}

# Measured on this project's 2-core machine: one torch thread is 3-4x faster than two for these
# small tensors (fig4 at n = 10000: 0.5 s against 2.0 s per estimate), and the runs use one too.
STUDY_THREADS = 1


@dataclass(frozen=True)
class Snapshot:
    """A trained network frozen at one epoch, with what its estimates need.

    Attributes
    ----------
    experiment : str
        The experiment's name ("fig2").
    epoch : int
        Passes over the training set made before the copy (0: untrained).
    phase : str
        What this epoch shows (e.g. "peak"), for tables.
    net : NoisyMLP
        A deep copy of the network at that epoch.
    inputs : InputDistribution
        The distribution of X.
    n_inputs : int
        The config's Monte-Carlo draws of X for E_X h(T_l|X) (used for a continuous X, l >= 2).
    """

    experiment: str
    epoch: int
    phase: str
    net: NoisyMLP
    inputs: InputDistribution
    n_inputs: int



def _without_measurement(config: ExperimentConfig) -> ExperimentConfig:
    """Return ``config`` with information measured as rarely and as cheaply as the trainer allows.

    The trainer always measures epoch 0 and the last epoch; here those two measurements use one
    sample each, and no labels, truth or other estimators. The estimation draws come from their
    own random stream ("estimation"), and accuracy (which drives the learning-rate drop) is still
    measured every epoch, so the network follows exactly the trajectory of a shipped run.
    """
    estimation = dataclasses.replace(
        config.estimation,
        n_samples=1,
        n_conditional=1,
        n_inputs=1,
        schedule="interval",
        every=max(1, config.training.epochs),
        label_information=False,
        true_information=False,
        estimators=("sp",),
    )
    return dataclasses.replace(config, estimation=estimation)


def _snapshot_epochs(
    config: ExperimentConfig, epochs: Mapping[str, Sequence[int]] | None, fractions: Sequence[float]
) -> dict[int, str]:
    """Return {epoch: phase} to snapshot for ``config``."""
    total = config.training.epochs
    if epochs is not None and config.name in epochs:
        chosen = {}
        for epoch in epochs[config.name]:
            number = integer_at_least(f"epochs[{config.name!r}] entries", epoch, 0)
            if number > total:
                raise ValueError(f"epochs[{config.name!r}] must lie in 0..{total} (the config's epochs); got {number}")
            chosen[number] = f"epoch {number}"
        if not chosen:
            raise ValueError(f"epochs[{config.name!r}] must list at least one epoch")
        return dict(sorted(chosen.items()))
    phases = PHASE_EPOCHS.get(config.name)
    if phases is not None and max(phases) == total:
        return dict(phases)
    chosen = {}
    for fraction in fractions:
        if not (isinstance(fraction, (int, float)) and not isinstance(fraction, bool) and 0 <= fraction <= 1):
            raise ValueError(f"fractions must be numbers in [0, 1]; got {fraction!r}")
        chosen.setdefault(round(fraction * total), f"{fraction:.0%} of training")
    if not chosen:
        raise ValueError("fractions must hold at least one fraction")
    return dict(sorted(chosen.items()))


def snapshot_networks(
    names: Sequence[str] = DEFAULT_EXPERIMENTS,
    *,
    epochs: Mapping[str, Sequence[int]] | None = None,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> list[Snapshot]:
    """Return deep copies of each experiment's network at its snapshot epochs, trained by its config.

    Parameters
    ----------
    names : sequence of str
        Shipped experiment names or config files (``experiments.load_config``).
    epochs : mapping of experiment name to sequence of int, optional
        Snapshot epochs per experiment, overriding the defaults.
    fractions : sequence of float
        Used where neither ``epochs`` nor ``PHASE_EPOCHS`` applies: snapshot at
        round(fraction x the config's epochs), fractions in [0, 1].
    seed : int
        The training seed (the shipped configs use 0).
    progress : callable, optional
        Called with one line of text per experiment trained.

    Returns
    -------
    list of Snapshot, by experiment in the order given, then by epoch.

    Notes
    -----
    Per-epoch MI would cost far more than the training itself (fig4: ~0.05 s per epoch at the
    shipped n = 1000, plus labels and truth, against ~1.5 ms of SGD per epoch), so the config's
    ``[estimation]`` is replaced (``dataclasses.replace``) by one that measures only the two
    epochs the trainer always measures (0 and the last), with one sample each and nothing else;
    training stops after the last snapshot. Training and test draws, shuffling and the learning-rate schedule are those of
    the shipped run (estimation draws have their own random stream), so the snapshots are the
    shipped run's networks.
    """
    if isinstance(names, str) or not names:
        raise ValueError(f"names must be a non-empty sequence of experiment names; got {names!r}")
    seed = integer_at_least("seed", seed, 0)
    snapshots: list[Snapshot] = []
    with torch_threads(STUDY_THREADS):
        for name in names:
            snapshots += _train_snapshots(load_config(name), epochs, fractions, seed, progress)
    return snapshots


def _train_snapshots(
    config: ExperimentConfig,
    epochs: Mapping[str, Sequence[int]] | None,
    fractions: Sequence[float],
    seed: int,
    progress: Callable[[str], None] | None,
) -> list[Snapshot]:
    """Train one experiment up to its last snapshot epoch; return its snapshots."""
    snapshots: list[Snapshot] = []
    chosen = _snapshot_epochs(config, epochs, fractions)
    started = time.perf_counter()
    trainer = build_trainer(_without_measurement(config), seed)
    last = max(chosen)
    for record in trainer.run():
        if record.epoch in chosen:
            snapshots.append(
                Snapshot(
                    experiment=config.name,
                    epoch=record.epoch,
                    phase=chosen[record.epoch],
                    net=copy.deepcopy(trainer.net),
                    inputs=trainer.inputs,
                    n_inputs=config.estimation.n_inputs,
                )
            )
        if record.epoch >= last:
            break
    if progress is not None:
        progress(
            f"trained {config.name} to epoch {last} in {time.perf_counter() - started:.1f} s (snapshots at {', '.join(map(str, chosen))})"
        )
    return snapshots
