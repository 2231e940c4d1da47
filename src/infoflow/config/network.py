"""``[network]``: a seed network (``preset``) or any widths and activations."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator
from pydantic.dataclasses import dataclass

from infoflow.config.errors import invalid, one_of
from infoflow.config.types import SECTION, Integer, Number, fill_defaults
from infoflow.models.mlp import ACTIVATIONS
from infoflow.papers.kong2019.networks import SEED_NETWORKS

PRESETS = tuple(SEED_NETWORKS)
ACTIVATION_NAMES = tuple(sorted(ACTIVATIONS))
INITS = ("seed", "default", "zeros")
MIN_BETA = 1e-150


def preset_architecture(preset: str) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """Return the (widths, activations) a preset fixes: scalar units all the way."""
    activations = tuple(SEED_NETWORKS[preset][0])
    return (1,) * (len(activations) + 1), activations


@dataclass(frozen=True, config=SECTION)
class NetworkConfig:
    """``[network]``: a seed network (``preset``) or explicit widths and activations.

    Attributes
    ----------
    preset : str or None
        "tanh", "leaky-leaky", "tanh-tanh" or "leaky-tanh" (seed networks 1-4), or None.
    widths : tuple of int
        Input size, then each layer's width, each >= 1 (a preset fixes them all to 1).
    activations : tuple of str
        One per layer.
    init : {"seed", "default", "zeros"}
        "seed": the preset's initialisation from the seed paper (default with a preset);
        "default": PyTorch's U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases, drawn
        from the run's seed (default without a preset); "zeros": all parameters 0.
    beta : float
        Noise standard deviation after every activation, > 0.
    """

    preset: Literal[PRESETS] | None = Field(None, description=f"{one_of(PRESETS)} or left out")  # type: ignore[valid-type]
    widths: tuple[Annotated[Integer, Field(ge=1)], ...] = Field(
        min_length=2, description="a list of at least 2 integers >= 1 (input size, then each layer's width)"
    )
    activations: tuple[Literal[ACTIVATION_NAMES], ...] = Field(  # type: ignore[valid-type]
        min_length=1, description=f"a list of activation names, each {one_of(ACTIVATION_NAMES)}"
    )
    init: Literal[INITS] = Field("default", description=one_of(INITS))  # type: ignore[valid-type]
    # Below 1e-150, beta^2 leaves float64's normal range and every density is 0 or inf.
    beta: Number = Field(
        0.05,
        ge=MIN_BETA,
        description="a finite number >= 1e-150 (the noise standard deviation; beta^2 must be a normal float64)",
    )

    @property
    def n_layers(self) -> int:
        """The number of noisy layers L."""
        return len(self.activations)

    @model_validator(mode="before")
    @classmethod
    def _preset_defaults(cls, data: Any) -> Any:
        def fill(table: dict[str, Any]) -> None:
            preset = table.get("preset")
            if isinstance(preset, str) and preset in SEED_NETWORKS:
                widths, activations = preset_architecture(preset)
                table.setdefault("widths", widths)
                table.setdefault("activations", activations)
            table.setdefault("init", "seed" if preset is not None else "default")

        return fill_defaults(data, fill)

    @model_validator(mode="after")
    def _consistent(self) -> NetworkConfig:
        if self.preset is not None:
            # A preset fixes the architecture; widths and activations may be repeated, not changed.
            widths, activations = preset_architecture(self.preset)
            if self.widths != widths:
                raise invalid("widths", f"{list(widths)} (preset {self.preset!r}) or left out", self.widths)
            if self.activations != activations:
                raise invalid(
                    "activations", f"{list(activations)} (preset {self.preset!r}) or left out", self.activations
                )
        if len(self.activations) != len(self.widths) - 1:
            raise invalid(
                "activations",
                f"a list of {len(self.widths) - 1} names, one per layer of network.widths",
                self.activations,
            )
        if self.init == "seed" and self.preset is None:
            raise invalid("init", f'{one_of(INITS[1:])} ("seed" needs a preset)', self.init)
        return self
