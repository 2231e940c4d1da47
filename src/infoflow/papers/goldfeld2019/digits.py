"""The digits CNN experiment: a noisy CNN and its deterministic twin, trained alike, measured per epoch.

Goldfeld et al. (2019) trained small noisy CNNs on MNIST beside deterministic ones and tracked
I(X;T_l), the clustering of the representations (cosine similarity of same-class against
different-class pairs) and the validation error. Here on the shipped 8x8 digits
(:mod:`infoflow.data.digits`), one seed at a time (:func:`run_digits_seed`):

* a fixed stratified split (``DigitsSettings.test_fraction``, ``split_seed``): X for every
  information measurement is uniform over the training rows;
* the noisy net (:func:`digits_cnn`): conv 8 @ 3x3 - tanh - noise (512 units), conv 4 @ 3x3 -
  tanh - noise (256), dense 32 - tanh - noise, dense 10 (logits) - noise; its deterministic twin
  has the same modules with a :class:`Tap` (identity) in place of every noise layer, the same
  initial weights (copied), the same batches in the same order and the same Adam steps;
* per epoch, for both nets on the training rows: the cosine statistic of every layer's
  representation S_l with all noise off (:func:`clean_representations`), the binned entropy
  H(Bin(S_l)), the test and training error (the noisy net's with its noise on, and off);
* at log-spaced epochs: the noisy net's :class:`~infoflow.measure.probe.InformationProbe` record
  (I(X;T_l), I(T_l;Y) and their bounds) into ``SEED_DIR/noisy``.

A seed's folder is written under a temporary name and renamed when complete, so a folder
``seed-S`` is always a finished seed.
"""

from __future__ import annotations

import csv
import io
import math
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch import nn

from infoflow.analysis.cosine import cosine_clustering
from infoflow.data.dataset import FiniteDataset
from infoflow.data.digits import load_digits
from infoflow.estimators.bounds import binned_entropy
from infoflow.files import write_atomically
from infoflow.measure.probe import InformationProbe
from infoflow.models.noise import GaussianNoise, noise_source
from infoflow.papers.goldfeld2019.digits_settings import DigitsSettings
from infoflow.threads import torch_threads
from infoflow.training.optimizers import ParameterUpdates
from infoflow.training.settings import derived_generator

NETS = ("noisy", "deterministic")
REPRESENTATIONS_FILE = "representations.csv"
NOISY_RUN = "noisy"
TIMINGS_FILE = "timings.csv"
COLUMNS = (
    "seed",
    "epoch",
    "net",
    "layer",
    "cosine_within",
    "cosine_between",
    "cosine_gap",
    "binned_entropy_nats",
    "test_error",
    "test_error_noise_off",
    "train_error",
    "loss",
)


class Tap(nn.Identity):
    """Where the deterministic twin's layer l is read: an identity in place of a noise layer."""


def digits_cnn(beta: float | None) -> nn.Sequential:
    """Return the digits CNN (float64): 2 conv + 2 dense layers, each followed by GaussianNoise(beta).

    ``beta=None`` gives the deterministic twin: :class:`Tap` (identity) in place of each noise
    layer, the same parameters (its state_dict loads the noisy net's). Input (batch, 64), the
    8x8 image row-major; output (batch, 10) logits. Layer widths 512, 256, 32, 10.
    """

    def tap() -> nn.Module:
        return Tap() if beta is None else GaussianNoise(beta)

    return nn.Sequential(
        nn.Unflatten(1, (1, 8, 8)),
        nn.Conv2d(1, 8, 3, padding=1), nn.Tanh(), tap(),  # layer 1: 8 x 8 x 8 = 512 units
        nn.Conv2d(8, 4, 3, padding=1), nn.Tanh(), tap(),  # layer 2: 4 x 8 x 8 = 256 units
        nn.Flatten(), nn.Linear(256, 32), nn.Tanh(), tap(),  # layer 3: 32 units
        nn.Linear(32, 10), tap(),  # layer 4: 10 logits
    ).double()


def twin_pair(beta: float, seed: int) -> tuple[nn.Sequential, nn.Sequential]:
    """Return (noisy net, deterministic twin) with the same initial weights, drawn from (seed, "init")."""
    draw = int(torch.randint(0, 2**62, (1,), generator=derived_generator(seed, "init")))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(draw)
        noisy = digits_cnn(beta)
    twin = digits_cnn(None)
    twin.load_state_dict(noisy.state_dict())
    return noisy, twin


