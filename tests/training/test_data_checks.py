"""Every bad data set is one line naming the file and what is wrong, exit 2, nothing written (issue 19)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from infoflow import cli

CONFIG = """
name = "data"
[network]
widths = [{dim}, 1]
activations = ["tanh"]
init = "default"
[inputs]
kind = "dataset"
path = "{path}"
{extra}
[labels]
kind = "dataset"
[training]
epochs = 1
loss = "cross_entropy"
{training}
[estimation]
n_samples = 100
n_conditional = 20
n_inputs = 10
"""


def _rows(n: int = 200, d: int = 2) -> tuple[np.ndarray, np.ndarray]:
    x = np.random.default_rng(0).normal(size=(n, d))
    return x, (x.sum(axis=1) > 0).astype(np.int64)


def _npz(path: Path, **arrays: np.ndarray) -> None:
    np.savez(path, **arrays)


def _csv(path: Path, text: str) -> None:
    path.write_text(text)


def _good_csv(path: Path) -> None:
    _csv(path, "a,b,label\n" + "".join(f"{i / 10},{-i / 7},{i % 2}\n" for i in range(20)))


# (file name, writer, extra [inputs] keys, [training] keys, words the one line must hold)
CASES: dict[str, tuple[str, Callable[[Path], None], str, str, tuple[str, ...]]] = {
    # The example: 200 rows, split 0.5 -> 100 training rows, train_size 1000 given.
    "too few rows for the split": (
        "data.npz",
        lambda p: _npz(p, x=_rows()[0], y=_rows()[1]),
        "split = 0.5",
        "train_size = 1000",
        ("training.train_size = 1000", "100 training rows", "split = 0.5 of 200 rows"),
    ),
    "too few test rows": (
        "data.npz",
        lambda p: _npz(p, x=_rows()[0], y=_rows()[1]),
        "split = 0.75",
        "test_size = 51",
        ("training.test_size = 51", "50 test rows"),
    ),
    "one row cannot be split": (
        "data.npz", lambda p: _npz(p, x=_rows(1)[0], y=_rows(1)[1]), "split = 0.5", "train_size = 1", ("1 rows", "split")
    ),
    "NaN in x": (
        "data.npz",
        lambda p: _npz(p, x=np.where(np.arange(400).reshape(200, 2) == 75, np.nan, _rows()[0]), y=_rows()[1]),
        "", "train_size = 200", ("row 37", "finite"),
    ),
    "inf in y": (
        "data.npz", lambda p: _npz(p, x=_rows()[0], y=np.r_[np.inf, np.zeros(199)]), "", "train_size = 200", ("y", "finite")
    ),
    "missing x": ("data.npz", lambda p: _npz(p, features=_rows()[0]), "", "train_size = 200", ("'x'", "features")),
    "missing y": ("data.npz", lambda p: _npz(p, x=_rows()[0]), "", "train_size = 200", ("labels", '"y"')),
    "object array": (
        "data.npz",
        lambda p: np.savez(p, x=np.array([[1.0, "a"]] * 200, dtype=object), y=_rows()[1], allow_pickle=True),
        "", "train_size = 200", ("object array", "never"),
    ),
    "not a zip": ("data.npz", lambda p: p.write_bytes(b"not an archive"), "", "train_size = 200", ("not a .npz archive",)),
    "a folder": ("data.npz", lambda p: p.mkdir(), "", "train_size = 200", ("folder",)),
    "wrong dimension": (
        "data.npz", lambda p: _npz(p, x=_rows(d=3)[0], y=_rows(d=3)[1]), "", "train_size = 200", ("widths[0]", "3")
    ),
    "labels outside the classes": (
        "data.npz", lambda p: _npz(p, x=_rows()[0], y=np.full(200, 3)), "", "train_size = 200", ("0..1", "labels")
    ),
    "ragged csv": (
        "data.csv",
        lambda p: _csv(p, "a,b,label\n1,2,0\n3,4\n"),
        'label_column = "label"', "train_size = 1", ("line 3", "2 cells", "header has 3"),
    ),
    "non-numeric csv cell": (
        "data.csv",
        lambda p: _csv(p, "a,b,label\n1,2,0\n3,x,1\n"),
        'label_column = "label"', "train_size = 1", ("line 3", "'b'", "'x'"),
    ),
    "nan csv cell": (
        "data.csv", lambda p: _csv(p, "a,b,label\n1,nan,0\n"), 'label_column = "label"', "train_size = 1", ("line 2", "finite")
    ),
    "csv without the label column": (
        "data.csv", _good_csv, 'label_column = "y"', "train_size = 10", ("label_column", "'y'")
    ),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("out_exists", [False, True])
def test_bad_data_set_is_one_line_exit_2_nothing_written(
    case: str, out_exists: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name, write, extra, training, words = CASES[case]
    data = tmp_path / name
    write(data)
    config = tmp_path / "config.toml"
    dim = 3 if case == "wrong dimension" else 2
    config.write_text(CONFIG.format(dim=2 if dim == 3 else dim, path=data.name, extra=extra, training=training))
    out = tmp_path / "run"
    if out_exists:
        out.mkdir()
    assert cli.main(["run", str(config), "--out", str(out), "--no-progress"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("infoflow: error: ") and "Traceback" not in error
    assert str(data) in error, error
    for word in words:
        assert word in error, (word, error)
    # Nothing written: the run folder is not created, or left as it was (empty).
    assert (list(out.iterdir()) == []) if out_exists else not out.exists()


def test_good_data_sets_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    x, y = _rows()
    _npz(tmp_path / "data.npz", x=x, y=y)
    _good_csv(tmp_path / "data.csv")
    for name, extra, training in (
        ("data.npz", "split = 0.5", "train_size = 100"),
        ("data.csv", 'label_column = "label"\nsplit = 0.5', "train_size = 10"),
    ):
        config = tmp_path / "config.toml"
        config.write_text(CONFIG.format(dim=2, path=name, extra=extra, training=training))
        out = tmp_path / f"run-{name}"
        assert cli.main(["run", str(config), "--out", str(out), "--no-progress"]) == 0, capsys.readouterr().err
        assert (out / "metrics.csv").is_file()
