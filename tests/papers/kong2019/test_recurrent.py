"""The rnn experiment (the seed's §4 future work): its config, an end-to-end run, the per-step analysis."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from synthetic_runs import BETA, mixture_densities, write_run

from infoflow import Gaussian, NoisyMLP, read_run, true_mutual_information
from infoflow.config import ConfigError, config_to_dict, config_to_toml, load_config, parse_config
from infoflow.data.labels import SumThresholdLabels
from infoflow.models import NoisyElman
from infoflow.papers.kong2019 import recurrent
from infoflow.threads import torch_threads
from infoflow.training.experiment import build_labels, build_network, build_trainer, run_experiment

ELMAN = '[network]\nkind = "elman"\nsteps = 3\n{extra}\n[inputs]\nkind = "gaussian"\nmean = [0.0, 0.0, 0.0]\n[labels]\nkind = "sum_sign"\n'


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    # As runs do (RUN_THREADS): two torch threads on a busy two-core machine are ~10x slower.
    with torch_threads(1):
        yield


# ----------------------------------------------------------------------------------------------
# Config
# ----------------------------------------------------------------------------------------------


def test_the_shipped_rnn_config() -> None:
    config = load_config("rnn")
    network = config.network
    assert (network.kind, network.architecture, network.hidden, network.steps) == ("elman", "elman", 1, 5)
    assert network.widths == (5, 1, 1, 1, 1, 1) and network.activations == ("tanh",) * 5
    assert network.n_layers == 5 and network.n_outputs == 1 and network.init == "zeros"
    assert config.inputs.dim == 5 and config.labels.kind == "sum_sign"
    assert config.density.limits == ((-1.3, 1.3),) * 5
    assert parse_config(config_to_toml(config)) == config


@pytest.mark.parametrize("name", ["fig2", "fig3", "fig4", "fig5", "fig6"])
def test_feed_forward_configs_resolve_as_before(name: str) -> None:
    # kind = "mlp" is stored as None, so a feed-forward run's resolved config.toml is unchanged.
    config = load_config(name)
    assert config.network.kind is None and config.network.architecture == "mlp"
    assert set(config_to_dict(config)["network"]) <= {"preset", "widths", "activations", "init", "beta"}
    data = config_to_toml(config).replace("[network]\n", '[network]\nkind = "mlp"\n')
    assert parse_config(data) == config


def test_an_elman_config_fills_its_architecture_and_round_trips() -> None:
    config = parse_config(ELMAN.format(extra="hidden = 2\nactivations = ['leaky_relu']"))
    network = config.network
    assert network.widths == (3, 2, 2, 2) and network.activations == ("leaky_relu",) * 3
    # The read-out is one unit whatever the state's width, so MSE is allowed.
    assert network.n_outputs == 1 and config.training.loss == "mse"
    assert config.density.limits == ("auto",) * 3
    assert parse_config(config_to_toml(config)) == config
    # Two numbers per step.
    wide = parse_config(
        ELMAN.format(extra="widths = [6, 1, 1, 1]").replace("[0.0, 0.0, 0.0]", "[0.0, 0.0, 0.0, 0.0, 0.0, 0.0]")
    )
    net = build_network(wide.network, 0)
    assert isinstance(net, NoisyElman) and net.input_size == 2 and net.widths == [6, 1, 1, 1]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            ELMAN.replace('"elman"', '"gru"').format(extra=""),
            r'network\.kind must be one of "mlp", "elman"; got \'gru\'',
        ),
        (ELMAN.format(extra="").replace("steps = 3\n", ""), r"network\.steps must be an integer >= 1"),
        (ELMAN.format(extra="steps = 0").replace("steps = 3\n", ""), r"network\.steps must be an integer >= 1"),
        (ELMAN.format(extra="widths = [3, 1, 1]"), r"network\.widths must be \[3, 1, 1, 1\]"),
        (ELMAN.format(extra="activations = ['tanh', 'relu', 'tanh']"), r"network\.activations must be one name"),
        (ELMAN.format(extra='preset = "tanh"'), r"network\.preset must be left out with kind = \"elman\""),
        (ELMAN.format(extra='init = "seed"'), r"network\.init must be"),
        (
            '[network]\nwidths = [1, 1]\nactivations = ["tanh"]\nhidden = 2\n[inputs]\nkind = "gaussian"\n',
            r"network\.hidden must be left out",
        ),
        (
            ELMAN.format(extra="").replace('kind = "sum_sign"', 'kind = "threshold"'),
            r"labels\.kind must be \"sum_sign\" .* d = 3",
        ),
        (ELMAN.format(extra="").replace('kind = "sum_sign"', 'kind = "sum_sign"\nabove = -1.0'), r"labels\.above"),
    ],
)
def test_bad_elman_configs_are_one_line_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as raised:
        parse_config(text)
    assert "\n" not in str(raised.value)


def test_build_network_and_labels() -> None:
    config = load_config("rnn")
    net = build_network(config.network, 0)
    assert isinstance(net, NoisyElman) and net.steps == 5 and net.hidden == 1 and net.activation == "tanh"
    assert all(float(parameter.detach().abs().max()) == 0.0 for parameter in net.parameters())
    default = dataclasses.replace(config.network, init="default")
    first, again, other = build_network(default, 0), build_network(default, 0), build_network(default, 1)
    assert all(torch.equal(a, b) for a, b in zip(first.parameters(), again.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(first.parameters(), other.parameters()))
    labels = build_labels(config.labels)
    assert isinstance(labels, SumThresholdLabels) and labels.decision_threshold == 0.0
    x = torch.tensor([[1.0, -2.0, 0.5], [0.1, 0.1, -0.1], [0.0, 0.0, 0.0]])
    assert labels(x).tolist() == [[-1.0], [1.0], [-1.0]]
    with pytest.raises(ValueError, match=r"\(n, d\)"):
        labels(torch.zeros(3))


# ----------------------------------------------------------------------------------------------
# Runs
# ----------------------------------------------------------------------------------------------


def _short(epochs: int, **estimation: int) -> object:
    config = load_config("rnn")
    return dataclasses.replace(
        config,
        seeds=(0,),
        network=dataclasses.replace(config.network, init="default"),
        training=dataclasses.replace(config.training, epochs=epochs),
        estimation=dataclasses.replace(config.estimation, schedule="every", **estimation),
    )


def test_step_one_matches_its_closed_form_and_every_step_respects_the_channel_bound() -> None:
    # T_1 = tanh(w_x x_1 + b) + Z_1 is a scalar chain on X_1 ~ N(0, 1) (T_1 ignores x_2..x_5): its
    # exact information is that of a one-unit NoisyMLP with the same w_x and b. Every step is a
    # Gaussian channel with |S_t| <= 1: I(X;T_t) <= 1/2 log(1 + 1/beta^2).
    trainer = build_trainer(_short(3, n_conditional=200, n_inputs=50), 0)
    mlp = NoisyMLP([1, 1], "tanh", BETA)
    bound = 0.5 * math.log(1.0 + 1.0 / BETA**2)
    for record in trainer.run():
        assert record.mi_input is not None and len(record.mi_input) == 5
        with torch.no_grad():
            mlp.linears[0].weight.copy_(trainer.net.input.weight)
            mlp.linears[0].bias.copy_(trainer.net.input.bias)
        (exact,) = true_mutual_information(mlp, Gaussian(0.0, 1.0))
        assert record.mi_input[0] == pytest.approx(exact, abs=0.05)
        assert all(value <= bound for value in record.mi_input)


def test_a_short_rnn_run_end_to_end(tmp_path: Path) -> None:
    run_dir = run_experiment(_short(2, n_samples=300, n_conditional=100, n_inputs=50), tmp_path / "rnn", progress=False)
    run = read_run(run_dir)
    assert run.n_layers == 5 and run.epochs.tolist() == [0, 1, 2]
    assert sorted(run.metrics["layer"].unique().tolist()) == [1, 2, 3, 4, 5]
    assert np.isfinite(run.mi).all() and np.isfinite(run.mi_label).all()
    assert all(density.shape == (1, 3, 1, 300) for density in run.densities)
    outcomes = recurrent.analyse(run)
    assert [(o.seed, o.step) for o in outcomes] == [(0, step) for step in range(1, 6)]
    assert recurrent.main([str(run_dir)]) == 0
    assert (run_dir / "figures" / "mi_by_step.png").is_file() and (run_dir / "figures" / "mi_by_step.svg").is_file()


# ----------------------------------------------------------------------------------------------
# The analysis, on a run whose answer is known
# ----------------------------------------------------------------------------------------------


def test_the_analysis_finds_compression_with_clustering_where_it_was_put(tmp_path: Path) -> None:
    # Step 1: I rises and stays, its density one broad bump throughout. Step 2: I rises to 2 nats,
    # then falls to 1 nat from epoch 60 to 80 while its density goes from one broad bump to two
    # tight clusters at -0.8 and 0.8: compression with clustering, as the seed predicts.
    epochs = np.arange(0, 121)
    rise = np.minimum(epochs / 20.0, 1.0)
    step1 = 2.0 * rise
    step2 = 2.0 * rise - np.clip((epochs - 60) / 20.0, 0.0, 1.0)
    mi = np.stack([step1, step2], axis=-1)[None]
    grid = np.linspace(-1.3, 1.3, 300)
    broad = mixture_densities(grid, np.zeros((epochs.size, 1)), 0.4)
    split = np.clip((epochs - 60) / 20.0, 0.0, 1.0)
    centres = np.stack([-0.8 * split, 0.8 * split], axis=1)
    widths = np.stack([0.4 - 0.35 * split] * 2, axis=1)
    clustered = mixture_densities(grid, centres, widths)
    densities = [broad[None, :, None, :], clustered[None, :, None, :]]
    run_dir = write_run(tmp_path / "known", name="rnn", epochs=epochs, mi=mi, densities=densities, grids=[grid, grid])
    first, second = recurrent.analyse(run_dir)
    assert not first.compressed and not first.as_predicted and first.end_clusters == 1
    assert second.compressed and second.fall_nats == pytest.approx(1.0, abs=0.05)
    assert second.falls == 1 and second.falls_with_clustering == 1 and second.end_clusters == 2
    assert second.clustered and second.as_predicted
    table = recurrent.format_table([first, second])
    assert table.count("\n") == 3 and "| 0 | 2 |" in table
    means = recurrent.step_means([first, second])
    assert means[2]["predicted_fraction"] == 1.0 and means[1]["compressed_fraction"] == 0.0
    paths = recurrent.write_mi_by_step(run_dir)
    assert all(path.is_file() for path in paths)
