"""plot_run and plot_comparison on synthetic run folders: the expected files, valid, nothing else touched."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from synthetic_runs import mixture_densities, write_run

from infoflow.plots.run_figures import plot_comparison, plot_run
from infoflow.runs.format import FIGURE_INDEX

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EPOCHS = np.arange(0, 40)
GRID = np.linspace(-1.2, 1.2, 121)


def _snapshot(run_dir: Path) -> dict[str, tuple[int, int]]:
    """Size and mtime of every file outside figures/."""
    return {
        str(path.relative_to(run_dir)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in run_dir.rglob("*")
        if path.is_file() and "figures" not in path.relative_to(run_dir).parts
    }


def _synthetic(tmp_path: Path, name: str, *, n_layers: int, n_seeds: int, true_mi: bool, units: int = 1) -> Path:
    rng = np.random.default_rng(0)
    base = np.log1p(EPOCHS / 5.0)[None, :, None] * np.arange(1, n_layers + 1)[None, None, :] / n_layers
    mi = base + rng.normal(0, 0.02, (n_seeds, EPOCHS.size, n_layers))
    mi[:, 1::4, :] = np.nan  # MI on a schedule: some epochs unmeasured
    centres = np.outer(np.minimum(EPOCHS / 20.0, 1.0), [-0.8, 0.0, 0.8])
    density = mixture_densities(GRID, centres)  # (E, G)
    densities = [
        np.broadcast_to(density[None, :, None, :], (n_seeds, EPOCHS.size, units if layer == 0 else 1, GRID.size))
        for layer in range(n_layers)
    ]
    return write_run(
        tmp_path / name,
        name="fig3" if n_layers == 2 else "fig2",
        epochs=EPOCHS,
        mi=mi,
        densities=densities,
        grids=[GRID] * n_layers,
        seeds=range(n_seeds),
        true_mi=base.repeat(n_seeds, axis=0) + 0.01 if true_mi else None,
        mi_label=np.where(np.isfinite(mi), 0.5 * mi, np.nan) if n_layers == 2 else None,
        estimators={"kl_upper": mi + 0.1} if n_layers == 2 else None,
        extra_config='\n[inputs]\nkind = "discrete_uniform"\nvalues = [-3.0, -1.0, 1.0, 3.0]\n',
    )


def _check_files(paths: list[Path], expected_stems: set[str], run_dir: Path) -> None:
    figures = run_dir / "figures"
    assert {p.name for p in paths} == {f"{stem}.{ext}" for stem in expected_stems for ext in ("png", "svg")}
    written = sorted(p.name for p in figures.iterdir() if p.name != FIGURE_INDEX)
    assert written == sorted(p.name for p in paths)  # no temp files left
    assert (figures / FIGURE_INDEX).read_text().split() == sorted({p.stem for p in paths})
    for path in paths:
        assert path.parent == figures and path.stat().st_size > 1000
        if path.suffix == ".png":
            assert path.read_bytes()[:8] == PNG_SIGNATURE
        else:
            assert b"<svg" in path.read_bytes()[:2000]


def test_plot_run_one_layer_one_seed_with_gaps_and_exact_mi(tmp_path):
    run = _synthetic(tmp_path, "single", n_layers=1, n_seeds=1, true_mi=True)
    before = _snapshot(run)
    paths = plot_run(run)
    _check_files(paths, {"mi", "density_layer1", "overview"}, run)
    assert _snapshot(run) == before


def test_plot_run_two_layers_three_seeds_with_labels_and_wide_layer(tmp_path):
    run = _synthetic(tmp_path, "multi", n_layers=2, n_seeds=3, true_mi=False, units=2)
    before = _snapshot(run)
    paths = plot_run(run)
    _check_files(paths, {"mi", "density_layer1", "density_layer2", "information_plane", "overview"}, run)
    assert _snapshot(run) == before
    # Re-plotting replaces the figures in place.
    assert plot_run(run) == paths


def test_plot_run_without_densities_draws_mi_only(tmp_path):
    run = _synthetic(tmp_path, "nodens", n_layers=1, n_seeds=1, true_mi=False)
    (run / "densities.npz").unlink()
    _check_files(plot_run(run), {"mi", "overview"}, run)


def test_plot_run_rejects_a_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(ValueError, match="config.toml is missing"):
        plot_run(tmp_path)
    assert not (tmp_path / "figures").exists()


def test_plot_comparison_writes_one_file(tmp_path):
    first = _synthetic(tmp_path, "a", n_layers=1, n_seeds=1, true_mi=False)
    second = _synthetic(tmp_path, "b", n_layers=2, n_seeds=3, true_mi=False)
    out = plot_comparison({"one layer": first, "two layers": second}, tmp_path / "cmp" / "compare.png")
    assert out.read_bytes()[:8] == PNG_SIGNATURE
    assert sorted(p.name for p in out.parent.iterdir()) == ["compare.png"]
    with pytest.raises(ValueError, match=".png or .svg"):
        plot_comparison([first], tmp_path / "compare.pdf")
    assert math.isfinite(out.stat().st_size)


def test_plot_run_draws_the_bounds_band_and_unresolved_points(tmp_path):
    # A real (tiny) run: its metrics.csv carries the bound columns, some epochs unresolved.
    import tomllib

    import tomli_w

    from infoflow.config.schema import parse_config
    from infoflow.plots.run_figures import bound_envelope
    from infoflow.runs.reader import read_run
    from infoflow.training.experiment import run_experiment

    config = {
        "name": "tiny-band",
        "seeds": [0, 1],
        "network": {"preset": "tanh"},
        "inputs": {"kind": "gaussian", "var": 0.25},
        "training": {"epochs": 2, "learning_rate": 0.05, "train_size": 20, "batch_size": 10, "test_size": 20},
        "estimation": {"n_samples": 20, "n_conditional": 8, "n_inputs": 4},
        "density": {"points": 8},
    }
    run_dir = run_experiment(parse_config(tomli_w.dumps(config), source="tiny"), tmp_path / "run", progress=False)
    run = read_run(run_dir)
    for layer in range(1, run.n_layers + 1):
        epochs, lower, upper, unresolved = bound_envelope(run, layer)
        assert epochs.tolist() == run.epochs.tolist() and unresolved.dtype == bool
        mean = np.nanmean(run.mi[:, :, layer - 1], axis=0)
        assert np.all(lower <= mean + 1e-12) and np.all(mean <= upper + 1e-12)
        flags = run.bounds["resolved"][:, :, layer - 1]
        assert unresolved.tolist() == (flags == 0).any(axis=0).tolist()
        label_band = bound_envelope(run, layer, "mi_label")
        assert label_band is not None and np.all(label_band[1] <= label_band[2])
    paths = plot_run(run_dir)
    assert {path.stem for path in paths} >= {"mi", "information_plane", "overview"}
    assert all(path.stat().st_size > 0 for path in paths)
    assert tomllib.loads((run_dir / "config.toml").read_text())["name"] == "tiny-band"
    compared = plot_comparison({"bounded": run_dir}, tmp_path / "compare.png")
    assert compared.read_bytes().startswith(PNG_SIGNATURE)


def test_a_run_without_bounds_has_no_band(tmp_path):
    from infoflow.plots.run_figures import bound_envelope
    from infoflow.runs.reader import read_run

    run_dir = _synthetic(tmp_path, "nobounds", n_layers=1, n_seeds=1, true_mi=False)
    assert bound_envelope(read_run(run_dir), 1) is None
