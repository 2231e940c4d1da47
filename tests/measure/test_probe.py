"""InformationProbe in a plain torch loop: Adam, cross-entropy over 3 classes, a run folder that plots and loads."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from infoflow import FiniteDataset, GaussianNoise, InformationProbe, measure_information, read_run
from infoflow.plots.run_figures import plot_run

BETA = 0.1


def three_blobs(n_per_class: int = 20) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    centres = np.array([[-1.0, 0.0], [1.0, 0.0], [0.0, 1.5]])
    x = np.concatenate([centre + 0.3 * rng.normal(size=(n_per_class, 2)) for centre in centres])
    y = np.repeat(np.arange(3), n_per_class)
    return x, y


def users_model() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 4), nn.Tanh(), GaussianNoise(BETA), nn.Linear(4, 3), GaussianNoise(BETA))


PROBE_SETTINGS = dict(n_samples=200, n_conditional=20, n_inputs=10, seed=5, density_points=40)


def train_with_probe(
    model: nn.Module, probe: InformationProbe, data: FiniteDataset, epochs: int, first: int = 0
) -> list:
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    x, y = data.x.float(), data.y
    records = []
    for epoch in range(first, epochs + 1):
        loss = math.nan
        if epoch > 0:
            optimizer.zero_grad()
            batch_loss = nn.functional.cross_entropy(model(x), y)
            batch_loss.backward()
            optimizer.step()
            loss = float(batch_loss.detach())
        with torch.no_grad():
            accuracy = float((model(x).argmax(1) == y).float().mean())
        records.append(probe.record(epoch, accuracy=accuracy, loss=loss, lr=0.05))
    return records


def test_probe_in_a_plain_torch_loop_writes_a_run_that_loads_and_plots(tmp_path):
    x, y = three_blobs()
    data = FiniteDataset(x, y)
    model = users_model()
    run_dir = tmp_path / "run"
    with InformationProbe(model, data, run_dir=run_dir, **PROBE_SETTINGS) as probe:
        records = train_with_probe(model, probe, data, epochs=3)
    run = read_run(run_dir)
    metrics = run.metrics
    assert list(metrics.columns[:9]) == [
        "seed", "epoch", "layer", "mi_nats", "true_mi_nats", "mi_label_nats", "accuracy", "loss", "lr"
    ]  # fmt: skip
    assert len(metrics) == 4 * 2 and sorted(metrics["epoch"].unique()) == [0, 1, 2, 3]
    assert metrics["mi_nats"].notna().all() and metrics["std_error_nats"].notna().all()
    # Labels come from the data set: 0 <= I(T;Y) <= log 3, up to the Monte-Carlo error of the
    # 3- and 4-D entropies (each aimed at the same standard error as I(X;T_l)'s halves).
    slack = 4 * metrics["std_error_nats"] + 1e-9
    assert (metrics["mi_label_nats"] >= -slack).all() and (metrics["mi_label_nats"] <= math.log(3) + slack).all()
    # Data processing: I(X;T_l) <= H(X) = log 60 (plus the Monte-Carlo error of layer 2's 3-D entropies).
    assert (metrics["mi_nats"] <= math.log(60) + 4 * metrics["std_error_nats"] + 1e-9).all()
    assert [r.mi_input for r in records] == [
        list(metrics[metrics.epoch == e].sort_values("layer").mi_nats) for e in range(4)
    ]
    assert run.manifest["status"] == "complete"
    assert [density.shape for density in run.densities] == [(1, 4, 4, 40), (1, 4, 3, 40)]
    figures = plot_run(run_dir)
    assert any(path.name == "mi.png" for path in figures)


def test_probe_numbers_are_those_of_measure_information_with_the_same_stream():
    x, y = three_blobs()
    data = FiniteDataset(x, y)
    model = users_model()
    probe = InformationProbe(model, data, densities=False, **PROBE_SETTINGS)
    first, second = probe.record(0), probe.record(1)
    generator = torch.Generator().manual_seed(5)
    settings = dict(n_samples=200, n_conditional=20, n_inputs=10, generator=generator)
    assert first.mi_input == measure_information(model, data, **settings).mi_input
    again = measure_information(model, data, **settings)
    assert second.mi_input == again.mi_input
    # The probe records the measurement's bounds and flags as they are.
    assert second.mi_lower == again.mi_input_lower and second.mi_upper == again.mi_input_upper
    assert second.resolved == again.mi_input_resolved and second.label_resolved == again.mi_label_resolved
    assert second.mi_label_lower == again.mi_label_lower and second.mi_label_upper == again.mi_label_upper
    assert all(lo <= mi <= hi for lo, mi, hi in zip(second.mi_lower, second.mi_input, second.mi_upper))


def test_a_probe_with_bounds_off_records_none():
    x, y = three_blobs()
    model = users_model()
    probe = InformationProbe(model, FiniteDataset(x, y), densities=False, bounds=False, **PROBE_SETTINGS)
    record = probe.record(0)
    assert record.mi_lower is None and record.resolved is None and record.mi_label_upper is None
    assert probe.settings.bounds is False and "bounds = false" in probe.config_text()


def test_probe_resumes_to_the_same_files(tmp_path):
    x, y = three_blobs()
    data = FiniteDataset(x, y)

    straight_model = users_model()
    straight = InformationProbe(straight_model, data, run_dir=tmp_path / "straight", **PROBE_SETTINGS)
    train_with_probe(straight_model, straight, data, epochs=3)

    model = users_model()
    probe = InformationProbe(model, data, run_dir=tmp_path / "resumed", **PROBE_SETTINGS)
    train_with_probe(model, probe, data, epochs=1)
    state = probe.state_dict()
    saved_model = {name: value.clone() for name, value in model.state_dict().items()}
    del probe
    # A new process would rebuild the model and probe, then load both states.
    model.load_state_dict(saved_model)
    resumed = InformationProbe(model, data, run_dir=tmp_path / "resumed", resume=True, **PROBE_SETTINGS)
    resumed.load_state_dict(state)
    # The loop's own optimizer state is the loop's business; this loop rebuilds Adam, so compare
    # only the measurements of the epochs before the interruption and the file layout.
    train_with_probe(model, resumed, data, epochs=3, first=2)
    straight_rows = read_run(tmp_path / "straight").metrics
    resumed_rows = read_run(tmp_path / "resumed").metrics
    assert len(resumed_rows) == len(straight_rows)
    early = straight_rows.epoch <= 1
    assert resumed_rows[early].equals(straight_rows[early])


def test_probe_refuses_an_occupied_folder_and_bad_settings(tmp_path):
    (tmp_path / "mine.txt").write_text("a user's file")
    with pytest.raises(ValueError, match="not empty"):
        InformationProbe(users_model(), FiniteDataset(*three_blobs()), run_dir=tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["mine.txt"]
    with pytest.raises(ValueError, match="n_samples"):
        InformationProbe(users_model(), FiniteDataset(*three_blobs()), n_samples=0)
    with pytest.raises(ValueError, match="density_limits"):
        InformationProbe(users_model(), FiniteDataset(*three_blobs()), density_limits=[(1.0, -1.0), (0, 1)])


def test_density_mass_outside_the_grid_is_recorded_and_warned():
    x, y = three_blobs()
    model = users_model()
    probe = InformationProbe(
        model, FiniteDataset(x, y), density_limits=[(-0.05, 0.05), (-50, 50)], **{**PROBE_SETTINGS, "n_samples": 50}
    )
    with pytest.warns(UserWarning, match="outside the density grid"):
        record = probe.record(0)
    assert record.density_outside[0] > 0.5 and record.density_outside[1] < 1e-12


def test_a_probe_locks_its_run_folder_until_closed(tmp_path):
    from infoflow.runs.lock import RunFolderBusy

    data = FiniteDataset(*three_blobs())
    first = InformationProbe(users_model(), data, run_dir=tmp_path / "run", **PROBE_SETTINGS)
    with pytest.raises(RunFolderBusy, match="in use"):
        InformationProbe(users_model(), data, run_dir=tmp_path / "run", resume=True, **PROBE_SETTINGS)
    first.close()
    second = InformationProbe(users_model(), data, run_dir=tmp_path / "run", resume=True, **PROBE_SETTINGS)
    second.close()
