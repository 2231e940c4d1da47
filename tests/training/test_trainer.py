"""The training loop: epoch 0, the LR schedule, losses, noise in evaluation, divergence, resume."""

from __future__ import annotations

import io
import math

import pytest
import torch

from infoflow.data.distributions import DiscreteUniform, Gaussian, GaussianMixture
from infoflow.data.labels import ThresholdLabels
from infoflow.measure.schedules import measured_epochs
from infoflow.models.mlp import NoisyMLP
from infoflow.papers.kong2019.networks import seed_network
from infoflow.training.settings import RecordingSettings, TrainingSettings, derived_generator
from infoflow.training.trainer import Trainer, TrainingDiverged, train

BETA = 0.05
FOUR_VALUES = DiscreteUniform([-3.0, -1.0, 1.0, 3.0])
FIG2_LABELS = ThresholdLabels(2.0, -1.0, 1.0)
SIGN = ThresholdLabels(0.0, -1.0, 1.0)
# Small sample-propagation sizes: these tests check the loop, not the estimator.
CHEAP = RecordingSettings(n_samples=64, n_conditional=16, n_inputs=8, density_limits=((-1.3, 1.3),), density_points=16)


def cheap_recording(n_layers: int = 1, **changes) -> RecordingSettings:
    base = dict(n_samples=64, n_conditional=16, n_inputs=8, density_limits=((-1.3, 1.3),) * n_layers, density_points=16)
    base.update(changes)
    return RecordingSettings(**base)


def test_epoch_zero_is_the_untrained_network() -> None:
    # w = b = 0: every x maps to S_1 = 0, so I(X;T_1) = 0 exactly, by SP (one mixture point) and truth.
    net = seed_network("tanh", BETA)
    settings = TrainingSettings(epochs=3, learning_rate=0.01, train_size=20, batch_size=5, test_size=100)
    result = train(net, FOUR_VALUES, FIG2_LABELS, settings, cheap_recording(true_information=True), seed=0)
    assert [record.epoch for record in result.records] == [0, 1, 2, 3]
    first = result.records[0]
    assert first.learning_rate == 0.01
    assert abs(first.mi_input[0]) < 1e-9
    assert first.true_mi is not None and abs(first.true_mi[0]) < 1e-6
    assert first.densities[0].shape == (1, 16)
    assert all(record.is_measured for record in result.records)


def test_epoch_zero_loss_matches_the_closed_form() -> None:
    # Untrained tanh neuron: T = Z ~ N(0, beta^2) and labels +-1, so MSE = E (Z - y)^2 = 1 + beta^2.
    # A large beta makes the noise's share visible above the sampling error.
    beta, n = 0.5, 20000
    settings = TrainingSettings(epochs=0, learning_rate=0.01, train_size=n, batch_size=n, test_size=10)
    record = train(seed_network("tanh", beta), Gaussian(0.0, 1.0), SIGN, settings, cheap_recording(), seed=1).records[0]
    # (Z - y)^2 = Z^2 - 2 Z y + 1: standard deviation at most sqrt(2) beta^2 + 2 beta per example.
    standard_error = (math.sqrt(2) * beta**2 + 2 * beta) / math.sqrt(n)
    assert abs(record.loss - (1 + beta**2)) < 5 * standard_error
    assert 5 * standard_error < beta**2 / 2


def test_cross_entropy_is_the_logistic_loss_about_the_label_midpoint() -> None:
    net = seed_network("tanh", BETA)
    trainer = Trainer(
        net,
        FOUR_VALUES,
        ThresholdLabels(4.5, 0.0, 0.25),
        TrainingSettings(epochs=1, learning_rate=0.1, loss="cross_entropy"),
        CHEAP,
        seed=0,
    )
    output = torch.tensor([[0.3], [0.3]], dtype=torch.float64)
    labels = torch.tensor([[0.25], [0.0]], dtype=torch.float64)
    # Logit = output - 0.125; target 1 for the label 0.25, 0 for the label 0.
    logit = 0.3 - 0.125
    expected = 0.5 * (math.log1p(math.exp(-logit)) + math.log1p(math.exp(logit)))
    assert float(trainer._loss(output, labels)) == pytest.approx(expected, rel=1e-12)


def test_mse_is_the_mean_squared_error_of_the_noisy_output() -> None:
    trainer = Trainer(
        seed_network("tanh", BETA),
        FOUR_VALUES,
        FIG2_LABELS,
        TrainingSettings(epochs=1, learning_rate=0.1),
        CHEAP,
        seed=0,
    )
    output = torch.tensor([[0.5], [-0.5]], dtype=torch.float64)
    labels = torch.tensor([[1.0], [1.0]], dtype=torch.float64)
    assert float(trainer._loss(output, labels)) == pytest.approx((0.25 + 2.25) / 2, rel=1e-15)


