"""The digits CNN experiment: split, twin trained alike, noise-free representations, verdicts, end to end."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from infoflow.cli import main
from infoflow.data.digits import load_digits
from infoflow.models.noise import GaussianNoise
from infoflow.papers.goldfeld2019.digits import (
    Tap,
    TwinTraining,
    clean_representations,
    digits_cnn,
    split_digits,
    twin_pair,
)
from infoflow.papers.goldfeld2019.digits_analysis import DigitsSeed, ProxyFinding, layer_compression
from infoflow.papers.goldfeld2019.digits_reproduce import REPORT_NAME, reproduce_digits
from infoflow.papers.goldfeld2019.digits_settings import DIGITS_DEFAULTS, DigitsSettings
from infoflow.training.settings import derived_generator

TINY = DIGITS_DEFAULTS.replace(epochs=2, points=2, n_samples=60, n_conditional=4, n_inputs=4)


def test_split_is_stratified_disjoint_and_fixed() -> None:
    _, y = load_digits()
    train, test = split_digits(0.2, 0)
    assert len(np.intersect1d(train, test)) == 0 and len(train) + len(test) == 1797
    counts = np.bincount(y, minlength=10)
    assert np.bincount(y[test], minlength=10).tolist() == [int(round(0.2 * c)) for c in counts]
    again_train, again_test = split_digits(0.2, 0)
    assert np.array_equal(train, again_train) and np.array_equal(test, again_test)
    assert not np.array_equal(test, split_digits(0.2, 1)[1])


def test_twin_has_the_same_layers_and_initial_weights() -> None:
    noisy, twin = twin_pair(0.1, seed=3)
    assert sum(isinstance(m, GaussianNoise) for m in noisy.modules()) == 4
    assert sum(isinstance(m, Tap) for m in twin.modules()) == 4
    assert not any(isinstance(m, GaussianNoise) for m in twin.modules())
    for (name, a), (other, b) in zip(noisy.state_dict().items(), twin.state_dict().items()):
        assert name == other and torch.equal(a, b)
    # Another seed, other weights.
    assert not torch.equal(twin_pair(0.1, seed=4)[0][1].weight, noisy[1].weight)


def test_noise_off_representations_are_the_twins() -> None:
    noisy, twin = twin_pair(0.1, seed=0)
    x = torch.as_tensor(load_digits()[0][:50])
    layers, logits = clean_representations(noisy, x)
    twin_layers, twin_logits = clean_representations(twin, x)
    assert [tuple(s.shape) for s in layers] == [(50, 512), (50, 256), (50, 32), (50, 10)]
    for s, t in zip(layers, twin_layers):
        assert torch.equal(s, t)
    assert torch.equal(logits, twin_logits)
    # The hooks are gone: the noisy net's own forward is noisy again.
    assert not torch.equal(noisy(x), twin_logits)


def _trained(seed: int) -> tuple[TwinTraining, nn.Module, torch.Tensor, torch.Tensor]:
    """Two epochs on 96 rows with negligible noise; also the twin's initial weights."""
    x_all, y_all = load_digits()
    x, y = torch.as_tensor(x_all[:96]), torch.as_tensor(y_all[:96])
    training = TwinTraining(TINY.replace(beta=1e-150, batch_size=32), seed=seed)
    initial = digits_cnn(None)
    initial.load_state_dict(training.twin.state_dict())
    training.epoch(x, y)
    training.epoch(x, y)
    return training, initial, x, y


def test_twin_is_trained_alike() -> None:
    # With negligible noise (beta = 1e-150) the noisy net follows its twin step for step: the same
    # initial weights, the same batches in the same order, the same Adam steps.
    training, _, _, _ = _trained(1)
    for a, b in zip(training.noisy.parameters(), training.twin.parameters()):
        assert torch.allclose(a, b, rtol=0, atol=1e-12)
    assert training.losses["noisy"] == pytest.approx(training.losses["deterministic"], abs=1e-12)


@pytest.mark.slow
def test_twin_steps_are_torch_adams() -> None:
    training, reference, x, y = _trained(1)
    settings = training.settings
    # The twin's steps are torch.optim.Adam's on the same batches in the same order.
    optimizer = torch.optim.Adam(reference.parameters(), lr=settings.learning_rate)
    order = derived_generator(1, "data")
    for _ in range(2):
        for rows in torch.randperm(len(x), generator=order).split(settings.batch_size):
            optimizer.zero_grad()
            nn.functional.cross_entropy(reference(x[rows]), y[rows]).backward()
            optimizer.step()
    for a, b in zip(reference.parameters(), training.twin.parameters()):
        assert torch.allclose(a, b, rtol=0, atol=1e-10)


def test_bad_settings_name_the_field() -> None:
    with pytest.raises(ValueError, match="test_fraction"):
        DigitsSettings(test_fraction=1.0)
    with pytest.raises(ValueError, match="n_conditional"):
        DIGITS_DEFAULTS.replace(n_conditional=0)
    with pytest.raises(ValueError, match="beta"):
        DigitsSettings(beta=-0.1)
    epochs = DIGITS_DEFAULTS.measured_epochs()
    assert epochs[0] == 0 and epochs[-1] == DIGITS_DEFAULTS.epochs


