"""How accurate is sample propagation on the seed's own networks? Bias and spread against the exact MI.

The study (issue "Ground truth and estimator accuracy"):

1. :func:`snapshot_networks` trains each shipped experiment (its shipped config, seed 0) and keeps
   deep copies of the network at a few epochs chosen to cover the phases the seed's claims are
   about (``PHASE_EPOCHS``: a peak of I(X;T_l), a merge or split, the end state).
2. :func:`accuracy_study` estimates I(X;T_l) by SP on every snapshot ``n_repeats`` times (estimation
   seeds 0..n_repeats-1) for every sample size n, with ``n_samples = n_conditional = n``, and
   compares the estimates with the exact I(X;T_l) of ``truth.true_mutual_information``:
   bias = mean - exact, SD over the repeats, RMSE, seconds per estimate.
3. :func:`samples_needed` turns the rows into the answer to "how many samples do the seed's claims
   need?": for every claim's key MI difference (``CLAIM_EFFECTS``, its size taken from the exact
   MI at the snapshots) the smallest n from which the RMSE of that estimated difference stays
   below a quarter of it (:func:`difference_rmse`).
4. :func:`write_accuracy_outputs` writes ``accuracy.csv`` (tidy), ``accuracy.md`` (table and
   answer) and ``accuracy.png`` / ``.svg``; :func:`run_accuracy_study` does 1-4 for the CLI.

What the error contains. For a continuous X (fig4, fig5) E_X h(T_l|X), l >= 2, is the mean over
the config's ``n_inputs`` Monte-Carlo draws of X (500), so its Monte-Carlo error is part of the
measured error and does not shrink with n: it is the floor of the SD at large n for those layers.
Layer 1's conditional entropy is closed form, and a discrete X (fig2, fig3) is averaged exactly
over its support, so there the error is SP's alone.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import io
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from infoflow.config.schema import ExperimentConfig, load_config
from infoflow.data.distributions import InputDistribution
from infoflow.estimators.sample_propagation import mutual_information
from infoflow.estimators.truth import true_mutual_information
from infoflow.files import write_atomically
from infoflow.models.mlp import NoisyMLP
from infoflow.runs.contents import check_output_folder as check_folder
from infoflow.threads import torch_threads
from infoflow.training.experiment import build_trainer
from infoflow.validation import integer_at_least

__all__ = [
    "AccuracyRow",
    "ClaimEffect",
    "ClaimRequirement",
    "ErrorSummary",
    "Snapshot",
    "StudySettings",
    "accuracy_study",
    "difference_rmse",
    "run_accuracy_study",
    "samples_needed",
    "snapshot_networks",
    "summarize_errors",
    "write_accuracy_outputs",
]

# ----------------------------------------------------------------------------------------------
# The default study
# ----------------------------------------------------------------------------------------------

DEFAULT_EXPERIMENTS = ("fig2", "fig3", "fig4", "fig5", "fig6")
DEFAULT_SAMPLE_SIZES = (100, 300, 1000, 3000, 10000)
# 20 repeats at every n: the SD is then known to ~16 % (relative SE of a sample SD is ~1/sqrt(2(R-1)))
# and the bias to SD/sqrt(20) ~ 0.22 SD. The whole default study costs ~1-2 minutes on one core
# (measured: an estimate takes <= 0.01 s except fig4/fig5 at large n, 0.14 s at n = 3000 and
# 0.5 s at n = 10000, whose 500 x n conditional samples dominate), so fewer repeats at large n
# would save little.
DEFAULT_REPEATS = 20
# Fractions of training used for experiments without phase epochs (or whose epochs differ from
# the shipped ones).
DEFAULT_FRACTIONS = (0.1, 0.3, 1.0)

# The quick study (CLI --quick, tests): seconds. fig2 is a one-layer network on a discrete X,
# fig4 a two-layer network on a continuous X, so both kinds of conditional entropy are exercised.
QUICK_EXPERIMENTS = ("fig2", "fig4")
QUICK_SAMPLE_SIZES = (100, 300)
QUICK_REPEATS = 3

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

# A claim's MI difference counts as resolved at n when the estimation error of the difference
# is at most this fraction of it: the difference then stands >= 4 errors away from zero.
EFFECT_FRACTION = 0.25

# Measured on this project's 2-core machine: one torch thread is 3-4x faster than two for these
# small tensors (fig4 at n = 10000: 0.5 s against 2.0 s per estimate), and the runs use one too.
STUDY_THREADS = 1

OUTPUT_FILES = ("accuracy.csv", "accuracy.md", "accuracy.png", "accuracy.svg")
CSV_COLUMNS = (
    "experiment",
    "epoch",
    "phase",
    "layer",
    "n_samples",
    "n_conditional",
    "n_inputs",
    "conditional_entropy",
    "n_repeats",
    "exact_mi_nats",
    "mean_mi_nats",
    "bias_nats",
    "bias_std_error_nats",
    "sd_nats",
    "rmse_nats",
    "seconds_per_estimate",
)
PNG_DPI = 130


# ----------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class ErrorSummary:
    """Errors of repeated estimates of known quantities, all in nats, of the batch shape.

    Attributes
    ----------
    mean : ndarray
        Mean estimate.
    bias : ndarray
        mean - exact.
    sd : ndarray
        Sample standard deviation of the estimates (divisor R - 1).
    bias_std_error : ndarray
        sd / sqrt(R): the standard error of ``bias``.
    rmse : ndarray
        sqrt(mean((estimate - exact)^2)) over the R repeats.
    """

    mean: np.ndarray
    bias: np.ndarray
    sd: np.ndarray
    bias_std_error: np.ndarray
    rmse: np.ndarray


@dataclass(frozen=True)
class AccuracyRow:
    """The SP error for one (experiment, snapshot epoch, layer, n); information in nats.

    ``conditional_entropy`` says how E_X h(T_l|X) was formed: "closed_form" (layer 1: Gaussian),
    "exact_support" (discrete X: exact weighted sum, each h(T_l|X=x) by SP with n_conditional),
    "monte_carlo_x" (continuous X: mean over n_inputs draws of X, each by SP with n_conditional).
    ``n_inputs`` is 0 where it is not used. ``seconds_per_estimate`` is the wall time of one
    ``mutual_information`` call, which estimates every layer of the network at once.
    """

    experiment: str
    epoch: int
    phase: str
    layer: int
    n_samples: int
    n_conditional: int
    n_inputs: int
    conditional_entropy: str
    n_repeats: int
    exact_mi_nats: float
    mean_mi_nats: float
    bias_nats: float
    bias_std_error_nats: float
    sd_nats: float
    rmse_nats: float
    seconds_per_estimate: float


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


# ----------------------------------------------------------------------------------------------
# Validation
# ----------------------------------------------------------------------------------------------


def _sample_sizes(sample_sizes: Sequence[int]) -> tuple[int, ...]:
    sizes = tuple(integer_at_least("sample_sizes entries", size, 1) for size in sample_sizes)
    if not sizes:
        raise ValueError("sample_sizes must hold at least one sample size")
    if len(set(sizes)) != len(sizes):
        raise ValueError(f"sample_sizes must be distinct; got {list(sizes)}")
    return tuple(sorted(sizes))


# ----------------------------------------------------------------------------------------------
# 1. Snapshots
# ----------------------------------------------------------------------------------------------


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


# ----------------------------------------------------------------------------------------------
# 2. The study
# ----------------------------------------------------------------------------------------------


def summarize_errors(estimates: np.ndarray, exact: float | np.ndarray) -> ErrorSummary:
    """Return mean, bias, SD, bias standard error and RMSE of repeated estimates, in nats.

    Parameters
    ----------
    estimates : array_like of shape (..., R), R >= 2
        R repeated estimates of each quantity (nats).
    exact : float or array_like broadcastable to shape (...)
        The exact values (nats).

    Returns
    -------
    ErrorSummary, every field an ndarray of shape (...).
    """
    values = np.asarray(estimates, dtype=np.float64)
    if values.ndim < 1 or values.shape[-1] < 2:
        raise ValueError(f"estimates must have shape (..., R) with R >= 2 repeats; got shape {values.shape}")
    truth = np.asarray(exact, dtype=np.float64)
    mean = values.mean(axis=-1)
    sd = values.std(axis=-1, ddof=1)
    errors = values - truth[..., np.newaxis]
    return ErrorSummary(
        mean=mean,
        bias=mean - truth,
        sd=sd,
        bias_std_error=sd / math.sqrt(values.shape[-1]),
        rmse=np.sqrt(np.mean(errors**2, axis=-1)),
    )


def _conditional_mode(snapshot: Snapshot, layer: int) -> str:
    if layer == 1:
        return "closed_form"
    return "exact_support" if snapshot.inputs.is_discrete else "monte_carlo_x"


def accuracy_study(
    snapshots: Sequence[Snapshot],
    sample_sizes: Sequence[int] = DEFAULT_SAMPLE_SIZES,
    n_repeats: int = DEFAULT_REPEATS,
    *,
    n_inputs: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[AccuracyRow]:
    """Return the SP error against the exact I(X;T_l) per (snapshot, layer, n), in nats.

    Parameters
    ----------
    snapshots : sequence of Snapshot
        Networks whose exact MI ``truth.true_mutual_information`` computes.
    sample_sizes : sequence of int
        The sample sizes n; each estimate uses n_samples = n_conditional = n.
    n_repeats : int
        Estimates per (snapshot, n), with estimation seeds 0..n_repeats-1 (>= 2). The same seeds
        serve every n and snapshot.
    n_inputs : int, optional
        Draws of X for E_X h(T_l|X) (continuous X, l >= 2); None: each snapshot's config value.
        Its Monte-Carlo error is part of the measured error.
    progress : callable, optional
        Called with one line of text per snapshot.

    Returns
    -------
    list of AccuracyRow, ordered by snapshot, layer, n.

    Raises
    ------
    UnsupportedForTruth
        When a snapshot's exact MI cannot be computed.
    """
    sizes = _sample_sizes(sample_sizes)
    n_repeats = integer_at_least("n_repeats", n_repeats, 2)
    if n_inputs is not None:
        n_inputs = integer_at_least("n_inputs", n_inputs, 1)
    rows: list[AccuracyRow] = []
    with torch_threads(STUDY_THREADS):
        for snapshot in snapshots:
            started = time.perf_counter()
            exact = np.array(true_mutual_information(snapshot.net, snapshot.inputs), dtype=np.float64)
            draws_of_x = snapshot.n_inputs if n_inputs is None else n_inputs
            # estimates[size, repeat, layer]
            estimates = np.empty((len(sizes), n_repeats, exact.size))
            seconds = np.empty(len(sizes))
            for size_index, size in enumerate(sizes):
                begun = time.perf_counter()
                for repeat in range(n_repeats):
                    estimates[size_index, repeat] = mutual_information(
                        snapshot.net,
                        snapshot.inputs,
                        n_samples=size,
                        n_conditional=size,
                        n_inputs=draws_of_x,
                        seed=repeat,
                    )
                seconds[size_index] = (time.perf_counter() - begun) / n_repeats
            # summary fields of shape (size, layer)
            summary = summarize_errors(np.moveaxis(estimates, 1, -1), exact[np.newaxis, :])
            for layer_index in range(exact.size):
                layer = layer_index + 1
                mode = _conditional_mode(snapshot, layer)
                for size_index, size in enumerate(sizes):
                    rows.append(
                        AccuracyRow(
                            experiment=snapshot.experiment,
                            epoch=snapshot.epoch,
                            phase=snapshot.phase,
                            layer=layer,
                            n_samples=size,
                            n_conditional=size,
                            n_inputs=draws_of_x if mode == "monte_carlo_x" else 0,
                            conditional_entropy=mode,
                            n_repeats=n_repeats,
                            exact_mi_nats=float(exact[layer_index]),
                            mean_mi_nats=float(summary.mean[size_index, layer_index]),
                            bias_nats=float(summary.bias[size_index, layer_index]),
                            bias_std_error_nats=float(summary.bias_std_error[size_index, layer_index]),
                            sd_nats=float(summary.sd[size_index, layer_index]),
                            rmse_nats=float(summary.rmse[size_index, layer_index]),
                            seconds_per_estimate=float(seconds[size_index]),
                        )
                    )
            if progress is not None:
                progress(
                    f"estimated {snapshot.experiment} epoch {snapshot.epoch}: {len(sizes)} sample sizes x "
                    f"{n_repeats} repeats in {time.perf_counter() - started:.1f} s"
                )
    return rows


# ----------------------------------------------------------------------------------------------
# 3. How many samples do the claims need?
# ----------------------------------------------------------------------------------------------


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


# ----------------------------------------------------------------------------------------------
# 4. Outputs
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StudySettings:
    """How a study was run, for the report: sizes, repeats, draws of X, threads, wall time (s)."""

    experiments: tuple[str, ...]
    sample_sizes: tuple[int, ...]
    n_repeats: int
    training_seed: int
    n_inputs_by_experiment: dict[str, int]
    seconds_training: float
    seconds_estimating: float
    quick: bool = False


def _csv_text(rows: Sequence[AccuracyRow]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        cells = []
        for column in CSV_COLUMNS:
            value = getattr(row, column)
            cells.append(repr(value) if isinstance(value, float) else value)
        writer.writerow(cells)
    return buffer.getvalue()


def _signed(value: float, digits: int = 4) -> str:
    return f"{value:+.{digits}f}".replace("-", "\u2212")


def _snapshot_keys(rows: Sequence[AccuracyRow]) -> list[tuple[str, int, str, int]]:
    """(experiment, epoch, phase, layer) in the order the rows first mention them."""
    return list(dict.fromkeys((row.experiment, row.epoch, row.phase, row.layer) for row in rows))


def _markdown_table(rows: Sequence[AccuracyRow]) -> list[str]:
    sizes = sorted({row.n_samples for row in rows})
    cell = {(row.experiment, row.epoch, row.layer, row.n_samples): row for row in rows}
    header = ["experiment", "epoch (phase)", "layer", "exact I(X;T) (nats)", *(f"n = {n}" for n in sizes)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * 3 + "---:|" + "---:|" * len(sizes)]
    for experiment, epoch, phase, layer in _snapshot_keys(rows):
        first = cell[(experiment, epoch, layer, sizes[0])]
        cells = [experiment, f"{epoch} ({phase})", str(layer), f"{first.exact_mi_nats:.4f}"]
        for n in sizes:
            row = cell.get((experiment, epoch, layer, n))
            cells.append("" if row is None else f"{_signed(row.bias_nats)} ± {row.sd_nats:.4f}")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _timing_table(rows: Sequence[AccuracyRow]) -> list[str]:
    sizes = sorted({row.n_samples for row in rows})
    experiments = list(dict.fromkeys(row.experiment for row in rows))
    lines = [
        "| experiment | " + " | ".join(f"n = {n}" for n in sizes) + " |",
        "|---|" + "---:|" * len(sizes),
    ]
    for experiment in experiments:
        cells = []
        for n in sizes:
            # One value per snapshot (every layer's row of a snapshot repeats it).
            per_snapshot = {
                row.epoch: row.seconds_per_estimate
                for row in rows
                if row.experiment == experiment and row.n_samples == n
            }
            cells.append(f"{float(np.mean(list(per_snapshot.values()))):.4f}" if per_snapshot else "")
        lines.append(f"| {experiment} | " + " | ".join(cells) + " |")
    return lines


def _requirements_text(requirements: Sequence[ClaimRequirement], sizes: Sequence[int], seed_n: int = 1000) -> list[str]:
    largest = max(sizes)
    lines = [
        "## How many samples do the claims need?",
        "",
        (
            f"For each claim's key MI difference a - b (its size from the exact MI at the snapshots), the RMSE of "
            f"the estimated difference: between two epochs, whose estimates a run draws independently, "
            f"sqrt((bias_a - bias_b)^2 + SD_a^2 + SD_b^2); between two layers at one epoch, which share their "
            f"samples, the bound RMSE_a + RMSE_b (true for any correlation); against a constant, RMSE_a. A "
            f"difference counts as resolved at n when that error is at most {EFFECT_FRACTION:g} of it (it then "
            f'stands at least {1 / EFFECT_FRACTION:g} errors away from zero); "n needed" is the smallest studied '
            f"n from which on this holds."
        ),
        "",
    ]
    if not requirements:
        return [*lines, "No claim effect has all its snapshots in this study.", ""]
    shown_n = seed_n if seed_n in sizes else largest
    lines += [
        f"| claim | experiment | difference | exact (nats) | ¼ of it | RMSE of the difference at n = {shown_n} | n needed |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for requirement in requirements:
        effect = requirement.effect
        needed = (
            "not present"
            if requirement.effect_nats <= 0
            else (f"> {largest}" if requirement.n_needed is None else str(requirement.n_needed))
        )
        lines.append(
            f"| {effect.claim} | {effect.experiment} | {effect.description} | {requirement.effect_nats:.3f} | "
            f"{EFFECT_FRACTION * requirement.effect_nats:.3f} | {requirement.error_by_n[shown_n]:.4f} | {needed} |"
        )
    lines.append("")
    lines += _requirements_summary(requirements, sizes, seed_n)
    return lines


def _requirements_summary(requirements: Sequence[ClaimRequirement], sizes: Sequence[int], seed_n: int) -> list[str]:
    """A paragraph generated from the numbers: the largest n needed and whether the seed's n suffices."""
    present = [r for r in requirements if r.effect_nats > 0]
    absent = [r for r in requirements if r.effect_nats <= 0]
    unresolved = [r for r in present if r.n_needed is None]
    resolved = [r for r in present if r.n_needed is not None]
    sentences = []
    if resolved:
        most = max(r.n_needed for r in resolved)
        hardest = "; ".join(
            f"{r.effect.claim} {r.effect.description}, {r.effect_nats:.3f} nats" for r in resolved if r.n_needed == most
        )
        sentences.append(
            f"Every resolved difference needs at most n = {most} samples; those that need {most}: {hardest}."
        )
        easiest = [r for r in resolved if r.n_needed == min(sizes)]
        if easiest:
            claims = sorted({r.effect.claim for r in easiest})
            sentences.append(
                f"{len(easiest)} of {len(present)} differences ({', '.join(claims)}) are already resolved at the "
                f"smallest n studied, {min(sizes)}."
            )
    if unresolved:
        names = "; ".join(f"{r.effect.claim} {r.effect.description}" for r in unresolved)
        sentences.append(f"Not resolved at any studied n (up to {max(sizes)}): {names}.")
    if seed_n in sizes and present:
        enough = [r for r in present if r.n_needed is not None and r.n_needed <= seed_n]
        if len(enough) == len(present):
            sentences.append(f"The seed's n = {seed_n} (n_x = {seed_n}) resolves all {len(present)} of them.")
        else:
            short = "; ".join(f"{r.effect.claim} {r.effect.description}" for r in present if r not in enough)
            sentences.append(f"The seed's n = {seed_n} resolves {len(enough)} of {len(present)}; not: {short}.")
    if absent:
        names = "; ".join(f"{r.effect.claim} {r.effect.description} ({r.effect_nats:+.3f} nats)" for r in absent)
        sentences.append(f"In the exact MI of these snapshots the following expected differences are absent: {names}.")
    return [" ".join(sentences), ""]


