"""Sweep specs: validation (one clear line), overrides applied like an edited config, cell folders."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from infoflow.cli import main
from infoflow.config.loading import load_config, parse_config
from infoflow.sweeps.cells import expand_cells, point_folder
from infoflow.sweeps.spec import SpecError, load_spec, parse_spec

GOOD = """
experiment = "tiny.toml"
seeds = [0, 1, 2]
[set]
"training.epochs" = 2
[grid]
"network.beta" = [0.05, 0.1]
"training.learning_rate" = [0.01, 0.05]
"""

BAD_SPECS = {
    "unknown top-level key": ('colour = "red"\n' + GOOD, "colour is not a known key; allowed: experiment"),
    "empty grid": ('experiment = "tiny.toml"\n[grid]\n"network.beta" = []\n', "grid.network.beta must be a non-empty"),
    "grid value not a list": ('experiment = "tiny.toml"\n[grid]\n"network.beta" = 0.1\n', "non-empty list"),
    "bad dotted key": (
        'experiment = "tiny.toml"\n[grid]\n"network.betax" = [0.1]\n',
        "grid.network.betax is not a config key; network has",
    ),
    "bad section": ('experiment = "tiny.toml"\n[set]\n"netwrk.beta" = 0.1\n', "set.netwrk.beta is not a config key"),
    "too deep": ('experiment = "tiny.toml"\n[set]\n"network.beta.x" = 0.1\n', "set.network.beta.x is not a config key"),
    "seeds as override": ('experiment = "tiny.toml"\n[grid]\nseeds = [[0], [1]]\n', "grid.seeds is not allowed"),
    "key in set and grid": (
        'experiment = "tiny.toml"\n[set]\n"network.beta" = 0.1\n[grid]\n"network.beta" = [0.2]\n',
        "network.beta is in both set and grid",
    ),
    "repeated grid value": ('experiment = "tiny.toml"\n[grid]\n"network.beta" = [0.1, 0.1]\n', "lists 0.1 twice"),
    "invalid value": (
        'experiment = "tiny.toml"\n[grid]\n"network.beta" = [0.1, -1.0]\n',
        "with network.beta=-1.0: ",
    ),
    "negative seed": ('experiment = "tiny.toml"\nseeds = [-1]\n', "seeds must be integers >= 0"),
    "empty seeds": ('experiment = "tiny.toml"\nseeds = []\n', "seeds must be a non-empty list"),
    "missing experiment": ("seeds = [0]\n", "experiment is required"),
    "unknown experiment": ('experiment = "fig9"\n', "'fig9' is neither a shipped experiment"),
    "set not a table": ('experiment = "tiny.toml"\nset = 3\n', "set must be a table"),
    "invalid TOML": ('experiment = "tiny.toml"\n[grid\n', "invalid TOML"),
}


@pytest.mark.parametrize("case", list(BAD_SPECS))
def test_a_bad_spec_is_one_line_naming_the_key(tiny_experiment: Path, write_spec, case: str) -> None:
    text, fragment = BAD_SPECS[case]
    path = write_spec(text)
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(str(path)) and fragment in message, message


@pytest.mark.parametrize("case", ["unknown top-level key", "empty grid", "bad dotted key"])
def test_cli_sweep_with_a_bad_spec_exits_2_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], tiny_experiment: Path, write_spec, tmp_path: Path, case: str
) -> None:
    text, fragment = BAD_SPECS[case]
    out = tmp_path / "out"
    assert main(["sweep", str(write_spec(text)), "--out", str(out)]) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("infoflow: error: ") and fragment in lines[0]
    assert captured.out == "" and not out.exists()


def test_overrides_resolve_like_an_edited_config(tiny_experiment: Path, write_spec) -> None:
    spec = load_spec(write_spec(GOOD))
    assert spec.seeds == (0, 1, 2) and spec.set == {"training.epochs": 2}
    assert spec.grid == {"network.beta": (0.05, 0.1), "training.learning_rate": (0.01, 0.05)}
    edited = (
        tiny_experiment.read_text()
        .replace("epochs = 3", "epochs = 2")
        .replace('preset = "tanh"', 'preset = "tanh"\nbeta = 0.1')
    )
    # seeds first: in TOML a top-level key after a table would belong to that table.
    expected = parse_config("seeds = [2]\n" + edited, default_name="tiny")
    assert spec.resolve({"network.beta": 0.1, "training.learning_rate": 0.05}, seed=2) == expected


def test_bare_dotted_keys_mean_the_same_as_quoted_ones(tiny_experiment: Path, write_spec) -> None:
    quoted = load_spec(write_spec(GOOD))
    bare = load_spec(
        write_spec(
            GOOD.replace('"training.epochs"', "training.epochs").replace('"network.beta"', "network.beta"), "b.toml"
        )
    )
    assert bare.set == quoted.set and bare.grid["network.beta"] == quoted.grid["network.beta"]


def test_default_seeds_are_the_experiments_own(tiny_experiment: Path, write_spec) -> None:
    spec = load_spec(write_spec('experiment = "fig3"\n'))
    assert spec.seeds == tuple(load_config("fig3").seeds) and spec.grid == {}


def test_the_written_spec_reads_back_to_the_same_spec(tiny_experiment: Path, write_spec, tmp_path: Path) -> None:
    spec = load_spec(write_spec(GOOD))
    again = parse_spec(spec.to_toml(), source="sweep.toml", spec_dir=tmp_path / "elsewhere")
    assert again.config_source == str(tiny_experiment.resolve())
    assert (again.seeds, again.set, again.grid) == (spec.seeds, spec.set, spec.grid)
    assert tomllib.loads(spec.to_toml())["grid"]["network.beta"] == [0.05, 0.1]


def test_cells_are_every_point_for_every_seed_with_readable_folders(tiny_experiment: Path, write_spec) -> None:
    cells = expand_cells(load_spec(write_spec(GOOD)))
    assert len(cells) == 2 * 2 * 3
    assert cells[0].folder == "network.beta=0.05__training.learning_rate=0.01/seed=0"
    assert len({cell.folder for cell in cells}) == len(cells)
    for cell in cells:
        assert cell.config.seeds == (cell.seed,)
        assert cell.config.network.beta == cell.point["network.beta"]
        assert cell.config.training.learning_rate == cell.point["training.learning_rate"]
        assert cell.config.training.epochs == 2


def test_point_folders_are_stable_and_never_shared() -> None:
    # Key order in the spec does not matter; names are the same on every run.
    assert point_folder({"b.x": 1, "a.y": 2.5}) == point_folder({"a.y": 2.5, "b.x": 1}) == "a.y=2.5__b.x=1"
    lossy = point_folder({"network.widths": [1, 3, 1]})
    assert lossy.startswith("network.widths=[1,_3,_1]-") and len(lossy.rsplit("-", 1)[1]) == 8
    # Values that read alike once made safe for a file name still get separate folders.
    assert point_folder({"name": "a/b"}) != point_folder({"name": "a_b"})
    assert point_folder({"name": "a b"}) != point_folder({"name": "a_b"})
    assert point_folder({"training.epochs": 1}) != point_folder({"training.epochs": 1.0})
    assert len(point_folder({"description": "x" * 500})) < 100
    assert point_folder({}) == ""
