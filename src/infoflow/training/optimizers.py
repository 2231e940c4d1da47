"""The reference trainer's parameter updates: SGD (with momentum), Adam, and the seed code's.

Written out because torch.optim's first use imports torch._dynamo (3 s per process); the
arithmetic is torch.optim's. Every buffer is a plain tensor in :meth:`ParameterUpdates.state_dict`,
so a resumed run continues exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from infoflow.training.settings import ADAM_BETAS, ADAM_EPSILON


class ParameterUpdates:
    """Applies one optimizer's updates to a list of parameters.

    Parameters
    ----------
    parameters : list of torch.Tensor
        Updated in place.
    optimizer : {"sgd", "adam", "kong2019_code"}
        See :class:`~infoflow.training.settings.TrainingSettings`.
    momentum : float
        SGD momentum (0 for the others).
    """

    def __init__(self, parameters: Sequence[torch.Tensor], optimizer: str, momentum: float) -> None:
        self.parameters = list(parameters)
        self.optimizer = optimizer
        self.momentum = momentum
        # SGD's momentum buffers (PyTorch's convention: the first step's buffer is the gradient),
        # the seed code's accumulated gradients, or Adam's first and second moments and its step count.
        self.momentum_buffers: list[torch.Tensor | None] = [None] * len(self.parameters)
        self.second_moments: list[torch.Tensor | None] = [None] * len(self.parameters)
        self.optimizer_steps = 0

    def step(self, gradients: Sequence[torch.Tensor], learning_rate: float) -> None:
        """Apply one update: SGD as torch.optim.SGD(lr, momentum) without dampening, Adam, or the seed code's."""
        if self.optimizer == "adam":
            self._adam_step(gradients, learning_rate)
            return
        if self.optimizer == "kong2019_code":
            self._kong2019_code_step(gradients, learning_rate)
            return
        momentum = self.momentum
        with torch.no_grad():
            for index, (parameter, gradient) in enumerate(zip(self.parameters, gradients)):
                if momentum:
                    buffer = self.momentum_buffers[index]
                    if buffer is None:
                        buffer = self.momentum_buffers[index] = gradient.clone()
                    else:
                        buffer.mul_(momentum).add_(gradient)
                    gradient = buffer
                parameter.add_(gradient, alpha=-learning_rate)

    def _kong2019_code_step(self, gradients: Sequence[torch.Tensor], learning_rate: float) -> None:
        """Apply the seed code's update: g_acc += g_t; p -= lr * g_acc (gradients never zeroed).

        The accumulator lives in ``momentum_buffers`` (it is SGD's buffer at momentum 1), so it
        is checkpointed with them.
        """
        with torch.no_grad():
            for index, (parameter, gradient) in enumerate(zip(self.parameters, gradients)):
                accumulated = self.momentum_buffers[index]
                if accumulated is None:
                    accumulated = self.momentum_buffers[index] = gradient.clone()
                else:
                    accumulated.add_(gradient)
                parameter.add_(accumulated, alpha=-learning_rate)

    def _adam_step(self, gradients: Sequence[torch.Tensor], learning_rate: float) -> None:
        """Apply one Adam update (Kingma & Ba 2015) with torch.optim.Adam's defaults and arithmetic."""
        beta1, beta2 = ADAM_BETAS
        self.optimizer_steps += 1
        correction1 = 1.0 - beta1**self.optimizer_steps
        correction2 = 1.0 - beta2**self.optimizer_steps
        with torch.no_grad():
            for index, (parameter, gradient) in enumerate(zip(self.parameters, gradients)):
                if self.momentum_buffers[index] is None:
                    self.momentum_buffers[index] = torch.zeros_like(parameter)
                    self.second_moments[index] = torch.zeros_like(parameter)
                first, second = self.momentum_buffers[index], self.second_moments[index]
                assert first is not None and second is not None
                first.lerp_(gradient, 1.0 - beta1)
                second.mul_(beta2).addcmul_(gradient, gradient, value=1.0 - beta2)
                denominator = (second.sqrt() / math.sqrt(correction2)).add_(ADAM_EPSILON)
                parameter.addcdiv_(first, denominator, value=-learning_rate / correction1)

    def state_dict(self) -> dict[str, Any]:
        """Return ``momentum_buffers`` and ``second_moments`` (cloned) and ``optimizer_steps``."""
        return {
            "momentum_buffers": [None if buffer is None else buffer.clone() for buffer in self.momentum_buffers],
            "second_moments": [None if moment is None else moment.clone() for moment in self.second_moments],
            "optimizer_steps": self.optimizer_steps,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (extra keys are ignored)."""
        self.momentum_buffers = [None if buffer is None else buffer.clone() for buffer in state["momentum_buffers"]]
        self.second_moments = [None if moment is None else moment.clone() for moment in state["second_moments"]]
        self.optimizer_steps = int(state["optimizer_steps"])
