"""One process per run folder: an exclusive advisory lock on ``RUN/.infoflow.lock``.

``fcntl.flock`` locks belong to the open file, so the kernel releases them when the process
ends in any way (return, exception, SIGKILL): a lock is never left behind by a dead process,
and no stale-lock clean-up is needed. The holder removes the lock file when it releases it (a
process that opened the file meanwhile sees it unlinked and locks afresh); a killed holder
leaves it, unlocked. It is one of the files a run owns.
"""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

LOCK_NAME = ".infoflow.lock"


class RunFolderBusy(ValueError):
    """Another process holds the run folder's lock; the message names the folder and that process."""


class RunFolderLock:
    """An exclusive lock on one run folder, held until :meth:`release` (or the process ends).

    Parameters
    ----------
    folder : path
        An existing folder; its lock file is created if absent.

    Raises
    ------
    RunFolderBusy
        Another process holds the lock.
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self._fd: int | None = None
        # The file may be unlinked by its holder between our open and our flock; a lock on an
        # unlinked file guards nothing, so lock again until the locked file is the one named.
        for _ in range(100):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as error:
                holder = _read_holder(fd)
                os.close(fd)
                if error.errno not in (errno.EWOULDBLOCK, errno.EACCES):
                    raise
                by = f" (process {holder})" if holder else ""
                raise RunFolderBusy(
                    f"{self.folder} is in use by another infoflow process{by}; wait for it to finish, "
                    f"or stop it, then run again"
                ) from None
            if _same_file(fd, self.path):
                break
            os.close(fd)
        else:
            raise RunFolderBusy(f"{self.folder}: cannot lock {self.path}; it keeps being replaced")
        self._fd = fd
        # The holder's pid, for the message a second process prints; informative only.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)

    @property
    def held(self) -> bool:
        """True until :meth:`release`."""
        return self._fd is not None

    def moved_to(self, folder: str | os.PathLike[str]) -> None:
        """Record that the locked folder was renamed to ``folder`` (the lock moves with its file)."""
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME

    def release(self) -> None:
        """Release the lock (closing the file releases the flock); a second call does nothing."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            # Removed while still locked (a run leaves no lock file behind); a process that
            # opened it meanwhile finds it unlinked and locks afresh.
            if _same_file(fd, self.path):
                try:
                    self.path.unlink()
                except OSError:
                    pass
            os.close(fd)

    def __enter__(self) -> RunFolderLock:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def _same_file(fd: int, path: Path) -> bool:
    try:
        named, held = os.stat(path), os.fstat(fd)
    except OSError:
        return False
    return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)


def _read_holder(fd: int) -> str:
    try:
        return os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return ""


def is_locked(folder: str | os.PathLike[str]) -> bool:
    """Return True if a live process holds ``folder``'s lock (False when it has no lock file)."""
    path = Path(folder) / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False
