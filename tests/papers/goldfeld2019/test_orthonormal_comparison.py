"""The SZT orthonormality comparison: its config, the per-layer verdicts, the report, the command."""

from __future__ import annotations

import dataclasses
import math

import pytest

from infoflow import load_config
from infoflow.cli import main
from infoflow.papers.goldfeld2019.analysis import LayerFinding
from infoflow.papers.goldfeld2019.orthonormal import (
    REPORT_NAME,
    VariantSummary,
    answer_text,
    compare_orthonormal,
    comparison_configs,
    layer_comparison,
)


def test_the_variant_is_szt_with_the_constraint_only():
    plain, variant = load_config("szt"), load_config("szt-orthonormal")
    assert plain.training.orthonormal is None and variant.training.orthonormal == 0.0003
    same = dataclasses.replace(
        variant,
        name=plain.name,
        description=plain.description,
        training=dataclasses.replace(variant.training, orthonormal=None),
    )
    assert same == plain


def test_comparison_configs_apply_the_overrides_to_both():
    configs = dict(comparison_configs(2, alpha=0.01, epochs=50, points=5, bounds=False))
    for config in configs.values():
        assert config.seeds == (0, 1) and config.training.epochs == 50
        assert config.estimation.points == 5 and config.estimation.bounds is False
    assert configs["plain"].training.orthonormal is None and configs["orthonormal"].training.orthonormal == 0.01


def _finding(seed: int, layer: int, compression: float) -> LayerFinding:
    return LayerFinding(
        seed=seed,
        layer=layer,
        peak_nats=5.0,
        peak_epoch=10,
        end_nats=5.0 - compression,
        compression_nats=compression,
        compression_std_error=0.01,
        compresses=compression > 0.05,
        clustering_change_nats=math.nan,
        clusters=False,
        max_nats=5.0,
        max_std_error=0.01,
        within_ceiling=True,
    )


def _summary(name: str, compressions: dict[int, list[float]], accuracy: list[float]) -> VariantSummary:
    findings = [
        _finding(seed, layer, value) for layer, values in compressions.items() for seed, value in enumerate(values)
    ]
    test = dict(enumerate(accuracy))
    return VariantSummary(name, None if name == "plain" else 0.001, findings, test, test, 1.0)


def test_verdicts_compare_seed_means_against_their_spread():
    plain = _summary("plain", {1: [1.0, 1.1, 0.9], 2: [0.5, 0.6, 0.4], 3: [0.0, 0.0, 0.0]}, [0.9, 0.92, 0.94])
    ortho = _summary("orthonormal", {1: [0.2, 0.3, 0.1], 2: [0.55, 0.45, 0.5], 3: [0.4, 0.5, 0.6]}, [0.9, 0.9, 0.9])
    table = layer_comparison(plain, ortho)
    # Layer 1: 1.0 -> 0.2, s.e. of the difference sqrt(0.01/3 + 0.01/3) = 0.082: mitigated.
    row = table.iloc[0]
    assert row["plain_compression_mean"] == pytest.approx(1.0)
    assert row["orthonormal_compression_mean"] == pytest.approx(0.2)
    assert row["difference_se"] == pytest.approx(math.sqrt(0.02 / 3))
    assert table["verdict"].tolist() == ["mitigated", "no clear difference", "stronger"]
    assert table["plain_compressing"].tolist() == [3, 3, 0] and table["orthonormal_compressing"].tolist() == [3, 3, 3]
    text = answer_text(table, plain, ortho)
    assert text.startswith("Mixed: the constraint reduces compression in layer(s) 1 and increases it in layer(s) 3")
    assert "6 of 9 (seed, layer) pairs compress without it, 9 of 9 with it" in text
    assert "0.920 ± 0.020 without, 0.900 ± 0.000 with" in text


@pytest.mark.slow
def test_a_short_comparison_end_to_end(tmp_path, capsys):
    assert main(["orthonormal", "--out", str(tmp_path), "--seeds", "1", "--epochs", "2", "--points", "2",
                 "--no-bounds", "--no-progress"]) == 0  # fmt: skip
    report = tmp_path / REPORT_NAME
    assert capsys.readouterr().out.strip() == str(report)
    text = report.read_text()
    assert "alpha = 0.0003" in text and "2 epochs instead of 10000" in text and "| 6 |" in text
    for variant in ("plain", "orthonormal"):
        assert (tmp_path / f"szt-{variant}" / "metrics.csv").is_file()
    # A rerun reuses both finished runs.
    assert compare_orthonormal(tmp_path, seeds=1, epochs=2, points=2, bounds=False, progress=False) == report