def _markdown(rows: Sequence[AccuracyRow], requirements: Sequence[ClaimRequirement], settings: StudySettings) -> str:
    sizes = sorted({row.n_samples for row in rows})
    draws = ", ".join(f"{name}: {count}" for name, count in settings.n_inputs_by_experiment.items())
    draws_text = f" ({draws})" if draws else ""
    lines = [
        "# Sample propagation against the exact I(X;T_l)" + (" (quick study)" if settings.quick else ""),
        "",
        (
            f"Networks of the shipped experiments {', '.join(settings.experiments)} (training seed "
            f"{settings.training_seed}) at snapshot epochs; each cell is the bias (mean SP estimate minus the exact "
            f"I(X;T_l) of `truth.true_mutual_information`) ± the standard deviation of the estimates over "
            f"{settings.n_repeats} repeats (estimation seeds 0..{settings.n_repeats - 1}, the same for every snapshot "
            f"and n: rows whose clusters are equally separated can agree to the digit), in nats. Each estimate uses "
            f"n_samples = n_conditional = n. h(T_1|X) is closed form; for layers >= 2 a discrete X is "
            f"averaged exactly over its support, a continuous X over the config's n_inputs Monte-Carlo draws"
            f"{draws_text}, whose Monte-Carlo error is part of the error shown (it does not shrink with n)."
        ),
        "",
        *_markdown_table(rows),
        "",
        (
            "Seconds per estimate (one `mutual_information` call, all layers; mean over snapshots; "
            f"{STUDY_THREADS} torch thread on a {os.cpu_count()}-core {platform.machine()} machine):"
        ),
        "",
        *_timing_table(rows),
        "",
        (
            f"Run time: {settings.seconds_training:.1f} s training the snapshots, {settings.seconds_estimating:.1f} s "
            f"estimating ({len(rows)} rows over {len(sizes)} sample sizes)."
        ),
        "",
        *_requirements_text(requirements, sizes),
        "Files: `accuracy.csv` (every number, tidy), `accuracy.png` / `accuracy.svg` (|bias| and SD against n).",
        "",
    ]
    return "\n".join(lines)


