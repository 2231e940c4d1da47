"""The cosine clustering statistic against closed forms on constructed points and a direct pair loop."""

import itertools
import math

import numpy as np
import pytest

from infoflow.analysis.cosine import cosine_clustering


def test_perfect_clusters_on_orthogonal_axes() -> None:
    # Class 0 on the positive e1 axis, class 1 on the positive e2 axis (any lengths): within 1, between 0.
    points = np.array([[1.0, 0.0], [3.0, 0.0], [0.5, 0.0], [0.0, 2.0], [0.0, 0.1]])
    result = cosine_clustering(points, np.array([0, 0, 0, 1, 1]))
    assert result.within == pytest.approx(1.0, abs=1e-15)
    assert result.between == pytest.approx(0.0, abs=1e-15)
    assert result.gap == pytest.approx(1.0, abs=1e-15)


def test_constructed_points_closed_form() -> None:
    # A = {e1, e2}: cos 0. B = {(2, 2), (-3, 0)}: cos -1/sqrt 2. within = mean of the two pairs.
    # Between: cos(e1,(1,1)) = cos(e2,(1,1)) = 1/sqrt 2, cos(e1,-e1) = -1, cos(e2,-e1) = 0.
    points = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0], [-3.0, 0.0]])
    result = cosine_clustering(points, np.array([7, 7, 2, 2]))
    assert result.within == pytest.approx(-1.0 / (2.0 * math.sqrt(2.0)), abs=1e-15)
    assert result.between == pytest.approx((math.sqrt(2.0) - 1.0) / 4.0, abs=1e-15)


def test_matches_a_direct_loop_over_pairs_with_a_zero_vector() -> None:
    generator = np.random.default_rng(3)
    points = generator.standard_normal((40, 2, 3))  # flattened to (40, 6)
    points[5] = 0.0  # no direction: cosine 0 with everything
    labels = generator.integers(0, 4, 40)
    flat = points.reshape(40, -1)
    within, between = [], []
    for i, j in itertools.combinations(range(40), 2):
        norm = np.linalg.norm(flat[i]) * np.linalg.norm(flat[j])
        cosine = 0.0 if norm == 0 else float(flat[i] @ flat[j] / norm)
        (within if labels[i] == labels[j] else between).append(cosine)
    result = cosine_clustering(points, labels)
    assert result.within == pytest.approx(np.mean(within), abs=1e-12)
    assert result.between == pytest.approx(np.mean(between), abs=1e-12)


def test_bad_input_names_the_argument() -> None:
    with pytest.raises(ValueError, match="points"):
        cosine_clustering(np.zeros((1, 3)), np.zeros(1, dtype=int))
    with pytest.raises(ValueError, match="labels"):
        cosine_clustering(np.ones((3, 2)), np.zeros(3))
    # One class: no pair of different classes.
    assert math.isnan(cosine_clustering(np.ones((3, 2)), np.zeros(3, dtype=int)).between)
