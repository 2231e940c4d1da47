"""The reproduction report: per experiment its figures, its claim checks and its run time.

``write_report`` writes DIR/report.md and DIR/report.html (self-contained HTML with inline CSS; the
figures are referenced by relative paths such as ``fig2/figures/overview.png``). The wording is
the checks' verdict: a claim that fails is reported as "does not reproduce", with its numbers.
"""

from __future__ import annotations

import html
import json
import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infoflow.own_files import write_own_files
from infoflow.papers.kong2019.claims import ClaimResult

TITLE = "infoflow: reproduction of the seed's Figures 2-6"
INTRODUCTION = (
    "Kong (2019), *Information Compression in Simple Neural Networks*, reproducing Goldfeld et al. "
    "(2018). Each claim is checked by a program (`infoflow.papers.kong2019.claims`) on the run folder, seed by seed; "
    "it counts as reproduced when it passes for a majority of the seeds, and its pass fraction across seeds "
    "(k/K) is reported beside it. Information is in nats."
)
# Figures shown inline, then linked, in this order (the density figures are found per layer).
INLINE_FIGURE = "overview.png"
LINKED_FIGURES = ("mi.png", "information_plane.png")

_CSS = """
body { font-family: system-ui, sans-serif; max-width: 72rem; margin: 2rem auto; padding: 0 1rem;
       color: #222; line-height: 1.45; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.3rem 0.5rem; vertical-align: top; text-align: left; }
th { background: #f3f3f3; }
.pass { color: #0a6b1f; font-weight: bold; }
.fail { color: #b00020; font-weight: bold; }
img { max-width: 100%; border: 1px solid #eee; }
code { background: #f6f6f6; padding: 0 0.2rem; }
"""


@dataclass(frozen=True)
class _RunSummary:
    """What the report says about one run folder, read tolerantly (a failed run still gets a section)."""

    name: str
    folder: str  # relative to the report folder, POSIX separators
    description: str
    status: str
    seconds: float | None
    per_epoch_seconds: float | None
    figures: tuple[str, ...]  # relative paths of the PNG figures that exist
    missing: bool


def _relative(path: Path, start: Path) -> str:
    return Path(os.path.relpath(path, start)).as_posix()


def _seconds(value: Any) -> float | None:
    if isinstance(value, Mapping):
        value = value.get("total")
    return float(value) if isinstance(value, (int, float)) else None


def _summarise(name: str, run_dir: Path, out_dir: Path, timing: Any) -> _RunSummary:
    run_dir = Path(run_dir)
    description, status, manifest_timings = "", "unknown", {}
    try:
        with (run_dir / "config.toml").open("rb") as handle:
            description = str(tomllib.load(handle).get("description", ""))
    except (OSError, tomllib.TOMLDecodeError):
        pass
    try:
        manifest = json.loads((run_dir / "manifest.json").read_text())
        status = str(manifest.get("status", "unknown"))
        manifest_timings = manifest.get("timings_s") or {}
    except (OSError, json.JSONDecodeError):
        pass
    seconds = _seconds(timing) if timing is not None else _seconds(manifest_timings)
    per_epoch = manifest_timings.get("per_epoch_mean") if isinstance(manifest_timings, Mapping) else None
    figures_dir = run_dir / "figures"
    names = [INLINE_FIGURE, *LINKED_FIGURES]
    names[2:2] = sorted(path.name for path in figures_dir.glob("density_layer*.png")) if figures_dir.is_dir() else []
    figures = tuple(_relative(figures_dir / figure, out_dir) for figure in names if (figures_dir / figure).is_file())
    return _RunSummary(
        name=name,
        folder=_relative(run_dir, out_dir),
        description=description,
        status=status,
        seconds=seconds,
        per_epoch_seconds=float(per_epoch) if isinstance(per_epoch, (int, float)) else None,
        figures=figures,
        missing=not run_dir.is_dir(),
    )


def _claim_label(result: ClaimResult) -> str:
    return result.claim if result.layer is None else f"{result.claim} (T_{result.layer})"


def pass_fraction(result: ClaimResult) -> str:
    """Return a claim's pass fraction across seeds, "k/K (p %)"."""
    share = 100.0 * result.seeds_passed / result.seeds_total if result.seeds_total else 0.0
    return f"{result.seeds_passed}/{result.seeds_total} ({share:.0f} %)"


