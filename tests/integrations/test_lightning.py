"""The Lightning callback with a real lightning.pytorch.Trainer on CPU (issue 18)."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import infoflow
from infoflow import FiniteDataset, GaussianNoise, InformationProbe
from infoflow.integrations.lightning import InformationCallback

BETA = 0.1
PROBE = dict(n_samples=200, n_conditional=40, n_inputs=30, target_std_error=0.05, densities=False)


def _data() -> TensorDataset:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(60, 2, generator=generator)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()
    return TensorDataset(x, y)


class NoisyClassifier(pl.LightningModule):
    """A tiny noisy MLP from infoflow's GaussianNoise layers, with dropout between its layers."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(1)
        self.net = nn.Sequential(
            nn.Linear(2, 4), nn.Tanh(), GaussianNoise(BETA), nn.Dropout(0.2),   # layer 1: T_1 in R^4
            nn.Linear(4, 3), GaussianNoise(BETA),                                # layer 2: the logits
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], index: int) -> torch.Tensor:
        x, y = batch
        return nn.functional.cross_entropy(self(x), y)

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], index: int) -> None:
        x, y = batch
        self.log("val_acc", (self(x).argmax(dim=1) == y).float().mean())

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.3)


class Snapshots(pl.Callback):
    """Keeps the weights the information callback saw (it runs after it, at the same hooks)."""

    def __init__(self) -> None:
        self.weights: dict[int, dict[str, torch.Tensor]] = {}

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.weights[0] = copy.deepcopy(pl_module.net.state_dict())

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.weights[trainer.current_epoch + 1] = copy.deepcopy(pl_module.net.state_dict())


def _fit(callbacks: list[pl.Callback], epochs: int = 3, validate: bool = False) -> NoisyClassifier:
    pl.seed_everything(0, verbose=False)
    module = NoisyClassifier()
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=callbacks,
        num_sanity_val_steps=2 if validate else 0,
    )
    loader = DataLoader(_data(), batch_size=20, shuffle=True)
    trainer.fit(module, loader, DataLoader(_data(), batch_size=60) if validate else None)
    return module


def test_records_the_chosen_epochs_as_a_direct_probe_would(tmp_path: Path) -> None:
    data = FiniteDataset.from_torch(_data())
    callback = InformationCallback(data, model="net", epochs=[0, 1, 3], run_dir=tmp_path / "run", seed=5, **PROBE)
    snapshots = Snapshots()
    module = _fit([callback, snapshots])
    assert [record.epoch for record in callback.records] == [0, 1, 3]
    # The run folder holds the three epochs, two layers each, and is complete.
    run = infoflow.read_run(tmp_path / "run")
    assert sorted(set(run.metrics["epoch"])) == [0, 1, 3] and sorted(set(run.metrics["layer"])) == [1, 2]
    assert run.manifest["status"] == "complete"
    # A probe of the same seed measuring the same weights in the same order gives the same numbers.
    network = copy.deepcopy(module.net)
    direct = InformationProbe(network, data, seed=5, **PROBE)
    for record in callback.records:
        network.load_state_dict(snapshots.weights[record.epoch])
        again = direct.measure(record.epoch)
        assert again.mi_input == record.mi_input and again.mi_label == record.mi_label
        assert again.mi_lower == record.mi_lower and again.mi_upper == record.mi_upper
    # The numbers are information of 60 rows: within [0, log 60], and training moved them.
    assert all(0.0 <= value <= math.log(60) + 1e-9 for record in callback.records for value in record.mi_input)
    assert callback.records[0].mi_input != callback.records[-1].mi_input
    # The learning rate is written beside them.
    assert all(record.learning_rate == pytest.approx(0.3) for record in callback.records)


def test_training_is_unchanged_by_the_callback() -> None:
    data = FiniteDataset(*_data().tensors)
    measured = _fit([InformationCallback(data, model="net", **PROBE)])
    plain = _fit([])
    # Measuring draws from the probe's own generator and restores every mode: the same weights.
    for (name, a), (_, b) in zip(measured.state_dict().items(), plain.state_dict().items()):
        assert torch.equal(a, b), name
    assert measured.training == plain.training


def test_validation_stage_writes_the_logged_metrics() -> None:
    data = FiniteDataset(*_data().tensors)
    def network(module: pl.LightningModule) -> nn.Module:
        return module.net

    callback = InformationCallback(data, model=network, stage="validation", accuracy_key="val_acc", **PROBE)
    module = _fit([callback], epochs=2, validate=True)
    # Every epoch by default (the settings' schedule over max_epochs); the sanity check is skipped.
    assert [record.epoch for record in callback.records] == [0, 1, 2]
    # A validation outside fit records nothing.
    validator = pl.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False, callbacks=[callback])
    validator.validate(module, DataLoader(_data(), batch_size=60), verbose=False)
    assert len(callback.records) == 3
    assert math.isnan(callback.records[0].accuracy)
    assert all(0.0 <= record.accuracy <= 1.0 for record in callback.records[1:])
    assert callback.probe is not None and callback.probe.run_dir is None


def test_a_given_probe_is_used_and_bad_arguments_are_refused() -> None:
    data = FiniteDataset(*_data().tensors)
    with pytest.raises(ValueError, match="give inputs .* or probe"):
        InformationCallback()
    with pytest.raises(ValueError, match="stage must be one of train, validation"):
        InformationCallback(data, stage="test")
    with pytest.raises(ValueError, match="epochs must be a list of integers >= 0"):
        InformationCallback(data, epochs=[1, -2])
    with pytest.raises(ValueError, match="model = 'network'.*no such attribute"):
        _fit([InformationCallback(data, model="network")], epochs=1)
    # A probe built on another network is refused when fitting starts.
    other = InformationProbe(nn.Sequential(nn.Linear(2, 1), GaussianNoise(BETA)), data, **PROBE)
    with pytest.raises(ValueError, match="not the network being fitted"):
        _fit([InformationCallback(probe=other, model="net")], epochs=1)
    with pytest.raises(ValueError, match="go with inputs"):
        InformationCallback(probe=other, n_samples=10)
