"""Writing one run folder: records, checkpoint and manifest, each file atomically.

A write that fails (a full disk) raises an OSError naming the file.
"""

from __future__ import annotations

import io
import json
import platform
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from infoflow.config.schema import CHECKPOINT_FORMAT, ExperimentConfig
from infoflow.files import write_atomically
from infoflow.runs.records import RunRecords

if TYPE_CHECKING:  # the trainer is only passed through; runs/ does not depend on training/
    from infoflow.training.trainer import Trainer


def utc_now() -> str:
    """Return the time now, UTC, ISO 8601 to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def write_file(path: Path, data: bytes) -> None:
    """Write ``path`` atomically; an OSError (a full disk) names the file."""
    try:
        write_atomically(path, data)
    except OSError as error:
        if error.filename is not None:
            raise
        if error.errno is None:
            raise OSError(f"cannot write {path}: {error}") from None
        raise OSError(error.errno, error.strerror or str(error), str(path)) from None


class RunWriter:
    """Writes one run folder: records, checkpoint, manifest."""

    def __init__(self, run_dir: Path, config: ExperimentConfig, config_text: str, command: str | None) -> None:
        from infoflow import __version__

        self.run_dir = run_dir
        self.config = config
        self.config_text = config_text
        self.records = RunRecords(
            config.seeds,
            config.network.n_layers,
            [name for name in config.estimation.estimators if name != "sp"],
            None
            if config.density.limits is None
            else [
                None if limits == "auto" else np.linspace(limits[0], limits[1], config.density.points)
                for limits in config.density.limits
            ],
        )
        self.manifest: dict[str, Any] = {
            "infoflow_version": __version__,
            "torch_version": torch.__version__,
            "numpy_version": np.__version__,
            "python_version": platform.python_version(),
            "platform": platform.platform(),
            "command": command if command is not None else "infoflow.run_experiment (Python API)",
            "name": config.name,
            "seeds": list(config.seeds),
            "started_utc": utc_now(),
            "finished_utc": None,
            "timings_s": {"total": 0.0, "per_seed": [], "per_epoch_mean": None},
            "status": "running",
            "message": "",
            "resumed": 0,
        }
        # Seconds spent training and recording, summed over every process that worked on the run.
        self.timings = {"total": 0.0, "per_seed": [0.0] * len(config.seeds), "epoch_seconds": 0.0, "epochs_timed": 0}

    def write_manifest(self) -> None:
        timings = self.timings
        per_epoch = timings["epoch_seconds"] / timings["epochs_timed"] if timings["epochs_timed"] else None
        self.manifest["timings_s"] = {
            "total": round(timings["total"], 3),
            "per_seed": [round(value, 3) for value in timings["per_seed"]],
            "per_epoch_mean": None if per_epoch is None else round(per_epoch, 6),
        }
        text = json.dumps(self.manifest, indent=2) + "\n"
        write_file(self.run_dir / "manifest.json", text.encode("utf-8"))

    def write_records(self, densities: bool = True) -> None:
        write_file(self.run_dir / "metrics.csv", self.records.csv_text().encode("utf-8"))
        if densities:
            npz = self.records.npz_bytes()
            if npz is not None:
                write_file(self.run_dir / "densities.npz", npz)

    def write_checkpoint(self, seed_index: int, trainer: Trainer | None) -> None:
        state = {
            "format": CHECKPOINT_FORMAT,
            "config_toml": self.config_text,
            "seed_index": seed_index,
            "trainer": None if trainer is None else trainer.state_dict(),
            "records": self.records.state(),
            "timings": dict(self.timings, per_seed=list(self.timings["per_seed"])),
            "started_utc": self.manifest["started_utc"],
        }
        buffer = io.BytesIO()
        torch.save(state, buffer)
        write_file(self.run_dir / "checkpoint.pt", buffer.getvalue())

    def restore(self, checkpoint: dict[str, Any], manifest: dict[str, Any] | None) -> None:
        self.records.load_state(checkpoint["records"])
        saved = checkpoint["timings"]
        self.timings = {
            "total": float(saved["total"]),
            "per_seed": [float(value) for value in saved["per_seed"]],
            "epoch_seconds": float(saved["epoch_seconds"]),
            "epochs_timed": int(saved["epochs_timed"]),
        }
        self.manifest["started_utc"] = checkpoint["started_utc"]
        if manifest is not None:
            self.manifest["resumed"] = int(manifest.get("resumed", 0)) + 1


def best_effort(*writes: Callable[[], None]) -> None:
    """Record a failure in the folder if the disk allows; the original error is what matters."""
    for write in writes:
        try:
            write()
        except OSError:
            return
