"""Run folders keep what a user owns: --force, recovery after an interrupted --force, the lock, resume."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
import tomli_w

from infoflow.cli import main
from infoflow.config.schema import ExperimentConfig, parse_config
from infoflow.runs import writer
from infoflow.runs.folder import foreign_entries
from infoflow.runs.lock import LOCK_NAME, RunFolderBusy, RunFolderLock, is_locked
from infoflow.training.experiment import run_experiment
from infoflow.training.trainer import TrainingDiverged

TINY = """
name = "tiny"
seeds = [0]

[network]
preset = "tanh"

[inputs]
kind = "gaussian"
var = 0.25

[training]
epochs = 3
learning_rate = 0.05
train_size = 20
batch_size = 10
test_size = 20

[estimation]
n_samples = 20
n_conditional = 8
n_inputs = 4

[density]
points = 8
"""


def tiny(**training: object) -> ExperimentConfig:
    data = tomllib.loads(TINY)
    data["training"].update(training)
    return parse_config(tomli_w.dumps(data), source="tiny")


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path -> bytes)."""
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def siblings(run_dir: Path) -> list[str]:
    """What --force may leave beside ``run_dir``."""
    return sorted(entry.name for entry in run_dir.parent.iterdir() if entry.name.startswith(f".{run_dir.name}."))


@pytest.fixture
def finished(tmp_path: Path) -> Path:
    return run_experiment(tiny(), tmp_path / "run", progress=False)


# ----------------------------------------------------------------------------------------------
# --force
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("user_file", ["notes.md", "my_plots/a.png", "figures/mine.pdf", "figures/sub/x.png"])
def test_force_refuses_a_run_holding_user_files_and_names_them(finished: Path, user_file: str) -> None:
    path = finished / user_file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("mine")
    before = snapshot(finished)
    shown = user_file if "/" not in user_file or user_file.startswith("figures/") else user_file.split("/")[0] + "/"
    shown = "figures/sub" if user_file == "figures/sub/x.png" else shown
    with pytest.raises(FileExistsError, match="no run wrote") as caught:
        run_experiment(tiny(learning_rate=0.01), finished, force=True, progress=False)
    assert shown in str(caught.value) and "\n" not in str(caught.value)
    assert snapshot(finished) == before
    assert siblings(finished) == []


def test_a_manifest_beside_a_thesis_is_not_replaced(tmp_path: Path) -> None:
    folder = tmp_path / "thesis"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps({"infoflow_version": "0.1", "status": "complete"}))
    (folder / "thesis.tex").write_text("\\documentclass{article}")
    before = snapshot(folder)
    with pytest.raises(FileExistsError, match="thesis.tex"):
        run_experiment(tiny(), folder, force=True, progress=False)
    assert snapshot(folder) == before and siblings(folder) == []


def test_force_on_a_clean_run_replaces_it(finished: Path) -> None:
    (finished / "figures").mkdir()
    (finished / "figures" / "mi.png").write_bytes(b"old figure")
    old = (finished / "metrics.csv").read_bytes()
    run_experiment(tiny(learning_rate=0.01), finished, force=True, progress=False)
    assert (finished / "metrics.csv").read_bytes() != old
    assert not (finished / "figures").exists()
    assert siblings(finished) == [] and not (finished / LOCK_NAME).exists()


def test_a_failed_force_puts_the_old_run_back_at_once(finished: Path) -> None:
    before = snapshot(finished)
    diverging = parse_config(
        TINY.replace('preset = "tanh"', 'widths = [1, 1]\nactivations = ["linear"]').replace(
            "learning_rate = 0.05", "learning_rate = 1e6"
        )
    )
    with pytest.raises(TrainingDiverged, match="is back in") as caught:
        run_experiment(diverging, finished, force=True, progress=False)
    assert "\n" not in str(caught.value)
    assert snapshot(finished) == before and siblings(finished) == []


def test_an_interrupted_force_is_recovered_at_the_next_start(finished: Path, capsys: pytest.CaptureFixture) -> None:
    before = snapshot(finished)
    # What a SIGKILL mid --force leaves: the old run aside under a dead pid, a partial new run.
    aside = finished.with_name(f".{finished.name}.replaced-{2**22 + 12345}")
    os.replace(finished, aside)
    (aside / LOCK_NAME).write_text("999999\n")  # the dead replacer's lock file, unlocked
    finished.mkdir()
    (finished / "config.toml").write_text("# the new run's, never finished")
    manifest = json.loads((aside / "manifest.json").read_text())
    (finished / "manifest.json").write_text(json.dumps(dict(manifest, status="running")))
    run_experiment(tiny(), finished, resume=True, progress=False)
    assert "is back in" in capsys.readouterr().err
    assert snapshot(finished) == before and siblings(finished) == []


def test_a_leftover_beside_a_complete_replacement_is_deleted(finished: Path, capsys: pytest.CaptureFixture) -> None:
    aside = finished.with_name(f".{finished.name}.replaced-{2**22 + 54321}")
    aside.mkdir()
    (aside / "metrics.csv").write_text("old")
    before = snapshot(finished)
    run_experiment(tiny(), finished, resume=True, progress=False)  # complete: nothing to do
    assert "deleted" in capsys.readouterr().err
    assert snapshot(finished) == before and siblings(finished) == []


KILLABLE = TINY.replace("epochs = 3", "epochs = 400")


