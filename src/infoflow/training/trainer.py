"""Training noisy networks by SGD while recording, epoch by epoch, what every layer knows.

The loop follows the seed (Kong 2019) and its author's code, minus its bugs:

* epoch 0 is the untrained network; epoch e >= 1 is one pass of minibatch SGD over a fixed
  training set, after which the network is measured. The network after pass e is also the
  network before pass e+1, which is when the seed measured ("each epoch, before training it").
* the loss compares the *noisy* output T_L with the label (MSE; or the binary logistic loss);
* accuracy is read from the noisy output of a held-out test set drawn like the training set,
  thresholded at the labels' midpoint;
* the learning rate is divided once by ``lr_drop_factor`` the first time the test accuracy
  reaches ``lr_drop_accuracy``;
* noise stays on everywhere: ``NoisyMLP`` has no switch that turns it off.

The trainer is handed an :class:`~infoflow.measure.probe.InformationProbe`, as any user's loop
would be, and measures through it at the epochs of the probe's schedule (``settings.schedule``):
I(X;T_l), I(T_l;Y), optionally the exact I(X;T_l) and other estimators, and the density of every
T_l on a fixed grid.

This module knows nothing of files or TOML: it yields :class:`EpochRecord` objects and exposes
its state as plain tensors and numbers so that a caller can checkpoint and resume it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch

from infoflow.data.dataset import split_sizes
from infoflow.data.distributions import InputDistribution
from infoflow.data.labels import ThresholdLabels
from infoflow.measure.probe import InformationProbe
from infoflow.measure.settings import MeasurementSettings
from infoflow.models.mlp import NoisyMLP
from infoflow.runs.records import EpochRecord
from infoflow.training.backprop import mse_gradient_plan
from infoflow.training.optimizers import ParameterUpdates
from infoflow.training.orthonormal import orthonormal_step
from infoflow.training.settings import STREAMS, TrainingSettings, derived_generator


class TrainingDiverged(RuntimeError):
    """Training produced NaN or infinite values; the epochs recorded before it remain valid."""


# ----------------------------------------------------------------------------------------------
# Records
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingResult:
    """Every record of a training run, and why it stopped.

    Attributes
    ----------
    records : list of EpochRecord
    diverged : bool
        True when training stopped early on NaN or infinite values.
    message : str
        Why it stopped early ("" when it ran to the end).
    """

    records: list[EpochRecord]
    diverged: bool = False
    message: str = ""


# ----------------------------------------------------------------------------------------------
# The trainer
# ----------------------------------------------------------------------------------------------


class Trainer:
    """Trains a noisy network and measures it at every scheduled epoch.

    Parameters
    ----------
    net : NoisyMLP
        The network, already initialised; trained in place. Its last layer must have width 1
        (accuracy thresholds a scalar output).
    inputs : InputDistribution
        Where training, test and estimation inputs come from.
    labels : ThresholdLabels
        The labelling rule.
    training : TrainingSettings
    probe : InformationProbe or MeasurementSettings
        What measures the network, at the epochs of ``probe.schedule(training.epochs)``; its
        generator is the run's "estimation" stream (checkpointed with the others). Given
        settings, the trainer makes its probe with :func:`training_probe`.
    seed : int
        Fixes every random draw (training and test sets, noise, shuffling; estimation through
        :func:`training_probe`).

    Notes
    -----
    Iterate :meth:`run` to train; it yields one :class:`EpochRecord` per epoch and may be
    resumed after :meth:`load_state_dict` with the state saved between two records.
    """

    def __init__(
        self,
        net: NoisyMLP,
        inputs: InputDistribution,
        labels: ThresholdLabels | None,
        training: TrainingSettings,
        probe: InformationProbe | MeasurementSettings,
        *,
        seed: int,
        split: float | tuple[Any, Any] | None = None,
    ) -> None:
        # A network whose output is not its last noisy layer (NoisyElman's read-out) says its width.
        n_outputs = getattr(net, "n_outputs", net.widths[-1])
        if n_outputs != 1 and training.loss != "cross_entropy":
            raise ValueError(
                f"a network with {n_outputs} outputs needs loss = cross_entropy (softmax over T_L); "
                f"got {training.loss!r} (widths {net.widths})"
            )
        if net.widths[0] != inputs.dim:
            raise ValueError(
                f"the network's input width {net.widths[0]} does not match the inputs' dimension {inputs.dim}"
            )
        if labels is None and not inputs.has_labels:
            raise ValueError("labels are needed: a labelling rule, or a FiniteDataset with labels y")
        if labels is not None and labels.above == labels.below:
            raise ValueError(f"labels.above and labels.below must differ; both are {labels.above}")
        if n_outputs != 1 and labels is not None:
            raise ValueError(f"a network with {n_outputs} outputs needs class labels from a data set, not a threshold")
        if isinstance(probe, MeasurementSettings):
            probe = training_probe(net, inputs, labels, probe, seed)
        limits = probe.settings.density_limits
        if limits is not None and len(limits) != net.n_layers:
            raise ValueError(f"density_limits must give one [low, high] per layer ({net.n_layers}); got {len(limits)}")
        self.net = net
        self.inputs = inputs
        self.labels = labels
        self.training = training
        self.probe = probe
        self.seed = seed
        self.n_outputs = n_outputs
        # The probe draws from its own generator: the "estimation" stream, checkpointed here.
        self.generators = {
            stream: probe.generator if stream == "estimation" else derived_generator(seed, stream)
            for stream in STREAMS
            if stream != "init"
        }
        self.schedule = probe.schedule(training.epochs)
        if labels is None:
            # A data set: its own rows and labels, split once (or train and test on every row).
            rows = inputs.x
            targets = inputs.y.reshape(len(rows), -1).to(torch.float64)
            if isinstance(split, tuple):
                train_rows, test_rows = (torch.as_tensor(part, dtype=torch.int64) for part in split)
            elif split is not None:
                order = torch.randperm(len(rows), generator=self.generators["data"])
                n_train, _ = split_sizes(len(rows), split)
                train_rows, test_rows = order[:n_train], order[n_train:]
            else:
                train_rows = test_rows = torch.arange(len(rows))
            # The first train_size / test_size rows of each part (a config leaves them out: all).
            for field, size, part in (
                ("train_size", training.train_size, train_rows),
                ("test_size", training.test_size, test_rows),
            ):
                if size > len(part):
                    kind = "training" if field == "train_size" else "test"
                    raise ValueError(f"training.{field} = {size} exceeds the data set's {len(part)} {kind} rows")
            train_rows, test_rows = train_rows[: training.train_size], test_rows[: training.test_size]
            self.train_inputs, self.train_labels = rows[train_rows], targets[train_rows]
            self.test_inputs, self.test_labels = rows[test_rows], targets[test_rows]
        else:
            # The training and test sets are drawn once, like the seed's fixed data sets.
            self.train_inputs = inputs.sample(training.train_size, self.generators["data"])
            self.train_labels = labels(self.train_inputs)
            self.test_inputs = inputs.sample(training.test_size, self.generators["test"])
            self.test_labels = labels(self.test_inputs)
        self.learning_rate = float(training.learning_rate)
        self.lr_dropped = False
        self.parameters = list(net.parameters())
        self.updates = ParameterUpdates(self.parameters, training.optimizer, training.momentum)
        # The last epoch recorded; -1 before epoch 0.
        self.epoch = -1

    @property
    def momentum_buffers(self) -> list[torch.Tensor | None]:
        """The optimizer's first buffers (SGD momentum, the seed code's sums, Adam's first moments)."""
        return self.updates.momentum_buffers

    # -- geometry of the output -----------------------------------------------------------------

    @property
    def _above_sign(self) -> float:
        """+1 if the ``above`` class has the larger label value, else -1 (data set labels: +1)."""
        if self.labels is None:
            return 1.0
        return 1.0 if self.labels.above > self.labels.below else -1.0

    @property
    def _decision_threshold(self) -> float:
        """Output value separating the two classes (data set labels 0/1: 0.5)."""
        return self.labels.decision_threshold if self.labels is not None else 0.5

    def _class_margin(self, values: torch.Tensor) -> torch.Tensor:
        """Signed distance of outputs or labels from the midpoint, positive on the ``above`` side."""
        return (values - self._decision_threshold) * self._above_sign

    def _loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Mean loss over the batch; output (n, d_L), target (n, 1)."""
        if self.n_outputs > 1:
            return torch.nn.functional.cross_entropy(output, target[:, 0].to(torch.int64))
        if self.training.loss == "mse":
            return torch.mean((output - target) ** 2)
        if self.labels is None:
            # Binary data set labels 0/1: the output itself is the logit.
            return torch.nn.functional.binary_cross_entropy_with_logits(output, target.to(output.dtype))
        is_above = (self._class_margin(target) > 0).to(output.dtype)
        return torch.nn.functional.binary_cross_entropy_with_logits(self._class_margin(output), is_above)

    # -- one epoch ------------------------------------------------------------------------------

    def _train_one_epoch(self) -> float:
        """Run one pass of minibatch SGD; return the mean training loss over its examples."""
        generator = self.generators["train"]
        n, batch_size = self.training.train_size, self.training.batch_size
        order = torch.randperm(n, generator=generator)
        # One gather per epoch; the batches are then views.
        shuffled_inputs, shuffled_labels = self.train_inputs[order], self.train_labels[order]
        # The squared error's gradients without autograd's bookkeeping, the same bits (backprop.py);
        # planned every epoch, since hooks may have come or gone.
        plan = None
        if self.n_outputs == 1 and self.training.loss == "mse":
            plan = mse_gradient_plan(self.net, self.parameters)
        batch_losses = []
        for start in range(0, n, batch_size):
            batch_inputs = shuffled_inputs[start : start + batch_size]
            batch_labels = shuffled_labels[start : start + batch_size]
            if plan is not None and plan.applies_to(batch_inputs, batch_labels):
                loss, gradients = plan(batch_inputs, batch_labels, generator)
            else:
                loss = self._loss(self.net(batch_inputs, generator), batch_labels)
                gradients = torch.autograd.grad(loss, self.parameters)
            self.updates.step(gradients, self.learning_rate)
            if self.training.orthonormal:
                # After the step, as in Goldfeld et al.'s code; off (None or 0) changes nothing.
                orthonormal_step(self.net, self.training.orthonormal)
            # Weighted by batch size, so the epoch's mean is over examples, not batches.
            batch_losses.append(loss.detach() * batch_labels.shape[0])
        return float(torch.stack(batch_losses).sum()) / n

    def _training_set_loss(self) -> float:
        """Return the loss on the whole training set (one noisy pass, no update)."""
        with torch.no_grad():
            output = self.net(self.train_inputs, self.generators["train"])
            return float(self._loss(output, self.train_labels))

    def _test_accuracy(self) -> float:
        """Return the fraction of test examples whose noisy output falls on their label's side (or argmax class)."""
        return self._accuracy(self.test_inputs, self.test_labels, self.generators["test"])

    def _accuracy(self, inputs: torch.Tensor, labels: torch.Tensor, generator: torch.Generator) -> float:
        """Return the accuracy of the noisy output on ``inputs`` (n, d_0) against ``labels`` (n, 1)."""
        with torch.no_grad():
            output = self.net(inputs, generator)
        if self.n_outputs > 1:
            correct = output.argmax(dim=-1) == labels[:, 0].to(torch.int64)
            return float(correct.to(torch.float64).mean())
        if self.labels is None and self.training.loss == "cross_entropy":
            predicted_above = output > 0
        else:
            predicted_above = self._class_margin(output) > 0
        truly_above = self._class_margin(labels) > 0
        return float((predicted_above == truly_above).to(torch.float64).mean())

    def _check_finite(self, epoch: int, loss: float) -> None:
        parameters_finite = all(bool(torch.isfinite(p).all()) for p in self.parameters)
        if math.isfinite(loss) and parameters_finite:
            return
        what = (
            f"training loss became {loss}" if not math.isfinite(loss) else "network's parameters became NaN or infinite"
        )
        raise TrainingDiverged(
            f"training diverged in epoch {epoch}: the {what} (learning rate {self.learning_rate:g}); lower the learning rate"
        )

    def _measure(self, epoch: int, accuracy: float, loss: float, learning_rate: float) -> EpochRecord:
        """Return the record of the network as it stands, information and densities included."""
        try:
            return self.probe.measure(epoch, accuracy=accuracy, loss=loss, lr=learning_rate)
        except ValueError as error:
            # The settings were validated before training, so what fails here is the network's
            # state: outputs so large (yet finite) that no entropy can be measured.
            raise TrainingDiverged(
                f"training diverged at epoch {epoch}: the information cannot be measured ({error}); "
                "lower the learning rate"
            ) from None

    def _maybe_drop_learning_rate(self, accuracy: float) -> None:
        threshold = self.training.lr_drop_accuracy
        if self.lr_dropped or threshold is None or accuracy < threshold:
            return
        self.learning_rate = self.learning_rate / self.training.lr_drop_factor
        self.lr_dropped = True

    def _record(self, epoch: int, loss: float, learning_rate: float) -> EpochRecord:
        accuracy = self._test_accuracy()
        if epoch in self.schedule:
            record = self._measure(epoch, accuracy, loss, learning_rate)
            # Training-set accuracy at measured epochs, from its own random stream (so adding it
            # changes no other number).
            train_accuracy = self._accuracy(self.train_inputs, self.train_labels, self.generators["train_accuracy"])
            record = dataclasses.replace(record, train_accuracy=train_accuracy)
            assert record.mi_input is not None
            if not all(math.isfinite(value) for value in record.mi_input):
                raise TrainingDiverged(
                    f"the information measured at epoch {epoch} is not finite ({record.mi_input}); "
                    f"the network's outputs have blown up: lower the learning rate"
                )
        else:
            record = EpochRecord(epoch=epoch, accuracy=accuracy, loss=loss, learning_rate=learning_rate)
        # The drop takes effect from the next pass, as in the seed ("before training it").
        self._maybe_drop_learning_rate(accuracy)
        return record

    # -- the loop -------------------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        """True once the last epoch has been recorded."""
        return self.epoch >= self.training.epochs

    def run(self) -> Iterator[EpochRecord]:
        """Yield the record of every epoch from the next one to ``training.epochs``.

        Between two records the trainer's state is complete: :meth:`state_dict` taken there
        resumes the run exactly.

        Raises
        ------
        TrainingDiverged
            When the loss or a parameter becomes NaN or infinite; the records yielded so far stand.
        """
        if self.epoch < 0:
            loss = self._training_set_loss()
            self._check_finite(0, loss)
            self.epoch = 0
            yield self._record(0, loss, self.learning_rate)
        while self.epoch < self.training.epochs:
            epoch = self.epoch + 1
            learning_rate = self.learning_rate
            loss = self._train_one_epoch()
            self._check_finite(epoch, loss)
            record = self._record(epoch, loss, learning_rate)
            self.epoch = epoch
            yield record

    # -- checkpointing --------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Return the complete state between two epochs: tensors, numbers and strings only.

        It loads with ``torch.load(weights_only=True)``.
        """
        return {
            "seed": self.seed,
            "epoch": self.epoch,
            "learning_rate": self.learning_rate,
            "lr_dropped": self.lr_dropped,
            "model": {name: value.detach().clone() for name, value in self.net.state_dict().items()},
            **self.updates.state_dict(),
            "generators": {name: generator.get_state() for name, generator in self.generators.items()},
            "train_inputs": self.train_inputs,
            "train_labels": self.train_labels,
            "test_inputs": self.test_inputs,
            "test_labels": self.test_labels,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state from :meth:`state_dict` (same network shape, settings and seed)."""
        if state["seed"] != self.seed:
            raise ValueError(f"the state belongs to seed {state['seed']}, not {self.seed}")
        self.net.load_state_dict(state["model"])
        self.updates.load_state_dict(state)
        for name, generator in self.generators.items():
            generator.set_state(state["generators"][name])
        self.train_inputs = state["train_inputs"]
        self.train_labels = state["train_labels"]
        self.test_inputs = state["test_inputs"]
        self.test_labels = state["test_labels"]
        self.learning_rate = float(state["learning_rate"])
        self.lr_dropped = bool(state["lr_dropped"])
        self.epoch = int(state["epoch"])


