"""Files infoflow writes into a user's folder (reports), and how it knows which files are its own.

A folder infoflow writes reports into holds a ledger, ``.infoflow-written.json``: for each file
name, the SHA-256 of the bytes infoflow last wrote there. A file counts as infoflow's own only
while its content still has that hash; anything else (a file infoflow never wrote, or one a user
edited since) is the user's and is never replaced or deleted: the new file goes beside it under
the first free name (``report-2.md``, ``report-3.md``, ...), and the caller is told so.

Files written together (``report.md`` and ``report.html``) share one name stem, so the pair
stays a pair. Every write is atomic (:func:`infoflow.files.write_atomically`); the ledger is
updated after the file, so a crash in between leaves a file treated as the user's (kept), never
a user's file treated as infoflow's.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path

from infoflow.files import write_atomically

LEDGER_NAME = ".infoflow-written.json"
LEDGER_FORMAT = 1
# How many alternative names to try before giving up (a folder with 1000 reports is a mistake).
MAX_ALTERNATIVES = 1000


def file_digest(data: bytes) -> str:
    """Return the SHA-256 of ``data``, hex."""
    return hashlib.sha256(data).hexdigest()


def read_ledger(folder: str | os.PathLike[str]) -> dict[str, str]:
    """Return the folder's ledger, file name -> SHA-256 of what infoflow wrote (empty if none).

    Raises
    ------
    ValueError
        The ledger exists but is not one infoflow wrote (then nothing in the folder is assumed ours).
    """
    path = Path(folder) / LEDGER_NAME
    if not path.exists():
        return {}
    try:
        ledger = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"{path} is not infoflow's ledger of written files ({error}); move it away") from None
    if not isinstance(ledger, dict) or ledger.get("format") != LEDGER_FORMAT or not isinstance(ledger.get("files"), dict):
        raise ValueError(f"{path} is not infoflow's ledger of written files; move it away")
    return {str(name): str(digest) for name, digest in ledger["files"].items()}


def is_own_file(path: str | os.PathLike[str], ledger: Mapping[str, str]) -> bool:
    """Return True if ``path`` is a regular file whose content is what infoflow last wrote there."""
    path = Path(path)
    expected = ledger.get(path.name)
    if expected is None or path.is_symlink() or not path.is_file():
        return False
    try:
        return file_digest(path.read_bytes()) == expected
    except OSError:
        return False


def _renamed(name: str, number: int) -> str:
    """Return ``name`` with ``-number`` before its suffix (report.md -> report-2.md); 1 keeps it."""
    if number == 1:
        return name
    path = Path(name)
    return f"{path.stem}-{number}{path.suffix}"


def _is_free(path: Path) -> bool:
    return not path.exists() and not path.is_symlink()


def free_names(folder: Path, names: list[str], ledger: Mapping[str, str]) -> list[str]:
    """Return the first renaming of ``names`` (one shared number) under which each is absent or ours."""
    for number in range(1, MAX_ALTERNATIVES + 1):
        candidates = [_renamed(name, number) for name in names]
        if all(_is_free(folder / candidate) or is_own_file(folder / candidate, ledger) for candidate in candidates):
            return candidates
    raise FileExistsError(f"{folder}: no free name for {', '.join(names)} (tried {MAX_ALTERNATIVES}); choose another --out")


def write_own_files(
    folder: str | os.PathLike[str],
    files: Mapping[str, bytes],
    *,
    notify: Callable[[str], None] | None = None,
) -> dict[str, Path]:
    """Write ``files`` (name -> bytes) into ``folder`` without ever replacing a file infoflow did not write.

    Parameters
    ----------
    folder : path
        Created if absent.
    files : mapping of file name to bytes
        Plain names (no folders), written under one shared stem number.
    notify : callable, optional
        Called with one sentence when the files go under other names than asked (a user's file
        stands where they would go); default: printed on stderr.

    Returns
    -------
    dict mapping each asked name to the path written.
    """
    folder = Path(folder)
    for name in files:
        if Path(name).name != name or name in ("", ".", "..", LEDGER_NAME):
            raise ValueError(f"file name must be a plain name; got {name!r}")
    folder.mkdir(parents=True, exist_ok=True)
    ledger = read_ledger(folder)
    asked = list(files)
    chosen = free_names(folder, asked, ledger)
    written: dict[str, Path] = {}
    for name, target in zip(asked, chosen):
        data = files[name]
        write_atomically(folder / target, data)
        ledger[target] = file_digest(data)
        _write_ledger(folder, ledger)
        written[name] = folder / target
    if chosen != asked:
        kept = [name for name in asked if (folder / name).exists() and not is_own_file(folder / name, ledger)]
        sentence = (
            f"infoflow: kept {', '.join(kept) or ', '.join(asked)} in {folder} (not written by infoflow); "
            f"wrote {', '.join(chosen)} beside it"
        )
        (notify or _print_stderr)(sentence)
    return written


def _write_ledger(folder: Path, ledger: Mapping[str, str]) -> None:
    text = json.dumps({"format": LEDGER_FORMAT, "files": dict(sorted(ledger.items()))}, indent=2) + "\n"
    write_atomically(folder / LEDGER_NAME, text.encode("utf-8"))


def _print_stderr(text: str) -> None:
    import sys

    sys.stderr.write(text + "\n")
    sys.stderr.flush()
