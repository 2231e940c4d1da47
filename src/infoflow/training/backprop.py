"""The gradients of a NoisyMLP's mean squared error, computed without the autograd engine.

A training step of the seed's scalar networks is a dozen tensor operations on a batch of 10-100
numbers, and autograd's bookkeeping (recording the graph, then running its engine over ~12
nodes) cost as much as the arithmetic: fig3's 48,000 steps of 10 examples took ~200 us each, half
of that experiment's time. Here the forward pass runs without recording and the backward pass
calls the very kernels autograd calls for these operations, on the same operands in the same
layout:

* mean and ``** 2``: ``grad = 1 / numel``, then ``grad * (2.0 * d.pow(1.0))`` (PyTorch's
  ``mean`` and ``pow_backward`` formulas);
* activations: ``tanh_backward``, ``leaky_relu_backward``, ``threshold_backward`` (ReLU),
  ``sigmoid_backward``; the identity passes the gradient on;
* ``linear`` (``addmm`` of the bias, the input and ``weight.t()``): weight gradient
  ``grad.t().mm(input)``, bias gradient ``grad.sum(0)``, input gradient ``grad.mm(weight)``
  (``mm_mat2_backward`` for a transposed contiguous weight, the bias's ``sum_to``,
  ``mm_mat1_backward``).

So every gradient is the same bits as ``torch.autograd.grad``'s (``tests/training/test_backprop.py``
compares them step by step for every activation, and whole training runs), at ~60 % of the time
(fig3: 198 -> 118 us per step). Anything else (another loss or network, a module with hooks, a
parameter that does not require a gradient, inputs or targets of other shapes) is left to autograd:
:func:`mse_gradient_plan` returns None.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from infoflow.models.mlp import ACTIVATIONS, LEAKY_SLOPE, NoisyMLP
from infoflow.models.noise import GaussianNoise

_aten = torch.ops.aten

# The backward of each activation of ``infoflow.models.mlp.ACTIVATIONS`` (which gives the forward),
# from (incoming gradient, pre-activation, activation output): autograd's formula for it.
_BACKWARDS: dict[str, Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "tanh": lambda grad, pre, out: _aten.tanh_backward(grad, out),
    "leaky_relu": lambda grad, pre, out: _aten.leaky_relu_backward(grad, pre, LEAKY_SLOPE, False),
    "relu": lambda grad, pre, out: _aten.threshold_backward(grad, out, 0),
    "sigmoid": lambda grad, pre, out: _aten.sigmoid_backward(grad, out),
    "linear": lambda grad, pre, out: grad,
}


@dataclass(frozen=True)
class _Layer:
    linear: nn.Linear
    forward: Callable[[torch.Tensor], torch.Tensor]
    backward: Callable[..., torch.Tensor]
    beta: float


class MSEGradients:
    """Loss and parameter gradients of one minibatch for a fixed network (see the module docstring).

    Built by :func:`mse_gradient_plan`; the gradients come in ``net.parameters()`` order
    (weight then bias of each layer).
    """

    def __init__(self, net: NoisyMLP) -> None:
        self.net = net
        self.layers = [
            _Layer(linear, ACTIVATIONS[name], _BACKWARDS[name], noise.beta)
            for linear, name, noise in zip(net.linears, net.activations, net.noises)
        ]

    def __call__(
        self, inputs: torch.Tensor, targets: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Return (mean squared error of the noisy output, gradients), as autograd would.

        Parameters
        ----------
        inputs : Tensor of shape (batch, d_0)
        targets : Tensor of shape (batch, d_L), the dtype of the parameters
        generator : torch.Generator
            The layers' noise, drawn in the order the network's forward pass draws it.
        """
        with torch.no_grad():
            t = inputs.to(self.layers[0].linear.weight.dtype)
            saved = []
            for layer in self.layers:
                pre = torch.nn.functional.linear(t, layer.linear.weight, layer.linear.bias)
                out = layer.forward(pre)
                saved.append((t, pre, out))
                noise = torch.randn(out.shape, generator=generator, dtype=out.dtype, device=out.device)
                t = out + layer.beta * noise
            difference = t - targets
            loss = torch.mean(difference**2)
            grad = torch.ones((), dtype=difference.dtype, device=difference.device).expand(difference.shape)
            grad = (grad / difference.numel()) * (2.0 * difference.pow(1.0))
            gradients: list[torch.Tensor] = [grad] * (2 * len(self.layers))
            for index in range(len(self.layers) - 1, -1, -1):
                layer = self.layers[index]
                layer_input, pre, out = saved[index]
                grad = layer.backward(grad, pre, out)
                gradients[2 * index] = grad.t().mm(layer_input)
                gradients[2 * index + 1] = grad.sum(0)
                if index:
                    grad = grad.mm(layer.linear.weight)
        return loss, gradients

    def applies_to(self, inputs: torch.Tensor, targets: torch.Tensor) -> bool:
        """Whether this batch has the shapes the plan reproduces (else use autograd)."""
        width = self.net.widths
        return (
            inputs.ndim == 2
            and inputs.shape[1] == width[0]
            and targets.shape == (inputs.shape[0], width[-1])
            and targets.dtype == self.layers[0].linear.weight.dtype  # else autograd casts the gradient back
        )


def mse_gradient_plan(net: nn.Module, parameters: Sequence[torch.Tensor]) -> MSEGradients | None:
    """Return a :class:`MSEGradients` for ``net`` if it reproduces autograd on it, else None.

    ``parameters``: the list the gradients are for; it must be ``net.parameters()`` in order,
    all requiring gradients. Hooks on any module (forward or backward, the module's own or
    global) would be skipped by the plan, so a network with hooks gets None; call this again
    whenever hooks may have changed (the trainer does, every epoch).
    """
    if type(net) is not NoisyMLP:  # a subclass may change forward
        return None
    if any(name not in _BACKWARDS for name in net.activations):
        return None
    if any(type(noise) is not GaussianNoise for noise in net.noises) or any(
        type(linear) is not nn.Linear or linear.bias is None or not linear.weight.is_contiguous() for linear in net.linears
    ):
        return None
    own = list(net.parameters())
    expected = [tensor for linear in net.linears for tensor in (linear.weight, linear.bias)]
    if (
        len(own) != len(parameters)
        or any(a is not b for a, b in zip(own, parameters))
        or len(own) != len(expected)
        or any(a is not b for a, b in zip(own, expected))
        or not all(parameter.requires_grad for parameter in own)
        or any(parameter.dtype != own[0].dtype for parameter in own)
    ):
        return None
    if _has_hooks(net):
        return None
    return MSEGradients(net)


def _has_hooks(net: nn.Module) -> bool:
    """Whether any module hook (the net's own or global) would run in the network's forward or backward pass."""
    from torch.nn.modules import module as torch_module

    global_hooks = (
        torch_module._global_forward_hooks,
        torch_module._global_forward_pre_hooks,
        torch_module._global_backward_hooks,
        torch_module._global_backward_pre_hooks,
    )
    if any(global_hooks):
        return True
    for module in net.modules():
        if module._forward_hooks or module._forward_pre_hooks or module._backward_hooks or module._backward_pre_hooks:
            return True
    return any(parameter._backward_hooks for parameter in net.parameters())
