"""The SZT experiment: its config, layer 1 against the exact mixture, and a shortened run end to end."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.special import logsumexp

from infoflow import FiniteDataset, load_config, measure_information, read_run
from infoflow.data.szt import szt_dataset
from infoflow.papers.goldfeld2019.analysis import H_X_NATS, layer_findings, run_findings
from infoflow.papers.goldfeld2019.reproduce import REPORT_NAME, reproduce_szt
from infoflow.training.experiment import build_network, build_trainer


def test_config_has_the_anchor_settings():
    config = load_config("szt")
    assert config.network.widths == (12, 10, 7, 5, 4, 3, 2)
    assert config.network.activations == ("tanh",) * 5 + ("linear",)
    assert config.network.beta == 0.005
    assert (config.training.optimizer, config.training.learning_rate, config.training.batch_size) == ("adam", 4e-4, 256)
    assert config.training.loss == "cross_entropy" and config.training.epochs == 10_000
    assert (config.estimation.schedule, config.estimation.points) == ("log", 84)
    trainer = build_trainer(config, 0)
    assert (len(trainer.train_inputs), len(trainer.test_inputs)) == (3277, 819)
    assert trainer.probe.inputs.n_rows == 4096


def exact_mixture_information(centres: np.ndarray, beta: float, n_draws: int, seed: int) -> tuple[float, float]:
    """Independent reference: I(X;T_1) = h(mixture of N(s_x, beta^2 I)) - h(N(0, beta^2 I)) by plain
    Monte Carlo in numpy (T = s_i + beta z, i uniform), with its standard error."""
    rng = np.random.default_rng(seed)
    k, dim = centres.shape
    draws = centres[rng.integers(k, size=n_draws)] + beta * rng.normal(size=(n_draws, dim))
    values = []
    for chunk in np.array_split(draws, max(1, n_draws // 256)):
        squared = ((chunk[:, None, :] - centres[None, :, :]) ** 2).sum(-1)
        log_density = (
            logsumexp(-squared / (2 * beta**2), axis=1) - math.log(k) - 0.5 * dim * math.log(2 * math.pi * beta**2)
        )
        values.append(-log_density)
    values = np.concatenate(values)
    entropy_of_noise = 0.5 * dim * math.log(2 * math.pi * math.e * beta**2)
    return float(values.mean() - entropy_of_noise), float(values.std(ddof=1) / math.sqrt(n_draws))


def test_layer_1_equals_the_exact_mixture_of_the_4096_patterns():
    config = load_config("szt")
    net = build_network(config.network, seed=0)
    with torch.no_grad():
        # Shrink the first layer so the 4096 clusters of S_1 overlap (else I = log 4096 trivially).
        net.linears[0].weight.mul_(0.02)
        net.linears[0].bias.zero_()
    data = szt_dataset()
    measurement = measure_information(
        net, data, n_samples=4096, stratified=True, n_inputs=8, n_conditional=8, seed=0, target_std_error=0.01
    )
    with torch.no_grad():
        centres = torch.tanh(net.linears[0](data.x)).numpy()
    reference, reference_se = exact_mixture_information(centres, 0.005, 8192, seed=1)
    assert H_X_NATS - reference > 0.5  # the clusters do overlap: not the trivial ceiling
    combined = math.hypot(reference_se, measurement.mi_input_std_error[0])
    assert abs(measurement.mi_input[0] - reference) < 4 * combined


def test_stratified_draws_need_a_fitting_uniform_support():
    with pytest.raises(ValueError, match="divides n_samples"):
        measure_information(
            build_network(load_config("szt").network, 0), FiniteDataset(np.eye(12)[:5]), n_samples=7, stratified=True
        )


@pytest.mark.slow
def test_shortened_run_end_to_end(tmp_path):
    report = reproduce_szt(tmp_path, epochs=3, progress=False)
    run = read_run(tmp_path / "szt")
    metrics = run.metrics
    assert sorted(metrics["epoch"].unique()) == [0, 1, 2, 3] and sorted(metrics["layer"].unique()) == [1, 2, 3, 4, 5, 6]
    assert metrics["mi_nats"].notna().all() and metrics["binned_entropy_nats"].notna().all()
    assert (metrics["mi_nats"] <= H_X_NATS + 4 * metrics["std_error_nats"] + 1e-9).all()
    assert len(layer_findings(metrics)) == 6
    text = report.read_text()
    assert report.name == REPORT_NAME and "| 0 | 6 |" in text
    assert (tmp_path / "szt" / "figures" / "szt_information.png").is_file()
    # A rerun reuses the finished run and rewrites only its own report.
    assert reproduce_szt(tmp_path, epochs=3, progress=False) == report


def test_findings_carry_the_bounds_at_the_peak_and_over_the_end_window():
    import pandas as pd

    epochs = np.arange(10)
    mi = np.array([0.1, 0.5, 1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3])
    lower, upper = mi - 0.05 * (1 + epochs), mi + 0.1
    resolved = np.where(epochs < 9, 1, 0)
    metrics = pd.DataFrame(
        {
            "seed": 0,
            "epoch": epochs,
            "layer": 1,
            "mi_nats": mi,
            "std_error_nats": 0.01,
            "mi_lower_nats": lower,
            "mi_upper_nats": upper,
            "resolved": resolved,
        }
    )
    (finding,) = layer_findings(metrics)
    peak = int(np.flatnonzero(epochs == finding.peak_epoch)[0])
    assert finding.peak_lower == pytest.approx(lower[peak]) and finding.peak_upper == pytest.approx(upper[peak])
    assert finding.peak_resolved is True
    # The end window is the last epoch (a tenth of 10): unresolved there.
    assert finding.end_lower == pytest.approx(lower[-1]) and finding.end_upper == pytest.approx(upper[-1])
    assert finding.end_resolved is False
    (bare,) = layer_findings(metrics.drop(columns=["mi_lower_nats", "mi_upper_nats", "resolved"]))
    assert np.isnan(bare.peak_lower) and bare.end_resolved is None


def test_the_report_states_each_layers_bounds(tmp_path):
    import tomli_w

    from infoflow.config.schema import parse_config
    from infoflow.papers.goldfeld2019.reproduce import report_text
    from infoflow.training.experiment import run_experiment

    config = {
        "name": "tiny-report",
        "seeds": [0],
        "network": {"preset": "tanh"},
        "inputs": {"kind": "gaussian", "var": 0.25},
        "training": {"epochs": 2, "learning_rate": 0.05, "train_size": 20, "batch_size": 10, "test_size": 20},
        "estimation": {"n_samples": 20, "n_conditional": 8, "n_inputs": 4},
        "density": {"points": 8},
    }
    run_dir = run_experiment(parse_config(tomli_w.dumps(config), source="tiny"), tmp_path / "run", progress=False)
    text = report_text(run_dir)
    (finding,) = run_findings(str(run_dir))
    assert finding.peak_lower <= finding.peak_upper and finding.end_lower <= finding.end_upper
    row = next(line for line in text.splitlines() if line.startswith("| 0 | 1 |"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[3].startswith(f"[{finding.peak_lower:.3f}, {finding.peak_upper:.3f}]")
    assert cells[5].startswith(f"[{finding.end_lower:.3f}, {finding.end_upper:.3f}]")
    assert cells[5].endswith("resolved")
    assert "I(X;T) at peak in" in text
    from infoflow.papers.goldfeld2019.figures import plot_szt

    assert all(path.stat().st_size > 0 for path in plot_szt(run_dir))
