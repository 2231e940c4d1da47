"""Every setting of the digits CNN experiment, in one place (Goldfeld et al. 2019, beyond §6).

:class:`DigitsSettings` holds the split, the network, the training and the measurement sizes;
``DIGITS_DEFAULTS`` is what ``infoflow reproduce goldfeld2019-digits`` runs. The measurement sizes
are chosen so that one seed (both nets trained, every record) fits 10 minutes on a 2-core machine
with today's probe (one record ~5 s of CPU at these sizes, ~30-40 s at the probe's defaults; one
seed of 60 epochs and 11 records took 199 s wall, 80 s CPU, on the shared 2-core machine); raise
them here (``dataclasses.replace(DIGITS_DEFAULTS, n_conditional=1000)``) when the probe is faster.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from infoflow.measure.schedules import measured_epochs
from infoflow.measure.settings import MeasurementSettings
from infoflow.models.noise import check_beta
from infoflow.validation import integer_at_least


@dataclass(frozen=True)
class DigitsSettings:
    """The digits CNN experiment's settings (validated on creation; a bad value names its field).

    Attributes
    ----------
    test_fraction : float
        Share of each class held out for the test (validation) error, in (0, 1); the split is
        stratified and fixed by ``split_seed`` (the same for every training seed).
    split_seed : int
    beta : float
        Noise s.d. of the noisy net's four noise layers (the deterministic twin has none).
    epochs : int
        Training epochs (passes over the training rows).
    batch_size : int
    learning_rate : float
        Adam's step size (torch.optim.Adam's defaults otherwise), the same for both nets.
    points : int
        I(X;T_l) is recorded at about this many log-spaced epochs (0 and the last always).
    n_samples, n_conditional, n_inputs : int
        Sample propagation's sizes (see :class:`~infoflow.measure.settings.MeasurementSettings`).
    bin_size : float
        Side of the cubes of the binned entropy H(Bin(S_l)) (Shwartz-Ziv & Tishby's 30 bins over
        tanh's range [-1, 1]: 2/30), for the deterministic twin and the noisy net alike.
    """

    test_fraction: float = 0.2
    split_seed: int = 0
    beta: float = 0.1
    epochs: int = 100
    batch_size: int = 64
    learning_rate: float = 3e-3
    points: int = 14
    n_samples: int = 1000
    n_conditional: int = 100
    n_inputs: int = 100
    bin_size: float = 2.0 / 30.0

    def __post_init__(self) -> None:
        if isinstance(self.test_fraction, bool) or not isinstance(self.test_fraction, (int, float)) or not (
            0.0 < float(self.test_fraction) < 1.0
        ):
            raise ValueError(f"test_fraction must be a number in (0, 1); got {self.test_fraction!r}")
        integer_at_least("split_seed", self.split_seed, 0)
        check_beta(self.beta, "beta")
        integer_at_least("epochs", self.epochs, 1)
        integer_at_least("batch_size", self.batch_size, 1)
        integer_at_least("points", self.points, 2)
        integer_at_least("n_samples", self.n_samples, 2)
        integer_at_least("n_conditional", self.n_conditional, 2)
        integer_at_least("n_inputs", self.n_inputs, 1)
        for name in ("learning_rate", "bin_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0.0 < float(value) < math.inf):
                raise ValueError(f"{name} must be a finite number > 0; got {value!r}")

    def replace(self, **changes: object) -> DigitsSettings:
        """Return a copy with ``changes`` (validated again)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def measured_epochs(self) -> list[int]:
        """Return the epochs at which I(X;T_l) is recorded (log-spaced, 0 and ``epochs`` included)."""
        return measured_epochs("log", self.epochs, points=self.points)

    def measurement(self) -> MeasurementSettings:
        """Return the probe's settings: these sizes, bounds on, no densities, no exact truth.

        Densities are off (512 units of a conv layer each on its own grid are not this experiment's
        question, and they cost); the probe records H(Bin(S_l)) of the noisy net's S_l too.
        """
        return MeasurementSettings(
            n_samples=self.n_samples,
            n_conditional=self.n_conditional,
            n_inputs=self.n_inputs,
            schedule="log",
            points=self.points,
            true_information=False,
            bounds=True,
            densities=False,
            clustering_bin_size=self.bin_size,
        )


DIGITS_DEFAULTS = DigitsSettings()
