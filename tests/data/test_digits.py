"""The shipped digits: shape, range, the known per-class counts and the recorded SHA-256."""

import hashlib
from importlib import resources

import numpy as np

from infoflow.data.digits import DIGITS_SHA256, digits_bytes, load_digits

# scikit-learn's load_digits(): np.bincount(target) (the optdigits test set's class counts).
SKLEARN_CLASS_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def test_digits_shape_range_and_class_counts() -> None:
    x, y = load_digits()
    assert x.shape == (1797, 64) and x.dtype == np.float64
    assert y.shape == (1797,) and np.issubdtype(y.dtype, np.integer)
    assert x.min() == 0.0 and x.max() == 1.0
    # Every pixel is a count 0..16 divided by 16.
    assert np.array_equal(x * 16, np.round(x * 16))
    assert np.bincount(y, minlength=10).tolist() == SKLEARN_CLASS_COUNTS
    # The first image of scikit-learn's set (a 0): its first row of pixels is 0 0 5 13 9 1 0 0.
    assert (x[0, :8] * 16).tolist() == [0, 0, 5, 13, 9, 1, 0, 0] and y[0] == 0


def test_digits_file_hash_is_the_recorded_one() -> None:
    stored = (resources.files("infoflow.data.digits") / "digits.csv.gz").read_bytes()
    assert hashlib.sha256(stored).hexdigest() == DIGITS_SHA256
    assert digits_bytes() == stored
    provenance = (resources.files("infoflow.data.digits") / "PROVENANCE.md").read_text(encoding="utf-8")
    assert DIGITS_SHA256 in provenance