def _seed(mi: list[float], lower: list[float], upper: list[float], gaps: list[float]) -> DigitsSeed:
    epochs = [0, 1, 2]
    metrics = pd.DataFrame(
        {"seed": 0, "epoch": epochs, "layer": 1, "mi_nats": mi, "mi_lower_nats": lower, "mi_upper_nats": upper}
    )
    reps = pd.DataFrame(
        [
            {"epoch": e, "net": net, "layer": 1, "cosine_gap": g, "binned_entropy_nats": 5.0 - e, "test_error": 0.1}
            for e, g in zip(epochs, gaps)
            for net in ("noisy", "deterministic")
        ]
    )
    return DigitsSeed(seed=0, metrics=metrics, representations=reps, timings={})


def test_compression_is_judged_on_the_bounds() -> None:
    # Peak at epoch 1 (3.0 in [2.9, 3.1]), end 2.0 in [1.9, 2.1]: disjoint, a resolved fall.
    resolved = layer_compression(_seed([2.0, 3.0, 2.0], [1.9, 2.9, 1.9], [2.1, 3.1, 2.1], [0.1, 0.2, 0.5]))[0]
    assert (resolved.verdict, resolved.peak_epoch, resolved.end_epoch) == ("resolved fall", 1, 2)
    assert resolved.fall_nats == pytest.approx(1.0) and resolved.gap_change == pytest.approx(0.3) and resolved.clusters
    assert resolved.twin_binned_change == pytest.approx(-1.0)
    # The same fall inside overlapping intervals: unresolved; no clustering (the gap falls).
    unresolved = layer_compression(_seed([2.0, 3.0, 2.0], [1.9, 1.5, 1.9], [2.1, 3.1, 3.2], [0.1, 0.2, 0.1]))[0]
    assert unresolved.verdict == "unresolved fall" and not unresolved.clusters
    flat = layer_compression(_seed([2.0, 2.02, 2.0], [1.9, 1.9, 1.9], [2.1, 2.1, 2.1], [0.1, 0.2, 0.1]))[0]
    assert flat.verdict == "no fall"


def test_proxy_verdict_uses_the_binomial_error() -> None:
    same = ProxyFinding((0.05, 0.06), (0.055, 0.06), n_test=360)
    se = math.sqrt((0.055 * 0.945 + 0.0575 * 0.9425) / 720)
    assert same.std_error == pytest.approx(se) and same.faithful
    assert not ProxyFinding((0.20, 0.22), (0.05, 0.06), n_test=360).faithful


def test_cli_refuses_experiment_names(tmp_path, capsys) -> None:
    assert main(["reproduce", "goldfeld2019-digits", "fig2", "--out", str(tmp_path / "out")]) == 2
    assert "takes no other experiment names" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_end_to_end_tiny_report_and_reuse(tmp_path) -> None:
    out = tmp_path / "out"
    report = reproduce_digits(out, seeds=1, settings=TINY, progress=False, jobs=1)
    text = report.read_text(encoding="utf-8")
    for heading in (
        "## 1. Which layers compress?",
        "## 2. Does compression coincide with clustering?",
        "## 3. Is the noisy net a faithful proxy",
        "## Figures",
    ):
        assert heading in text
    # One row per (seed, layer) in the compression table, 4 layers.
    assert sum(line.startswith("| 0 | ") for line in text.splitlines()) == 4 + 1  # + the proxy table's row
    for stem in ("digits_information", "digits_clustering"):
        assert (out / "digits" / "figures" / f"{stem}.png").stat().st_size > 0
    reps = pd.read_csv(out / "digits" / "seed-0" / "representations.csv")
    assert len(reps) == (TINY.epochs + 1) * 2 * 4
    assert reps["cosine_within"].between(-1, 1).all() and reps["binned_entropy_nats"].ge(0).all()
    metrics = pd.read_csv(out / "digits" / "seed-0" / "noisy" / "metrics.csv")
    assert sorted(metrics["epoch"].unique().tolist()) == TINY.measured_epochs()
    assert (metrics["mi_lower_nats"] <= metrics["mi_nats"] + 1e-12).all()
    assert (metrics["mi_nats"] <= metrics["mi_upper_nats"] + 1e-12).all()
    # A user's edit of the report is kept; the rerun reuses the finished seed and writes beside it.
    report.write_text("my notes\n", encoding="utf-8")
    stamp = (out / "digits" / "seed-0" / "representations.csv").stat().st_mtime_ns
    again = reproduce_digits(out, seeds=1, settings=TINY, progress=False, jobs=1)
    assert again.name == "digits_report-2.md" and report.read_text(encoding="utf-8") == "my notes\n"
    assert (out / "digits" / "seed-0" / "representations.csv").stat().st_mtime_ns == stamp
    # Other settings on the same folder are refused before anything runs.
    with pytest.raises(ValueError, match="other settings"):
        reproduce_digits(out, seeds=1, settings=TINY.replace(epochs=3), progress=False, jobs=1)
    assert REPORT_NAME == "digits_report.md"
