"""Step 2 of the accuracy study: SP's bias, SD and RMSE against the exact I(X;T_l) per snapshot, layer and n."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from infoflow.estimators.sample_propagation import mutual_information
from infoflow.estimators.truth import true_mutual_information
from infoflow.papers.kong2019.accuracy.snapshots import STUDY_THREADS, Snapshot
from infoflow.threads import torch_threads
from infoflow.validation import integer_at_least

DEFAULT_SAMPLE_SIZES = (100, 300, 1000, 3000, 10000)
# 20 repeats at every n: the SD is then known to ~16 % (relative SE of a sample SD is ~1/sqrt(2(R-1)))
# and the bias to SD/sqrt(20) ~ 0.22 SD. The whole default study costs ~1-2 minutes on one core
# (measured: an estimate takes <= 0.01 s except fig4/fig5 at large n, 0.14 s at n = 3000 and
# 0.5 s at n = 10000, whose 500 x n conditional samples dominate), so fewer repeats at large n
# would save little.
DEFAULT_REPEATS = 20
QUICK_SAMPLE_SIZES = (100, 300)
QUICK_REPEATS = 3

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


def _sample_sizes(sample_sizes: Sequence[int]) -> tuple[int, ...]:
    sizes = tuple(integer_at_least("sample_sizes entries", size, 1) for size in sample_sizes)
    if not sizes:
        raise ValueError("sample_sizes must hold at least one sample size")
    if len(set(sizes)) != len(sizes):
        raise ValueError(f"sample_sizes must be distinct; got {list(sizes)}")
    return tuple(sorted(sizes))


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
