"""The run folder's rules: what counts as a run, where a run starts (fresh, resume, force)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from infoflow.config.schema import (
    CHECKPOINT_FORMAT,
    RUN_FILES,
    ConfigError,
    ExperimentConfig,
    _first_difference,
    config_to_dict,
    parse_config,
)
from infoflow.files import TEMPORARY_MARK


def _read_manifest(run_dir: Path) -> dict[str, Any] | None:
    try:
        manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and "infoflow_version" in manifest else None


def _is_scratch_file(name: str) -> bool:
    return TEMPORARY_MARK in name or ".replaced-" in name


def is_run_folder(path: str | os.PathLike[str]) -> bool:
    """Return True if ``path`` is a folder that infoflow wrote a run into.

    That is: it has a valid manifest.json, or (a run killed before writing its manifest) it
    holds a config.toml and nothing but run files.
    """
    folder = Path(path)
    if not folder.is_dir():
        return False
    if _read_manifest(folder) is not None:
        return True
    names = [entry.name for entry in folder.iterdir()]
    return "config.toml" in names and all(name in RUN_FILES or _is_scratch_file(name) for name in names)


@dataclass
class _Start:
    """Where a run starts: from scratch, or from a checkpoint, or not at all (already complete)."""

    checkpoint: dict[str, Any] | None = None
    manifest: dict[str, Any] | None = None
    already_complete: bool = False
    replaced: Path | None = None


def _load_checkpoint(path: Path) -> dict[str, Any]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unreadable file gets the same clear message
        raise ValueError(
            f"cannot resume: {path} is unreadable ({type(error).__name__}: {error}); use --force to start over"
        ) from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"cannot resume: {path} is not an infoflow checkpoint of format {CHECKPOINT_FORMAT}")
    return state


def _prepare_run_folder(run_dir: Path, config: ExperimentConfig, *, force: bool, resume: bool) -> _Start:
    """Check the output folder against the rules and return where the run starts.

    Nothing on disk changes here except, with ``force``, moving an old run aside.
    """
    if run_dir.exists() and not run_dir.is_dir():
        raise FileExistsError(f"{run_dir} exists and is not a folder")
    entries = [entry for entry in run_dir.iterdir()] if run_dir.exists() else []
    if not entries:
        return _Start()
    if resume:
        if not is_run_folder(run_dir):
            raise FileExistsError(f"cannot resume: {run_dir} is not an infoflow run folder (it has no manifest.json)")
        stored_config = run_dir / "config.toml"
        if stored_config.is_file():
            try:
                stored = parse_config(stored_config.read_text(encoding="utf-8"), source=str(stored_config))
            except ConfigError as error:
                raise ValueError(f"cannot resume: {error}") from None
            difference = _first_difference(config_to_dict(stored), config_to_dict(config))
            if difference:
                raise ValueError(
                    f"cannot resume: the config differs from {stored_config} at {difference}; "
                    f"resume with that file as the config, or use --force to start over"
                )
        manifest = _read_manifest(run_dir)
        if manifest is not None and manifest.get("status") == "complete":
            return _Start(manifest=manifest, already_complete=True)
        checkpoint_path = run_dir / "checkpoint.pt"
        if not checkpoint_path.is_file():
            # Killed before its first checkpoint: nothing to keep, start again in place.
            return _Start(manifest=manifest)
        checkpoint = _load_checkpoint(checkpoint_path)
        if parse_config(checkpoint["config_toml"], source=str(checkpoint_path)) != config:
            raise ValueError(
                f"cannot resume: {checkpoint_path} belongs to a different config; use --force to start over"
            )
        return _Start(checkpoint=checkpoint, manifest=manifest)
    if force:
        if not is_run_folder(run_dir):
            raise FileExistsError(
                f"{run_dir} is not empty and is not an infoflow run folder; refusing to replace it, even with --force"
            )
        # The old run moves aside and is deleted only once the new one has finished, so an
        # interrupted replacement loses nothing.
        replaced = run_dir.with_name(f".{run_dir.name}.replaced-{os.getpid()}")
        return _Start(replaced=replaced)
    raise FileExistsError(
        f"{run_dir} already exists and is not empty; use --resume to continue the run in it or --force to replace it"
    )


def check_resumable(config: ExperimentConfig, run_dir: str | os.PathLike[str]) -> None:
    """Raise (ValueError / FileExistsError) unless ``run_experiment(config, run_dir, resume=True)`` may run.

    Changes nothing on disk; lets a caller with several runs refuse before starting any.
    """
    _prepare_run_folder(Path(run_dir), config, force=False, resume=True)


# ----------------------------------------------------------------------------------------------
# Progress on stderr
# ----------------------------------------------------------------------------------------------