def test_a_sigkilled_force_leaves_the_old_run_recoverable(finished: Path, tmp_path: Path) -> None:
    before = snapshot(finished)
    (tmp_path / "configs").mkdir()
    config_path = tmp_path / "configs" / "long.toml"
    config_path.write_text(KILLABLE)
    script = (
        "import sys\nfrom infoflow import load_config, run_experiment\n"
        "run_experiment(load_config(sys.argv[1]), sys.argv[2], force=True, progress=False, checkpoint_interval_s=0)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", script, str(config_path), str(finished)])
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            if (finished / "checkpoint.pt").exists() and siblings(finished):
                break
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL
    assert len(siblings(finished)) == 1, "killed before or after the replacement; the test proves nothing"
    with pytest.raises(ValueError, match="differs"):  # the old run is back, with its own config
        run_experiment(parse_config(KILLABLE, source="long"), finished, resume=True, progress=False)
    assert snapshot(finished) == before and siblings(finished) == []


def test_foreign_entries_lists_what_no_run_wrote(finished: Path) -> None:
    assert foreign_entries(finished) == []
    (finished / "my_plots").mkdir()
    (finished / "notes.md").write_text("x")
    assert foreign_entries(finished) == ["my_plots/", "notes.md"]


def test_figures_any_infoflow_module_drew_belong_to_the_run(finished: Path) -> None:
    # A paper's own figure, drawn through plots.save_figure, is listed in the figure index; a
    # user's figure of another name is not.
    from matplotlib.figure import Figure

    from infoflow.plots.run_figures import save_figure

    (finished / "figures").mkdir(exist_ok=True)
    save_figure(Figure(), finished / "figures" / "a_papers_figure")
    (finished / "figures" / "mine.png").write_bytes(b"not ours")
    assert foreign_entries(finished) == ["figures/mine.png"]


# ----------------------------------------------------------------------------------------------
# The lock
# ----------------------------------------------------------------------------------------------

HOLD = (
    "import sys, time\nfrom infoflow.runs.lock import RunFolderLock\n"
    "lock = RunFolderLock(sys.argv[1])\nprint('locked', flush=True)\ntime.sleep(60)\n"
)


def _holder(folder: Path) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "locked"
    return process


def test_a_second_process_on_a_folder_in_use_is_refused(finished: Path, capsys: pytest.CaptureFixture) -> None:
    (finished / "manifest.json").write_text(
        json.dumps(dict(json.loads((finished / "manifest.json").read_text()), status="running"))
    )
    live_temporary = finished / "metrics.csv.tmp-99999"
    live_temporary.write_text("another process is writing this")
    holder = _holder(finished)
    try:
        before = snapshot(finished)
        with pytest.raises(RunFolderBusy, match=f"in use by another infoflow process \\(process {holder.pid}\\)"):
            run_experiment(tiny(), finished, resume=True, progress=False)
        with pytest.raises(RunFolderBusy):
            run_experiment(tiny(), finished, force=True, progress=False)
        config_path = finished.parent / "tiny.toml"
        config_path.write_text(TINY)
        code = main(["run", str(config_path), "--out", str(finished), "--resume", "--no-progress"])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and err[0].startswith("infoflow: error: ") and "in use" in err[0]
        assert snapshot(finished) == before and live_temporary.exists()
    finally:
        holder.kill()
        holder.wait()
    # SIGKILL released the lock: the folder can be used again at once.
    assert not is_locked(finished)
    run_experiment(tiny(), finished, resume=True, progress=False)
    assert not live_temporary.exists()  # a dead process's temporary file is cleaned, under the lock


def test_the_lock_is_exclusive_within_a_process_too(tmp_path: Path) -> None:
    with RunFolderLock(tmp_path):
        with pytest.raises(RunFolderBusy):
            RunFolderLock(tmp_path)
        assert is_locked(tmp_path)
    assert not is_locked(tmp_path) and not (tmp_path / LOCK_NAME).exists()
    RunFolderLock(tmp_path).release()


# ----------------------------------------------------------------------------------------------
# Resume, unreadable files, full disk
# ----------------------------------------------------------------------------------------------


def test_resume_of_a_folder_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist; run without --resume"):
        run_experiment(tiny(), tmp_path / "typo", resume=True, progress=False)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "empty").mkdir()
    run_experiment(tiny(), tmp_path / "empty", resume=True, progress=False)
    run_experiment(tiny(), tmp_path / "new", resume=True, missing_ok=True, progress=False)
    assert (tmp_path / "new" / "metrics.csv").is_file()


def test_a_corrupt_manifest_or_config_is_named(finished: Path) -> None:
    (finished / "config.toml").write_text("[network\n")
    with pytest.raises(ValueError, match=r"config\.toml: invalid TOML"):
        run_experiment(tiny(), finished, resume=True, progress=False)
    (finished / "config.toml").unlink()
    (finished / "manifest.json").write_text("{not json")
    with pytest.raises(FileExistsError, match=r"manifest\.json is unreadable"):
        run_experiment(tiny(), finished, resume=True, progress=False)


def test_a_full_disk_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(path: Path, data: bytes) -> None:
        if path.name == "metrics.csv":
            raise OSError(errno.ENOSPC, "No space left on device")
        Path(path).write_bytes(data)

    monkeypatch.setattr(writer, "write_atomically", full)
    with pytest.raises(OSError, match=r"No space left on device: '.*metrics\.csv'") as caught:
        run_experiment(tiny(), tmp_path / "run", progress=False)
    assert caught.value.errno == errno.ENOSPC
    assert not (tmp_path / "run" / LOCK_NAME).exists()
