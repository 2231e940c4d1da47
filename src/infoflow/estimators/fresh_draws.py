"""Draws made for the bounds only, independent of the samples sample propagation uses.

A cross-entropy or a decoder's loss bounds an entropy in expectation only when it is evaluated
on draws independent of the density (or decoder) built from the SP samples; these draws come from
their own generator, derived from the state the measurement's generator reached (so a seed still
fixes every number, and the SP samples of later measurements are the ones drawn before bounds
existed).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from infoflow.data.distributions import InputDistribution
from infoflow.models.noise import LayerOutputs, propagate

# Rows of one chunk of a forward pass made for the bounds: rows x sum of widths x 16 bytes stays
# within this many bytes (sized after the first chunk, when the widths are known).
CHUNK_BYTES = 128 * 2**20
FIRST_CHUNK_ROWS = 256
# A finite support is decoded (Fano/Barber-Agakov bound) when it has at most this many rows.
MAX_DECODER_ROWS = 50_000


def derived_generators(parent: torch.Generator, device: torch.device) -> tuple[torch.Generator, torch.Generator]:
    """Return (noise generator on ``device``, CPU input generator) seeded from ``parent``'s state, unchanged."""
    digest = hashlib.blake2b(parent.get_state().cpu().numpy().tobytes(), digest_size=8).digest()
    seed = int.from_bytes(digest, "little") >> 1
    noise = torch.Generator(device=device)
    noise.manual_seed(seed)
    if device.type == "cpu":
        return noise, noise
    inputs = torch.Generator()
    inputs.manual_seed(seed ^ 0x5DEECE66D)
    return noise, inputs


def propagate_chunked(
    net: nn.Module, x: torch.Tensor, generator: torch.Generator, device: torch.device, n_layers: int
) -> LayerOutputs:
    """Return S_l and T_l (every layer's noise drawn) of ``x``, in chunks of bounded memory."""
    clean: list[list[torch.Tensor]] = []
    noisy: list[list[torch.Tensor]] = []
    betas: list[float] = []
    start, chunk = 0, FIRST_CHUNK_ROWS
    while start < x.shape[0]:
        stop = min(x.shape[0], start + chunk)
        outputs = propagate(net, x[start:stop].to(device), generator, n_layers=n_layers)
        clean.append(outputs.clean)
        noisy.append(outputs.noisy)
        betas = outputs.betas
        if start == 0:
            per_row = 16 * sum(s.shape[-1] for s in outputs.clean)
            chunk = max(1, CHUNK_BYTES // max(1, per_row))
        start = stop
    return LayerOutputs(
        [torch.cat([part[layer] for part in clean]) for layer in range(n_layers)],
        [torch.cat([part[layer] for part in noisy]) for layer in range(n_layers)],
        betas,
    )


@dataclass(frozen=True)
class FreshSample:
    """Fresh draws (X, Y, S_l, T_l).

    x : Tensor of shape (m, ...), on the CPU
    rows : Tensor of shape (m,) of support row indices (decodable finite X), else None
    labels : Tensor of shape (m,) or (m, k), or None
    outputs : LayerOutputs with every layer's noise drawn
    """

    x: torch.Tensor
    rows: torch.Tensor | None
    labels: torch.Tensor | None
    outputs: LayerOutputs


def decodable_support(inputs: InputDistribution) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Return (support rows, probabilities) of a finite X small enough to decode, else None."""
    if not inputs.is_discrete:
        return None
    support, probabilities = inputs.support()
    if support.shape[0] > MAX_DECODER_ROWS:
        return None
    return support, probabilities.to(torch.float64)


def fresh_sample(
    net: nn.Module,
    inputs: InputDistribution,
    labels: Callable[[torch.Tensor], Any] | None,
    m: int,
    n_layers: int,
    noise_generator: torch.Generator,
    input_generator: torch.Generator,
    device: torch.device,
) -> FreshSample:
    """Return m fresh draws of X (as support rows where X is decodable), their labels and layer outputs."""
    support = decodable_support(inputs)
    rows = None
    if support is not None:
        rows = torch.multinomial(support[1], m, replacement=True, generator=input_generator)
        x = support[0][rows]
        y = getattr(inputs, "y", None) if labels is None else None
        y = labels(x) if labels is not None else (None if y is None else y[rows])
    elif labels is None and inputs.has_labels:
        x, y = inputs.sample_labelled(m, input_generator)
    else:
        x = inputs.sample(m, input_generator)
        y = labels(x) if labels is not None else None
    if y is not None and not isinstance(y, torch.Tensor):
        y = torch.as_tensor(y)
    return FreshSample(x, rows, y, propagate_chunked(net, x, noise_generator, device, n_layers))


def repeated_outputs(
    net: nn.Module, x: torch.Tensor, repeats: int, n_layers: int, generator: torch.Generator, device: torch.device
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Return per layer (clean, noisy) of shape (n_x, repeats, d_l): each x fed ``repeats`` times."""
    outputs = propagate_chunked(net, x.repeat_interleave(repeats, dim=0), generator, device, n_layers)
    n_x = x.shape[0]
    clean = [s.reshape(n_x, repeats, -1) for s in outputs.clean]
    noisy = [t.reshape(n_x, repeats, -1) for t in outputs.noisy]
    return clean, noisy
