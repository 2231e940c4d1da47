"""The coverage study's outputs: tidy CSV, Markdown section, argument checks (fast; the study itself is slow)."""

from __future__ import annotations

import csv
import io

import pytest

from infoflow.estimators.coverage import (
    COVERAGE_CSV_COLUMNS,
    CoverageRow,
    coverage_csv_text,
    coverage_markdown,
    coverage_study,
)


def rows() -> list[CoverageRow]:
    return [
        CoverageRow("scalar, X ~ N(0, 1)", 1, 0.75, 0.75, 19, 20, 0.125, 0.25, 0.5),
        CoverageRow("points, clusters", 2, 1.386, 1.388, 20, 20, 0.0125, 0.0203125, 1.0),
    ]


def test_csv_is_tidy_and_exact() -> None:
    table = list(csv.DictReader(io.StringIO(coverage_csv_text(rows()))))
    assert tuple(table[0]) == COVERAGE_CSV_COLUMNS
    first, second = table
    assert first["case"] == "scalar, X ~ N(0, 1)" and int(first["layer"]) == 1
    assert (int(first["held"]), int(first["seeds"])) == (19, 20)
    assert float(first["fraction"]) == 19 / 20
    assert float(second["truth_low_nats"]) == 1.386 and float(second["truth_high_nats"]) == 1.388
    assert float(second["mean_width_nats"]) == 0.0125 and float(second["max_width_nats"]) == 0.0203125


def test_csv_of_no_rows_is_its_header() -> None:
    assert coverage_csv_text([]) == ",".join(COVERAGE_CSV_COLUMNS) + "\n"


def test_markdown_shows_exact_truths_and_brackets() -> None:
    text = coverage_markdown(rows())
    assert text.startswith("## Coverage of the bounds\n")
    assert "| scalar, X ~ N(0, 1) | 1 | 0.750 | 19/20 | 0.125 | 0.250 | 0.50 |" in text
    assert "| points, clusters | 2 | [1.386, 1.388] | 20/20 | 0.013 | 0.020 | 1.00 |" in text
    assert "Lowest share held: 19/20 (scalar, X ~ N(0, 1), layer 1); largest width: 0.250 nats." in text
    assert "skipped" in coverage_markdown([])


@pytest.mark.parametrize(
    ("names", "seeds", "fragment"),
    [(None, 0, "seeds"), (None, 2.5, "seeds"), (None, True, "seeds"), (["no-such-case"], 2, "no-such-case"),
     ([], 2, "names")],
)
def test_bad_arguments_are_named(names: list[str] | None, seeds: object, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        coverage_study(names, seeds)  # type: ignore[arg-type]


def test_two_seeds_on_a_discrete_chain() -> None:
    found = coverage_study(["leaky-discrete"], 2)
    assert [row.layer for row in found] == [1, 2]
    for row in found:
        assert row.seeds == 2 and 0 <= row.held <= row.seeds
        assert 0.0 <= row.fraction <= 1.0 and row.fraction == row.held / row.seeds
        assert 0.0 <= row.mean_width <= row.max_width
        # I(X;T_l) of an 8-point X lies in [0, log 8].
        assert 0.0 <= row.truth_low <= row.truth_high <= 2.0794415416798357
