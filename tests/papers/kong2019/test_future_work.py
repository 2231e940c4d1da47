"""The seed's future work on a uniform input: the shipped experiments and the per-seed checks.

The checks are run on synthetic run folders (tests/synthetic_runs.py) whose MI trajectories and
densities are prescribed, so every number they should report follows from the construction.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest
from synthetic_runs import BETA, mixture_densities, write_run

from infoflow.config.schema import config_to_toml, load_config, parse_config, shipped_config_text
from infoflow.data.distributions import Uniform
from infoflow.estimators.truth import truth_is_computable
from infoflow.papers.kong2019.future_work import (
    COMPRESSION_MIN_FALL_NATS,
    UNIFORM_EXPERIMENTS,
    majority,
    seed_claims_on_uniform_input,
    uniform_input_outcomes,
    uniform_input_report,
)
from infoflow.papers.kong2019.networks import seed_network

GRID = np.linspace(-2.0, 2.0, 401)
EPOCHS = np.arange(201)
# The synthetic runs span 200 epochs: the coincidence window is 10 % of that.
WINDOW = 20


def ramp(epochs: np.ndarray, start: float, stop: float) -> np.ndarray:
    return np.clip((epochs - start) / (stop - start), 0.0, 1.0)


def diffusing_widths(epochs: np.ndarray) -> np.ndarray:
    """One Gaussian cluster widening from beta to 0.5, like the LeakyReLU layer's T_1."""
    return BETA + 0.45 * np.sqrt(epochs / epochs[-1])


def splitting_then_tightening(epochs: np.ndarray) -> np.ndarray:
    """One cluster at 0 (width 0.1) up to epoch 40, then two at +-0.9 tightening from 0.25 to beta."""
    first = mixture_densities(GRID, np.zeros((epochs.size, 1)), widths=0.1)
    width = 0.25 - (0.25 - BETA) * ramp(epochs, 40, 140)
    second = mixture_densities(GRID, np.stack([-0.9 + 0 * epochs, 0.9 + 0 * epochs], axis=1), widths=width)
    return np.where((epochs < 40)[:, None], first, second)


def uniform_like_run(tmp_path: Path, name: str = "uniform-leaky-tanh", seeds: int = 1) -> Path:
    """Layer 1 keeps gaining information and diffuses; layer 2 rises, then falls by 0.6 nats while clustering."""
    widths = diffusing_widths(EPOCHS)
    mi_1 = np.log(widths / BETA)  # h(T_1) - h(noise) for a Gaussian T_1: rises monotonically
    mi_2 = 1.4 * ramp(EPOCHS, 0, 40) - 0.6 * ramp(EPOCHS, 50, 150)
    mi = np.stack([mi_1, mi_2], axis=-1)[None].repeat(seeds, axis=0)
    densities = [
        np.repeat(mixture_densities(GRID, np.zeros((EPOCHS.size, 1)), widths=widths)[None, :, None, :], seeds, 0),
        np.repeat(splitting_then_tightening(EPOCHS)[None, :, None, :], seeds, 0),
    ]
    return write_run(
        tmp_path / name,
        name=name,
        epochs=EPOCHS,
        mi=mi,
        true_mi=mi,
        densities=densities,
        grids=[GRID, GRID],
        seeds=list(range(seeds)),
    )


def test_a_diffusing_layer_neither_compresses_nor_clusters(tmp_path):
    outcome = uniform_input_outcomes(uniform_like_run(tmp_path))[1][0]
    widths = diffusing_widths(EPOCHS)
    mi = np.log(widths / BETA)
    # Monotone: the smoothed peak is the last value, the end value the median of the last 10 %.
    assert outcome.peak_nats == pytest.approx(mi[-1])
    assert outcome.end_nats == pytest.approx(float(np.median(mi[EPOCHS >= 180])))
    assert outcome.fall_nats < COMPRESSION_MIN_FALL_NATS and not outcome.compressed
    assert outcome.exact_compressed is False
    # The fitting jump ends where log(w/beta) first reaches half its end value.
    fitted = int(np.flatnonzero(mi >= 0.5 * outcome.end_nats)[0])
    assert outcome.fitted_epoch == fitted
    # One cluster throughout, its s.d. the component's width (the grid cuts 4 s.d. at the end: < 0.1 %).
    assert (outcome.clusters_at_fit, outcome.clusters_at_end) == (1, 1)
    assert outcome.effective_count_ratio == pytest.approx(1.0)
    assert outcome.spread_ratio == pytest.approx(widths[-1] / widths[fitted], rel=2e-3)
    assert outcome.sd_at_end == pytest.approx(float(np.median(widths[EPOCHS >= 180])), rel=2e-3)
    assert not outcome.clustered


