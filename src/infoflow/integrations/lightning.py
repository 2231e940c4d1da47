"""A Lightning callback that records I(X;T_l) with an InformationProbe at chosen epochs.

    pip install "infoflow[lightning]"

    from infoflow.integrations.lightning import InformationCallback

    callback = InformationCallback(data, run_dir="runs/lit", epochs=[0, 1, 2, 5, 10], n_samples=500)
    lightning.pytorch.Trainer(max_epochs=10, callbacks=[callback]).fit(module, loaders)
    infoflow.read_run("runs/lit").metrics

Epochs are numbered as everywhere in infoflow: 0 is the untrained network (recorded when
training starts), e the network after e training epochs (recorded when Lightning's epoch e - 1
ends, its ``current_epoch`` + 1). The probe measures the model as it stands and leaves it as it
was: modes restored, no gradient, the global random state untouched (its draws come from the
probe's own generator), so training with the callback gives the same weights as without it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any, Literal

from torch import nn

try:
    import lightning.pytorch as pl
except ImportError as error:  # pragma: no cover - the message is what a user without the extra sees
    raise ImportError(
        'infoflow.integrations.lightning needs Lightning: pip install "infoflow[lightning]"'
    ) from error

from infoflow.data.distributions import InputDistribution
from infoflow.measure.probe import InformationProbe
from infoflow.runs.records import EpochRecord

STAGES = ("train", "validation")


class InformationCallback(pl.Callback):
    """Records information with an :class:`~infoflow.InformationProbe` at chosen epochs of ``Trainer.fit``.

    Parameters
    ----------
    inputs : InputDistribution, optional
        The distribution of X; the callback builds its probe on the model when fitting starts
        (on the model's device), with ``probe_options``. Give this or ``probe``.
    probe : InformationProbe, optional
        A probe built by the caller (on the model being trained); it is not closed at the end.
    model : str or callable, optional
        The noisy network to measure: None, the LightningModule itself; a string, the name of
        its attribute holding the network (e.g. ``"net"``); a callable, ``model(pl_module)``.
    epochs : iterable of int, optional
        The epochs to record (0 = before training). None: the probe settings' schedule over
        ``trainer.max_epochs`` (``settings.schedule``; every epoch by default).
    stage : {"train", "validation"}
        Record when a training epoch ends (default), or when its validation ends (so that
        metrics logged in validation are available; sanity checks are skipped). Epoch 0 is
        recorded when training starts either way.
    accuracy_key, loss_key : str, optional
        Names of metrics the module logs (``self.log``) written beside the information as the
        epoch's accuracy and loss (read from ``trainer.callback_metrics``; NaN when absent).
    **probe_options
        Keywords of :class:`~infoflow.InformationProbe` (``run_dir``, ``settings``, ``seed``,
        ``labels``, ``n_samples``, ...), with ``inputs`` only.

    Attributes
    ----------
    probe : InformationProbe or None
        The probe (None before fitting starts when built from ``inputs``).
    records : list of EpochRecord
        Every record taken, in order.

    Raises
    ------
    ValueError
        Neither or both of ``inputs`` and ``probe``, options with a given probe, a bad ``stage``,
        ``epochs`` or ``model`` (at construction or when fitting starts).
    """

    def __init__(
        self,
        inputs: InputDistribution | None = None,
        *,
        probe: InformationProbe | None = None,
        model: str | Callable[[pl.LightningModule], nn.Module] | None = None,
        epochs: Iterable[int] | None = None,
        stage: Literal["train", "validation"] = "train",
        accuracy_key: str | None = None,
        loss_key: str | None = None,
        **probe_options: Any,
    ) -> None:
        super().__init__()
        if (inputs is None) == (probe is None):
            raise ValueError("give inputs (the callback builds the probe) or probe (one you built), not both or neither")
        if probe is not None and not isinstance(probe, InformationProbe):
            raise ValueError(f"probe must be an infoflow.InformationProbe; got {type(probe).__name__}")
        if probe is not None and probe_options:
            raise ValueError(f"probe options ({', '.join(sorted(probe_options))}) go with inputs, not with a built probe")
        if inputs is not None and not isinstance(inputs, InputDistribution):
            raise ValueError(f"inputs must be an infoflow input distribution (e.g. FiniteDataset); got {type(inputs).__name__}")
        if stage not in STAGES:
            raise ValueError(f"stage must be one of {', '.join(STAGES)}; got {stage!r}")
        if model is not None and not (isinstance(model, str) or callable(model)):
            raise ValueError(f"model must be None, an attribute name or a callable; got {type(model).__name__}")
        self.inputs = inputs
        self.probe = probe
        self.owns_probe = probe is None
        self.model = model
        self.epochs = None if epochs is None else _epoch_set(epochs)
        self.stage = stage
        self.accuracy_key = accuracy_key
        self.loss_key = loss_key
        self.probe_options = probe_options
        self.records: list[EpochRecord] = []
        self._schedule: Any = None

    # -- Lightning hooks ------------------------------------------------------------------------

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        network = self._network(pl_module)
        if self.probe is None:
            assert self.inputs is not None
            self.probe = InformationProbe(network, self.inputs, **self.probe_options)
        elif self.probe.model is not network:
            raise ValueError(
                f"the probe measures a {type(self.probe.model).__name__}, not the network being fitted "
                f"({type(network).__name__}); build the probe on it, or pass model="
            )
        if self.epochs is None:
            max_epochs = trainer.max_epochs
            if max_epochs is None or max_epochs < 0:
                raise ValueError("epochs= is needed when trainer.max_epochs is unbounded")
            self._schedule = self.probe.schedule(int(max_epochs))

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.current_epoch == 0 and trainer.global_step == 0:
            self._record(trainer, 0)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.stage == "train":
            self._record(trainer, trainer.current_epoch + 1)

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Only the validation inside fit: not sanity checks, not a separate trainer.validate().
        if self.stage == "validation" and not trainer.sanity_checking and trainer.state.fn == "fit":
            self._record(trainer, trainer.current_epoch + 1)

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.owns_probe and self.probe is not None:
            self.probe.close()

    # -- helpers --------------------------------------------------------------------------------

    def wants(self, epoch: int) -> bool:
        """Return whether ``epoch`` is recorded."""
        if self.epochs is not None:
            return epoch in self.epochs
        return self._schedule is not None and epoch in self._schedule

    def _network(self, pl_module: pl.LightningModule) -> nn.Module:
        if self.model is None:
            network = pl_module
        elif isinstance(self.model, str):
            if not hasattr(pl_module, self.model):
                raise ValueError(f"model = {self.model!r}: the {type(pl_module).__name__} has no such attribute")
            network = getattr(pl_module, self.model)
        else:
            network = self.model(pl_module)
        if not isinstance(network, nn.Module):
            raise ValueError(f"model must give a torch.nn.Module with GaussianNoise layers; got {type(network).__name__}")
        return network

    def _record(self, trainer: pl.Trainer, epoch: int) -> None:
        if self.probe is None or not self.wants(epoch) or any(record.epoch == epoch for record in self.records[-1:]):
            return
        self.records.append(
            self.probe.record(
                epoch,
                accuracy=_metric(trainer, self.accuracy_key),
                loss=_metric(trainer, self.loss_key),
                lr=_learning_rate(trainer),
            )
        )


def _epoch_set(epochs: Iterable[int]) -> frozenset[int]:
    try:
        values = list(epochs)
    except TypeError:
        raise ValueError(f"epochs must be a list of integers >= 0; got {epochs!r}") from None
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"epochs must be a list of integers >= 0; got {value!r} in it")
    return frozenset(values)


def _metric(trainer: pl.Trainer, key: str | None) -> float:
    if key is None or key not in trainer.callback_metrics:
        return math.nan
    return float(trainer.callback_metrics[key])


def _learning_rate(trainer: pl.Trainer) -> float:
    optimizers = trainer.optimizers
    if not optimizers or not optimizers[0].param_groups:
        return math.nan
    return float(optimizers[0].param_groups[0]["lr"])