def _figure_bytes(rows: Sequence[AccuracyRow]) -> dict[str, bytes]:
    """Return the |bias| and SD against n plot, encoded as {"png": ..., "svg": ...}."""
    # Imported here: matplotlib costs ~1 s to import and only the outputs need it.
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    figure = Figure(figsize=(11.0, 4.6), layout="constrained")
    bias_axes, sd_axes = figure.subplots(1, 2, sharex=True, sharey=True)
    experiments = list(dict.fromkeys(row.experiment for row in rows))
    colours = {name: f"C{index % 10}" for index, name in enumerate(experiments)}
    final_epoch = {name: max(row.epoch for row in rows if row.experiment == name) for name in experiments}
    legend: list[Line2D] = []
    for experiment, epoch, _phase, layer in _snapshot_keys(rows):
        series = sorted(
            (row for row in rows if (row.experiment, row.epoch, row.layer) == (experiment, epoch, layer)),
            key=lambda r: r.n_samples,
        )
        n = np.array([row.n_samples for row in series], dtype=np.float64)
        bias = np.abs([row.bias_nats for row in series])
        sd = np.array([row.sd_nats for row in series])
        # An estimate equal to the truth (e.g. an untrained network, I = 0) has nothing to draw on a log axis.
        bias = np.where(bias > 0, bias, np.nan)
        sd = np.where(sd > 0, sd, np.nan)
        is_final = epoch == final_epoch[experiment]
        style = {
            "color": colours[experiment],
            "linestyle": "-" if layer == 1 else "--",
            "linewidth": 2.0 if is_final else 0.8,
            "alpha": 1.0 if is_final else 0.45,
        }
        bias_axes.plot(n, bias, **style)
        sd_axes.plot(n, sd, marker="o" if is_final else None, markersize=4, **style)
        if is_final:
            # Hollow: |bias| within 2 standard errors of zero, not distinguishable from no bias.
            significant = np.abs([row.bias_nats for row in series]) > 2 * np.array(
                [row.bias_std_error_nats for row in series]
            )
            bias_axes.plot(n[significant], bias[significant], "o", color=colours[experiment], markersize=4)
            bias_axes.plot(
                n[~significant],
                bias[~significant],
                "o",
                markerfacecolor="white",
                color=colours[experiment],
                markersize=4,
            )
            legend.append(Line2D([], [], label=f"{experiment} T{layer} (epoch {epoch})", **style))
    sizes = np.array(sorted({row.n_samples for row in rows}), dtype=np.float64)
    for axes, values in ((bias_axes, [abs(r.bias_nats) for r in rows]), (sd_axes, [r.sd_nats for r in rows])):
        positive = np.array([v for v in values if v > 0])
        anchor = float(np.max(positive)) if positive.size else 1.0
        axes.plot(sizes, anchor * np.sqrt(sizes[0] / sizes), color="0.35", linestyle=(0, (6, 3)), linewidth=1.0)
        axes.plot(sizes, anchor * sizes[0] / sizes, color="0.35", linestyle=":", linewidth=1.2)
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.set_xlabel("n = n_samples = n_conditional")
        axes.grid(True, which="major", alpha=0.3)
    bias_axes.set_ylabel("nats")
    bias_axes.set_title("|bias| of SP (hollow: within 2 s.e. of 0)")
    sd_axes.set_title("SD of SP over repeats")
    legend += [
        Line2D([], [], color="0.35", linestyle=(0, (6, 3)), label="∝ 1/√n"),
        Line2D([], [], color="0.35", linestyle=":", label="∝ 1/n"),
        Line2D([], [], color="0.3", linewidth=0.8, alpha=0.45, label="earlier snapshots (thin)"),
    ]
    figure.legend(handles=legend, loc="outside right center", fontsize=8, frameon=False)
    figure.suptitle("Sample-propagation error against the exact I(X;T_l): solid layer 1, dashed layer 2")
    encoded = {}
    for extension in ("png", "svg"):
        buffer = io.BytesIO()
        figure.savefig(buffer, format=extension, dpi=PNG_DPI)
        encoded[extension] = buffer.getvalue()
    return encoded


