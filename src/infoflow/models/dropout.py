"""Dropout kept on while measuring (``MeasurementSettings.dropout``): its masks join the channel.

By default a network is measured as it is evaluated: ``model.eval()`` switches dropout off (the
noise layers stay on). With ``dropout=True`` every dropout module draws its masks while
measuring, so the measured T_l = S_l + Z_l has S_l random given x through the masks of the
dropout modules before it as well as the noise of the layers below. Sample propagation stays
valid as long as S_1 is a function of x (layer 1's conditional entropy is the closed form of
Z_1): a dropout module that acts before the first noise layer is refused. The masks are drawn
from a stream derived from the measurement's generator, so one seed fixes every number, and the
global random state is left as it was (a training loop's own stream is unaffected).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from infoflow.models.noise import GaussianNoise

DROPOUT_MODULES = (
    nn.Dropout,
    nn.Dropout1d,
    nn.Dropout2d,
    nn.Dropout3d,
    nn.AlphaDropout,
    nn.FeatureAlphaDropout,
)
# XORed into the seed of the dropout stream: a different stream from the noise's own.
_STREAM_TAG = 0x5EED_D50


def dropout_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Return (name, module) of every dropout module of ``model`` with a drop probability above 0."""
    return [
        (name or type(model).__name__, module)
        for name, module in model.named_modules()
        if isinstance(module, DROPOUT_MODULES) and float(module.p) > 0.0
    ]


def _stream_seed(generator: torch.Generator) -> int:
    """Return a seed read from ``generator``'s state without advancing it."""
    peek = torch.Generator(device=generator.device)
    peek.set_state(generator.get_state())
    value = int(torch.randint(0, 2**62, (1,), generator=peek, device=generator.device))
    return value ^ _STREAM_TAG


@contextmanager
def dropout_on(model: nn.Module, generator: torch.Generator | None = None) -> Iterator[None]:
    """Put the dropout modules of ``model`` in training mode inside the block, every other module untouched.

    Parameters
    ----------
    model : nn.Module
        Usually already in eval mode (``evaluation_mode``); each dropout module's mode is
        restored on exit.
    generator : torch.Generator, optional
        The masks are drawn from a stream seeded from its current state (not advanced); None:
        from the global random state as it stands.

    Raises
    ------
    ValueError
        Inside the block, when a forward pass runs a dropout module before the first
        ``GaussianNoise`` layer (names the module).
    """
    modules = dropout_modules(model)
    if not modules:
        yield
        return
    noises_run = [0]

    def start(*_: Any) -> None:
        noises_run[0] = 0

    def noise(*_: Any) -> None:
        noises_run[0] += 1

    def check(name: str, module: nn.Module) -> Any:
        def hook(*_: Any) -> None:
            if noises_run[0] == 0:
                raise ValueError(
                    f"dropout=True needs every dropout module after the first GaussianNoise layer, and module "
                    f"{name!r} ({type(module).__name__}) runs before it (layer 1's conditional entropy is exact "
                    "only when S_1 is a function of x); "
                    "measure with dropout=False, or move the dropout after the first noise layer"
                )

        return hook

    handles = [model.register_forward_pre_hook(start)]
    noises = [module for module in model.modules() if isinstance(module, GaussianNoise)]
    handles += [module.register_forward_pre_hook(noise) for module in noises]
    handles += [module.register_forward_pre_hook(check(name, module)) for name, module in modules]
    modes = [(module, module.training) for _, module in modules]
    for _, module in modules:
        module.train()
    try:
        if generator is None:
            yield
        else:
            device = torch.device(generator.device)
            with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
                seed = _stream_seed(generator)
                torch.default_generator.manual_seed(seed)
                if device.type == "cuda":
                    with torch.cuda.device(device):
                        torch.cuda.manual_seed(seed)
                yield
    finally:
        for handle in handles:
            handle.remove()
        for module, mode in modes:
            module.train(mode)
