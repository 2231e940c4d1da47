"""End to end: ``infoflow reproduce`` on shortened copies of the shipped experiments."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import infoflow.papers.kong2019.reproduce as reproduce_module
from infoflow import cli
from infoflow.config.schema import ExperimentConfig, load_config


def shortened(name: str) -> ExperimentConfig:
    """The shipped config with a few epochs and small sample sizes (seconds, not minutes)."""
    config = load_config(name)
    training = dataclasses.replace(config.training, epochs=4, train_size=40, test_size=100, batch_size=20)
    estimation = dataclasses.replace(config.estimation, n_samples=200, n_conditional=50, n_inputs=10, schedule="every")
    return dataclasses.replace(config, training=training, estimation=estimation)


@pytest.fixture
def short_configs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reproduce_module, "load_config", shortened)


def test_reproduce_writes_runs_figures_and_report(short_configs: None, tmp_path: Path) -> None:
    out = tmp_path / "seed"
    report = reproduce_module.reproduce(["fig2", "fig4"], out, seeds=2, progress=False)
    assert report == out / "report.md"
    for name, layers in (("fig2", 1), ("fig4", 2)):
        run = out / name
        assert (run / "manifest.json").is_file() and (run / "densities.npz").is_file()
        rows = (run / "metrics.csv").read_text().strip().splitlines()
        assert len(rows) == 1 + 2 * 5 * layers  # header + seeds x epochs 0..4 x layers
        figures = {path.name for path in (run / "figures").iterdir()}
        assert {"mi.png", "overview.png", "density_layer1.png"} <= figures
    markdown = report.read_text()
    html = (out / "report.html").read_text()
    for claim in ("C1", "C4", "C7"):
        assert claim in markdown and claim in html
    assert "fig2/figures/overview.png" in markdown
    # Each claim's pass fraction across the seeds, k/K, in both summary tables.
    assert "| fig2 | C1 |" in markdown and "/2 (" in markdown and "/2 (" in html
    # Four epochs cannot show the seed's phenomena: the report must say so rather than pass.
    assert "FAIL" in markdown


def test_reproduce_again_reuses_finished_runs(short_configs: None, tmp_path: Path) -> None:
    out = tmp_path / "seed"
    reproduce_module.reproduce(["fig2"], out, progress=False)
    metrics = out / "fig2" / "metrics.csv"
    before = (metrics.stat().st_mtime_ns, metrics.read_bytes())
    reproduce_module.reproduce(["fig2"], out, progress=False)
    assert (metrics.stat().st_mtime_ns, metrics.read_bytes()) == before


def test_reproduce_refuses_a_changed_config_over_an_existing_run(short_configs: None, tmp_path: Path) -> None:
    out = tmp_path / "seed"
    reproduce_module.reproduce(["fig2"], out, progress=False)
    with pytest.raises(ValueError, match="seeds"):
        reproduce_module.reproduce(["fig2"], out, seeds=3, progress=False)


def test_cli_reproduce_unknown_experiment_is_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert cli.main(["reproduce", "fig9", "--out", str(tmp_path / "x")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "fig9" in error and "Traceback" not in error
    assert not (tmp_path / "x").exists()


def test_parallel_and_serial_reproductions_are_identical(short_configs: None, tmp_path: Path) -> None:
    serial = tmp_path / "serial"
    parallel = tmp_path / "parallel"
    reproduce_module.reproduce(["fig2", "fig3"], serial, jobs=1, progress=False)
    reproduce_module.reproduce(["fig2", "fig3"], parallel, jobs=2, progress=False)
    for name in ("fig2", "fig3"):
        for file in ("metrics.csv", "densities.npz"):
            assert (serial / name / file).read_bytes() == (parallel / name / file).read_bytes()


def test_bad_jobs_is_refused_before_anything_runs(short_configs: None, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="jobs"):
        reproduce_module.reproduce(["fig2"], tmp_path / "x", jobs=0, progress=False)
    assert not (tmp_path / "x").exists()


def test_reproducing_a_subset_keeps_the_other_experiments_in_the_report(short_configs: None, tmp_path: Path) -> None:
    out = tmp_path / "seed"
    reproduce_module.reproduce(["fig2", "fig6"], out, progress=False)
    markdown = reproduce_module.reproduce(["fig6"], out, progress=False).read_text()
    assert "## fig2" in markdown and "## fig6" in markdown


def test_reproduce_runs_through_the_sweep_executor(
    short_configs: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import infoflow.sweeps.seeds as seeds_module

    calls = []
    real_run_tasks = seeds_module.run_tasks

    def spy(tasks, **kwargs):  # noqa: ANN001, ANN202 - records what reproduce asks for
        calls.append(([task.label for task in tasks], [task.config.seeds for task in tasks], kwargs))
        return real_run_tasks(tasks, **kwargs)

    monkeypatch.setattr(seeds_module, "run_tasks", spy)
    reproduce_module.reproduce(["fig2"], tmp_path / "seed", seeds=3, jobs=1, progress=False)
    # One task per (experiment, seed), merged into one run folder, drawn after the merge.
    assert calls == [(["fig2 seed 0", "fig2 seed 1", "fig2 seed 2"], [(0,), (1,), (2,)], calls[0][2])]
    assert calls[0][2]["workers"] == 1 and calls[0][2]["plot"] is False
    assert (tmp_path / "seed" / "fig2" / "figures" / "overview.png").is_file()
