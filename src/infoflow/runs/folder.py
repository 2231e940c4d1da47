"""The run folder's rules: what counts as a run, which files a run owns, where a run starts.

A run starts fresh (absent or empty folder), resumes (``resume``), or replaces an earlier run
(``force``). Rules that keep what a user owns:

- only the files a run writes (:data:`RUN_OWNED`, figures/ with infoflow's figure files) are
  ever replaced; ``force`` refuses a folder holding anything else and names it;
- every change happens under the folder's lock (:mod:`infoflow.runs.lock`), so two processes
  never work in one folder;
- ``force`` moves the old run aside (``.R.replaced-PID`` beside ``R``) and deletes it only once
  the new run is complete; after an interruption the old run comes back (:mod:`.replace`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from infoflow.runs.contents import (
    check_output_folder,
    foreign_entries,
    is_run_folder,
    is_scratch_file,
    manifest_problem,
    read_manifest,
    run_entries,
)
from infoflow.runs.format import CHECKPOINT_FILE, CHECKPOINT_FORMAT, CONFIG_FILE
from infoflow.runs.lock import LOCK_NAME, RunFolderLock
from infoflow.runs.replace import (
    Replacement,
    leftovers,
    recover_interrupted_replacements,
    replace_run,
)


@dataclass
class RunStart:
    """Where a run starts: from scratch, or from a checkpoint, or not at all (already complete)."""

    checkpoint: dict[str, Any] | None = None
    manifest: dict[str, Any] | None = None
    already_complete: bool = False
    replace: bool = False


# A run's config as the folder's owner sees it: given a stored config's text and where it came from,
# return where it differs from the run's own config (None: the same); raise ValueError if unreadable.
ConfigComparison = Callable[[str, str], "str | None"]


def _load_checkpoint(path: Path) -> dict[str, Any]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unreadable file gets the same clear message
        raise ValueError(
            f"cannot resume: {path} is unreadable ({type(error).__name__}: {error}); use --force to start over"
        ) from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        found = state.get("format") if isinstance(state, dict) else None
        was = f" (it is {found}, from an older infoflow)" if isinstance(found, str) else ""
        raise ValueError(
            f"cannot resume: {path} is not an infoflow checkpoint of format {CHECKPOINT_FORMAT}{was}; "
            "use --force to start over"
        )
    return state


def _refuse_foreign(run_dir: Path, *, force: bool, resume: bool) -> None:
    """Refuse a non-empty folder that is not a run, and (``force``) a run holding other files."""
    check_output_folder(run_dir, may_reuse=True)
    if not run_entries(run_dir):
        return
    if not is_run_folder(run_dir):
        if resume:
            raise FileExistsError(
                f"cannot resume: {run_dir} is not an infoflow run folder ({manifest_problem(run_dir)})"
            )
        if force:
            raise FileExistsError(
                f"{run_dir} is not empty and is not an infoflow run folder ({manifest_problem(run_dir)}); "
                "refusing to replace it, even with --force"
            )
        return
    if force:
        foreign = foreign_entries(run_dir)
        if foreign:
            shown = ", ".join(foreign[:10]) + (f" and {len(foreign) - 10} more" if len(foreign) > 10 else "")
            raise FileExistsError(
                f"{run_dir} holds files that no run wrote ({shown}); --force replaces only a run's own files: "
                "move those elsewhere, or choose another --out"
            )


def _prepare_run_folder(
    run_dir: Path, compare: ConfigComparison, *, force: bool, resume: bool, missing_ok: bool = False
) -> RunStart:
    """Check the output folder against the rules and return where the run starts; changes nothing."""
    _refuse_foreign(run_dir, force=force, resume=resume)
    if not run_entries(run_dir):
        if resume and not run_dir.exists() and not missing_ok:
            raise FileNotFoundError(
                f"cannot resume: {run_dir} does not exist; run without --resume to start a new run there"
            )
        return RunStart()
    if resume:
        stored_config = run_dir / CONFIG_FILE
        if stored_config.is_file():
            try:
                difference = compare(stored_config.read_text(encoding="utf-8"), str(stored_config))
            except (ValueError, OSError, UnicodeDecodeError) as error:
                raise ValueError(f"cannot resume: {error}; use --force to start over") from None
            if difference:
                raise ValueError(
                    f"cannot resume: the config differs from {stored_config} at {difference}; "
                    f"resume with that file as the config, or use --force to start over"
                )
        manifest = read_manifest(run_dir)
        if manifest is not None and manifest.get("status") == "complete":
            return RunStart(manifest=manifest, already_complete=True)
        checkpoint_path = run_dir / CHECKPOINT_FILE
        if not checkpoint_path.is_file():
            # Killed before its first checkpoint: nothing to keep, start again in place.
            return RunStart(manifest=manifest)
        checkpoint = _load_checkpoint(checkpoint_path)
        try:
            same = compare(checkpoint["config_toml"], str(checkpoint_path)) is None
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"cannot resume: {checkpoint_path} holds no valid config ({error})") from None
        if not same:
            raise ValueError(
                f"cannot resume: {checkpoint_path} belongs to a different config; use --force to start over"
            )
        return RunStart(checkpoint=checkpoint, manifest=manifest)
    advice = "use --resume to continue the run in it or --force to replace it"
    check_output_folder(run_dir, may_reuse=force, advice=advice)
    return RunStart(replace=True)


def check_resumable(compare: ConfigComparison, run_dir: str | os.PathLike[str], *, missing_ok: bool = False) -> None:
    """Raise (ValueError / OSError) unless a run of the config ``compare`` stands for may resume in ``run_dir``.

    Changes nothing on disk; lets a caller with several runs refuse before starting any.
    ``missing_ok``: an absent ``run_dir`` is fine (a new run starts there).
    """
    run_dir = Path(run_dir)
    has_leftover = bool(leftovers(run_dir))
    _prepare_run_folder(run_dir, compare, force=False, resume=True, missing_ok=missing_ok or has_leftover)


class OpenRunFolder:
    """A run folder checked, locked and ready for one run; close it when the run ends.

    Parameters
    ----------
    run_dir : path
    compare : callable
        The run's config (see :data:`ConfigComparison`), for a resume.
    force, resume, missing_ok : bool
        As for ``run_experiment``.
    notify : callable
        Receives one line for each thing done that the user must know (a recovered run).

    Attributes
    ----------
    start : RunStart
        Where the run starts.
    replacement : Replacement or None
        With ``force`` over an earlier run: the old run, moved aside until :meth:`commit`.
    """

    def __init__(
        self,
        run_dir: Path,
        compare: ConfigComparison,
        *,
        force: bool,
        resume: bool,
        missing_ok: bool,
        notify: Callable[[str], None],
    ) -> None:
        self.run_dir = run_dir
        self.replacement: Replacement | None = None
        has_leftover = bool(leftovers(run_dir))
        # Read-only checks first: a refused call creates nothing and locks nothing.
        _refuse_foreign(run_dir, force=force, resume=resume)
        if resume and not run_dir.exists() and not (missing_ok or has_leftover):
            _prepare_run_folder(run_dir, compare, force=force, resume=resume)
        created = not run_dir.exists()
        run_dir.mkdir(parents=True, exist_ok=True)
        self.lock: RunFolderLock | None = None
        try:
            self.lock = RunFolderLock(run_dir)
            # Under the lock only: another process's temporary files are its live writes.
            for entry in run_dir.iterdir():
                if is_scratch_file(entry.name) and entry.is_file():
                    entry.unlink()  # left by a process killed mid-write
            self.lock = recover_interrupted_replacements(run_dir, self.lock, notify)
            self.start = _prepare_run_folder(
                run_dir, compare, force=force, resume=resume, missing_ok=missing_ok or has_leftover
            )
            if self.start.replace:
                self.replacement, self.lock = replace_run(run_dir, self.lock)
        except BaseException:
            if created:
                _remove_if_only_lock(run_dir)
            self.close()
            raise

    def commit(self) -> None:
        """The new run is complete: delete the run it replaced."""
        if self.replacement is not None:
            self.replacement.discard()
            self.replacement = None

    def roll_back(self) -> str:
        """The new run did not complete: put the replaced run back; return a note for the user ('' if none)."""
        if self.replacement is None or self.lock is None:
            return ""
        replacement, self.replacement = self.replacement, None
        self.lock, note = replacement.restore(self.lock)
        return note

    def close(self) -> None:
        """Release the lock(s); a replacement not committed stays aside for the next start to recover."""
        if self.replacement is not None:
            self.replacement.release()
        if self.lock is not None:
            self.lock.release()
            self.lock = None


def _remove_if_only_lock(run_dir: Path) -> None:
    """Undo a folder this call created, when it holds nothing but the lock file."""
    try:
        if [entry.name for entry in run_dir.iterdir()] == [LOCK_NAME]:
            (run_dir / LOCK_NAME).unlink()
            run_dir.rmdir()
    except OSError:
        pass
