"""``[network]``: a paper's network (``preset``), any widths and activations, or a noisy Elman RNN (``kind``).

Presets come from the papers' registrations (:mod:`infoflow.registry`), read at validation time.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator
from pydantic.dataclasses import dataclass

from infoflow.config.errors import invalid, one_of
from infoflow.config.types import SECTION, Integer, Number, Text, fill_defaults
from infoflow.models.mlp import ACTIVATIONS
from infoflow.registry import network_presets

ACTIVATION_NAMES = tuple(sorted(ACTIVATIONS))
# The initialisations any network takes; a preset also takes its paper's own (init = "<paper>").
GENERAL_INITS = ("default", "zeros")
# Old spellings of config values, still read: "seed" named the first reproduced paper.
INIT_ALIASES = {"seed": "kong2019"}
# "mlp" (the default) is stored as None so that a feed-forward config, and its resolved
# config.toml, read exactly as they did before recurrent networks existed.
NETWORK_KINDS = ("mlp", "elman")
_ELMAN_ONLY = ("hidden", "steps")
MIN_BETA = 1e-150
MAX_BETA = 1e150


def presets() -> tuple[str, ...]:
    """Return the names of the registered network presets."""
    return tuple(network_presets())


def inits() -> tuple[str, ...]:
    """Return every allowed ``init``: the papers' own (for their presets), then "default", "zeros"."""
    papers = dict.fromkeys(preset.paper for preset in network_presets().values())
    return (*papers, *GENERAL_INITS)


def preset_architecture(preset: str) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """Return the (widths, activations) a preset fixes."""
    found = network_presets()[preset]
    return found.widths, found.activations