@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_both_losses_learn_a_separable_task(loss: str) -> None:
    separable = GaussianMixture([-2.0, 2.0], [0.1, 0.1])
    settings = TrainingSettings(epochs=15, learning_rate=0.5, loss=loss, train_size=200, batch_size=20, test_size=500)
    result = train(
        seed_network("tanh", BETA), separable, SIGN, settings, cheap_recording(schedule="interval", every=15), seed=0
    )
    assert not result.diverged
    assert result.records[-1].loss < result.records[1].loss
    assert result.records[-1].accuracy > 0.99


def test_noise_stays_on_in_evaluation() -> None:
    # Untrained: the clean output is exactly 0 for every x. Without noise every prediction would be
    # "below" and the accuracy on fig2's data P(y = -1) = 0.75; with noise the sign is a coin flip.
    net = seed_network("tanh", BETA)
    net.eval()
    settings = TrainingSettings(epochs=0, learning_rate=0.01, train_size=10, test_size=20000)
    accuracy = train(net, FOUR_VALUES, FIG2_LABELS, settings, cheap_recording(), seed=0).records[0].accuracy
    assert abs(accuracy - 0.5) < 5 * math.sqrt(0.25 / 20000)


def test_learning_rate_drops_once_when_accuracy_first_reaches_the_threshold() -> None:
    separable = GaussianMixture([-2.0, 2.0], [0.25, 0.25])
    settings = TrainingSettings(
        epochs=25,
        learning_rate=0.2,
        train_size=200,
        batch_size=50,
        test_size=500,
        lr_drop_factor=20.0,
        lr_drop_accuracy=0.99,
    )
    records = train(
        seed_network("tanh", BETA), separable, SIGN, settings, cheap_recording(schedule="interval", every=25), seed=0
    ).records
    first_hit = next(record.epoch for record in records if record.accuracy >= 0.99)
    assert 0 < first_hit < 24, "the task must cross the threshold mid-run for this test to mean anything"
    for record in records:
        # The drop applies from the pass after the accuracy was read ("before training it").
        expected = 0.2 if record.epoch <= first_hit else 0.2 / 20.0
        assert record.learning_rate == pytest.approx(expected, rel=1e-15)
    # Once dropped, it never drops again even though accuracy stays >= 0.99.
    assert len({record.learning_rate for record in records}) == 2


def test_no_drop_without_a_threshold_and_immediate_drop_at_zero() -> None:
    base = dict(epochs=3, learning_rate=0.1, train_size=20, batch_size=10, test_size=50)
    never = train(
        seed_network("tanh", BETA), FOUR_VALUES, FIG2_LABELS, TrainingSettings(**base), cheap_recording(), seed=0
    )
    assert {record.learning_rate for record in never.records} == {0.1}
    at_once = train(
        seed_network("tanh", BETA),
        FOUR_VALUES,
        FIG2_LABELS,
        TrainingSettings(**base, lr_drop_accuracy=0.0, lr_drop_factor=4.0),
        cheap_recording(),
        seed=0,
    )
    assert [record.learning_rate for record in at_once.records] == [0.1, 0.025, 0.025, 0.025]


def test_divergence_stops_the_run_and_keeps_the_epochs_before_it() -> None:
    net = NoisyMLP([1, 1], "linear", BETA)
    settings = TrainingSettings(epochs=50, learning_rate=1e3, train_size=100, batch_size=10, test_size=50)
    # Measured at epochs 0 and 50 only: the point is the loop's check, not the estimator on 1e30s.
    recording = cheap_recording(density_limits=((-5.0, 5.0),), schedule="interval", every=1000)
    result = train(net, Gaussian(0.0, 1.0), SIGN, settings, recording, seed=0)
    assert result.diverged
    assert "diverged" in result.message and "learning rate" in result.message
    assert 1 <= len(result.records) < 50
    assert all(math.isfinite(record.loss) and math.isfinite(record.accuracy) for record in result.records)
    assert result.records[0].mi_input is not None and math.isfinite(result.records[0].mi_input[0])


def test_trainer_run_raises_training_diverged() -> None:
    trainer = Trainer(
        NoisyMLP([1, 1], "linear", BETA),
        Gaussian(0.0, 1.0),
        SIGN,
        TrainingSettings(epochs=50, learning_rate=1e3, train_size=100, batch_size=10, test_size=50),
        cheap_recording(density_limits=((-5.0, 5.0),), schedule="interval", every=1000),
        seed=0,
    )
    with pytest.raises(TrainingDiverged, match="diverged in epoch"):
        for _ in trainer.run():
            pass