def train(
    net: NoisyMLP,
    inputs: InputDistribution,
    labels: ThresholdLabels,
    training: TrainingSettings,
    probe: InformationProbe | MeasurementSettings | None = None,
    *,
    seed: int = 0,
) -> TrainingResult:
    """Train ``net`` in place and return every epoch's record.

    Parameters
    ----------
    net, inputs, labels, training, probe, seed :
        As for :class:`Trainer`; ``probe`` defaults to ``MeasurementSettings()``.

    Returns
    -------
    TrainingResult; if training diverged, the records before it and the reason.
    """
    trainer = Trainer(net, inputs, labels, training, probe or MeasurementSettings(), seed=seed)
    records: list[EpochRecord] = []
    try:
        for record in trainer.run():
            records.append(record)
    except TrainingDiverged as error:
        return TrainingResult(records, diverged=True, message=str(error))
    return TrainingResult(records)


def training_probe(
    net: NoisyMLP,
    inputs: InputDistribution,
    labels: ThresholdLabels | None,
    settings: MeasurementSettings,
    seed: int,
) -> InformationProbe:
    """Return the probe the reference trainer measures with: ``settings``, drawing from the run's
    "estimation" stream of ``seed``, its records in the ``seed`` column (no run folder: the runner
    writes every seed's records into one)."""
    return InformationProbe(
        net, inputs, labels=labels, settings=settings, generator=derived_generator(seed, "estimation"), run_seed=seed
    )