def check_output_folder(out_dir: str | os.PathLike[str], *, force: bool = False) -> Path:
    """Return ``out_dir`` as a Path if the study may write into it.

    Allowed: a folder that does not exist yet, an empty one, or (``force``) any folder, in which
    only the study's own files (``OUTPUT_FILES``) are replaced; other files are never touched.

    Raises
    ------
    FileExistsError
        ``out_dir`` is a file, or a non-empty folder without ``force``.
    """
    return check_folder(out_dir, may_reuse=force, advice=f"results on disk are never overwritten: choose an empty or new --out, or pass --force to replace its {', '.join(OUTPUT_FILES)}")


def write_accuracy_outputs(
    rows: Sequence[AccuracyRow],
    out_dir: str | os.PathLike[str],
    settings: StudySettings,
    *,
    force: bool = False,
) -> list[Path]:
    """Write accuracy.csv, accuracy.md, accuracy.png and accuracy.svg into ``out_dir``; return their paths.

    Every file is written atomically (temporary file in the same folder, fsync, ``os.replace``).
    The folder must pass :func:`check_output_folder`.
    """
    if not rows:
        raise ValueError("rows must hold at least one AccuracyRow")
    folder = check_output_folder(out_dir, force=force)
    requirements = samples_needed(rows)
    # Everything is rendered before the first file is written, so a failure writes nothing.
    contents = {
        "accuracy.csv": _csv_text(rows).encode("utf-8"),
        "accuracy.md": _markdown(rows, requirements, settings).encode("utf-8"),
        **{f"accuracy.{extension}": data for extension, data in _figure_bytes(rows).items()},
    }
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in OUTPUT_FILES:
        write_atomically(folder / name, contents[name])
        written.append(folder / name)
    return written


