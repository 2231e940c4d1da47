"""Replacing a run (``force``) so that no interruption loses the old one.

``R`` is replaced in three renames, each atomic:

1. ``R`` -> ``.R.replaced-PID`` (the old run, aside; its lock file goes with it, still locked by
   the replacing process, which proves that process alive to anyone who looks);
2. a fresh ``R`` is made, locked, and the new run is written into it;
3. once the new run is complete, ``.R.replaced-PID`` is deleted.

If the new run does not complete, the old run is put back: at once when the process can (an
exception, Ctrl-C), else at the next start on ``R`` (a SIGKILL), found by its name and its
unlocked lock file. Putting back is again renames: ``R`` -> ``.R.discarded-PID``, the old run ->
``R``, then the discarded new run is deleted; a ``.R.discarded-PID`` left by a kill is deleted at
the next start. Only run folders whose every file is a run's own are ever moved or deleted.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from infoflow.runs.contents import foreign_entries, read_manifest
from infoflow.runs.lock import LOCK_NAME, RunFolderLock, is_locked

_REPLACED = "replaced"
_DISCARDED = "discarded"


def _sibling(run_dir: Path, kind: str, pid: int) -> Path:
    return run_dir.with_name(f".{run_dir.name}.{kind}-{pid}")


def leftovers(run_dir: str | os.PathLike[str]) -> list[Path]:
    """Return the ``.R.replaced-PID`` and ``.R.discarded-PID`` folders beside ``run_dir``, oldest first."""
    run_dir = Path(run_dir)
    parent = run_dir.parent
    if not parent.is_dir():
        return []
    prefixes = tuple(f".{run_dir.name}.{kind}-" for kind in (_REPLACED, _DISCARDED))
    found = []
    for entry in parent.iterdir():
        if entry.name.startswith(prefixes) and entry.name.rsplit("-", 1)[-1].isdigit() and entry.is_dir():
            found.append(entry)
    return sorted(found, key=lambda entry: (entry.stat().st_mtime, entry.name))


def _owner_alive(folder: Path) -> bool:
    """True if the process that made ``folder`` still runs.

    Its lock file says so (locked while that process lives); a folder without one falls back
    on the pid in its name.
    """
    if (folder / LOCK_NAME).exists():
        return is_locked(folder)
    pid = int(folder.name.rsplit("-", 1)[-1])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_complete(run_dir: Path) -> bool:
    manifest = read_manifest(run_dir)
    return manifest is not None and manifest.get("status") == "complete"


def _swap_back(run_dir: Path, old: Path, lock: RunFolderLock, old_lock: RunFolderLock) -> RunFolderLock:
    """Put the run in ``old`` back as ``run_dir``, discarding what ``run_dir`` holds; return the lock held.

    ``lock`` is held on ``run_dir``, ``old_lock`` on ``old``. The held lock files move with their
    folders, so ``old_lock`` becomes ``run_dir``'s lock with no instant in which it is free.
    """
    discarded = _sibling(run_dir, _DISCARDED, os.getpid())
    if run_dir.exists():
        os.replace(run_dir, discarded)
    os.replace(old, run_dir)
    old_lock.moved_to(run_dir)
    lock.release()
    if discarded.exists():
        shutil.rmtree(discarded)
    return old_lock


def recover_interrupted_replacements(
    run_dir: Path, lock: RunFolderLock, notify: Callable[[str], None]
) -> RunFolderLock:
    """Finish what an interrupted ``force`` left beside ``run_dir`` (whose ``lock`` the caller holds).

    A ``.R.replaced-PID`` of a dead process is deleted if ``R`` now holds a complete run (only
    the final delete was missed), else put back as ``R`` (the new run never finished); a
    ``.R.discarded-PID`` is deleted. Each action is reported through ``notify``. Returns the
    lock the caller now holds (a new one when ``R`` was put back).
    """
    for folder in leftovers(run_dir):
        if not folder.exists() or _owner_alive(folder):
            continue
        if foreign_entries(folder):
            notify(f"{folder} holds files that no run wrote; left as it is: look at it and move what you need")
            continue
        if folder.name.startswith(f".{run_dir.name}.{_DISCARDED}-"):
            shutil.rmtree(folder)
            notify(f"deleted {folder}, an unfinished run that an interrupted --force had set aside")
        elif _is_complete(run_dir):
            shutil.rmtree(folder)
            notify(f"deleted {folder}: the run that replaced it in {run_dir} (--force) is complete")
        elif foreign_entries(run_dir):
            notify(
                f"{folder} holds the run that an interrupted --force was replacing; {run_dir} has files "
                "of yours, so it was not put back"
            )
        else:
            lock = _swap_back(run_dir, folder, lock, RunFolderLock(folder))
            notify(
                f"a --force run in {run_dir} was interrupted before it finished: the run it was replacing "
                f"is back in {run_dir}"
            )
    return lock


class Replacement:
    """An old run moved aside while a new one is written in its place.

    Attributes
    ----------
    run_dir : Path
    aside : Path
        ``.R.replaced-PID``, holding the old run.
    """

    def __init__(self, run_dir: Path, aside: Path, lock: RunFolderLock) -> None:
        self.run_dir = run_dir
        self.aside = aside
        # The old folder's lock, kept while we live: it tells others the replacement is live.
        self._aside_lock = lock

    def discard(self) -> None:
        """Delete the old run (the new one is complete)."""
        shutil.rmtree(self.aside, ignore_errors=True)
        self.release()

    def restore(self, lock: RunFolderLock) -> tuple[RunFolderLock, str]:
        """Put the old run back, discarding the new one; return the lock now held and a note."""
        new_lock = _swap_back(self.run_dir, self.aside, lock, self._aside_lock)
        return new_lock, f"the run that --force was replacing is back in {self.run_dir}"

    def release(self) -> None:
        """Release the old folder's lock (the next start on R recovers a replacement left here)."""
        self._aside_lock.release()


def replace_run(run_dir: Path, lock: RunFolderLock) -> tuple[Replacement, RunFolderLock]:
    """Move the run in ``run_dir`` aside and lock a fresh, empty ``run_dir``; return both.

    ``lock`` (held on ``run_dir``) moves with the old run and stays held.
    """
    aside = _sibling(run_dir, _REPLACED, os.getpid())
    if aside.exists():
        raise FileExistsError(f"{aside} is in the way of --force (an earlier replacement's); move it elsewhere")
    os.replace(run_dir, aside)
    try:
        run_dir.mkdir()
        new_lock = RunFolderLock(run_dir)
    except BaseException:
        # Someone took the name in the instant it was free: put the old run back if we can.
        if not run_dir.exists():
            os.replace(aside, run_dir)
            lock.moved_to(run_dir)
        lock.release()
        raise
    return Replacement(run_dir, aside, lock), new_lock
