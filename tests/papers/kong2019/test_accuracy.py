"""The SP accuracy study: snapshots, error aggregation, claim requirements, outputs and the CLI."""

from __future__ import annotations

import csv
import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from infoflow.cli import main
from infoflow.config.schema import config_to_toml, load_config
from infoflow.estimators.coverage import COVERAGE_CSV_COLUMNS
from infoflow.estimators.truth import true_mutual_information
from infoflow.papers.kong2019.accuracy import (
    OUTPUT_FILES,
    QUICK_COVERAGE_CASES,
    QUICK_COVERAGE_SEEDS,
    QUICK_EXPERIMENTS,
    QUICK_REPEATS,
    QUICK_SAMPLE_SIZES,
    AccuracyRow,
    ClaimEffect,
    Snapshot,
    accuracy_study,
    samples_needed,
    snapshot_networks,
    summarize_errors,
)
from infoflow.training.experiment import build_trainer


@pytest.fixture(scope="module")
def quick_snapshots() -> list[Snapshot]:
    return snapshot_networks(QUICK_EXPERIMENTS)


@pytest.fixture(scope="module")
def quick_study_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("study") / "accuracy"
    assert main(["accuracy", "--out", str(out), "--quick", "--no-progress"]) == 0
    return out


def read_rows(out: Path, name: str = "accuracy.csv") -> list[dict[str, str]]:
    with open(out / name, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def assert_one_line_error(code: int, err: str, *fragments: str) -> None:
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("infoflow: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


# ----------------------------------------------------------------------------------------------
# The quick study, end to end
# ----------------------------------------------------------------------------------------------


def test_quick_study_writes_its_outputs(quick_study_dir: Path) -> None:
    assert sorted(entry.name for entry in quick_study_dir.iterdir()) == sorted(OUTPUT_FILES)
    assert (quick_study_dir / "accuracy.png").read_bytes().startswith(b"\x89PNG")
    assert b"<svg" in (quick_study_dir / "accuracy.svg").read_bytes()[:1000]
    rows = read_rows(quick_study_dir)
    # 2 experiments x 3 snapshots, fig2 one layer, fig4 two layers, 2 sample sizes.
    assert len(rows) == (3 * 1 + 3 * 2) * len(QUICK_SAMPLE_SIZES)
    assert {row["experiment"] for row in rows} == set(QUICK_EXPERIMENTS)
    assert {int(row["n_samples"]) for row in rows} == set(QUICK_SAMPLE_SIZES)
    assert all(row["n_samples"] == row["n_conditional"] and int(row["n_repeats"]) == QUICK_REPEATS for row in rows)
    markdown = (quick_study_dir / "accuracy.md").read_text(encoding="utf-8")
    assert "| n = 100 | n = 300 |" in markdown
    assert "How many samples do the claims need?" in markdown
    assert "| C1 | fig2 |" in markdown and "| C4 | fig4 |" in markdown


def test_quick_study_writes_the_coverage_table(quick_study_dir: Path) -> None:
    with open(quick_study_dir / "coverage.csv", newline="", encoding="utf-8") as handle:
        assert tuple(next(csv.reader(handle))) == COVERAGE_CSV_COLUMNS
    rows = read_rows(quick_study_dir, "coverage.csv")
    # The quick cases are two-layer chains: one row per (case, layer).
    assert len(rows) == 2 * len(QUICK_COVERAGE_CASES)
    assert len({row["case"] for row in rows}) == len(QUICK_COVERAGE_CASES)
    for row in rows:
        held, seeds, fraction = int(row["held"]), int(row["seeds"]), float(row["fraction"])
        assert seeds == QUICK_COVERAGE_SEEDS and 0 <= held <= seeds
        assert 0.0 <= fraction <= 1.0 and fraction == held / seeds
        assert 0.0 <= float(row["mean_width_nats"]) <= float(row["max_width_nats"])
        assert float(row["truth_low_nats"]) <= float(row["truth_high_nats"])
    markdown = (quick_study_dir / "accuracy.md").read_text(encoding="utf-8")
    # The coverage section follows the accuracy tables.
    assert markdown.index("## Coverage of the bounds") > markdown.index("How many samples do the claims need?")
    assert "| case | layer | truth (nats) | held | mean width | max width | s/seed |" in markdown


def test_table_exact_values_are_the_truth_of_the_snapshots(
    quick_study_dir: Path, quick_snapshots: list[Snapshot]
) -> None:
    # Training is deterministic (seed 0), so these snapshots are the ones the CLI study used.
    rows = read_rows(quick_study_dir)
    markdown = (quick_study_dir / "accuracy.md").read_text(encoding="utf-8")
    assert len(quick_snapshots) == 6
    for snapshot in quick_snapshots:
        exact = true_mutual_information(snapshot.net, snapshot.inputs)
        for layer, value in enumerate(exact, start=1):
            mine = [
                row
                for row in rows
                if (row["experiment"], int(row["epoch"]), int(row["layer"]))
                == (snapshot.experiment, snapshot.epoch, layer)
            ]
            assert len(mine) == len(QUICK_SAMPLE_SIZES)
            for row in mine:
                assert float(row["exact_mi_nats"]) == value
                # bias = mean - exact, as written.
                assert float(row["bias_nats"]) == pytest.approx(float(row["mean_mi_nats"]) - value, abs=1e-12)
            assert (
                f"| {snapshot.experiment} | {snapshot.epoch} ({snapshot.phase}) | {layer} | {value:.4f} |" in markdown
            )


def test_snapshots_are_the_shipped_runs_networks(tmp_path: Path) -> None:
    # Measuring rarely must not change training: compare with the shipped estimation settings.
    config = load_config("fig2")
    config = dataclasses.replace(config, training=dataclasses.replace(config.training, epochs=12))
    path = tmp_path / "fig2.toml"
    path.write_text(config_to_toml(config), encoding="utf-8")
    (snapshot,) = snapshot_networks([str(path)], epochs={"fig2": [12]})
    trainer = build_trainer(config, 0)
    for _record in trainer.run():
        pass
    for mine, shipped in zip(snapshot.net.parameters(), trainer.net.parameters(), strict=True):
        assert torch.equal(mine, shipped)
    assert (snapshot.experiment, snapshot.epoch) == ("fig2", 12)


# ----------------------------------------------------------------------------------------------
# Aggregation and the estimator's behaviour
# ----------------------------------------------------------------------------------------------


def test_summarize_errors_on_known_mean_and_sd() -> None:
    repeats = 8
    noise = np.random.default_rng(0).standard_normal((2, 3, repeats))
    # Standardised exactly: sample mean 0 and sample SD (divisor R - 1) 1 per row.
    noise = (noise - noise.mean(-1, keepdims=True)) / noise.std(-1, ddof=1, keepdims=True)
    exact = np.array([[0.5, 1.0, 2.0], [0.0, 0.3, 1.5]])
    bias = np.array([[-0.1, 0.0, 0.02], [0.3, -0.05, 0.0]])
    sd = np.array([[0.2, 0.01, 0.05], [0.1, 0.0, 0.3]])
    estimates = exact[..., None] + bias[..., None] + sd[..., None] * noise
    summary = summarize_errors(estimates, exact)
    np.testing.assert_allclose(summary.mean, exact + bias, atol=1e-12)
    np.testing.assert_allclose(summary.bias, bias, atol=1e-12)
    np.testing.assert_allclose(summary.sd, sd, atol=1e-12)
    np.testing.assert_allclose(summary.bias_std_error, sd / math.sqrt(repeats), atol=1e-12)
    # mean squared error = bias^2 + population variance = bias^2 + sd^2 (R - 1) / R
    np.testing.assert_allclose(summary.rmse, np.sqrt(bias**2 + sd**2 * (repeats - 1) / repeats), atol=1e-12)


def test_summarize_errors_needs_two_repeats() -> None:
    with pytest.raises(ValueError, match="R >= 2"):
        summarize_errors(np.ones((3, 1)), np.ones(3))


def test_sp_bias_shrinks_with_n_at_the_fig2_peak(quick_snapshots: list[Snapshot]) -> None:
    peak = next(s for s in quick_snapshots if (s.experiment, s.epoch) == ("fig2", 11))
    repeats = 30
    low, high = accuracy_study([peak], (100, 1000), repeats)
    assert (low.n_samples, high.n_samples) == (100, 1000)
    # Tolerance from the repeats themselves: 4 standard errors of the difference of |bias|.
    tolerance = 4.0 * math.hypot(low.bias_std_error_nats, high.bias_std_error_nats)
    assert abs(low.bias_nats) - abs(high.bias_nats) > tolerance
    # At the peak T_1 is 4 equal clusters far apart (exact I within 2e-4 of log 4), so the estimate
    # is the plug-in entropy of the 4 cluster frequencies, whose bias is -(k - 1)/(2n) + O(1/n^2)
    # (Miller-Madow): -0.015 nats at n = 100.
    assert low.exact_mi_nats == pytest.approx(math.log(4.0), abs=2e-4)
    # 4 standard errors, plus 1e-3 for the O(1/n^2) term and the clusters' slight overlap.
    assert low.bias_nats == pytest.approx(-3.0 / 200.0, abs=4.0 * low.bias_std_error_nats + 1e-3)


def test_study_rejects_bad_settings(quick_snapshots: list[Snapshot]) -> None:
    with pytest.raises(ValueError, match="n_repeats"):
        accuracy_study(quick_snapshots[:1], (100,), 1)
    with pytest.raises(ValueError, match="sample_sizes"):
        accuracy_study(quick_snapshots[:1], (100, 0), 3)
    with pytest.raises(ValueError, match="distinct"):
        accuracy_study(quick_snapshots[:1], (100, 100), 3)


# ----------------------------------------------------------------------------------------------
# How many samples the claims need
# ----------------------------------------------------------------------------------------------


def synthetic_row(epoch: int, layer: int, exact: float, n: int, bias: float, sd: float) -> AccuracyRow:
    return AccuracyRow(
        experiment="toy",
        epoch=epoch,
        phase="",
        layer=layer,
        n_samples=n,
        n_conditional=n,
        n_inputs=0,
        conditional_entropy="closed_form",
        n_repeats=10,
        exact_mi_nats=exact,
        mean_mi_nats=exact + bias,
        bias_nats=bias,
        bias_std_error_nats=sd / math.sqrt(10),
        sd_nats=sd,
        rmse_nats=math.hypot(bias, sd),
        seconds_per_estimate=0.0,
    )


def test_samples_needed_takes_the_smallest_n_from_which_the_error_stays_small() -> None:
    # Epoch 1 -> 2, a fall of 0.4 nats (a quarter: 0.1). Both epochs share a bias of -0.2 nats,
    # which cancels in the difference of two independent estimates; their SDs are e / sqrt(2),
    # so the difference's RMSE is e: 0.2, 0.08 (holds), 0.12 (fails again), 0.06, 0.02.
    target = {100: 0.2, 300: 0.08, 1000: 0.12, 3000: 0.06, 10000: 0.02}
    rows = []
    for n, error in target.items():
        rows.append(synthetic_row(1, 1, 1.0, n, -0.2, error / math.sqrt(2)))
        rows.append(synthetic_row(2, 1, 0.6, n, -0.2, error / math.sqrt(2)))
        rows.append(synthetic_row(1, 2, 0.2, n, 0.0, 0.05))
    effects = (
        ClaimEffect("Cx", "fall between epochs", "toy", (1, 1), (2, 1)),
        ClaimEffect("Cy", "gap between layers at one epoch", "toy", (1, 1), (1, 2)),
        ClaimEffect("Cz", "above a constant", "toy", (1, 1), None, reference_nats=0.0),
        ClaimEffect("Cv", "expected rise that is absent", "toy", (2, 1), (1, 1)),
        ClaimEffect("Cw", "snapshot not studied", "toy", (1, 1), (7, 1)),
    )
    fall, gap, constant, absent = samples_needed(rows, effects)

    assert fall.effect_nats == pytest.approx(0.4)
    assert fall.error_by_n == pytest.approx(target)
    assert fall.n_needed == 3000

    # Same epoch: the layers share samples, so the bound RMSE_1 + RMSE_2 >= 0.2 + 0.05 > 0.8 / 4.
    assert gap.effect_nats == pytest.approx(0.8)
    assert gap.error_by_n == pytest.approx({n: math.hypot(0.2, e / math.sqrt(2)) + 0.05 for n, e in target.items()})
    assert gap.n_needed is None

    # 1 nat above 0 (a quarter: 0.25); RMSE_1 = hypot(0.2, e / sqrt(2)) <= 0.245 at every n.
    assert constant.effect_nats == pytest.approx(1.0) and constant.n_needed == 100
    assert absent.effect_nats == pytest.approx(-0.4) and absent.n_needed is None


# ----------------------------------------------------------------------------------------------
# The command line
# ----------------------------------------------------------------------------------------------


def test_a_non_empty_out_is_refused_unless_forced(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "occupied"
    out.mkdir()
    (out / "keep.txt").write_text("results", encoding="utf-8")
    code = main(["accuracy", "--out", str(out), "--quick", "--no-progress"])
    assert_one_line_error(code, capsys.readouterr().err, "not empty", "--force")
    assert sorted(entry.name for entry in out.iterdir()) == ["keep.txt"]

    assert main(["accuracy", "--out", str(out), "--quick", "--no-progress", "--force"]) == 0
    assert sorted(entry.name for entry in out.iterdir()) == sorted([*OUTPUT_FILES, "keep.txt"])
    assert (out / "keep.txt").read_text(encoding="utf-8") == "results"


def test_force_with_coverage_skipped_replaces_an_old_coverage_csv(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "occupied"
    out.mkdir()
    (out / "keep.txt").write_text("results", encoding="utf-8")
    (out / "coverage.csv").write_text("an older study\n", encoding="utf-8")
    code = main(["accuracy", "--out", str(out), "--quick", "--no-progress", "--coverage-seeds", "0"])
    assert_one_line_error(code, capsys.readouterr().err, "not empty", "--force")
    assert (out / "coverage.csv").read_text(encoding="utf-8") == "an older study\n"

    assert main(["accuracy", "--out", str(out), "--quick", "--no-progress", "--coverage-seeds", "0", "--force"]) == 0
    assert sorted(entry.name for entry in out.iterdir()) == sorted([*OUTPUT_FILES, "keep.txt"])
    assert (out / "coverage.csv").read_text(encoding="utf-8") == ",".join(COVERAGE_CSV_COLUMNS) + "\n"
    assert "The coverage study was skipped" in (out / "accuracy.md").read_text(encoding="utf-8")
    assert (out / "keep.txt").read_text(encoding="utf-8") == "results"


def test_an_out_that_is_a_file_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "a_file"
    out.write_text("x", encoding="utf-8")
    code = main(["accuracy", "--out", str(out), "--quick", "--force"])
    assert_one_line_error(code, capsys.readouterr().err, "not a folder")
    assert out.read_text(encoding="utf-8") == "x"


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        (["accuracy"], "--out"),
        (["accuracy", "--out"], "--out"),
        (["accuracy", "--out", "x", "--repeats", "3"], "--repeats"),
        (["accuracy", "--out", "x", "extra"], "extra"),
        (["accuracy", "--out", "x", "--coverage-seeds", "-1"], "--coverage-seeds"),
        (["accuracy", "--out", "x", "--coverage-seeds", "two"], "--coverage-seeds"),
    ],
)
def test_bad_arguments_are_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, arguments: list[str], fragment: str
) -> None:
    code = main([arguments[0], *[str(tmp_path / a) if a == "x" else a for a in arguments[1:]]])
    assert_one_line_error(code, capsys.readouterr().err, fragment)
    assert list(tmp_path.iterdir()) == []