def test_schedule_measures_only_the_scheduled_epochs() -> None:
    settings = TrainingSettings(epochs=7, learning_rate=0.01, train_size=10, batch_size=5, test_size=20)
    records = train(
        seed_network("tanh", BETA),
        FOUR_VALUES,
        FIG2_LABELS,
        settings,
        cheap_recording(schedule="interval", every=3),
        seed=0,
    ).records
    assert [record.epoch for record in records if record.is_measured] == [0, 3, 6, 7]
    unmeasured = records[1]
    assert unmeasured.mi_input is None and unmeasured.densities is None and unmeasured.mi_label is None
    assert math.isfinite(unmeasured.accuracy) and math.isfinite(unmeasured.loss)


@pytest.mark.parametrize(
    ("schedule", "epochs", "every", "points"),
    [("every", 5, 1, 60), ("interval", 10, 4, 60), ("log", 1000, 1, 30), ("log", 3, 1, 60), ("interval", 0, 3, 60)],
)
def test_measured_epochs(schedule: str, epochs: int, every: int, points: int) -> None:
    chosen = measured_epochs(schedule, epochs, every=every, points=points)
    assert chosen[0] == 0 and chosen[-1] == epochs
    assert chosen == sorted(set(chosen))
    assert all(0 <= epoch <= epochs for epoch in chosen)
    if schedule == "every":
        assert chosen == list(range(epochs + 1))
    if schedule == "interval":
        assert set(range(0, epochs + 1, every)) <= set(chosen)
    if schedule == "log":
        assert len(chosen) <= points
        if epochs >= 1000:
            # Log spacing: as many points in the first tenth of training as in the rest.
            early = sum(epoch <= epochs // 10 for epoch in chosen)
            assert early > len(chosen) / 2


def _saved_and_loaded(state: dict) -> dict:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_a_resumed_trainer_continues_exactly(momentum: float) -> None:
    def make() -> Trainer:
        return Trainer(
            seed_network("tanh-tanh", BETA),
            Gaussian(0.0, 0.25),
            SIGN,
            TrainingSettings(
                epochs=6,
                learning_rate=0.05,
                momentum=momentum,
                train_size=40,
                batch_size=8,
                test_size=50,
                lr_drop_accuracy=0.6,
            ),
            cheap_recording(n_layers=2, estimators=("kl_upper",)),
            seed=3,
        )

    uninterrupted = list(make().run())
    first = make()
    run = first.run()
    for _ in range(3):
        next(run)
    state = _saved_and_loaded(first.state_dict())
    second = make()
    second.load_state_dict(state)
    resumed = list(second.run())
    assert [record.epoch for record in resumed] == [3, 4, 5, 6]
    for expected, got in zip(uninterrupted[3:], resumed):
        assert (got.accuracy, got.loss, got.learning_rate) == (expected.accuracy, expected.loss, expected.learning_rate)
        assert got.mi_input == expected.mi_input and got.mi_label == expected.mi_label
        assert got.estimator_mi == expected.estimator_mi
        assert all((a == b).all() for a, b in zip(got.densities, expected.densities))


def test_same_seed_same_records_other_seed_other_records() -> None:
    def records(seed: int) -> list:
        settings = TrainingSettings(epochs=2, learning_rate=0.05, train_size=20, batch_size=5, test_size=50)
        return train(
            seed_network("tanh", BETA), Gaussian(0.0, 0.25), SIGN, settings, cheap_recording(), seed=seed
        ).records

    first, again, other = records(0), records(0), records(1)
    assert [(r.loss, r.accuracy, r.mi_input) for r in first] == [(r.loss, r.accuracy, r.mi_input) for r in again]
    assert [r.loss for r in first] != [r.loss for r in other]


def test_derived_generators_are_fixed_by_seed_and_stream() -> None:
    def draw(seed: int, stream: str) -> torch.Tensor:
        return torch.rand(4, generator=derived_generator(seed, stream))

    assert torch.equal(draw(0, "train"), draw(0, "train"))
    assert not torch.equal(draw(0, "train"), draw(0, "test"))
    assert not torch.equal(draw(0, "train"), draw(1, "train"))
    with pytest.raises(ValueError, match="stream"):
        derived_generator(0, "nope")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        (dict(epochs=-1), "epochs"),
        (dict(learning_rate=0.0), "learning_rate"),
        (dict(loss="hinge"), "loss"),
        (dict(momentum=1.0), "momentum"),
        (dict(batch_size=0), "batch_size"),
        (dict(lr_drop_accuracy=1.5), "lr_drop_accuracy"),
    ],
)
def test_bad_training_settings_name_the_field(changes: dict, field: str) -> None:
    arguments = dict(epochs=1, learning_rate=0.1)
    arguments.update(changes)
    with pytest.raises(ValueError, match=field):
        TrainingSettings(**arguments)


def test_trainer_rejects_a_vector_output_with_mse() -> None:
    with pytest.raises(ValueError, match="needs loss = cross_entropy"):
        Trainer(
            NoisyMLP([1, 2], "tanh", BETA),
            FOUR_VALUES,
            FIG2_LABELS,
            TrainingSettings(epochs=1, learning_rate=0.1),
            CHEAP,
            seed=0,
        )