def _stderr_line(text: str) -> None:
    print(f"accuracy: {text}", file=sys.stderr, flush=True)


def run_accuracy_study(
    out_dir: str | os.PathLike[str], *, quick: bool = False, force: bool = False, progress: bool = True
) -> Path:
    """Run the default (or quick) accuracy study and write its outputs into ``out_dir``; return it.

    Parameters
    ----------
    out_dir : path
        A new or empty folder (or any folder with ``force``; see :func:`check_output_folder`).
    quick : bool
        The quick study: ``QUICK_EXPERIMENTS``, n in ``QUICK_SAMPLE_SIZES``, ``QUICK_REPEATS``
        repeats (seconds). Default: ``DEFAULT_EXPERIMENTS``, ``DEFAULT_SAMPLE_SIZES``,
        ``DEFAULT_REPEATS`` (about a minute or two on one core).
    force : bool
        Replace the study's files in a non-empty folder.
    progress : bool
        Print a line per step on stderr.
    """
    # Checked before the work, and again before writing, so a bad --out fails in a second.
    check_output_folder(out_dir, force=force)
    experiments = QUICK_EXPERIMENTS if quick else DEFAULT_EXPERIMENTS
    sizes = QUICK_SAMPLE_SIZES if quick else DEFAULT_SAMPLE_SIZES
    repeats = QUICK_REPEATS if quick else DEFAULT_REPEATS
    report = _stderr_line if progress else None
    with torch_threads(STUDY_THREADS):
        started = time.perf_counter()
        snapshots = snapshot_networks(experiments, progress=report)
        trained = time.perf_counter()
        rows = accuracy_study(snapshots, sizes, repeats, progress=report)
        estimated = time.perf_counter()
    settings = StudySettings(
        experiments=tuple(experiments),
        sample_sizes=tuple(sizes),
        n_repeats=repeats,
        training_seed=0,
        n_inputs_by_experiment={
            s.experiment: s.n_inputs for s in snapshots if not s.inputs.is_discrete and s.net.n_layers > 1
        },
        seconds_training=trained - started,
        seconds_estimating=estimated - trained,
        quick=quick,
    )
    write_accuracy_outputs(rows, out_dir, settings, force=force)
    if report is not None:
        report(f"done in {estimated - started:.1f} s; wrote {', '.join(OUTPUT_FILES)} into {out_dir}")
    return Path(out_dir)
