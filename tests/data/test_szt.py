"""The packaged SZT data set: encoding, counts and the published split, against the shared source files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from infoflow.data.szt import szt_dataset, szt_labels, szt_patterns, szt_test_rows

SOURCE = Path(__file__).resolve().parents[3] / "shared" / "data" / "szt"


def test_patterns_are_the_big_endian_bits_of_their_row_number():
    patterns = szt_patterns()
    assert patterns.shape == (4096, 12) and set(np.unique(patterns)) == {0.0, 1.0}
    weights = 2 ** np.arange(11, -1, -1)
    assert np.array_equal(patterns @ weights, np.arange(4096))
    assert len(np.unique(patterns, axis=0)) == 4096


def test_labels_and_split_counts():
    labels = szt_labels()
    assert labels.shape == (4096,) and labels.sum() == 2118  # 51.7 % ones, as the data set's README says
    test = szt_test_rows()
    assert len(test) == 819 and len(np.unique(test)) == 819
    train, held_out = szt_dataset("train"), szt_dataset("test")
    assert (train.n_rows, held_out.n_rows) == (3277, 819)
    # The parts partition the patterns, labels travel with their rows.
    rows = np.concatenate([train.x.numpy(), held_out.x.numpy()]) @ (2 ** np.arange(11, -1, -1))
    assert sorted(rows.astype(int).tolist()) == list(range(4096))
    assert np.array_equal(held_out.y.numpy(), labels[test])


@pytest.mark.skipif(not SOURCE.is_dir(), reason="the shared source files are not beside this checkout")
def test_packaged_files_equal_the_shared_source():
    labels_text = (SOURCE / "labels.txt").read_text().strip()
    assert "".join(map(str, szt_labels())) == labels_text
    assert sorted(int(word) for word in (SOURCE / "test_patterns.txt").read_text().split()) == szt_test_rows().tolist()


def test_a_bad_part_is_a_clear_error():
    with pytest.raises(ValueError, match="part must be"):
        szt_dataset("validation")
