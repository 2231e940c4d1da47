"""RunWriter: the one writer of a run folder (format.py), used by the reference runs and by
``InformationProbe`` alike: config, records, manifest and checkpoint, each file atomically.

A write that fails (a full disk) raises an OSError naming the file.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from infoflow.files import write_atomically
from infoflow.runs.format import (
    CHECKPOINT_FILE,
    CHECKPOINT_FORMAT,
    CONFIG_FILE,
    DENSITIES_FILE,
    MANIFEST_FILE,
    METRICS_FILE,
    new_manifest,
    utc_now,
)
from infoflow.runs.records import EpochRecord, RunRecords

__all__ = ["RunWriter", "best_effort", "utc_now", "write_file"]


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
    """Writes one run folder: its config text, records, manifest and checkpoint.

    Parameters
    ----------
    run_dir : Path
        The folder (already checked and locked by the caller).
    name : str
        The run's name (manifest).
    seeds : sequence of int
        The run's seeds, in order.
    n_layers : int
    extra_estimators : sequence of str
        Estimators recorded beside SP (columns ``mi_<name>_nats``).
    grids : sequence of (ndarray of shape (G_l,) or None), or None
        Each layer's density grid; None (or an entry None) until known.
    config_text : str
        The text of config.toml.
    command : str
        What started the run (manifest).
    """

    def __init__(
        self,
        run_dir: Path,
        *,
        name: str,
        seeds: Sequence[int],
        n_layers: int,
        extra_estimators: Sequence[str] = (),
        grids: Sequence[np.ndarray | None] | None = None,
        config_text: str,
        command: str,
    ) -> None:
        self.run_dir = Path(run_dir)
        self.seeds = [int(seed) for seed in seeds]
        self.config_text = config_text
        self.records = RunRecords(self.seeds, n_layers, extra_estimators, grids)
        self.manifest: dict[str, Any] = new_manifest(name, self.seeds, command)
        # Seconds spent training and recording, summed over every process that worked on the run.
        self.timings = {"total": 0.0, "per_seed": [0.0] * len(self.seeds), "epoch_seconds": 0.0, "epochs_timed": 0}

    # -- records --------------------------------------------------------------------------------

    def add(self, seed: int, record: EpochRecord, seconds: float | None = None) -> None:
        """Add one epoch's record of ``seed``, and the seconds it took (counted in the timings)."""
        self.records.add(seed, record)
        if seconds is not None:
            self.timings["total"] += seconds
            self.timings["per_seed"][self.seeds.index(seed)] += seconds
            self.timings["epoch_seconds"] += seconds
            self.timings["epochs_timed"] += 1

    # -- files ----------------------------------------------------------------------------------

    def write_config(self) -> None:
        """Write config.toml."""
        write_file(self.run_dir / CONFIG_FILE, self.config_text.encode("utf-8"))

    def write_records(self, densities: bool = True) -> None:
        """Write metrics.csv and (``densities``, once any grid is known) densities.npz."""
        write_file(self.run_dir / METRICS_FILE, self.records.csv_text().encode("utf-8"))
        if densities:
            npz = self.records.npz_bytes()
            if npz is not None:
                write_file(self.run_dir / DENSITIES_FILE, npz)

    def write_manifest(self) -> None:
        """Write manifest.json with the timings so far."""
        timings = self.timings
        per_epoch = timings["epoch_seconds"] / timings["epochs_timed"] if timings["epochs_timed"] else None
        self.manifest["timings_s"] = {
            "total": round(timings["total"], 3),
            "per_seed": [round(value, 3) for value in timings["per_seed"]],
            "per_epoch_mean": None if per_epoch is None else round(per_epoch, 6),
        }
        text = json.dumps(self.manifest, indent=2) + "\n"
        write_file(self.run_dir / MANIFEST_FILE, text.encode("utf-8"))

    def write_all(self) -> None:
        """Write config.toml, the records and the manifest."""
        self.write_config()
        self.write_records()
        self.write_manifest()

    def finish(self, status: str, message: str = "") -> None:
        """Mark the run ``status`` ("complete" or "failed") with ``message`` (manifest only, not written)."""
        self.manifest.update(status=status, message=message, finished_utc=utc_now())

    # -- checkpoint -----------------------------------------------------------------------------

    def write_checkpoint(self, seed_index: int, trainer_state: dict[str, Any] | None) -> None:
        """Write checkpoint.pt: the records so far, timings, and the state of the seed in progress.

        ``seed_index`` is the seed a resume starts at; ``trainer_state`` (tensors and plain values,
        e.g. ``Trainer.state_dict()``) that seed's state, or None to start it afresh.
        """
        state = {
            "format": CHECKPOINT_FORMAT,
            "config_toml": self.config_text,
            "seed_index": seed_index,
            "trainer": trainer_state,
            "records": self.records.state(),
            "timings": dict(self.timings, per_seed=list(self.timings["per_seed"])),
            "started_utc": self.manifest["started_utc"],
        }
        buffer = io.BytesIO()
        torch.save(state, buffer)
        write_file(self.run_dir / CHECKPOINT_FILE, buffer.getvalue())

    def restore(self, checkpoint: dict[str, Any], manifest: dict[str, Any] | None) -> None:
        """Continue from ``checkpoint`` (see :meth:`write_checkpoint`) and the folder's ``manifest``."""
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
