"""The infoflow command: exit codes, one-line errors, nothing written on bad input."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from infoflow.cli import main
from infoflow.config.schema import shipped_config_text

TINY = """
name = "tiny"
[network]
preset = "tanh"
[inputs]
kind = "discrete_uniform"
values = [-3.0, -1.0, 1.0, 3.0]
[labels]
threshold = 2.0
[training]
epochs = 3
learning_rate = 0.05
train_size = 20
batch_size = 5
test_size = 40
[estimation]
n_samples = 40
n_conditional = 8
n_inputs = 4
[density]
points = 16
"""


@pytest.fixture()
def tiny_config(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY, encoding="utf-8")
    return path


def run_cli(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, str, str]:
    code = main(list(arguments))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(code: int, err: str, *fragments: str) -> None:
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("infoflow: error: ")
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0]


def test_show_prints_the_shipped_toml(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "show", "fig2")
    assert code == 0 and err == ""
    assert out == shipped_config_text("fig2")
    assert tomllib.loads(out)["name"] == "fig2"


def test_run_writes_a_run_folder(capsys: pytest.CaptureFixture[str], tiny_config: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "run"
    code, out, err = run_cli(capsys, "run", str(tiny_config), "--out", str(out_dir), "--no-progress", "--seeds", "2")
    assert code == 0 and err == ""
    assert out.strip() == str(out_dir)
    assert tomllib.loads((out_dir / "config.toml").read_text())["seeds"] == [0, 1]
    manifest = (out_dir / "manifest.json").read_text()
    assert '"status": "complete"' in manifest and "--seeds 2" in manifest

    # Occupied now: refused without --force or --resume; --resume of a complete run is a no-op.
    code, _, err = run_cli(capsys, "run", str(tiny_config), "--out", str(out_dir), "--no-progress", "--seeds", "2")
    assert_one_line_error(code, err, "--force", "--resume")
    code, _, err = run_cli(capsys, "run", str(tiny_config), "--out", str(out_dir), "--resume", "--seeds", "2")
    assert code == 0 and "already complete" in err
    code, _, _ = run_cli(capsys, "run", str(tiny_config), "--out", str(out_dir), "--force", "--no-progress")
    assert code == 0
    assert tomllib.loads((out_dir / "config.toml").read_text())["seeds"] == [0]


def test_progress_is_shown_by_default(capsys: pytest.CaptureFixture[str], tiny_config: Path, tmp_path: Path) -> None:
    code, _, err = run_cli(capsys, "run", str(tiny_config), "--out", str(tmp_path / "run"))
    assert code == 0
    assert "tiny seed 0" in err and "3/3" in err


BAD_CONFIGS = {
    "bad TOML": ("[network\n", "invalid TOML"),
    "empty": ("", "empty"),
    "wrong type": (TINY.replace("epochs = 3", 'epochs = "3"'), "training.epochs"),
    "negative beta": (TINY.replace('preset = "tanh"', 'preset = "tanh"\nbeta = -1.0'), "network.beta"),
    "negative epochs": (TINY.replace("epochs = 3", "epochs = -3"), "training.epochs"),
    "zero learning rate": (TINY.replace("learning_rate = 0.05", "learning_rate = 0.0"), "training.learning_rate"),
    "unknown activation": (
        '[network]\nwidths = [1, 1]\nactivations = ["gelu"]\n[inputs]\nkind = "gaussian"\n',
        "network.activations",
    ),
    "unknown key": (TINY.replace("epochs = 3", "epochs = 3\nepoch = 3"), "training.epoch"),
    "unknown input kind": (TINY.replace('"discrete_uniform"', '"poisson"'), "inputs.kind"),
}


@pytest.mark.parametrize("case", list(BAD_CONFIGS))
def test_bad_config_is_one_line_exit_2_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, case: str
) -> None:
    text, fragment = BAD_CONFIGS[case]
    config = tmp_path / "bad.toml"
    config.write_text(text, encoding="utf-8")
    out_dir = tmp_path / "out"
    code, out, err = run_cli(capsys, "run", str(config), "--out", str(out_dir))
    assert_one_line_error(code, err, fragment)
    assert out == ""
    assert not out_dir.exists()


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        (["run", "no-such-config.toml", "--out", "{tmp}/out"], "no such config file"),
        (["run", "fig2"], "--out"),
        (["run", "fig2", "--out", "{tmp}/out", "--force", "--resume"], "not allowed with"),
        (["run", "fig2", "--out", "{tmp}/out", "--seeds", "0"], "--seeds"),
        (["run", "fig2", "--out", "{tmp}/out", "--seeds", "two"], "--seeds"),
        (["show", "fig9"], "fig9"),
        (["show"], "NAME"),
        ([], "COMMAND"),
        (["fly"], "fly"),
        (["run", "{tmp}", "--out", "{tmp}/out"], "is a folder"),
    ],
)
def test_bad_usage_is_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, arguments: list[str], fragment: str
) -> None:
    code, _, err = run_cli(capsys, *(argument.replace("{tmp}", str(tmp_path)) for argument in arguments))
    assert_one_line_error(code, err, fragment)
    assert not (tmp_path / "out").exists()


def test_force_refuses_a_folder_that_is_not_a_run(
    capsys: pytest.CaptureFixture[str], tiny_config: Path, tmp_path: Path
) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    for flag in ("--force", "--resume"):
        code, _, err = run_cli(capsys, "run", str(tiny_config), "--out", str(precious), flag)
        assert_one_line_error(code, err, "not an infoflow run")
    assert [entry.name for entry in precious.iterdir()] == ["thesis.tex"]


def test_divergence_is_one_line_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = tmp_path / "diverge.toml"
    config.write_text(
        '[network]\nwidths = [1, 1]\nactivations = ["linear"]\n[inputs]\nkind = "gaussian"\n'
        "[training]\nepochs = 50\nlearning_rate = 1000.0\ntrain_size = 100\nbatch_size = 10\ntest_size = 20\n"
        '[estimation]\nn_samples = 20\nn_conditional = 4\nn_inputs = 4\nschedule = "interval"\nevery = 100\n'
    )
    code, _, err = run_cli(capsys, "run", str(config), "--out", str(tmp_path / "run"), "--no-progress")
    assert_one_line_error(code, err, "diverged", str(tmp_path / "run"))
    assert '"status": "failed"' in (tmp_path / "run" / "manifest.json").read_text()


def test_force_keeps_the_old_run_when_the_new_one_diverges(
    capsys: pytest.CaptureFixture[str], tiny_config: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    assert run_cli(capsys, "run", str(tiny_config), "--out", str(out), "--no-progress")[0] == 0
    old_metrics = (out / "metrics.csv").read_bytes()
    diverging = tmp_path / "diverge.toml"
    diverging.write_text(
        TINY.replace("learning_rate = 0.05", "learning_rate = 1e6").replace(
            'preset = "tanh"', 'widths = [1, 1]\nactivations = ["linear"]'
        )
    )
    code, _, err = run_cli(capsys, "run", str(diverging), "--out", str(out), "--force", "--no-progress")
    # The old run is put back in place at once (nothing left aside).
    assert_one_line_error(code, err, "diverged", "is back in")
    assert (out / "metrics.csv").read_bytes() == old_metrics
    assert not [entry for entry in tmp_path.iterdir() if entry.name.startswith(".run.")]


def test_a_truncated_densities_file_is_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], tiny_config: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    assert run_cli(capsys, "run", str(tiny_config), "--out", str(out), "--no-progress")[0] == 0
    data = (out / "densities.npz").read_bytes()
    (out / "densities.npz").write_bytes(data[: len(data) // 2])
    code, _, err = run_cli(capsys, "plot", str(out))
    assert_one_line_error(code, err, "densities.npz", "unreadable")


def test_the_console_command_prints_no_traceback(tmp_path: Path) -> None:
    # The real entry point in a fresh interpreter: one line on stderr, exit code 2.
    config = tmp_path / "bad.toml"
    config.write_text(TINY.replace("learning_rate = 0.05", "learning_rate = 0"))
    result = subprocess.run(
        [sys.executable, "-m", "infoflow.cli", "run", str(config), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "training.learning_rate" in result.stderr
    assert not (tmp_path / "out").exists()


def test_sweep_takes_a_scheduler_or_local_workers_not_both(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    spec = tmp_path / "spec.toml"
    spec.write_text('experiment = "fig2"\n')
    code, out, err = run_cli(
        capsys, "sweep", str(spec), "--out", str(tmp_path / "out"), "--scheduler", "tcp://127.0.0.1:1", "--workers", "2"
    )
    assert_one_line_error(code, err, "--workers")
    assert out == "" and not (tmp_path / "out").exists()


def test_sweep_of_a_missing_spec_is_one_line_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run_cli(capsys, "sweep", str(tmp_path / "nope.toml"), "--out", str(tmp_path / "out"))
    assert_one_line_error(code, err, "nope.toml", "no such spec file")
    assert not (tmp_path / "out").exists()
