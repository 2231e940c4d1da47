"""The 8x8 handwritten digits (UCI optdigits' test set, 1797 rows, 10 classes), shipped with infoflow.

The file is scikit-learn 1.6.1's bundled ``digits.csv.gz``, copied unchanged (no scikit-learn
dependency, no download); ``PROVENANCE.md`` beside it gives its origin, licence and SHA-256, which
:func:`load_digits` checks on every load.
"""

from __future__ import annotations

import gzip
import hashlib
import io
from importlib import resources

import numpy as np

DIGITS_FILE = "digits.csv.gz"
DIGITS_SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"
N_ROWS = 1797
N_FEATURES = 64
N_CLASSES = 10
# The largest pixel value (a count of on pixels in a 4x4 block).
PIXEL_MAX = 16.0


def digits_bytes() -> bytes:
    """Return the shipped ``digits.csv.gz`` as stored (gzip bytes).

    Raises
    ------
    ValueError
        The packaged file's SHA-256 is not the recorded one (a damaged installation).
    """
    data = (resources.files(__name__) / DIGITS_FILE).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != DIGITS_SHA256:
        raise ValueError(f"the packaged {DIGITS_FILE} is damaged: SHA-256 {digest}, expected {DIGITS_SHA256}")
    return data


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """Return the digits: x float64 (1797, 64), pixel counts / 16 in [0, 1]; y int64 (1797,) in 0..9.

    Rows are in the file's order (scikit-learn's ``load_digits`` order); pixels row-major per 8x8 image.
    """
    text = gzip.decompress(digits_bytes()).decode("ascii")
    table = np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.int64)
    if table.shape != (N_ROWS, N_FEATURES + 1):
        raise ValueError(f"the packaged {DIGITS_FILE} has shape {table.shape}; expected ({N_ROWS}, {N_FEATURES + 1})")
    x = table[:, :N_FEATURES].astype(np.float64) / PIXEL_MAX
    y = table[:, N_FEATURES].copy()
    return x, y
