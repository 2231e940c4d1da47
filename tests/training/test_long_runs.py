"""A run configured for very many epochs allocates with the epochs done, never the epochs configured."""

from __future__ import annotations

import tracemalloc

import pytest

from infoflow.data.distributions import Gaussian
from infoflow.data.labels import ThresholdLabels
from infoflow.measure.schedules import MeasurementSchedule
from infoflow.models.mlp import NoisyMLP
from infoflow.training.settings import RecordingSettings, TrainingSettings, derived_generator
from infoflow.training.trainer import Trainer

EPOCHS = 10**12


@pytest.mark.parametrize("schedule", ["every", "interval", "log"])
def test_a_trainer_for_a_trillion_epochs_runs_its_first_epochs_in_little_memory(schedule: str) -> None:
    tracemalloc.start()
    try:
        trainer = Trainer(
            NoisyMLP([1, 2, 1], "tanh", 0.1),
            Gaussian(0.0, 1.0),
            ThresholdLabels(0.0),
            TrainingSettings(epochs=EPOCHS, learning_rate=0.01, train_size=20, test_size=20, batch_size=10),
            RecordingSettings(n_samples=10, n_conditional=4, n_inputs=2, schedule=schedule, every=7, points=50),
            seed=0,
        )
        records = []
        for record in trainer.run():
            records.append(record)
            if len(records) == 3:
                break
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [record.epoch for record in records] == [0, 1, 2]
    assert peak < 20 * 2**20


def test_the_schedule_answers_without_listing_epochs() -> None:
    every = MeasurementSchedule("every", EPOCHS)
    interval = MeasurementSchedule("interval", EPOCHS, every=1000)
    log = MeasurementSchedule("log", EPOCHS, points=30)
    assert 123456789 in every and EPOCHS in every and EPOCHS + 1 not in every
    assert 0 in interval and 5000 in interval and 5001 not in interval and EPOCHS in interval
    assert 0 in log and EPOCHS in log and len(log.log_epochs) <= 31


def test_seeds_beyond_the_float64_table_are_refused() -> None:
    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 2\*\*53 - 1\]"):
        derived_generator(10**21, "train")
