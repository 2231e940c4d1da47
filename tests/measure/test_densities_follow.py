"""Density grids that follow the layer: widened when a layer leaves its grid, recorded per epoch, read,
plotted, checkpointed and resumed; fixed grids stay exactly as they were."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from infoflow import DiscreteUniform, GaussianNoise, InformationProbe, read_run
from infoflow.config.schema import parse_config
from infoflow.measure.densities import DENSITY_REGRID_OUTSIDE, grid_from_samples, widened_grid
from infoflow.plots.run_figures import plot_run
from infoflow.runs.records import EpochRecord, RunRecords, same_grid
from infoflow.training.experiment import run_experiment

BETA = 0.1
POINTS = 1201
# Cheap settings: these tests check the grids, not the estimates.
CHEAP = dict(
    n_samples=200,
    n_conditional=8,
    n_inputs=4,
    bounds=False,
    true_information=False,
    label_information=False,
    density_points=POINTS,
    seed=3,
)


def scaled_identity(scale: float) -> nn.Sequential:
    """T = scale * x + N(0, BETA^2): a layer we move by hand."""
    model = nn.Sequential(nn.Linear(1, 1, bias=False), GaussianNoise(BETA)).double()
    with torch.no_grad():
        model[0].weight.fill_(scale)
    return model


def set_scale(model: nn.Sequential, scale: float) -> None:
    with torch.no_grad():
        model[0].weight.fill_(scale)


INPUTS = DiscreteUniform([-1.0, 1.0])


def _mass_on_grid(density: np.ndarray, grid: np.ndarray) -> float:
    """Trapezoid integral of one unit's density over its grid."""
    return float(np.sum(0.5 * (density[1:] + density[:-1]) * np.diff(grid)))


def test_widened_grid_is_the_union_of_the_old_grid_and_the_samples_span() -> None:
    grid = np.linspace(-3.0, 3.0, 11)
    samples = torch.tensor([[-1.0], [10.0]], dtype=torch.float64)
    # The samples' own grid: [-1, 10] plus its range (11) on each side: [-12, 21].
    assert np.allclose(grid_from_samples(samples, BETA, 11)[[0, -1]], [-12.0, 21.0])
    wider = widened_grid(grid, samples, BETA)
    assert wider.shape == (11,) and np.allclose(wider[[0, -1]], [-12.0, 21.0])
    # A layer that shrinks keeps its grid's span.
    inside = torch.tensor([[0.0], [0.1]], dtype=torch.float64)
    assert np.allclose(widened_grid(wider, inside, BETA)[[0, -1]], [-12.0, 21.0])


def test_a_layer_that_drifts_off_its_first_grid_is_followed() -> None:
    model = scaled_identity(1.0)
    probe = InformationProbe(model, INPUTS, **CHEAP)
    first = probe.record(0)
    # Epoch 0: the samples sit at +-1, the grid spans them plus their range (2) each side.
    first_grid = first.density_grids[0]
    assert np.allclose(first_grid[[0, -1]], [-3.0, 3.0])
    set_scale(model, 10.0)
    moved = probe.record(1)
    # The layer now sits at +-10: on the first grid nearly all its mass would be outside.
    grid = moved.density_grids[0]
    assert grid[0] <= -10.0 - 6 * BETA and grid[-1] >= 10.0 + 6 * BETA and grid.size == POINTS
    assert moved.density_outside[0] < DENSITY_REGRID_OUTSIDE
    # The recorded density holds the mass: it integrates to 1 - (mass outside) up to the grid's
    # trapezoid error (a Gaussian of s.d. BETA on a step of ~0.7: well under 1 %).
    mass = _mass_on_grid(moved.densities[0][0].astype(np.float64), grid)
    assert abs(mass - 1.0) < 0.02
    # Back inside: the grid does not shrink or move.
    set_scale(model, 1.0)
    back = probe.record(2)
    assert np.array_equal(back.density_grids[0], grid)


def test_a_fixed_grid_does_not_follow_and_records_the_mass_outside() -> None:
    model = scaled_identity(1.0)
    probe = InformationProbe(model, INPUTS, density_limits=[[-3.0, 3.0]], **CHEAP)
    probe.record(0)
    set_scale(model, 10.0)
    with pytest.warns(UserWarning, match="lies outside the density grid"):
        moved = probe.record(1)
    assert np.allclose(moved.density_grids[0][[0, -1]], [-3.0, 3.0])
    # Every sample sits at +-10, 70 noise s.d. beyond the grid: all the mass is outside.
    assert moved.density_outside[0] > 1.0 - 1e-9


def test_the_run_folder_records_each_epochs_grid_and_reads_and_plots_it(tmp_path: Path) -> None:
    model = scaled_identity(1.0)
    run_dir = tmp_path / "run"
    with InformationProbe(model, INPUTS, run_dir=run_dir, **CHEAP) as probe:
        for epoch, scale in enumerate([1.0, 1.0, 10.0, 12.0]):
            set_scale(model, scale)
            probe.record(epoch)
    run = read_run(run_dir)
    assert run.grids[0].shape == (1, 4, POINTS)
    grids = run.layer_grids(3, 1)
    assert grids.shape == (4, POINTS)
    assert np.array_equal(grids[0], grids[1]) and not np.array_equal(grids[1], grids[2])
    assert np.allclose(grids[0][[0, -1]], [-3.0, 3.0])
    # Each epoch's density, on its own grid, holds the mass; metrics.csv has the mass outside.
    densities = run.layer_densities(3, 1)
    for epoch in range(4):
        assert abs(_mass_on_grid(densities[epoch, 0].astype(np.float64), grids[epoch]) - 1.0) < 0.02
    outside = run.metrics.sort_values("epoch")["density_outside"].to_numpy()
    assert outside.shape == (4,) and np.all(outside < DENSITY_REGRID_OUTSIDE)
    figures = plot_run(run_dir)
    assert any(path.name == "density_layer1.png" for path in figures)