def test_a_layer_that_falls_while_its_clusters_tighten_compresses_and_clusters(tmp_path):
    outcome = uniform_input_outcomes(uniform_like_run(tmp_path))[2][0]
    # Peak 1.4 nats (reached at epoch 40, held to 50), end 0.8: a fall of 0.6 nats on both estimates.
    assert outcome.peak_nats == pytest.approx(1.4)
    assert outcome.end_nats == pytest.approx(0.8)
    assert outcome.fall_nats == pytest.approx(0.6) and outcome.compressed
    assert outcome.exact_fall_nats == pytest.approx(0.6) and outcome.exact_compressed
    # From the MI peak to the end the two clusters tighten from width ~0.25 to beta: spread x0.2.
    assert outcome.clustered_after_peak
    peak_width = 0.25 - (0.25 - BETA) * float(ramp(np.array([outcome.peak_epoch]), 40, 140)[0])
    assert outcome.spread_ratio_after_peak == pytest.approx(BETA / peak_width, rel=0.02)
    assert outcome.clusters_at_end == 2


def test_counts_over_seeds_and_the_report(tmp_path):
    run_dir = uniform_like_run(tmp_path, seeds=2)
    outcomes = uniform_input_outcomes(run_dir)
    assert majority(outcomes[1], "compressed") == (0, 2)
    assert majority(outcomes[2], "compressed") == (2, 2)
    report = uniform_input_report(run_dir)
    assert "T_1: compresses in 0/2 seeds (exact MI: 0/2)" in report
    assert "T_2: compresses in 2/2 seeds (exact MI: 2/2)" in report
    assert "C5: " in report  # uniform-leaky-tanh is also checked as fig5


def test_the_seed_claims_of_the_gaussian_counterpart_apply(tmp_path):
    results = seed_claims_on_uniform_input(uniform_like_run(tmp_path))
    assert [result.claim for result in results] == ["C5"]
    # Layer 1 keeps rising and diffuses: C5 holds on this construction.
    assert results[0].passed, results[0].detail
    other = write_run(
        tmp_path / "other",
        name="fig4",
        epochs=EPOCHS,
        mi=np.zeros((1, EPOCHS.size, 1)),
        densities=[mixture_densities(GRID, np.zeros((EPOCHS.size, 1)))[None, :, None, :]],
        grids=[GRID],
    )
    with pytest.raises(ValueError, match="not a uniform-input run"):
        seed_claims_on_uniform_input(other)


@pytest.mark.parametrize(("name", "preset"), [("uniform-tanh-tanh", "tanh-tanh"), ("uniform-leaky-tanh", "leaky-tanh")])
def test_the_shipped_uniform_experiments(name, preset):
    config = load_config(name)
    assert config.name == name and name in UNIFORM_EXPERIMENTS
    assert config.network.preset == preset
    assert (config.inputs.kind, config.inputs.low, config.inputs.high) == ("uniform", -1.0, 1.0)
    # The seed's learning-rate rule and the Gaussian counterpart's training choices.
    counterpart = load_config(UNIFORM_EXPERIMENTS[name])
    assert config.training == counterpart.training
    assert (config.training.learning_rate, config.training.lr_drop_factor) == (0.005, 20.0)
    assert config.training.lr_drop_accuracy == 0.99
    assert config.estimation.true_information and config.estimation.n_inputs == 500
    assert parse_config(config_to_toml(config)) == config
    tomllib.loads(shipped_config_text(name))
    # Exact MI is computable for the untrained network and for a trained-looking one.
    net = seed_network(preset, config.network.beta)
    assert truth_is_computable(net, Uniform(-1.0, 1.0))
    # Every density grid resolves the noise: a step below beta / 2.
    for low, high in config.density.limits:
        assert (high - low) / (config.density.points - 1) < config.network.beta / 2
    for linear in net.linears:
        linear.weight.data.fill_(8.0)
        linear.bias.data.fill_(0.6)
    assert truth_is_computable(net, Uniform(-1.0, 1.0))
