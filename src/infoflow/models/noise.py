"""The noise layer, the contract of a noisy network, and the taps that read S_l and T_l.

Any ``nn.Module`` whose forward pass runs through :class:`GaussianNoise` layers is a noisy
network: the l-th noise layer *call* in execution order is layer l, its input is S_l and its
output T_l = S_l + Z_l, Z_l ~ N(0, beta_l^2 I). A module called several times (a recurrent cell
applied at every step) gives one layer per call. The taps are forward hooks, so a user's
``nn.Sequential``, CNN or recurrent cell is measured unchanged.

The noise is part of the model: it is drawn in training and in evaluation alike; ``eval()``
does not switch it off (two public implementations of the estimator carry that bug).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


def check_beta(beta: Any, name: str = "beta") -> float:
    """Return ``beta`` as a float if it is a positive finite number, else raise ValueError naming ``name``."""
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not (0 < float(beta) < math.inf):
        raise ValueError(f"{name} must be a positive finite number (the noise s.d.); got {beta!r}")
    if not (1e-150 <= float(beta) <= 1e150):
        # beta^2 leaves float64's normal range beyond these: every density would be 0 or inf.
        raise ValueError(f"{name} must lie in [1e-150, 1e150] (beta^2 must be a normal float64); got {beta!r}")
    return float(beta)


class GaussianNoise(nn.Module):
    """Adds N(0, beta^2 I) to its input, in training and in evaluation alike.

    Parameters
    ----------
    beta : float
        The noise standard deviation, > 0 (same units as the input).

    Notes
    -----
    The draws come from ``self.generator`` when one is set (see :func:`noise_source`), else
    from torch's global generator. The module has no parameters and no buffers, so adding it
    to a network leaves the network's ``state_dict`` unchanged.
    """

    def __init__(self, beta: float) -> None:
        super().__init__()
        self.beta = check_beta(beta)
        self.generator: torch.Generator | None = None

    def forward(self, clean: torch.Tensor) -> torch.Tensor:
        """Return ``clean + beta * N(0, I)``, same shape, dtype and device."""
        noise = torch.randn(clean.shape, generator=self.generator, dtype=clean.dtype, device=clean.device)
        return clean + self.beta * noise

    def extra_repr(self) -> str:
        return f"beta={self.beta}"


def noise_modules(model: nn.Module) -> list[GaussianNoise]:
    """Return the model's GaussianNoise modules in registration order (not necessarily execution order)."""
    return [module for module in model.modules() if isinstance(module, GaussianNoise)]


@contextmanager
def noise_source(
    model: nn.Module, generator: torch.Generator | None, *, modules: Iterable[GaussianNoise] | None = None
) -> Iterator[None]:
    """Draw every GaussianNoise layer of ``model`` from ``generator`` inside the block.

    ``None`` leaves the layers as they are. The previous generators are restored on exit.
    ``modules``: the model's noise layers when the caller knows them (a model's own forward
    pass, run tens of thousands of times in training, skips the walk over every submodule).
    """
    if generator is None:
        yield
        return
    modules = noise_modules(model) if modules is None else list(modules)
    previous = [module.generator for module in modules]
    # ``generator`` is a plain attribute (set in __init__): written straight into the instance
    # dict, which is what nn.Module.__setattr__ ends in for a value that is no parameter, buffer
    # or module, without its checks (with the walk: fig3's 160-step training epoch ~37 -> ~33.5 ms).
    for module in modules:
        module.__dict__["generator"] = generator
    try:
        yield
    finally:
        for module, old in zip(modules, previous):
            module.__dict__["generator"] = old


@dataclass(frozen=True)
class LayerOutputs:
    """Every noisy layer's input and output of one forward pass.

    Attributes
    ----------
    clean : list of Tensor, each of shape (batch, d_l)
        S_l, the input of the l-th noise layer call, flattened per example.
    noisy : list of Tensor, each of shape (batch, d_l)
        T_l = S_l + Z_l; for a pass stopped before the last layer's noise, S_L itself.
    betas : list of float
        beta_l of each layer.
    """

    clean: list[torch.Tensor]
    noisy: list[torch.Tensor]
    betas: list[float]

    @property
    def n_layers(self) -> int:
        return len(self.clean)


