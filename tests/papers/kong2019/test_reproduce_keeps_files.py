"""``infoflow reproduce`` never replaces a file it did not write (issue 19)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import infoflow.papers.kong2019.reproduce as reproduce_module
from infoflow import cli
from infoflow.config.schema import ExperimentConfig, load_config


def shortened(name: str) -> ExperimentConfig:
    config = load_config(name)
    training = dataclasses.replace(config.training, epochs=3, train_size=40, test_size=100, batch_size=20)
    estimation = dataclasses.replace(config.estimation, n_samples=200, n_conditional=50, n_inputs=10, schedule="every")
    return dataclasses.replace(config, training=training, estimation=estimation)


def test_reproduce_keeps_a_users_report(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setattr(reproduce_module, "load_config", shortened)
    rep = tmp_path / "rep"
    rep.mkdir()
    (rep / "report.md").write_text("my report\n")
    assert cli.main(["reproduce", "fig6", "--out", str(rep), "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert (rep / "report.md").read_text() == "my report\n"
    assert (rep / "report-2.md").is_file() and (rep / "report-2.html").is_file()
    assert not (rep / "report.html").exists()  # the pair goes beside the user's file together
    assert "report-2.md" in captured.out and "kept report.md" in captured.err
    # Rerunning rewrites its own report-2.* only; the user's file is still there.
    assert cli.main(["reproduce", "fig6", "--out", str(rep), "--no-progress"]) == 0
    assert (rep / "report.md").read_text() == "my report\n"
    assert not (rep / "report-3.md").exists()
    # A user's report.html alone also moves the pair (report.md stays free of ours).
    (rep / "report-2.html").write_text("<p>edited by hand</p>")
    assert cli.main(["reproduce", "fig6", "--out", str(rep), "--no-progress"]) == 0
    assert (rep / "report-2.html").read_text() == "<p>edited by hand</p>"
    assert (rep / "report-3.md").is_file() and (rep / "report-3.html").is_file()


def test_report_times_are_the_times_measured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The wall time stated is this command's; a no-op rerun states its own short wall time."""
    import json
    import re
    import time

    monkeypatch.setattr(reproduce_module, "load_config", shortened)
    out = tmp_path / "rep"
    started = time.perf_counter()
    report = reproduce_module.reproduce(["fig2", "fig6"], out, progress=False, jobs=1)
    first_wall = time.perf_counter() - started
    text = report.read_text()
    (wall,) = map(float, re.findall(r"Wall time of this command: ([0-9.]+) s", text))
    assert 0 < wall <= first_wall + 0.05  # stated to 0.1 s
    compute = sum(
        json.loads((out / name / "manifest.json").read_text())["timings_s"]["total"] for name in ("fig2", "fig6")
    )
    (stated,) = map(float, re.findall(r"Compute time of the experiments: ([0-9.]+) s", text))
    assert stated == pytest.approx(compute, abs=0.051)
    assert "Total run time" not in text
    # A rerun that reuses both runs: its own wall time, the same compute time.
    started = time.perf_counter()
    reproduce_module.reproduce(["fig2", "fig6"], out, progress=False, jobs=1)
    rerun_wall = time.perf_counter() - started
    again = report.read_text()
    (wall_again,) = map(float, re.findall(r"Wall time of this command: ([0-9.]+) s", again))
    assert wall_again <= rerun_wall + 0.05
    assert f"Compute time of the experiments: {stated:.1f} s" in again