def _verdict(result: ClaimResult) -> str:
    seeds = f"{result.seeds_passed}/{result.seeds_total} seeds pass"
    if result.claim == "C7" and all(outcome.measured.get("falls") == 0 for outcome in result.per_seed):
        return f"{_claim_label(result)} holds only vacuously: no fall of I(X;T_{result.layer}) in any seed ({seeds})."
    if result.passed:
        return f"{_claim_label(result)} reproduces ({seeds})."
    return f"{_claim_label(result)} does not reproduce ({seeds}): {result.detail}"


def _time_text(summary: _RunSummary) -> str:
    if summary.seconds is None:
        return "compute time not recorded"
    text = f"compute time {summary.seconds:.1f} s (training and measurement, all seeds)"
    if summary.per_epoch_seconds is not None:
        text += f" ({1000 * summary.per_epoch_seconds:.1f} ms per epoch)"
    return text


def times_sentence(compute_seconds: float | None, wall_seconds: float | None) -> str | None:
    """Return the report's sentence on time: this command's wall time and the runs' compute time."""
    parts = []
    if wall_seconds is not None:
        parts.append(f"Wall time of this command: {wall_seconds:.1f} s.")
    if compute_seconds is not None:
        parts.append(
            f"Compute time of the experiments: {compute_seconds:.1f} s (training and measurement, summed over "
            "seeds and workers, from each run's manifest; a run reused from disk counts its original time)."
        )
    return " ".join(parts) or None


def _experiment_order(run_dirs: Mapping[str, Path], results: Sequence[ClaimResult]) -> list[str]:
    order = list(run_dirs)
    order += [name for name in dict.fromkeys(result.experiment for result in results) if name not in order]
    return order


# ----------------------------------------------------------------------------------------------
# Markdown
# ----------------------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _markdown(
    summaries: dict[str, _RunSummary | None],
    grouped: dict[str, list[ClaimResult]],
    total_seconds: str | None,
) -> str:
    all_results = [result for results in grouped.values() for result in results]
    passed = sum(result.passed for result in all_results)
    lines = [f"# {TITLE}", "", INTRODUCTION, ""]
    lines += [f"**Summary: {passed} of {len(all_results)} claim checks pass.**", ""]
    if total_seconds:
        lines += [total_seconds, ""]
    lines += ["| Experiment | Claim | Result | Seeds passing |", "|---|---|---|---|"]
    for name, results in grouped.items():
        for result in results:
            outcome = "PASS" if result.passed else "FAIL"
            lines.append(f"| {name} | {_claim_label(result)} | {outcome} | {pass_fraction(result)} |")
    lines.append("")
    for name, results in grouped.items():
        summary = summaries.get(name)
        heading = f"## {name}" + (f": {summary.description}" if summary and summary.description else "")
        lines += [heading, ""]
        if summary is not None:
            if summary.missing:
                lines += [f"Run folder `{summary.folder}` does not exist.", ""]
            else:
                lines += [
                    f"Run folder `{summary.folder}`; status {summary.status}; {_time_text(summary)}.",
                    "",
                ]
            for figure in summary.figures[:1]:
                lines += [f"![{name} overview]({figure})", ""]
            if len(summary.figures) > 1:
                links = " · ".join(f"[{Path(figure).stem}]({figure})" for figure in summary.figures[1:])
                lines += [f"Figures: {links}", ""]
        if not results:
            lines += ["No claim checks for this experiment.", ""]
            continue
        lines += ["| Claim | Statement | Result | Measured | Expected |", "|---|---|---|---|---|"]
        for result in results:
            outcome = f"**{'PASS' if result.passed else 'FAIL'}** ({result.seeds_passed}/{result.seeds_total} seeds)"
            lines.append(
                f"| {_claim_label(result)} | {_cell(result.statement)} | {outcome} | {_cell(result.detail)} | {_cell(result.expected)} |"
            )
        lines.append("")
        lines += [f"- {_verdict(result)}" for result in results]
        lines.append("")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# HTML
# ----------------------------------------------------------------------------------------------


def _h(text: Any) -> str:
    return html.escape(str(text))


