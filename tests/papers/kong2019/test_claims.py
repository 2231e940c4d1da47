"""Claims C1-C7 and the cluster counter, on synthetic run folders whose answers are known.

Each synthetic run is built from cluster centres and widths per epoch (densities = Gaussian
mixtures on the grid) and a prescribed I(X;T_l) trajectory; every claim is shown to PASS on a run
built to satisfy it and to FAIL on one built to violate it."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
from synthetic_runs import BETA, mixture_densities, write_run

from infoflow.analysis.clusters import count_clusters, find_clusters
from infoflow.analysis.trajectories import detect_falls, end_value, rolling_median
from infoflow.papers.kong2019.claims import C1_END_NATS, LOG_4, check_claims
from infoflow.runs.reader import read_run


def _one_seed(*layers: np.ndarray) -> np.ndarray:
    """Stack per-layer (E,) trajectories into (1, E, L)."""
    return np.stack(layers, axis=-1)[None]


def _unit(density: np.ndarray) -> np.ndarray:
    """(E, G) -> (1, E, 1, G)."""
    return density[None, :, None, :]


def _noisy(values: np.ndarray, seed: int = 0, sd: float = 0.01) -> np.ndarray:
    return values + np.random.default_rng(seed).normal(0.0, sd, values.shape)


def _ramp(epochs: np.ndarray, start: float, stop: float) -> np.ndarray:
    """0 before start, rising linearly to 1 at stop, 1 after."""
    return np.clip((epochs - start) / (stop - start), 0.0, 1.0)


def _results(run_dir: Path) -> dict[str, object]:
    return {f"{r.claim}" + (f"_{r.layer}" if r.layer else ""): r for r in check_claims(run_dir)}


# ----------------------------------------------------------------------------------------------
# Cluster counter
# ----------------------------------------------------------------------------------------------

GRID = np.linspace(-1.5, 1.5, 301)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 8])
def test_counter_counts_well_separated_bumps(k):
    centres = np.linspace(-1.2, 1.2, k)[None]
    assert count_clusters(mixture_densities(GRID, centres)[0], GRID) == k


def test_counter_merges_bumps_closer_than_the_depth_rule():
    # Two equal bumps of s.d. beta: valley/peak = 0.51 at 3.3 beta (merged), 0.43 at 3.5 beta (two).
    assert count_clusters(mixture_densities(GRID, [[0.0, 3.3 * BETA]])[0], GRID) == 1
    assert count_clusters(mixture_densities(GRID, [[0.0, 3.5 * BETA]])[0], GRID) == 2
    assert count_clusters(mixture_densities(GRID, [[-0.5, -0.45, 0.5]])[0], GRID) == 2


def test_counter_ignores_ripple_and_tiny_bumps():
    broad = mixture_densities(GRID, [[0.0]], widths=0.3)[0]
    rippled = broad * (1 + 0.1 * np.sin(60 * GRID))  # 10 % ripples, every ~2 beta
    assert count_clusters(rippled, GRID) == 1
    # A bump of 1 % of the mass, far from the main cluster, is no cluster (< MIN_CLUSTER_MASS).
    outlier = mixture_densities(GRID, [[-0.5, 1.2]], weights=np.array([0.99, 0.01]))[0]
    assert count_clusters(outlier, GRID) == 1
    assert count_clusters(np.zeros_like(GRID), GRID) == 0


def test_counter_reports_locations_masses_and_spreads():
    density = mixture_densities(GRID, [[-0.8, 0.4]], widths=np.array([[0.05, 0.1]]), weights=np.array([0.75, 0.25]))[0]
    low, high = find_clusters(density, GRID)
    assert low.location == pytest.approx(-0.8, abs=0.01) and high.location == pytest.approx(0.4, abs=0.01)
    assert low.mass == pytest.approx(0.75, abs=1e-3) and high.mass == pytest.approx(0.25, abs=1e-3)
    assert low.sd == pytest.approx(0.05, rel=0.02) and high.sd == pytest.approx(0.1, rel=0.02)


def test_counter_with_sample_noise_rule_ignores_kde_noise_of_a_diffuse_density():
    grid = np.linspace(-5, 5, 501)
    rng = np.random.default_rng(3)
    counts = []
    for _ in range(20):
        samples = rng.normal(0.0, 1.5, 1000)
        kde = np.exp(-0.5 * ((grid[:, None] - samples) / BETA) ** 2).sum(axis=1) / (
            1000 * BETA * math.sqrt(2 * math.pi)
        )
        counts.append(count_clusters(kde, grid, n_samples=1000, beta=BETA))
    assert counts.count(1) >= 19
    # ... while two real clusters of a KDE are still found.
    samples = np.concatenate([rng.normal(-1, 0.1, 500), rng.normal(1, 0.1, 500)])
    kde = np.exp(-0.5 * ((grid[:, None] - samples) / BETA) ** 2).sum(axis=1) / (1000 * BETA * math.sqrt(2 * math.pi))
    assert count_clusters(kde, grid, n_samples=1000, beta=BETA) == 2


def test_counter_rejects_bad_input():
    with pytest.raises(ValueError, match="same length"):
        count_clusters(np.ones(5), np.arange(4.0))
    with pytest.raises(ValueError, match="increasing"):
        count_clusters(np.ones(4), np.array([0.0, 2.0, 1.0, 3.0]))


# ----------------------------------------------------------------------------------------------
# Series helpers
# ----------------------------------------------------------------------------------------------


def test_detect_falls_finds_each_swing_above_threshold():
    series = np.array([0, 1, 2, 1.5, 1.0, 1.02, 2.5, 2.4, 0.3, 0.31])
    assert [(f.start, f.end) for f in detect_falls(series, 0.5)] == [(2, 4), (7, 8)]
    assert [f.size for f in detect_falls(series, 0.5)] == pytest.approx([1.0, 2.2])
    assert detect_falls(series, 3.0) == []
    assert detect_falls(np.arange(10.0), 0.1) == []


def test_rolling_median_keeps_the_ends_of_a_trend_and_end_value_uses_the_last_tenth():
    assert np.array_equal(rolling_median(np.arange(7.0)), np.arange(7.0))
    # Log-spaced epochs of a rising curve: only epochs >= 270 of 0..300 count as "the end".
    epochs = np.array([0, 10, 100, 200, 260, 280, 300])
    assert end_value(epochs, np.array([0, 1, 2, 3, 4, 5.0, 6.0])) == 5.5


def test_rolling_median_removes_single_spikes():
    series = np.array([1.0, 1.0, 5.0, 1.0, 1.0, 1.0])
    assert np.allclose(rolling_median(series), 1.0)


# ----------------------------------------------------------------------------------------------
# C1 (fig2)
# ----------------------------------------------------------------------------------------------

EPOCHS_150 = np.arange(151)
H_MERGED_3 = -(0.5 * math.log(0.5) + 0.5 * math.log(0.25))  # H(1/4, 1/4, 1/2)


def _fig2_centres(epochs: np.ndarray, merges: tuple[tuple[float, float], tuple[float, float]] | None) -> np.ndarray:
    """Centres of T_1 for x = -3, -1, 1, 3: spreading until epoch 10, then x=-1 and x=1 join x=-3."""
    spread = _ramp(epochs, 0, 10)[:, None] * np.array([-0.9, -0.3, 0.3, 0.9])
    if merges is None:
        return spread
    (a0, a1), (b0, b1) = merges
    centres = spread.copy()
    centres[:, 1] += (-0.9 + 0.3) * _ramp(epochs, a0, a1)
    centres[:, 2] += (-0.9 - 0.3) * _ramp(epochs, b0, b1)
    return centres


def _fig2_mi(epochs: np.ndarray, falls: tuple[tuple[float, float], tuple[float, float]] | None) -> np.ndarray:
    rise = LOG_4 * _ramp(epochs, 0, 10)
    if falls is None:
        return _noisy(rise)
    (a0, a1), (b0, b1) = falls
    return _noisy(
        rise - (LOG_4 - H_MERGED_3) * _ramp(epochs, a0, a1) - (H_MERGED_3 - C1_END_NATS) * _ramp(epochs, b0, b1)
    )


def _fig2_run(tmp_path: Path, name: str, mi: np.ndarray, centres: np.ndarray, seeds: int = 1) -> Path:
    density = mixture_densities(GRID, centres)
    return write_run(
        tmp_path / name,
        name="fig2",
        epochs=EPOCHS_150,
        mi=np.concatenate([_one_seed(_noisy(mi, seed)) for seed in range(seeds)]),
        densities=[np.repeat(_unit(density), seeds, axis=0)],
        grids=[GRID],
        seeds=range(seeds),
    )


STEPS = ((20, 30), (90, 110))


def test_c1_and_c7_pass_on_a_run_that_rises_then_falls_in_two_merges(tmp_path):
    run = _fig2_run(tmp_path, "good", _fig2_mi(EPOCHS_150, STEPS), _fig2_centres(EPOCHS_150, STEPS), seeds=3)
    results = _results(run)
    assert set(results) == {"C1", "C7_1"}
    c1 = results["C1"]
    assert c1.passed and c1.seeds_passed == 3 and c1.seeds_total == 3, c1.detail
    measured = c1.per_seed[0].measured
    assert measured["peak_nats"] == pytest.approx(LOG_4, abs=0.05)
    assert 20 <= measured["merge_4_to_3_epoch"] <= 32 and 90 <= measured["merge_3_to_2_epoch"] <= 112
    assert measured["drop_4_to_3_nats"] == pytest.approx(LOG_4 - H_MERGED_3, abs=0.05)
    assert measured["end_nats"] == pytest.approx(C1_END_NATS, abs=0.02)
    assert "3/3 seeds pass" in c1.detail and "H(3/4,1/4)=0.562" in c1.detail
    assert results["C7_1"].passed, results["C7_1"].detail
    assert results["C7_1"].per_seed[0].measured["falls"] >= 1


def test_c1_fails_when_mi_never_falls(tmp_path):
    run = _fig2_run(tmp_path, "flat", _fig2_mi(EPOCHS_150, None), _fig2_centres(EPOCHS_150, STEPS))
    c1 = _results(run)["C1"]
    assert not c1.passed and "drop" in c1.detail and "end" in c1.detail


def test_c1_fails_when_the_clusters_never_merge(tmp_path):
    # MI falls exactly as the seed says, but T_1 keeps its four clusters: not the claimed mechanism.
    run = _fig2_run(tmp_path, "nomerge", _fig2_mi(EPOCHS_150, STEPS), _fig2_centres(EPOCHS_150, None))
    results = _results(run)
    assert not results["C1"].passed and "4 -> 3 -> 2" in results["C1"].detail
    # C7: falls with no clustering at all.
    assert not results["C7_1"].passed and "NO clustering" in results["C7_1"].detail


def test_c1_is_decided_by_the_majority_of_seeds(tmp_path):
    good_mi = _fig2_mi(EPOCHS_150, STEPS)
    flat_mi = _fig2_mi(EPOCHS_150, None)
    density = _unit(mixture_densities(GRID, _fig2_centres(EPOCHS_150, STEPS)))
    run = write_run(
        tmp_path / "mixed",
        name="fig2",
        epochs=EPOCHS_150,
        mi=np.concatenate([_one_seed(good_mi), _one_seed(flat_mi), _one_seed(flat_mi)]),
        densities=[np.repeat(density, 3, axis=0)],
        grids=[GRID],
        seeds=[4, 5, 6],
    )
    c1 = _results(run)["C1"]
    assert not c1.passed and (c1.seeds_passed, c1.seeds_total) == (1, 3)
    assert [o.passed for o in c1.per_seed] == [True, False, False]
    assert set(c1.measured) == {4, 5, 6}


def test_a_seed_that_stopped_early_is_judged_on_what_it_recorded(tmp_path):
    # Seed 1 stopped at epoch 60: no MI after it, densities NaN (as the recorder leaves them).
    mi = _fig2_mi(EPOCHS_150, STEPS)
    density = _unit(mixture_densities(GRID, _fig2_centres(EPOCHS_150, STEPS)))
    stopped_mi, stopped_density = mi.copy(), density.copy()
    stopped_mi[61:] = np.nan
    stopped_density[:, 61:] = np.nan
    run = write_run(
        tmp_path / "stopped",
        name="fig2",
        epochs=EPOCHS_150,
        mi=np.concatenate([_one_seed(mi), _one_seed(stopped_mi), _one_seed(_noisy(mi, 2))]),
        densities=[np.concatenate([density, stopped_density, density])],
        grids=[GRID],
        seeds=[0, 1, 2],
    )
    c1 = _results(run)["C1"]
    assert c1.passed and [o.passed for o in c1.per_seed] == [True, False, True], c1.detail
    assert "no 2-cluster phase" in c1.per_seed[1].detail


def test_claims_use_measured_epochs_only(tmp_path):
    mi = _fig2_mi(EPOCHS_150, STEPS)
    mi[1::3] = np.nan  # MI on a schedule: two epochs in three measured
    mi[2::3] = np.nan
    run = _fig2_run(tmp_path, "sparse", mi, _fig2_centres(EPOCHS_150, STEPS))
    results = _results(run)
    assert results["C1"].passed, results["C1"].detail
    assert results["C7_1"].passed, results["C7_1"].detail


# ----------------------------------------------------------------------------------------------
# C7 on its own
# ----------------------------------------------------------------------------------------------


def test_c7_fails_when_the_fall_and_the_merge_are_far_apart_in_time(tmp_path):
    # MI falls over epochs 40-60, but the clusters merge over 120-130 (window: 15 epochs).
    centres = _fig2_centres(EPOCHS_150, ((120, 125), (125, 130)))
    run = _fig2_run(tmp_path, "apart", _fig2_mi(EPOCHS_150, ((40, 50), (50, 60))), centres)
    c7 = _results(run)["C7_1"]
    assert not c7.passed and c7.per_seed[0].measured["coincided"] < c7.per_seed[0].measured["falls"]


def test_c7_counts_tightening_clusters_as_clustering(tmp_path):
    # Two clusters that stay two but tighten (a saturating tanh), while MI falls: coincides.
    epochs = np.arange(101)
    widths = 0.3 - 0.24 * _ramp(epochs, 20, 60)
    density = mixture_densities(GRID, np.tile([-0.8, 0.8], (epochs.size, 1)), widths=widths)
    mi = _noisy(1.6 - 0.6 * _ramp(epochs, 20, 60))
    run = write_run(
        tmp_path / "tight",
        name="fig6",
        epochs=epochs,
        mi=_one_seed(mi),
        densities=[_unit(density)],
        grids=[GRID],
    )
    c7 = _results(run)["C7_1"]
    assert c7.passed and c7.per_seed[0].measured["falls"] == 1, c7.detail


def test_c7_sees_no_fall_in_pure_estimator_noise(tmp_path):
    epochs = np.arange(101)
    mi = _noisy(np.full(epochs.size, 1.0), sd=0.02)
    density = mixture_densities(GRID, np.tile([-0.8, 0.8], (epochs.size, 1)))
    run = write_run(
        tmp_path / "noise",
        name="fig6",
        epochs=epochs,
        mi=_one_seed(mi),
        densities=[_unit(density)],
        grids=[GRID],
    )
    c7 = _results(run)["C7_1"]
    assert c7.per_seed[0].measured["falls"] == 0 and "vacuously" in c7.detail


# ----------------------------------------------------------------------------------------------
# C2, C3 (fig3)
# ----------------------------------------------------------------------------------------------

EPOCHS_300 = np.arange(301)
GRID_T1 = np.linspace(-0.5, 2.5, 301)
GRID_T2 = np.linspace(-0.6, 0.6, 241)


def _fig3_run(
    tmp_path: Path,
    name: str,
    *,
    mi_fall: bool = True,
    merge: bool = True,
    t2_final=(0.0, 0.25),
    t2_rise: bool = True,
) -> Path:
    epochs = EPOCHS_300
    inputs = np.arange(1, 9)
    # T_1: eight clusters spreading by epoch 50; inputs 1-4 join input 4 over epochs 150-200.
    centres_1 = 1.0 + _ramp(epochs, 0, 50)[:, None] * 0.3 * (inputs - 4.5)
    if merge:
        centres_1[:, :3] += (centres_1[:, 3:4] - centres_1[:, :3]) * _ramp(epochs, 150, 200)[:, None]
    mi_1 = math.log(8) * _ramp(epochs, 0, 50)
    if mi_fall:
        mi_1 = mi_1 - (math.log(8) - (0.5 * math.log(2) + 0.5 * math.log(8))) * _ramp(epochs, 150, 200)
    # T_2: one cluster at -0.1 until epoch 150, then the classes move to their final places by 170.
    move = _ramp(epochs, 150, 170)[:, None]
    targets = np.where(inputs <= 4, t2_final[0], t2_final[1])[None, :]
    centres_2 = -0.1 + (targets + 0.1) * move
    mi_2 = 0.1 + (math.log(2) - 0.1) * _ramp(epochs, 150, 170) * (1 if t2_rise else -0.1)
    return write_run(
        tmp_path / name,
        name="fig3",
        epochs=epochs,
        mi=_one_seed(_noisy(mi_1), _noisy(mi_2, seed=1)),
        densities=[
            _unit(mixture_densities(GRID_T1, centres_1)),
            _unit(mixture_densities(GRID_T2, centres_2)),
        ],
        grids=[GRID_T1, GRID_T2],
        labels=(0.0, 0.25),
    )


def test_c2_c3_pass_on_eight_clusters_that_merge_and_an_output_that_splits(tmp_path):
    results = _results(_fig3_run(tmp_path, "good"))
    assert set(results) == {"C2", "C3", "C7_1", "C7_2"}
    for key in ("C2", "C3", "C7_1", "C7_2"):
        assert results[key].passed, results[key].detail
    assert results["C2"].per_seed[0].measured["clusters_at_peak"] == 8
    assert results["C2"].per_seed[0].measured["end_clusters"] == 5
    c3 = results["C3"].per_seed[0].measured
    assert c3["low_cluster_location"] == pytest.approx(0.0, abs=0.01)
    assert c3["high_cluster_location"] == pytest.approx(0.25, abs=0.01)
    assert 150 <= c3["split_epoch"] <= 170 and c3["rise_nats"] > 0.2


def test_c2_fails_when_mi_does_not_fall_after_the_peak(tmp_path):
    c2 = _results(_fig3_run(tmp_path, "nofall", mi_fall=False))["C2"]
    assert not c2.passed and "fall" in c2.detail


def test_c2_fails_when_t1_never_shows_eight_clusters(tmp_path):
    # Only the epoch-50 spreading: the clusters sit 0.05 = 1 beta apart, never resolved.
    epochs = EPOCHS_300
    centres = 1.0 + _ramp(epochs, 0, 50)[:, None] * 0.05 * (np.arange(1, 9) - 4.5)
    mi = _noisy(2.0 * _ramp(epochs, 0, 50) - 0.5 * _ramp(epochs, 150, 200))
    run = write_run(
        tmp_path / "unresolved",
        name="fig3",
        epochs=epochs,
        mi=_one_seed(mi, mi),
        densities=[_unit(mixture_densities(GRID_T1, centres))] * 2,
        grids=[GRID_T1, GRID_T1],
    )
    c2 = next(r for r in check_claims(run) if r.claim == "C2")
    assert not c2.passed and "clusters at the peak" in c2.detail


def test_c3_fails_when_t2_ends_away_from_the_labels(tmp_path):
    c3 = _results(_fig3_run(tmp_path, "offlabel", t2_final=(0.1, 0.35)))["C3"]
    assert not c3.passed and "not within" in c3.detail


def test_c3_fails_when_mi_does_not_rise_at_the_split(tmp_path):
    c3 = _results(_fig3_run(tmp_path, "norise", t2_rise=False))["C3"]
    assert not c3.passed and "rise" in c3.detail


# ----------------------------------------------------------------------------------------------
# C4 (fig4), C5 (fig5)
# ----------------------------------------------------------------------------------------------

EPOCHS_200 = np.arange(201)


def _spreading_then_saturating(grid: np.ndarray, epochs: np.ndarray, final_width: float) -> np.ndarray:
    """One broad cluster that widens until epoch 50, then splits into two clusters that tighten."""
    first = mixture_densities(grid, np.zeros((epochs.size, 1)), widths=0.05 + 0.35 * _ramp(epochs, 0, 50))
    separation = 0.3 + 0.6 * _ramp(epochs, 50, 150)
    width = 0.25 - (0.25 - final_width) * _ramp(epochs, 50, 150)
    second = mixture_densities(grid, np.stack([-separation, separation], axis=1), widths=width)
    return np.where((epochs < 50)[:, None], first, second)


def _fig4_run(tmp_path: Path, name: str, *, falls: bool = True, t2_below_t1: bool = True) -> Path:
    epochs = EPOCHS_200
    shape = _ramp(epochs, 0, 50) - (0.4 * _ramp(epochs, 50, 150) if falls else -0.2 * _ramp(epochs, 50, 150))
    mi_1 = 1.5 * shape
    mi_2 = (1.2 if t2_below_t1 else 1.8) * shape
    return write_run(
        tmp_path / name,
        name="fig4",
        epochs=epochs,
        mi=_one_seed(_noisy(mi_1), _noisy(mi_2, seed=1)),
        densities=[
            _unit(_spreading_then_saturating(GRID, epochs, 0.06)),
            _unit(_spreading_then_saturating(GRID, epochs, 0.05)),
        ],
        grids=[GRID, GRID],
    )


def test_c4_passes_when_both_layers_fall_while_clustering(tmp_path):
    results = _results(_fig4_run(tmp_path, "good"))
    assert set(results) == {"C4", "C7_1", "C7_2"}
    for key in results:
        assert results[key].passed, results[key].detail
    measured = results["C4"].per_seed[0].measured
    assert measured["end_layer2_nats"] < measured["end_layer1_nats"]
    assert measured["spread_ratio_layer1"] < 0.5


def test_c4_fails_when_mi_keeps_rising(tmp_path):
    c4 = _results(_fig4_run(tmp_path, "rising", falls=False))["C4"]
    assert not c4.passed and "falls only" in c4.detail


def test_c4_fails_when_t2_keeps_more_information_than_t1(tmp_path):
    c4 = _results(_fig4_run(tmp_path, "inverted", t2_below_t1=False))["C4"]
    assert not c4.passed and "end I(X;T_2)" in c4.detail


def _fig5_run(tmp_path: Path, name: str, mi: np.ndarray, density: np.ndarray, epochs: np.ndarray) -> Path:
    return write_run(
        tmp_path / name,
        name="fig5",
        epochs=epochs,
        mi=_one_seed(mi),
        densities=[_unit(density)],
        grids=[GRID],
    )


def test_c5_passes_when_mi_keeps_rising_and_t1_diffuses(tmp_path):
    epochs = EPOCHS_200
    widths = 0.05 + 0.45 * np.sqrt(epochs / epochs[-1])
    mi = _noisy(np.log(widths / 0.05))  # I = h(T_1) - h(noise) for a Gaussian T_1
    results = _results(
        _fig5_run(tmp_path, "good", mi, mixture_densities(GRID, np.zeros((epochs.size, 1)), widths=widths), epochs)
    )
    assert set(results) == {"C5"}
    c5 = results["C5"]
    assert c5.passed, c5.detail
    assert c5.per_seed[0].measured["spread_ratio"] == pytest.approx(10.0, rel=0.1)
    assert c5.per_seed[0].measured["effective_count_ratio"] == pytest.approx(1.0, abs=0.05)


def test_c5_fails_when_mi_falls(tmp_path):
    epochs = EPOCHS_200
    widths = 0.05 + 0.45 * np.sqrt(epochs / epochs[-1])
    mi = _noisy(1.5 * _ramp(epochs, 0, 50) - 0.7 * _ramp(epochs, 80, 200))
    c5 = _results(
        _fig5_run(tmp_path, "falls", mi, mixture_densities(GRID, np.zeros((epochs.size, 1)), widths=widths), epochs)
    )["C5"]
    assert not c5.passed and "below the max" in c5.detail


def test_c5_fails_when_t1_clusters(tmp_path):
    epochs = EPOCHS_200
    density = _spreading_then_saturating(GRID, epochs, 0.06)
    mi = _noisy(np.log1p(epochs / 20.0))
    c5 = _results(_fig5_run(tmp_path, "clusters", mi, density, epochs))["C5"]
    assert not c5.passed and "T_1 clusters after epoch" in c5.detail


# ----------------------------------------------------------------------------------------------
# C6 (fig6)
# ----------------------------------------------------------------------------------------------


def _fig6_run(tmp_path: Path, name: str, *, end_nats: float = 1.0, peak_epoch: float = 12.0) -> Path:
    epochs = EPOCHS_300
    # The output splits around epoch 10 (two clusters moving apart), then the clusters tighten.
    separation = 0.6 * _ramp(epochs, 0, 30) + 0.35 * _ramp(epochs, 30, 150)
    width = 0.05 + 0.2 * _ramp(epochs, 0, 30) - 0.19 * _ramp(epochs, 30, 150)
    density = mixture_densities(GRID, np.stack([-separation, separation], axis=1), widths=width)
    mi = 1.6 * _ramp(epochs, 0, peak_epoch) - (1.6 - end_nats) * _ramp(epochs, peak_epoch, peak_epoch + 140)
    return write_run(
        tmp_path / name,
        name="fig6",
        epochs=epochs,
        mi=_one_seed(_noisy(mi)),
        densities=[_unit(density)],
        grids=[GRID],
    )


def test_c6_passes_when_mi_peaks_at_the_split_and_converges_to_one_nat(tmp_path):
    results = _results(_fig6_run(tmp_path, "good"))
    assert set(results) == {"C6", "C7_1"}
    assert results["C6"].passed, results["C6"].detail
    assert results["C7_1"].passed, results["C7_1"].detail
    measured = results["C6"].per_seed[0].measured
    assert 8 <= measured["split_epoch"] <= 15 and measured["end_nats"] == pytest.approx(1.0, abs=0.03)


def test_c6_fails_when_mi_ends_at_half_a_nat(tmp_path):
    c6 = _results(_fig6_run(tmp_path, "low", end_nats=0.5))["C6"]
    assert not c6.passed and "not within 0.15 of 1.0" in c6.detail


def test_c6_fails_when_the_peak_is_far_from_the_split(tmp_path):
    c6 = _results(_fig6_run(tmp_path, "late", peak_epoch=120))["C6"]
    assert not c6.passed and "epochs from the split" in c6.detail


# ----------------------------------------------------------------------------------------------
# Reading run folders
# ----------------------------------------------------------------------------------------------


def test_read_run_tolerates_extra_columns_and_reads_shapes(tmp_path):
    run = _fig3_run(tmp_path, "shapes")
    with (run / "metrics.csv").open() as handle:
        rows = list(csv.reader(handle))
    with (run / "metrics.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows(
            [row + [note] for row, note in zip(rows, ["note"] + ["some text"] * (len(rows) - 1))]
        )
    record = read_run(run)
    assert record.name == "fig3" and record.n_layers == 2
    assert record.mi.shape == (1, 301, 2) and record.true_mi is None
    assert record.densities[1].shape == (1, 301, 1, GRID_T2.size)


def test_unknown_names_have_no_claims_and_bad_folders_raise(tmp_path):
    run = _fig6_run(tmp_path, "custom")
    (run / "config.toml").write_text((run / "config.toml").read_text().replace('name = "fig6"', 'name = "mine"'))
    assert check_claims(run) == []
    assert [r.claim for r in check_claims(run, experiment="fig6")] == ["C6", "C7"]
    with pytest.raises(ValueError, match="experiment must be one of"):
        check_claims(run, experiment="fig9")
    with pytest.raises(ValueError, match="metrics.csv is missing"):
        (run / "metrics.csv").unlink()
        check_claims(run)
    with pytest.raises(ValueError, match="does not exist"):
        check_claims(tmp_path / "nowhere")


def test_a_claim_needing_a_missing_layer_says_so(tmp_path):
    run = _fig6_run(tmp_path, "onelayer")
    with pytest.raises(ValueError, match="needs layer 2"):
        check_claims(run, experiment="fig3")