class _StopForward(Exception):
    """Raised inside a hook to end a forward pass once every needed layer is read."""


def model_device(model: nn.Module) -> torch.device:
    """Return the device of the model's first parameter or buffer (CPU if it has none)."""
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")


def model_dtype(model: nn.Module) -> torch.dtype:
    """Return the dtype of the model's first floating parameter (float64 if it has none)."""
    for tensor in model.parameters():
        if tensor.is_floating_point():
            return tensor.dtype
    return torch.float64


def propagate(
    model: nn.Module,
    x: torch.Tensor,
    generator: torch.Generator | None = None,
    *,
    n_layers: int | None = None,
    last_noise: bool = True,
) -> LayerOutputs:
    """Run ``model`` on ``x`` and return S_l and T_l of every noise layer call.

    Parameters
    ----------
    model : nn.Module
        A noisy network: its forward runs through GaussianNoise layers.
    x : Tensor of shape (batch, ...)
        The model's input (cast to the model's parameter dtype).
    generator : torch.Generator, optional
        Source of every layer's noise during this pass.
    n_layers : int, optional
        Stop the pass after layer ``n_layers`` (later layers and the rest of the model are not
        run), saving time and keeping the generator's stream as short as the work.
    last_noise : bool
        With ``n_layers``: False stops *before* that layer's noise is drawn (its ``noisy`` entry
        is then S_l), for callers that need only S_l.

    Returns
    -------
    LayerOutputs, each tensor flattened to (batch, d_l).

    Raises
    ------
    ValueError
        The model has no noise layer on its forward path, an input of the wrong shape, or a
        noise layer whose input does not keep the batch as its first dimension.
    """
    batch = x.shape[0]
    clean: list[torch.Tensor] = []
    noisy: list[torch.Tensor] = []
    betas: list[float] = []

    def flat(tensor: torch.Tensor, layer: int) -> torch.Tensor:
        if tensor.ndim == 0 or tensor.shape[0] != batch:
            raise ValueError(
                f"noise layer {layer} received a tensor of shape {tuple(tensor.shape)}; its first dimension "
                f"must be the batch ({batch}) so that each example's S_l can be read"
            )
        return tensor.reshape(batch, -1)

    def before(module: GaussianNoise, inputs: tuple[torch.Tensor, ...]) -> None:
        layer = len(clean) + 1
        clean.append(flat(inputs[0], layer))
        betas.append(module.beta)
        if n_layers is not None and layer == n_layers and not last_noise:
            noisy.append(clean[-1])
            raise _StopForward

    def after(module: GaussianNoise, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        noisy.append(flat(output, len(noisy) + 1))
        if n_layers is not None and len(noisy) == n_layers:
            raise _StopForward

    modules = noise_modules(model)
    if not modules:
        raise ValueError(
            f"the model ({type(model).__name__}) has no infoflow.GaussianNoise layer: a noisy network adds "
            "GaussianNoise(beta) after the layers whose information is measured"
        )
    handles = []
    for module in modules:
        handles.append(module.register_forward_pre_hook(before))
        handles.append(module.register_forward_hook(after))
    try:
        with noise_source(model, generator):
            model(x.to(model_dtype(model)))
    except _StopForward:
        pass
    except RuntimeError as error:
        if clean:
            raise
        raise ValueError(
            f"the model cannot take inputs of shape {tuple(x.shape[1:])} (per example): {str(error).splitlines()[0]}"
        ) from None
    finally:
        for handle in handles:
            handle.remove()
    if not clean:
        raise ValueError(
            f"no GaussianNoise layer of the model ({type(model).__name__}) ran in its forward pass; "
            "the noise layers must be on the path from input to output"
        )
    return LayerOutputs(clean, noisy, betas)


@contextmanager
def evaluation_mode(model: nn.Module) -> Iterator[None]:
    """Put ``model`` in eval mode inside the block (noise stays on), restoring each module's mode after.

    Measurement feeds one input many times in a batch; batch-statistics layers (BatchNorm in
    training mode) and dropout would couple or perturb those copies.
    """
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for module, mode in modes:
            module.training = mode