def test_a_run_that_never_regrids_writes_one_grid_per_layer(tmp_path: Path) -> None:
    model = scaled_identity(1.0)
    run_dir = tmp_path / "run"
    with InformationProbe(model, INPUTS, run_dir=run_dir, **CHEAP) as probe:
        probe.record(0)
        probe.record(1)
    run = read_run(run_dir)
    assert run.grids[0].shape == (POINTS,)
    assert run.layer_grids(3, 1).shape == (2, POINTS)


def _record(epoch: int, grid: np.ndarray) -> EpochRecord:
    density = np.exp(-0.5 * grid**2)[None, :].astype(np.float32)
    return EpochRecord(
        epoch=epoch,
        accuracy=math.nan,
        loss=math.nan,
        learning_rate=math.nan,
        mi_input=[0.0],
        densities=[density],
        density_outside=[0.0],
        density_grids=[grid],
    )


def test_records_checkpoint_their_grids_and_old_checkpoints_still_load() -> None:
    narrow, wide = np.linspace(-1.0, 1.0, 5), np.linspace(-4.0, 4.0, 5)
    records = RunRecords([0, 1], 1, grids=[narrow.copy()])
    records.add(0, _record(0, narrow))
    records.add(0, _record(1, wide))
    records.add(1, _record(0, narrow + 1e-13))  # the same grid up to rounding
    arrays = records.density_arrays()
    assert arrays["grid_layer1"].shape == (2, 2, 5)
    assert np.array_equal(arrays["grid_layer1"][0, 1], wide)
    assert np.array_equal(arrays["grid_layer1"][1, 0], narrow)
    assert np.isnan(arrays["grid_layer1"][1, 1]).all()  # seed 1 has not reached epoch 1
    assert [g is not None and np.array_equal(g, wide) for g in records.latest_grids(0)] == [True]
    restored = RunRecords([0, 1], 1)
    restored.load_state(copy.deepcopy(records.state()))
    assert restored.npz_bytes() == records.npz_bytes()
    # A checkpoint from before grids followed their layers: every record on the run's grid.
    old_state = records.state()
    del old_state["record_grids"], old_state["record_grid_index"]
    old = RunRecords([0, 1], 1)
    old.load_state(old_state)
    assert old.density_arrays()["grid_layer1"].shape == (5,)
    assert same_grid(narrow, narrow + 1e-13) and not same_grid(narrow, wide)


def test_reader_refuses_a_grid_of_the_wrong_shape(tmp_path: Path) -> None:
    model = scaled_identity(1.0)
    run_dir = tmp_path / "run"
    with InformationProbe(model, INPUTS, run_dir=run_dir, **CHEAP) as probe:
        probe.record(0)
    with np.load(run_dir / "densities.npz") as archive:
        arrays = dict(archive)
    arrays["grid_layer1"] = arrays["grid_layer1"][None, :]
    np.savez(run_dir / "densities.npz", **arrays)
    with pytest.raises(ValueError, match=r"grid_layer1 has shape \(1, 1201\), expected \(G,\) or \(1, 1, G\)"):
        read_run(run_dir)


DRIFTING = """
name = "drifting"
seeds = [0, 1]

[network]
widths = [1, 1]
activations = ["linear"]
init = "zeros"
beta = 0.05

[inputs]
kind = "gaussian"
mean = 0.0
var = 1.0

[training]
epochs = 3
learning_rate = 0.3
train_size = 40
batch_size = 10
test_size = 20

[estimation]
n_samples = 40
n_conditional = 8
n_inputs = 4
bounds = false
label_information = false
true_information = false

[density]
points = 24
"""


def test_an_experiments_auto_grid_follows_and_resumes_exactly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A zero-initialised linear layer starts as pure noise (grid +-6 beta) and spreads as it learns.
    config = parse_config(DRIFTING)
    assert config.density.limits == ("auto",)
    reference = run_experiment(config, tmp_path / "reference", progress=False, checkpoint_interval_s=0)
    run = read_run(reference)
    assert run.grids[0].shape == (2, 4, 24)
    for seed in (0, 1):
        grids = run.layer_grids(seed, 1)
        assert np.allclose(grids[0][[0, -1]], [-0.3, 0.3])  # epoch 0: S = 0, the grid is +-6 beta
        assert grids[-1][-1] > grids[0][-1]  # widened by the end
    assert (run.metrics["density_outside"] < DENSITY_REGRID_OUTSIDE).all()
    # Resuming from a checkpoint taken at any epoch gives the same files, grids included.
    checkpoints: list[dict] = []
    original = torch.save

    def capture(state: dict, target: object) -> None:
        checkpoints.append(copy.deepcopy(state))
        original(state, target)

    monkeypatch.setattr(torch, "save", capture)
    run_experiment(config, tmp_path / "captured", progress=False, checkpoint_interval_s=0)
    monkeypatch.undo()
    for index in (2, 5):  # mid-way through seed 0 and through seed 1, after a regrid
        run_dir = tmp_path / f"from{index}"
        run_dir.mkdir()
        (run_dir / "config.toml").write_bytes((reference / "config.toml").read_bytes())
        original(checkpoints[index], run_dir / "checkpoint.pt")
        run_experiment(config, run_dir, resume=True, progress=False)
        for name in ("metrics.csv", "densities.npz"):
            assert (run_dir / name).read_bytes() == (reference / name).read_bytes(), (index, name)
