"""write_report: report.md and report.html with each experiment's figures, claims and PASS/FAIL."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from synthetic_runs import BETA, mixture_densities, write_run

from infoflow.papers.kong2019.claims import ClaimResult, SeedOutcome, check_claims
from infoflow.papers.kong2019.report import write_report


def _result(claim: str, experiment: str, passed: bool, detail: str, layer: int | None = None) -> ClaimResult:
    outcome = SeedOutcome(seed=0, passed=passed, measured={"end_nats": 0.57}, detail=detail)
    return ClaimResult(
        claim=claim,
        experiment=experiment,
        statement=f"statement of {claim} with <angle> & pipe | signs",
        passed=passed,
        seeds_passed=int(passed),
        seeds_total=1,
        per_seed=(outcome,),
        detail=f"{int(passed)}/1 seeds pass; seed 0: {detail}",
        expected=f"expected for {claim}",
        layer=layer,
    )


def _tiny_run(run_dir: Path, name: str, seconds: float | None) -> Path:
    epochs = np.arange(12)
    grid = np.linspace(-1, 1, 41)
    density = mixture_densities(grid, np.tile([-0.5, 0.5], (epochs.size, 1)), widths=BETA)
    manifest = (
        {
            "status": "complete",
            "timings_s": {"total": seconds, "per_seed": [seconds], "per_epoch_mean": 0.012},
        }
        if seconds
        else None
    )
    write_run(
        run_dir,
        name=name,
        epochs=epochs,
        mi=np.full((1, epochs.size, 1), 1.0),
        densities=[density[None, :, None, :]],
        grids=[grid],
        manifest=manifest,
    )
    figures = run_dir / "figures"
    figures.mkdir()
    for figure in ("overview.png", "mi.png", "density_layer1.png"):
        (figures / figure).write_bytes(b"\x89PNG\r\n\x1a\n")
    return run_dir


def test_report_lists_each_experiment_with_figures_claims_and_times(tmp_path):
    out = tmp_path / "reproduction"
    runs = {"fig2": _tiny_run(out / "fig2", "fig2", 12.5), "fig6": _tiny_run(out / "fig6", "fig6", None)}
    results = [
        _result("C1", "fig2", True, "peak I=1.37 nats at epoch 18, end I=0.57 vs H(3/4,1/4)=0.562"),
        _result("C7", "fig2", True, "1 fall(s)", layer=1),
        _result("C6", "fig6", False, "end I=0.50 (fall 0.9) vs ~1.0"),
    ]
    markdown_path, html_path = write_report(out, runs, results, timings={"fig6": 3.3})
    assert (markdown_path, html_path) == (out / "report.md", out / "report.html")
    markdown, page = markdown_path.read_text(), html_path.read_text()
    for text in (markdown, page):
        assert "fig2" in text and "fig6" in text and "C1" in text and "C6" in text and "C7 (T_1)" in text
        assert "PASS" in text and "FAIL" in text
        assert "fig2/figures/overview.png" in text and "fig2/figures/density_layer1.png" in text
        assert "C6 does not reproduce (0/1 seeds pass)" in text and "end I=0.50" in text
        assert "C1 reproduces (1/1 seeds pass)" in text
        assert "compute time 12.5 s" in text and "compute time 3.3 s" in text  # manifest (fig2), argument (fig6)
        assert "2 of 3 claim checks pass" in text
    assert "<angle> &amp; pipe" not in markdown and "pipe \\| signs" in markdown
    assert "&lt;angle&gt; &amp; pipe | signs" in page and "<angle>" not in page
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert sorted(p.name for p in out.iterdir()) == [".infoflow-written.json", "fig2", "fig6", "report.html", "report.md"]


def test_report_from_real_checks_and_a_missing_run(tmp_path):
    run = _tiny_run(tmp_path / "runs" / "fig6", "fig6", 1.0)
    results = check_claims(run)
    markdown_path, html_path = write_report(
        tmp_path / "out", {"fig6": run, "fig2": tmp_path / "runs" / "fig2"}, results
    )
    markdown = markdown_path.read_text()
    assert "../runs/fig6/figures/overview.png" in markdown
    assert "does not exist" in markdown and "No claim checks for this experiment." in markdown
    # The synthetic MI is flat at 1 nat: it never falls from a peak, so C6 fails and says so.
    assert "C6 does not reproduce" in markdown
    assert json.loads((run / "manifest.json").read_text())["status"] == "complete"
    assert "FAIL" in html_path.read_text()


def test_report_says_when_c7_holds_only_vacuously(tmp_path):
    outcome = SeedOutcome(seed=0, passed=True, measured={"falls": 0.0, "coincided": 0.0}, detail="no fall")
    vacuous = ClaimResult(
        "C7",
        "fig3",
        "every fall ...",
        True,
        1,
        1,
        (outcome,),
        "1/1 seeds pass; seed 0: no fall",
        "...",
        layer=2,
    )
    markdown_path, _ = write_report(tmp_path, {}, [vacuous])
    assert "C7 (T_2) holds only vacuously: no fall of I(X;T_2)" in markdown_path.read_text()
