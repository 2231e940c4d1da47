"""Coverage study: how often the bounds of :func:`measure_information` hold the truth, and how wide they are.

Cases with exact truth (or truth bracketed by an independent exact computation):

* scalar chains on continuous and discrete X: :func:`true_mutual_information` (quadrature);
* linear networks of several widths on Gaussian X, one with a truth above log n_samples:
  I(X;T_l) = 1/2 log det(Cov T_l) - 1/2 log det(Cov(T_l|X)) (closed form);
* 40 points in R^32 through a 32-128-64-32 tanh network (beta 0.01), apart or in 4 tight
  clusters. Apart: every layer decodes X with error at most P_e (:func:`decoding_error_bound`,
  a margin argument), so log k - h_b(P_e) - P_e log(k-1) <= I(X;T_l) <= log k (Fano). Clusters:
  the cluster index C decodes likewise, so I >= I(C;T_l) >= log 4 - h_b - P_e log 3, and
  I(X;T_l) <= I(X;T_1) <= H(C) + max_c 1/2 tr Cov(S_1 | C = c) / beta^2 (chain rule, data
  processing, Gaussian maximum entropy with log(1 + u) <= u).

For each case and layer: the share of estimation seeds whose interval meets the truth's bracket
(lower <= truth_high and upper >= truth_low; the brackets are < 0.01 nats wide) and the mean
width. Run ``python -m infoflow.estimators.coverage [--seeds N] [--cases a,b]``;
:func:`coverage_csv_text` and :func:`coverage_markdown` render the rows for a study's outputs
(``infoflow accuracy`` writes them as ``coverage.csv`` and a section of ``accuracy.md``).
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from infoflow.data.distributions import DiscreteUniform, Gaussian, InputDistribution
from infoflow.estimators.sample_propagation import measure_information
from infoflow.estimators.truth import true_mutual_information
from infoflow.models.mlp import NoisyMLP

# Tail exponent t of the noise-norm bound P(|Z| > beta sqrt(d + 2 sqrt(d t) + 2 t)) <= e^-t
# (Laurent & Massart 2000) used in the margin argument: e^-25 ~ 1.4e-11 per layer.
TAIL_EXPONENT = 25.0


@dataclass(frozen=True)
class CoverageCase:
    """A network and input with the truth bracketed per layer (nats)."""

    name: str
    net: NoisyMLP
    inputs: InputDistribution
    truth_low: list[float]
    truth_high: list[float]
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CoverageRow:
    """One (case, layer): the truth bracket, the share of seeds covered, widths, and time per seed."""

    case: str
    layer: int
    truth_low: float
    truth_high: float
    held: int
    seeds: int
    mean_width: float
    max_width: float
    seconds_per_seed: float

    @property
    def fraction(self) -> float:
        """Return held / seeds, the share of estimation seeds whose interval met the truth."""
        return self.held / self.seeds


def _net(widths: list[int], activation: str, beta: float, seed: int, gain: float = 1.0) -> NoisyMLP:
    torch.manual_seed(seed)
    net = NoisyMLP(widths, activation, beta)
    with torch.no_grad():
        for linear in net.linears:
            linear.weight.mul_(gain)
    return net


def linear_gaussian_truth(net: NoisyMLP, covariance: np.ndarray) -> list[float]:
    """Return I(X;T_l) of a linear NoisyMLP on X ~ N(mu, covariance), closed form (nats)."""
    weights = [linear.weight.detach().double().numpy() for linear in net.linears]
    beta2 = net.beta**2
    cov_total, cov_noise, truth = covariance, np.zeros((0, 0)), []
    for weight in weights:
        cov_total = weight @ cov_total @ weight.T + beta2 * np.eye(weight.shape[0])
        cov_noise = (weight @ cov_noise @ weight.T if cov_noise.size else 0.0) + beta2 * np.eye(weight.shape[0])
        truth.append(0.5 * (np.linalg.slogdet(cov_total)[1] - np.linalg.slogdet(cov_noise)[1]))
    return truth


def _noiseless_outputs(net: NoisyMLP, x: torch.Tensor) -> list[torch.Tensor]:
    outputs, h = [], x.to(torch.float64)
    with torch.no_grad():
        for index in range(net.n_layers):
            h = net.layer_clean(index, h)
            outputs.append(h)
    return outputs


def decoding_error_bound(net: NoisyMLP, anchors: torch.Tensor, spread: torch.Tensor | None = None) -> list[float]:
    """Return per layer an upper bound on the error of decoding the anchor index from T_l (1 = no bound).

    Margin argument for tanh/linear layers (1-Lipschitz activations): with |Z_l| <= r_l (all layers,
    probability >= 1 - l e^-t), |T_l - s_l(x)| <= R_l = ||W_l|| R_{l-1} + r_l, s_l the noiseless
    output. An input within ``spread`` (input distance, optional) of anchor a has
    |s_l(x) - s_l(a)| <= prod ||W|| spread. The nearest-anchor decoder is then right whenever the
    anchors' noiseless outputs are more than 2 (R_l + prod ||W|| spread) apart.
    """
    norms = [float(torch.linalg.matrix_norm(linear.weight.detach().double(), ord=2)) for linear in net.linears]
    outputs = _noiseless_outputs(net, anchors)
    radius, lipschitz, bounds = 0.0, 1.0, []
    for layer, (norm, output) in enumerate(zip(norms, outputs), start=1):
        dim = output.shape[1]
        noise = net.beta * math.sqrt(dim + 2 * math.sqrt(dim * TAIL_EXPONENT) + 2 * TAIL_EXPONENT)
        radius = norm * radius + noise
        lipschitz *= norm
        reach = radius + (0.0 if spread is None else lipschitz * float(spread))
        distances = torch.cdist(output, output) + torch.eye(len(output), dtype=torch.float64) * 1e300
        bounds.append(layer * math.exp(-TAIL_EXPONENT) if float(distances.min()) > 2 * reach else 1.0)
    return bounds


def fano_lower(k: int, error: float) -> float:
    """Return log k - h_b(P_e) - P_e log(k - 1), nats (0 when P_e bounds nothing)."""
    if error >= 1.0 - 1.0 / k:
        return 0.0
    binary = -error * math.log(error) - (1 - error) * math.log1p(-error) if error > 0 else 0.0
    return max(0.0, math.log(k) - binary - error * math.log(k - 1))


def _points_case(clustered: bool) -> CoverageCase:
    net = _net([32, 128, 64, 32], "tanh", 0.01, seed=11, gain=1.5)
    generator = torch.Generator().manual_seed(5)
    if clustered:
        centres = 2.0 * torch.randn(4, 32, generator=generator, dtype=torch.float64)
        offsets = 1e-4 * torch.randn(40, 32, generator=generator, dtype=torch.float64)
        points = centres.repeat_interleave(10, dim=0) + offsets
        spread = float((points - centres.repeat_interleave(10, dim=0)).norm(dim=1).max())
        errors = decoding_error_bound(net, centres, torch.tensor(spread))
        low = [fano_lower(4, e) for e in errors]
        first = _noiseless_outputs(net, points)[0].reshape(4, 10, -1)
        within = float(first.var(dim=1, correction=0).sum(-1).max())
        high = [math.log(4) + within / (2 * net.beta**2)] * 3
    else:
        points = 2.0 * torch.randn(40, 32, generator=generator, dtype=torch.float64)
        errors = decoding_error_bound(net, points)
        low = [fano_lower(40, e) for e in errors]
        high = [math.log(40)] * 3
    if any(e >= 1.0 for e in errors):
        raise RuntimeError("the margin argument does not certify decodability for this case")
    name = "40 points in R^32, 4 tight clusters" if clustered else "40 points in R^32, apart"
    return CoverageCase(name, net, DiscreteUniform(points.numpy()), low, high)


def _scalar_case(name: str, widths: list[int], activation: str, weights: list[float], biases: list[float],
                 inputs: InputDistribution, beta: float = 0.05) -> CoverageCase:
    net = NoisyMLP(widths, activation, beta)
    with torch.no_grad():
        for linear, weight, bias in zip(net.linears, weights, biases):
            linear.weight.fill_(weight)
            linear.bias.fill_(bias)
    truth = [float(v) for v in true_mutual_information(net, inputs)]
    return CoverageCase(name, net, inputs, truth, truth)


def _linear_case(name: str, widths: list[int], gain: float, seed: int) -> CoverageCase:
    net = _net(widths, "linear", 0.05, seed=seed, gain=gain)
    covariance = np.eye(widths[0])
    truth = linear_gaussian_truth(net, covariance)
    return CoverageCase(name, net, Gaussian(np.zeros(widths[0]), covariance), truth, truth)


CASES: dict[str, Callable[[], CoverageCase]] = {
    "tanh-tanh": lambda: _scalar_case("tanh-tanh, X ~ N(0, 0.25)", [1, 1, 1], "tanh", [3.0, 3.0], [0.0, 0.0],
                                      Gaussian(0.0, 0.25)),
    "leaky-discrete": lambda: _scalar_case("leaky-leaky, X uniform on 1..8", [1, 1, 1], "leaky_relu",
                                           [0.4, -1.2], [-1.5, 0.5], DiscreteUniform(list(range(1, 9)))),
    "tanh-3-layers": lambda: _scalar_case("tanh x3, X uniform on {-3,-1,1,3}", [1, 1, 1, 1], "tanh",
                                          [1.0, 2.0, 2.0], [0.2, 0.0, -0.3], DiscreteUniform([-3, -1, 1, 3])),
    "linear-3-6-4": lambda: _linear_case("linear 3-6-4, X ~ N(0, I_3)", [3, 6, 4], 1.0, seed=3),
    "linear-8-8-8": lambda: _linear_case("linear 8-8-8 (truth > log n), X ~ N(0, I_8)", [8, 8, 8], 3.0, seed=4),
    "points-apart": lambda: _points_case(False),
    "points-clusters": lambda: _points_case(True),
}


def coverage_study(
    names: list[str] | None = None, seeds: int = 20, *, progress: bool = False, **settings: Any
) -> list[CoverageRow]:
    """Return one row per (case, layer) over ``seeds`` estimation seeds (default measurement settings).

    Parameters
    ----------
    names : list of str, optional
        Keys of ``CASES`` (default: all, in their order).
    seeds : int
        Estimation seeds 0..seeds-1 per case, >= 1.
    progress : bool
        A tqdm bar on stderr over all (case, seed) measurements.
    **settings
        Passed to :func:`measure_information` (over each case's own settings).
    """
    names = list(CASES) if names is None else list(names)
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"seeds must be an integer >= 1, got {seeds!r}")
    unknown = [name for name in names if name not in CASES]
    if unknown or not names:
        raise ValueError(f"names must be among {', '.join(CASES)}, got {', '.join(unknown) or 'none'}")
    # Imported here: only a study with a bar needs it.
    from tqdm.auto import tqdm

    bar = tqdm(total=len(names) * seeds, desc="coverage", unit="measurement", disable=not progress, leave=False)
    rows = []
    for name in names:
        case = CASES[name]()
        lowers, uppers = [], []
        started = time.perf_counter()
        for seed in range(seeds):
            measurement = measure_information(case.net, case.inputs, seed=seed, **{**case.settings, **settings})
            lowers.append(measurement.mi_input_lower)
            uppers.append(measurement.mi_input_upper)
            bar.update(1)
        per_seed = (time.perf_counter() - started) / seeds
        low, high = np.array(lowers), np.array(uppers)
        for layer in range(low.shape[1]):
            held = (low[:, layer] <= case.truth_high[layer] + 1e-12) & (high[:, layer] >= case.truth_low[layer] - 1e-12)
            widths = high[:, layer] - low[:, layer]
            truth_low, truth_high = float(case.truth_low[layer]), float(case.truth_high[layer])
            rows.append(CoverageRow(case.name, layer + 1, truth_low, truth_high,
                                    int(held.sum()), seeds, float(widths.mean()), float(widths.max()), per_seed))
    bar.close()
    return rows


COVERAGE_CSV_COLUMNS = (
    "case",
    "layer",
    "truth_low_nats",
    "truth_high_nats",
    "seeds",
    "held",
    "fraction",
    "mean_width_nats",
    "max_width_nats",
    "seconds_per_seed",
)


def coverage_csv_text(rows: list[CoverageRow]) -> str:
    """Return the rows as tidy CSV text (``COVERAGE_CSV_COLUMNS``; floats written exactly, nats)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COVERAGE_CSV_COLUMNS)
    for row in rows:
        values = (row.case, row.layer, row.truth_low, row.truth_high, row.seeds, row.held, row.fraction,
                  row.mean_width, row.max_width, row.seconds_per_seed)
        writer.writerow([repr(float(value)) if isinstance(value, float) else value for value in values])
    return buffer.getvalue()


