"""The draws of sample propagation: X, the unconditional pass, the conditioning inputs and their pass.

Draw order (it fixes every number for a seed): X for h(T_l) (stratified: every support point
n/k times in a random order), the unconditional forward pass, the conditioning inputs (a
discrete support of at most ``n_inputs`` points exactly; a larger uniform support a simple random
sample without replacement; a continuous X ``n_inputs`` draws), then the batched conditional pass
(x repeated n_conditional times, chunked).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from infoflow.data.distributions import InputDistribution
from infoflow.models.noise import LayerOutputs, evaluation_mode, model_device, propagate
from infoflow.validation import check_memory


def network_device(net: Any) -> torch.device:
    if not isinstance(net, nn.Module):
        raise ValueError(
            f"net must be a torch.nn.Module whose forward runs through infoflow.GaussianNoise layers; "
            f"got {type(net).__name__}"
        )
    return model_device(net)


def check_inputs(inputs: Any, net: nn.Module) -> None:
    if not isinstance(inputs, InputDistribution):
        hint = (
            " (wrap an array as infoflow.FiniteDataset(x, y))"
            if isinstance(inputs, (torch.Tensor, np.ndarray, list))
            else ""
        )
        raise ValueError(
            "inputs must be an input distribution (DiscreteUniform, Gaussian, GaussianMixture, Uniform, "
            f"FiniteDataset); got {type(inputs).__name__}{hint}"
        )
    expected = getattr(net, "widths", [None])[0]
    if expected is not None and inputs.dim != expected:
        raise ValueError(
            f"inputs have dimension {inputs.dim} but the network takes inputs of dimension {expected} (widths[0])"
        )


def layer_widths(net: nn.Module, inputs: InputDistribution, device: torch.device) -> list[int]:
    """Return [d_0, d_1, ..., d_L]: listed by the network, else read from one noisy pass of one input."""
    widths = getattr(net, "widths", None)
    if widths is not None:
        return list(widths)
    probe = torch.Generator(device=device)
    probe.manual_seed(0)
    cpu_probe = torch.Generator()
    cpu_probe.manual_seed(0)
    # In eval mode, as every measuring pass: a training-mode BatchNorm or dropout would update its
    # statistics or draw from the global random state (a training loop's stream).
    with torch.no_grad(), evaluation_mode(net):
        outputs = propagate(net, inputs.sample(1, cpu_probe).to(device), probe)
    return [inputs.dim] + [s.shape[-1] for s in outputs.clean]


# n_conditional="auto": this many draws per conditioning input, fewer where the conditional pass
# would hold more than CONDITIONAL_VALUES values of S_l (n_x * n_conditional * sum of the layer
# widths; 80 MiB of float64), and never fewer than MIN_AUTO_CONDITIONAL.
AUTO_CONDITIONAL = 1000
CONDITIONAL_VALUES = 10 * 2**20
MIN_AUTO_CONDITIONAL = 8


def conditioning_count(inputs: InputDistribution, n_inputs: int) -> int:
    """Return n_x, the number of conditioning inputs E_X h(T_l|X) is averaged over."""
    if inputs.is_discrete:
        return min(n_inputs, len(inputs.support()[0]))
    return n_inputs


def resolve_conditional(n_conditional: Any, n_x: int, widths: list[int]) -> int:
    """Return the draws per conditioning input: ``n_conditional`` itself, or the "auto" choice.

    "auto" gives AUTO_CONDITIONAL unless the conditional pass would then hold more than
    CONDITIONAL_VALUES values (n_x * n * sum_l d_l, widths[1:] the layer widths): then the largest n
    that fits, at least MIN_AUTO_CONDITIONAL. The bounds hold at any n (docs/DESIGN.md); a smaller n
    only loosens SP's own side of them in layers that n samples could resolve.
    """
    if not (isinstance(n_conditional, str) and n_conditional == "auto"):
        return int(n_conditional)
    per_draw = max(1, n_x * sum(widths[1:]))
    return int(min(AUTO_CONDITIONAL, max(MIN_AUTO_CONDITIONAL, CONDITIONAL_VALUES // per_draw)))


def check_sizes(
    net: nn.Module, inputs: InputDistribution, n_samples: int, n_conditional: int, n_inputs: int, widths: list[int]
) -> None:
    """Refuse sizes whose draws would not fit in memory, before drawing any (ValueError naming the size).

    ``widths`` as from :func:`layer_widths`: every layer's S_l and T_l for each draw, plus working copies.
    """
    units = sum(widths)
    check_memory("n_samples", n_samples, 4 * 8 * n_samples * units, "the draws for h(T_l)")
    n_x = conditioning_count(inputs, n_inputs)
    name, value = ("n_conditional", n_conditional) if n_conditional >= n_x else ("n_inputs", n_inputs)
    check_memory(name, value, 2 * 8 * n_x * n_conditional * units, f"the conditional draws ({n_x} x {n_conditional})")


def make_generators(
    generator: torch.Generator | None, seed: int, device: torch.device
) -> tuple[torch.Generator, torch.Generator]:
    """Return (noise generator on the network's device, CPU generator for drawing X)."""
    if generator is None:
        noise_generator = torch.Generator(device=device)
        noise_generator.manual_seed(seed)
    else:
        if not isinstance(generator, torch.Generator):
            raise ValueError(f"generator must be a torch.Generator; got {type(generator).__name__}")
        if torch.device(generator.device).type != device.type:
            raise ValueError(
                f"generator must be on the network's device ({device.type}); got one on {generator.device}"
            )
        noise_generator = generator
    if device.type == "cpu":
        return noise_generator, noise_generator
    # Input distributions draw on the CPU; derive their generator from the noise generator so one
    # seed still fixes every number.
    input_seed = int(torch.randint(0, 2**62, (1,), generator=noise_generator, device=device))
    input_generator = torch.Generator()
    input_generator.manual_seed(input_seed)
    return noise_generator, input_generator




def stratified_draws(
    inputs: InputDistribution, n_samples: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Return every support point of a uniform discrete X, n_samples / k times each, in random order.

    P_hat then equals P on the support: layer 1's h(T_1) is the exact mixture entropy and deeper
    layers carry only the noise's sampling error. Labels come along for a labelled data set.
    """
    if not inputs.is_discrete:
        raise ValueError("stratified draws need a discrete X (DiscreteUniform or FiniteDataset)")
    support, probabilities = inputs.support()
    k = support.shape[0]
    if not bool((probabilities == probabilities[0]).all()) or n_samples % k:
        raise ValueError(
            f"stratified draws need a uniform support whose size ({k}) divides n_samples; got n_samples = {n_samples}"
        )
    rows = torch.arange(k).repeat(n_samples // k)[torch.randperm(n_samples, generator=generator)]
    labels = getattr(inputs, "y", None)
    return support[rows], None if labels is None else labels[rows]


@dataclass(frozen=True)
class Conditionals:
    """Outputs for each conditioning input x repeated n_conditional times.

    clean, noisy : per layer, Tensor of shape (n_x, n_conditional, d_l) (None if no pass was needed;
        noisy only for "binning")
    weights : Tensor of shape (n_x,), the expectation's weights (support probabilities or 1/n_x)
    is_exact : bool, True when the weights are a discrete X's whole support with its probabilities
    population : int or None, the support size when a finite uniform support was subsampled
        without replacement (for the finite-population correction of the standard error)
    x : Tensor of shape (n_x, ...), the conditioning inputs (on the CPU)
    """

    clean: list[torch.Tensor] | None
    noisy: list[torch.Tensor] | None
    weights: torch.Tensor
    is_exact: bool
    population: int | None = None
    x: torch.Tensor | None = None


# The conditional pass holds n_x * n_conditional copies of every layer's output; it runs in chunks
# of inputs so that one chunk's tensors stay within this many bytes.
CONDITIONAL_CHUNK_BYTES = 256 * 2**20
# Rows (inputs x repeats) of the first chunk of a network whose widths are not listed.
FIRST_CHUNK_ROWS = 4096


def conditioning_inputs(
    inputs: InputDistribution, n_inputs: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, bool, int | None]:
    """Return (x of shape (n_x, ...), weights (n_x,), is_exact, population) for E_X h(T_l | X)."""
    if not inputs.is_discrete:
        x = inputs.sample(n_inputs, generator)
        return x, torch.full((n_inputs,), 1.0 / n_inputs, dtype=torch.float64), False, None
    support, probabilities = inputs.support()
    k = support.shape[0]
    if k <= n_inputs:
        return support, probabilities.to(torch.float64), True, None
    if bool((probabilities == probabilities[0]).all()):
        # A uniform support larger than n_inputs: a simple random sample without replacement.
        rows = torch.randperm(k, generator=generator)[:n_inputs]
        return support[rows], torch.full((n_inputs,), 1.0 / n_inputs, dtype=torch.float64), False, k
    rows = torch.multinomial(probabilities.to(torch.float64), n_inputs, replacement=True, generator=generator)
    return support[rows], torch.full((n_inputs,), 1.0 / n_inputs, dtype=torch.float64), False, None


def conditional_outputs(
    net: nn.Module,
    inputs: InputDistribution,
    n_conditional: int,
    n_inputs: int,
    n_layers: int,
    needs_layer_one: bool,
    noise_generator: torch.Generator,
    input_generator: torch.Generator,
    device: torch.device,
) -> Conditionals:
    """Propagate every conditioning x n_conditional times, in batched forward passes."""
    conditioning_x, weights, is_exact, population = conditioning_inputs(inputs, n_inputs, input_generator)
    weights = weights.to(device)
    # Layer 1's conditional is closed-form for every mixture evaluator; only binning needs its samples.
    needs_binning = needs_layer_one
    if n_layers == 1 and not needs_binning:
        return Conditionals(None, None, weights, is_exact, population, conditioning_x)
    n_x = conditioning_x.shape[0]
    clean_parts: list[list[torch.Tensor]] = []
    noisy_parts: list[list[torch.Tensor]] = []
    # One pass when the widths are known and the pass fits; otherwise a small first chunk
    # measures the widths (a network's intermediate activations can be many times its S_l).
    widths = getattr(net, "widths", None)
    if widths is not None and n_x * n_conditional * sum(widths[1:]) * 16 <= 4 * CONDITIONAL_CHUNK_BYTES:
        chunk = n_x
    else:
        chunk = max(1, FIRST_CHUNK_ROWS // n_conditional)
    start = 0
    while start < n_x:
        stop = min(n_x, start + chunk)
        repeated = conditioning_x[start:stop].to(device).repeat_interleave(n_conditional, dim=0)
        # Only "binning" reads the noisy outputs (and the last layer's noise); the mixture
        # evaluators need S_l alone, so nothing else is kept.
        outputs = propagate(net, repeated, noise_generator, n_layers=n_layers, last_noise=needs_binning)
        rows = stop - start
        clean_parts.append([s.reshape(rows, n_conditional, -1) for s in outputs.clean])
        if needs_binning:
            noisy_parts.append([t.reshape(rows, n_conditional, -1) for t in outputs.noisy])
        if start == 0:
            # Size the chunks from the first pass (the widths are known only now).
            bytes_per_input = 2 * n_conditional * sum(s.shape[-1] for s in outputs.clean) * 8
            chunk = max(1, CONDITIONAL_CHUNK_BYTES // max(1, bytes_per_input))
        start = stop
    clean = [_joined([part[layer] for part in clean_parts]) for layer in range(n_layers)]
    noisy = [_joined([part[layer] for part in noisy_parts]) for layer in range(n_layers)] if needs_binning else None
    return Conditionals(clean, noisy, weights, is_exact, population, conditioning_x)




def _joined(parts: list[torch.Tensor]) -> torch.Tensor:
    """Return the parts concatenated along dim 0; a single part as it is (no copy of its MBs)."""
    return parts[0] if len(parts) == 1 else torch.cat(parts)


@dataclass(frozen=True)
class Draws:
    """The samples of one SP measurement.

    unconditional : LayerOutputs, S_l and T_l of n_samples draws of X
    labels : Tensor of shape (n_samples,) or (n_samples, k), or None
    conditional : Conditionals
    """

    unconditional: LayerOutputs
    labels: torch.Tensor | None
    conditional: Conditionals


def draw_samples(
    net: nn.Module,
    inputs: InputDistribution,
    labels: Any,
    *,
    n_samples: int,
    n_conditional: int,
    n_inputs: int,
    stratified: bool,
    needs_layer_one: bool,
    noise_generator: torch.Generator,
    input_generator: torch.Generator,
    device: torch.device,
) -> Draws:
    """Return the unconditional and conditional draws, in the documented order (module docstring)."""
    if stratified:
        x, y = stratified_draws(inputs, n_samples, input_generator)
        y = labels(x) if labels is not None else y
    elif labels is None and inputs.has_labels:
        x, y = inputs.sample_labelled(n_samples, input_generator)
    else:
        x = inputs.sample(n_samples, input_generator)
        y = labels(x) if labels is not None else None
    unconditional = propagate(net, x.to(device), noise_generator)
    conditional = conditional_outputs(
        net, inputs, n_conditional, n_inputs, unconditional.n_layers, needs_layer_one,
        noise_generator, input_generator, device,
    )
    return Draws(unconditional, y, conditional)
