"""The 12-bit data set of Shwartz-Ziv & Tishby (2017), as used by Goldfeld et al. (2019, §6).

X is uniform over all 4096 binary vectors of length 12 (bits 0/1, bit 0 the most significant of
the pattern number); Y is a fixed binary function of X (2118 of the 4096 labels are 1). The
published experiments hold out 819 patterns as the test set (3277 train). Provenance: transcribed
from the data file of Goldfeld et al.'s public code, which carries the Shwartz-Ziv & Tishby set;
cite both (see the README).
"""

from __future__ import annotations

from importlib import resources

import numpy as np

from infoflow.data.dataset import FiniteDataset

N_BITS = 12
N_PATTERNS = 2**N_BITS
N_TEST = 819


def _read(name: str) -> str:
    return (resources.files("infoflow.data") / "szt" / name).read_text(encoding="ascii")


def szt_patterns() -> np.ndarray:
    """Return the 4096 input vectors, float64 (4096, 12) of 0/1; row i has the bits of i, big-endian."""
    numbers = np.arange(N_PATTERNS)
    shifts = np.arange(N_BITS - 1, -1, -1)
    return ((numbers[:, None] >> shifts[None, :]) & 1).astype(np.float64)


def szt_labels() -> np.ndarray:
    """Return the 4096 labels, int64 (4096,) in {0, 1}; entry i is the label of pattern i."""
    text = _read("labels.txt").strip()
    if len(text) != N_PATTERNS or set(text) - {"0", "1"}:
        raise ValueError("the packaged SZT labels.txt is damaged: expected 4096 characters 0/1")
    return np.frombuffer(text.encode("ascii"), dtype=np.uint8).astype(np.int64) - ord("0")


def szt_test_rows() -> np.ndarray:
    """Return the 819 held-out pattern numbers of the published split, int64 (819,), sorted."""
    rows = np.array(sorted(int(word) for word in _read("test_patterns.txt").split()), dtype=np.int64)
    if len(rows) != N_TEST or len(np.unique(rows)) != N_TEST or rows.min() < 0 or rows.max() >= N_PATTERNS:
        raise ValueError("the packaged SZT test_patterns.txt is damaged: expected 819 distinct numbers < 4096")
    return rows


def szt_dataset(part: str = "all") -> FiniteDataset:
    """Return the SZT data set (``part``: "all" 4096 rows, "train" 3277, "test" 819) with labels.

    X is uniform over the rows of the chosen part; the information measurements of the published
    experiments use all 4096 patterns (``part="all"``).
    """
    x, y = szt_patterns(), szt_labels()
    if part == "all":
        return FiniteDataset(x, y)
    test = np.zeros(N_PATTERNS, dtype=bool)
    test[szt_test_rows()] = True
    if part == "test":
        return FiniteDataset(x[test], y[test])
    if part == "train":
        return FiniteDataset(x[~test], y[~test])
    raise ValueError(f'part must be "all", "train" or "test"; got {part!r}')