def coverage_markdown(rows: list[CoverageRow], heading: str = "## Coverage of the bounds") -> str:
    """Return a Markdown section: what "held" means, the table, and the worst layer (or a skip note)."""
    if not rows:
        return f"{heading}\n\nThe coverage study was skipped (no seeds).\n"
    seeds = sorted({row.seeds for row in rows})
    worst = min(rows, key=lambda row: row.fraction)
    text = [
        heading,
        "",
        (
            f"Cases with exact truth (`infoflow.estimators.coverage`), {'/'.join(map(str, seeds))} estimation "
            f"seeds each, default measurement settings. \"held\" counts seeds whose interval "
            f"[mi_input_lower, mi_input_upper] meets the truth (or its bracket, when the truth is bracketed by "
            f"an independent exact computation); the intervals of one measurement hold jointly with 95 % "
            f"confidence (Bonferroni over its one-sided bounds, normal approximation). Widths in nats."
        ),
        "",
        format_table(rows),
        "",
        (
            f"Lowest share held: {worst.held}/{worst.seeds} ({worst.case}, layer {worst.layer}); "
            f"largest width: {max(row.max_width for row in rows):.3f} nats."
        ),
        "",
    ]
    return "\n".join(text)


def format_table(rows: list[CoverageRow]) -> str:
    """Return the rows as a Markdown table."""
    lines = [
        "| case | layer | truth (nats) | held | mean width | max width | s/seed |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        exact = row.truth_high - row.truth_low < 5e-4
        truth = f"{row.truth_low:.3f}" if exact else f"[{row.truth_low:.3f}, {row.truth_high:.3f}]"
        lines.append(f"| {row.case} | {row.layer} | {truth} | {row.held}/{row.seeds} | {row.mean_width:.3f} | "
                     f"{row.max_width:.3f} | {row.seconds_per_seed:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated among {', '.join(CASES)}")
    args = parser.parse_args(argv)
    print(format_table(coverage_study(args.cases.split(","), args.seeds, progress=True)))


if __name__ == "__main__":
    main()
