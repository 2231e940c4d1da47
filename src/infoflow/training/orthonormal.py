"""An orthonormality constraint on a network's weights, applied after every optimizer step.

The step ``A <- A - alpha (A A^T A - A)`` moves every singular value s of a weight matrix A to
``s - alpha (s^3 - s)``: s = 1 is a fixed point that attracts (for 0 < alpha < 1 and s near 1),
s = 0 stays 0. Iterated, a matrix with at most as many rows as columns tends to orthonormal rows
(A A^T = I); a taller one to singular values 1 on its row space. This is the retraction of
Parseval networks (Cisse et al. 2017), the constraint Goldfeld et al. (2019) train with to ask
whether compression of I(X;T_l) and generalisation go together.

Every ``nn.Linear`` and ``nn.Conv1d/2d/3d`` of a model is constrained except the last one (in
the order of ``model.modules()``, which for ``nn.Sequential`` and ``NoisyMLP`` is the order of
the forward pass): the read-out stays free. A convolution's weight (out, in/groups, k...) is
treated as the matrix (out, in/groups * prod(k)). Biases are not touched.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

# The layers whose weights the constraint acts on.
CONSTRAINED_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def check_alpha(alpha: Any, name: str = "alpha") -> float:
    """Return ``alpha`` as a float if it is a finite number in [0, 1), else raise ValueError naming ``name``.

    alpha >= 1 makes s = 1 a repelling fixed point of s -> s - alpha (s^3 - s) (its slope
    1 - 2 alpha <= -1), so the weights would oscillate away from orthonormal instead of toward it.
    """
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not math.isfinite(alpha):
        raise ValueError(f"{name} must be a finite number in [0, 1); got {alpha!r}")
    if not 0.0 <= alpha < 1.0:
        raise ValueError(f"{name} must be a finite number in [0, 1); got {alpha!r}")
    return float(alpha)


def constrained_weights(model: nn.Module) -> list[torch.Tensor]:
    """Return the weights the constraint acts on: every Linear/Conv layer's but the last one's.

    Parameters
    ----------
    model : nn.Module

    Returns
    -------
    list of torch.Tensor
        The weight parameters, in ``model.modules()`` order, the last such layer left out (a
        module reached twice is counted once).
    """
    layers: list[nn.Module] = []
    seen: set[int] = set()
    for module in model.modules():
        if isinstance(module, CONSTRAINED_LAYERS) and id(module) not in seen:
            seen.add(id(module))
            layers.append(module)
    return [layer.weight for layer in layers[:-1]]


def orthonormal_update(weight: torch.Tensor, alpha: float) -> torch.Tensor:
    """Return ``A - alpha (A A^T A - A)`` for the matrix A = ``weight`` reshaped to (out, rest).

    Parameters
    ----------
    weight : torch.Tensor of shape (out, in) or (out, in/groups, k...)
    alpha : float
        Step size in [0, 1).

    Returns
    -------
    torch.Tensor of ``weight``'s shape.
    """
    matrix = weight.reshape(weight.shape[0], -1)
    updated = matrix - alpha * (matrix @ matrix.transpose(0, 1) @ matrix - matrix)
    return updated.reshape(weight.shape)


def orthonormal_step(model: nn.Module, alpha: float) -> None:
    """Apply one orthonormality step to every constrained weight of ``model`` in place.

    Call it after each optimizer step (the reference trainer does when
    ``training.orthonormal`` is set). ``alpha`` = 0 changes nothing.

    Parameters
    ----------
    model : nn.Module
    alpha : float
        Step size in [0, 1).
    """
    alpha = check_alpha(alpha)
    if alpha == 0.0:
        return
    with torch.no_grad():
        for weight in constrained_weights(model):
            weight.copy_(orthonormal_update(weight, alpha))


def orthonormality_error(weight: torch.Tensor) -> float:
    """Return |G - I|_F, G the smaller Gram matrix of A = ``weight`` reshaped to (out, rest).

    G = A A^T when A has at most as many rows as columns (then 0 means orthonormal rows), else
    A^T A; either way 0 exactly when every singular value of A is 1.
    """
    matrix = weight.detach().reshape(weight.shape[0], -1)
    if matrix.shape[0] > matrix.shape[1]:
        matrix = matrix.transpose(0, 1)
    gram = matrix @ matrix.transpose(0, 1)
    return float(torch.linalg.matrix_norm(gram - torch.eye(gram.shape[0], dtype=gram.dtype, device=gram.device)))