def _html(
    summaries: dict[str, _RunSummary | None],
    grouped: dict[str, list[ClaimResult]],
    total_seconds: str | None,
) -> str:
    all_results = [result for results in grouped.values() for result in results]
    passed = sum(result.passed for result in all_results)

    def outcome(result: ClaimResult) -> str:
        css = "pass" if result.passed else "fail"
        return f'<span class="{css}">{"PASS" if result.passed else "FAIL"}</span> ({result.seeds_passed}/{result.seeds_total} seeds)'

    introduction = _h(INTRODUCTION).replace(
        "*Information Compression in Simple Neural Networks*",
        "<em>Information Compression in Simple Neural Networks</em>",
    )
    introduction = introduction.replace(
        "`infoflow.papers.kong2019.claims`", "<code>infoflow.papers.kong2019.claims</code>"
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_h(TITLE)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_h(TITLE)}</h1>",
        f"<p>{introduction}</p>",
        f"<p><strong>Summary: {passed} of {len(all_results)} claim checks pass.</strong></p>",
    ]
    if total_seconds:
        parts.append(f"<p>{_h(total_seconds)}</p>")
    parts.append("<table><tr><th>Experiment</th><th>Claim</th><th>Result</th><th>Seeds passing</th></tr>")
    for name, results in grouped.items():
        for result in results:
            parts.append(
                f"<tr><td>{_h(name)}</td><td>{_h(_claim_label(result))}</td><td>{outcome(result)}</td>"
                f"<td>{_h(pass_fraction(result))}</td></tr>"
            )
    parts.append("</table>")
    for name, results in grouped.items():
        summary = summaries.get(name)
        heading = name + (f": {summary.description}" if summary and summary.description else "")
        parts.append(f'<h2 id="{_h(name)}">{_h(heading)}</h2>')
        if summary is not None:
            if summary.missing:
                parts.append(f"<p>Run folder <code>{_h(summary.folder)}</code> does not exist.</p>")
            else:
                parts.append(
                    f"<p>Run folder <code>{_h(summary.folder)}</code>; status {_h(summary.status)}; {_h(_time_text(summary))}.</p>"
                )
            for figure in summary.figures[:1]:
                parts.append(f'<p><img src="{_h(figure)}" alt="{_h(name)} overview"></p>')
            if len(summary.figures) > 1:
                links = " · ".join(
                    f'<a href="{_h(figure)}">{_h(Path(figure).stem)}</a>' for figure in summary.figures[1:]
                )
                parts.append(f"<p>Figures: {links}</p>")
        if not results:
            parts.append("<p>No claim checks for this experiment.</p>")
            continue
        parts.append(
            "<table><tr><th>Claim</th><th>Statement</th><th>Result</th><th>Measured</th><th>Expected</th></tr>"
        )
        for result in results:
            parts.append(
                f"<tr><td>{_h(_claim_label(result))}</td><td>{_h(result.statement)}</td><td>{outcome(result)}</td>"
                f"<td>{_h(result.detail)}</td><td>{_h(result.expected)}</td></tr>"
            )
        parts.append("</table><ul>")
        parts += [f"<li>{_h(_verdict(result))}</li>" for result in results]
        parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_report(
    out_dir: str | Path,
    run_dirs: Mapping[str, str | Path],
    results: Sequence[ClaimResult],
    timings: Mapping[str, Any] | None = None,
    wall_seconds: float | None = None,
) -> tuple[Path, Path]:
    """Write DIR/report.md and DIR/report.html; return their paths.

    Parameters
    ----------
    out_dir : path
        The report folder (created if needed); figures are linked relative to it.
    run_dirs : mapping of experiment name to run folder
        E.g. {"fig2": DIR / "fig2", ...}; sections follow this order.
    results : sequence of ClaimResult
        From :func:`infoflow.papers.kong2019.claims.check_claims`, grouped into sections by ``experiment``.
    timings : mapping of experiment name to seconds (or to a dict with "total"), optional
        Compute times; default each run's manifest ``timings_s`` (training and measurement,
        summed over seeds and over every process that worked on the run).
    wall_seconds : float, optional
        The wall-clock time of the command writing the report, stated beside the compute times.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    timings = timings or {}
    order = _experiment_order(run_dirs, results)
    summaries: dict[str, _RunSummary | None] = {
        name: _summarise(name, Path(run_dirs[name]), out_dir, timings.get(name)) if name in run_dirs else None
        for name in order
    }
    grouped = {name: [result for result in results if result.experiment == name] for name in order}
    recorded = [
        summary.seconds for summary in summaries.values() if summary is not None and summary.seconds is not None
    ]
    total_seconds = times_sentence(sum(recorded) if recorded else None, wall_seconds)

    # Never over a report infoflow did not write: then the pair goes beside it (report-2.md, ...).
    written = write_own_files(
        out_dir,
        {
            "report.md": _markdown(summaries, grouped, total_seconds).encode(),
            "report.html": _html(summaries, grouped, total_seconds).encode(),
        },
    )
    return written["report.md"], written["report.html"]