def split_digits(test_fraction: float, split_seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (train rows, test rows) of the digits, int64, sorted: ``test_fraction`` of every class held out.

    Stratified: class c of n_c rows gives round(test_fraction * n_c) test rows, chosen by a
    generator seeded with ``split_seed``.
    """
    _, y = load_digits()
    generator = np.random.default_rng(split_seed)
    test = []
    for label in np.unique(y):
        rows = np.flatnonzero(y == label)
        test.append(generator.choice(rows, size=int(round(test_fraction * len(rows))), replace=False))
    test_rows = np.sort(np.concatenate(test))
    train_rows = np.setdiff1d(np.arange(len(y)), test_rows)
    return train_rows, test_rows


@contextmanager
def _reading_layers(model: nn.Module, noise_off: bool) -> Iterator[list[torch.Tensor]]:
    """Collect each noise layer's / tap's input S_l (flattened) in execution order; optionally bypass the noise."""
    captured: list[torch.Tensor] = []

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> torch.Tensor | None:
        clean = inputs[0]
        captured.append(clean.detach().reshape(clean.shape[0], -1))
        return clean if noise_off else None

    handles = [
        module.register_forward_hook(hook) for module in model.modules() if isinstance(module, (GaussianNoise, Tap))
    ]
    try:
        yield captured
    finally:
        for handle in handles:
            handle.remove()


def clean_representations(model: nn.Module, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Return ([S_1, ..., S_L] each (n, d_l), logits (n, 10)) with every noise layer switched off."""
    with torch.no_grad(), _reading_layers(model, noise_off=True) as layers:
        logits = model(x)
    return list(layers), logits


def _error(logits: torch.Tensor, y: torch.Tensor) -> float:
    return float((logits.argmax(1) != y).double().mean())


class TwinTraining:
    """Trains the noisy net and its twin alike: the same batches, in the same order, the same Adam steps."""

    def __init__(self, settings: DigitsSettings, seed: int) -> None:
        self.settings = settings
        self.noisy, self.twin = twin_pair(settings.beta, seed)
        self.updates = {
            "noisy": ParameterUpdates(list(self.noisy.parameters()), "adam", 0.0),
            "deterministic": ParameterUpdates(list(self.twin.parameters()), "adam", 0.0),
        }
        self.order = derived_generator(seed, "data")
        self.training_noise = derived_generator(seed, "train")
        self.losses = {"noisy": math.nan, "deterministic": math.nan}

    def nets(self) -> dict[str, nn.Module]:
        return {"noisy": self.noisy, "deterministic": self.twin}

    def epoch(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """One pass over (x, y) in a fresh random order, the same batches for both nets."""
        order = torch.randperm(len(x), generator=self.order)
        totals = {"noisy": 0.0, "deterministic": 0.0}
        for rows in order.split(self.settings.batch_size):
            for name, net in self.nets().items():
                net.train()
                with noise_source(net, self.training_noise if name == "noisy" else None):
                    loss = nn.functional.cross_entropy(net(x[rows]), y[rows])
                gradients = torch.autograd.grad(loss, list(net.parameters()))
                self.updates[name].step(gradients, self.settings.learning_rate)
                totals[name] += float(loss.detach()) * len(rows)
        self.losses = {name: total / len(x) for name, total in totals.items()}


def _rows_for_epoch(
    training: TwinTraining,
    seed: int,
    epoch: int,
    data: dict[str, torch.Tensor],
    test_noise: torch.Generator,
) -> list[dict[str, float | int | str]]:
    """Return the representation rows (every net and layer) of one epoch."""
    rows = []
    for name, net in training.nets().items():
        net.eval()
        layers, train_logits = clean_representations(net, data["x_train"])
        _, test_logits = clean_representations(net, data["x_test"])
        test_error = _error(test_logits, data["y_test"])
        if name == "noisy":
            with torch.no_grad(), noise_source(net, test_noise):
                test_error_noisy = _error(net(data["x_test"]), data["y_test"])
        else:
            test_error_noisy = test_error
        train_error = _error(train_logits, data["y_train"])
        for layer, representation in enumerate(layers, start=1):
            statistic = cosine_clustering(representation, data["y_train"])
            binned = float(binned_entropy(representation.unsqueeze(0), training.settings.bin_size)[0])
            rows.append(
                {
                    "seed": seed,
                    "epoch": epoch,
                    "net": name,
                    "layer": layer,
                    "cosine_within": statistic.within,
                    "cosine_between": statistic.between,
                    "cosine_gap": statistic.gap,
                    "binned_entropy_nats": binned,
                    "test_error": test_error_noisy,
                    "test_error_noise_off": test_error,
                    "train_error": train_error,
                    "loss": training.losses[name],
                }
            )
    return rows


def _csv_bytes(rows: list[dict[str, float | int | str]], columns: tuple[str, ...]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: (repr(value) if isinstance(value, float) else value) for key, value in row.items()})
    return buffer.getvalue().encode("utf-8")


def seed_folder(out_dir: str | os.PathLike[str], seed: int) -> Path:
    """Return the folder of one finished seed, ``OUT/seed-S``."""
    return Path(out_dir) / f"seed-{seed}"


def run_digits_seed(settings: DigitsSettings, seed: int, out_dir: str | os.PathLike[str]) -> dict[str, float]:
    """Train and measure one seed into ``OUT/seed-S`` (reused when it exists); return its timings in seconds.

    The folder holds ``noisy/`` (the probe's run folder of the noisy net), ``representations.csv``
    (per epoch, net and layer: the cosine statistic, H(Bin(S_l)), errors, loss; columns
    ``COLUMNS``) and ``timings.csv`` (wall seconds of training, measuring, statistics and in total;
    ``cpu``: this process's CPU seconds). It is built as ``OUT/.seed-S.partial-PID`` and renamed at the
    end; a folder ``seed-S`` already there is a finished seed and is not touched.
    """
    seed = int(seed)
    final = seed_folder(out_dir, seed)
    if final.exists():
        return {"total": 0.0, "training": 0.0, "measuring": 0.0, "statistics": 0.0, "cpu": 0.0, "reused": 1.0}
    partial = Path(out_dir) / f".seed-{seed}.partial-{os.getpid()}"
    if partial.exists():
        shutil.rmtree(partial)  # our own leftover from this very process id
    partial.mkdir(parents=True)
    started, cpu_started = time.perf_counter(), time.process_time()
    timings = {"training": 0.0, "measuring": 0.0, "statistics": 0.0}
    with torch_threads(1):
        x_all, y_all = load_digits()
        train_rows, test_rows = split_digits(settings.test_fraction, settings.split_seed)
        data = {
            "x_train": torch.as_tensor(x_all[train_rows]),
            "y_train": torch.as_tensor(y_all[train_rows]),
            "x_test": torch.as_tensor(x_all[test_rows]),
            "y_test": torch.as_tensor(y_all[test_rows]),
        }
        training = TwinTraining(settings, seed)
        test_noise = derived_generator(seed, "test")
        measured = set(settings.measured_epochs())
        rows: list[dict[str, float | int | str]] = []
        probe = InformationProbe(
            training.noisy,
            FiniteDataset(x_all[train_rows], y_all[train_rows]),
            run_dir=partial / NOISY_RUN,
            settings=settings.measurement(),
            generator=derived_generator(seed, "estimation"),
            seed=seed,
            name=f"digits-noisy-seed-{seed}",
        )
        with probe:
            for epoch in range(settings.epochs + 1):
                tick = time.perf_counter()
                if epoch:
                    training.epoch(data["x_train"], data["y_train"])
                timings["training"] += time.perf_counter() - tick
                tick = time.perf_counter()
                epoch_rows = _rows_for_epoch(training, seed, epoch, data, test_noise)
                rows += epoch_rows
                timings["statistics"] += time.perf_counter() - tick
                if epoch in measured:
                    tick = time.perf_counter()
                    noisy = next(row for row in epoch_rows if row["net"] == "noisy")
                    probe.record(
                        epoch,
                        accuracy=1.0 - float(noisy["test_error"]),
                        loss=float(noisy["loss"]),
                        lr=settings.learning_rate,
                    )
                    timings["measuring"] += time.perf_counter() - tick
    timings["total"] = time.perf_counter() - started
    # CPU seconds of this process (one torch thread): close to the wall time on an idle core.
    timings["cpu"] = time.process_time() - cpu_started
    write_atomically(partial / REPRESENTATIONS_FILE, _csv_bytes(rows, COLUMNS))
    write_atomically(
        partial / TIMINGS_FILE,
        _csv_bytes(
            [{"seed": seed, **{k: float(v) for k, v in timings.items()}}],
            ("seed", "training", "measuring", "statistics", "total", "cpu"),
        ),
    )
    os.replace(partial, final)
    return timings