@dataclass(frozen=True, config=SECTION)
class NetworkConfig:
    """``[network]``: a paper's network (``preset``), explicit widths and activations, or an Elman RNN.

    Attributes
    ----------
    kind : None or "elman"
        None: a feed-forward NoisyMLP (``kind = "mlp"`` in a file, the default; stored as None
        and left out of the resolved config). "elman": :class:`~infoflow.models.rnn.NoisyElman`,
        T_t = act(W_x x_t + W_h T_{t-1} + b) + Z_t for t = 1..steps, read-out w_o . T_steps + b_o;
        layer l is step t = l. ``hidden`` and ``steps`` describe it; ``widths`` defaults to
        ``[steps, hidden, ..., hidden]`` (a first entry k * steps: k numbers per step) and
        ``activations`` to ``["tanh"] * steps`` (one name, or one per step, all the same: the cell's).
    hidden, steps : int or None
        The Elman state's width and the sequence length (``kind = "elman"`` only).
    preset : str or None
        A registered preset (kong2019: "tanh", "leaky-leaky", "tanh-tanh", "leaky-tanh", its
        networks 1-4), or None.
    widths : tuple of int
        Input size, then each layer's width, each >= 1 (a preset fixes them all to 1).
    activations : tuple of str
        One per layer.
    init : str
        A paper's name (e.g. "kong2019"; old spelling "seed"): the preset's initialisation from
        that paper (default with a preset);
        "default": PyTorch's U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases, drawn
        from the run's seed (default without a preset); "zeros": all parameters 0.
    beta : float
        Noise standard deviation after every activation, > 0.
    """

    preset: Text | None = Field(None, description="a registered network preset or left out")
    kind: Literal["elman"] | None = Field(None, description=one_of(NETWORK_KINDS))
    hidden: Annotated[Integer, Field(ge=1)] | None = Field(
        None, description='an integer >= 1 (the Elman state width; kind = "elman" only)'
    )
    steps: Annotated[Integer, Field(ge=1)] | None = Field(
        None, description='an integer >= 1 (the sequence length; kind = "elman" only)'
    )
    widths: tuple[Annotated[Integer, Field(ge=1)], ...] = Field(
        min_length=2, description="a list of at least 2 integers >= 1 (input size, then each layer's width)"
    )
    activations: tuple[Literal[ACTIVATION_NAMES], ...] = Field(  # type: ignore[valid-type]
        min_length=1, description=f"a list of activation names, each {one_of(ACTIVATION_NAMES)}"
    )
    init: Text = Field("default", description='a paper\'s name (its preset\'s initialisation), "default" or "zeros"')
    # Outside [1e-150, 1e150], beta^2 leaves float64's normal range and every density is 0 or inf.
    beta: Number = Field(
        0.05,
        ge=MIN_BETA,
        le=MAX_BETA,
        description="a number in [1e-150, 1e150] (the noise standard deviation; beta^2 must be a normal float64)",
    )

    @property
    def n_layers(self) -> int:
        """The number of noisy layers L (an Elman network's steps)."""
        return len(self.activations)

    @property
    def architecture(self) -> str:
        """The network's kind: "mlp" or "elman"."""
        return self.kind or "mlp"

    @property
    def n_outputs(self) -> int:
        """Width of the network's output: the last layer's, or 1 (an Elman network's read-out)."""
        return 1 if self.kind == "elman" else self.widths[-1]

    @model_validator(mode="before")
    @classmethod
    def _preset_defaults(cls, data: Any) -> Any:
        def fill(table: dict[str, Any]) -> None:
            if table.get("kind") == "mlp":
                del table["kind"]
            if table.get("kind") == "elman":
                _elman_defaults(table)
            preset = table.get("preset")
            known = network_presets()
            if isinstance(preset, str) and preset not in known:
                raise invalid("preset", f"{one_of(known)} or left out", preset)
            if isinstance(preset, str):
                widths, activations = preset_architecture(preset)
                table.setdefault("widths", widths)
                table.setdefault("activations", activations)
            init = table.get("init")
            if isinstance(init, str) and init in INIT_ALIASES:
                table["init"] = init = INIT_ALIASES[init]
            if isinstance(init, str) and init not in inits():
                raise invalid("init", one_of(inits()), init)
            if "init" not in table:
                table["init"] = known[preset].paper if isinstance(preset, str) else "default"

        return fill_defaults(data, fill)

    @model_validator(mode="after")
    def _consistent(self) -> NetworkConfig:
        if self.kind == "elman":
            return self._elman_consistent()
        for name in _ELMAN_ONLY:
            if getattr(self, name) is not None:
                raise invalid(name, 'left out (it describes kind = "elman" networks)', getattr(self, name))
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
        if self.init not in GENERAL_INITS:
            owner = network_presets()[self.preset].paper if self.preset is not None else None
            if self.init != owner:
                needs = f'"{self.init}" needs one of its presets' if owner is None else f"preset {self.preset!r} is {owner}'s"
                allowed = one_of((owner, *GENERAL_INITS) if owner else GENERAL_INITS)
                raise invalid("init", f"{allowed} ({needs})", self.init)
        return self

    def _elman_consistent(self) -> NetworkConfig:
        if self.preset is not None:
            raise invalid(
                "preset",
                'left out with kind = "elman" (the presets are the seed\'s feed-forward networks)',
                self.preset,
            )
        # Filled in (or refused) before validation.
        assert self.steps is not None and self.hidden is not None
        steps, hidden = self.steps, self.hidden
        if self.widths[0] % steps != 0 or self.widths[1:] != (hidden,) * steps:
            allowed = (
                f"[{steps}, {', '.join([str(hidden)] * steps)}] (from steps and hidden; a first entry "
                f"k * {steps} for k numbers per step) or left out"
            )
            raise invalid("widths", allowed, self.widths)
        if len(set(self.activations)) != 1 or len(self.activations) != steps:
            raise invalid(
                "activations", "one name, or the same name once per step (the cell's activation)", self.activations
            )
        if self.init not in GENERAL_INITS:
            raise invalid("init", f'{one_of(GENERAL_INITS)} ("{self.init}" needs one of its presets)', self.init)
        return self


def _elman_defaults(table: dict[str, Any]) -> None:
    """Fill an Elman table's derived keys: hidden 1, widths from steps, one activation per step."""
    if "steps" not in table:
        raise invalid("steps", 'an integer >= 1 (the sequence length) with kind = "elman"', None)
    table.setdefault("hidden", 1)
    steps, hidden = table["steps"], table["hidden"]
    if not (isinstance(steps, int) and not isinstance(steps, bool) and steps >= 1):
        return  # the field's own validation names the problem
    if isinstance(hidden, int) and not isinstance(hidden, bool):
        table.setdefault("widths", (steps, *([hidden] * steps)))
    activations = table.get("activations", ("tanh",))
    if isinstance(activations, (list, tuple)) and len(activations) == 1:
        table["activations"] = tuple(activations) * steps
