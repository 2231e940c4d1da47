"""The "seed_code" optimizer: the seed author's update, gradients never zeroed between steps.

Step t applies p -= lr_t * (g_1 + ... + g_t). Checked against the closed form of that sum for
arbitrary gradient sequences, against a hand-written training loop that follows the trainer's
random streams, and for an exact resume from a saved state.
"""

from __future__ import annotations

import io

import pytest
import torch

from infoflow.config.schema import parse_config
from infoflow.data.distributions import Gaussian
from infoflow.data.labels import ThresholdLabels
from infoflow.papers.kong2019.networks import seed_network
from infoflow.training.settings import RecordingSettings, TrainingSettings, derived_generator
from infoflow.training.trainer import Trainer

BETA = 0.05
SIGN = ThresholdLabels(0.0, -1.0, 1.0)
# These tests check the update, not the estimator: tiny sample-propagation sizes.
CHEAP = RecordingSettings(n_samples=32, n_conditional=8, n_inputs=4, label_information=False)


def make_trainer(net=None, **training) -> Trainer:
    settings = dict(epochs=4, learning_rate=0.05, optimizer="seed_code", train_size=24, batch_size=8, test_size=20)
    settings.update(training)
    return Trainer(
        net or seed_network("tanh", BETA), Gaussian(0.0, 0.25), SIGN, TrainingSettings(**settings), CHEAP, seed=5
    )


def test_each_step_subtracts_the_running_sum_of_all_gradients():
    # For gradients g_1..g_T the parameters end at p_0 - lr * sum_t sum_{s<=t} g_s
    # = p_0 - lr * sum_s (T - s + 1) g_s (float64; the two sums round differently, hence 1e-12).
    trainer = make_trainer(seed_network("tanh-tanh", BETA))
    start = [parameter.detach().clone() for parameter in trainer.parameters]
    generator = torch.Generator().manual_seed(0)
    steps = 7
    history = [[torch.randn(p.shape, generator=generator, dtype=p.dtype) for p in start] for _ in range(steps)]
    for gradients in history:
        trainer.updates.step(gradients, trainer.learning_rate)
    for index, (parameter, initial) in enumerate(zip(trainer.parameters, start)):
        weighted = sum((steps - s) * history[s][index] for s in range(steps))
        torch.testing.assert_close(parameter.detach(), initial - 0.05 * weighted, rtol=0, atol=1e-12)
        # The accumulator is the plain sum of every gradient so far.
        expected_sum = sum(history[s][index] for s in range(steps))
        torch.testing.assert_close(trainer.momentum_buffers[index], expected_sum, rtol=0, atol=1e-12)


def test_training_matches_a_hand_written_loop_that_never_zeroes_gradients():
    # The seed code's loop as it ran (loss.backward() without optimizer.zero_grad()), written
    # independently: same data and noise streams as the trainer, .grad accumulating across steps.
    epochs, lr, n, batch = 3, 0.05, 24, 8
    inputs = Gaussian(0.0, 0.25)
    trainer = make_trainer(
        seed_network("tanh-tanh", BETA), epochs=epochs, learning_rate=lr, train_size=n, batch_size=batch
    )
    for _ in trainer.run():
        pass

    net = seed_network("tanh-tanh", BETA)
    train_stream = derived_generator(5, "train")
    x = inputs.sample(n, derived_generator(5, "data"))
    y = SIGN(x)
    with torch.no_grad():
        net(x, train_stream)  # epoch 0: the trainer's loss of the untrained network draws this noise
    for _ in range(epochs):
        order = torch.randperm(n, generator=train_stream)
        for start in range(0, n, batch):
            rows = order[start : start + batch]
            loss = torch.mean((net(x[rows], train_stream) - y[rows]) ** 2)
            loss.backward()  # .grad += this batch's gradient: never zeroed
            with torch.no_grad():
                for parameter in net.parameters():
                    parameter -= lr * parameter.grad
    for got, expected in zip(trainer.parameters, net.parameters()):
        torch.testing.assert_close(got.detach(), expected.detach(), rtol=0, atol=1e-12)
    # The run moved the parameters (a zero-gradient run would pass the comparison vacuously).
    assert any(float(parameter.detach().abs().max()) > 1e-3 for parameter in net.parameters())


def test_the_learning_rate_drop_scales_the_accumulated_step():
    # After the drop, each step is lr / factor times the running sum: check one step by hand.
    trainer = make_trainer()
    gradients = [torch.full_like(p, 1.0) for p in trainer.parameters]
    trainer.updates.step(gradients, trainer.learning_rate)
    before = [p.detach().clone() for p in trainer.parameters]
    trainer.learning_rate /= 20.0
    trainer.updates.step(gradients, trainer.learning_rate)
    for parameter, previous in zip(trainer.parameters, before):
        torch.testing.assert_close(parameter.detach(), previous - (0.05 / 20.0) * 2.0, rtol=0, atol=1e-15)


def _saved_and_loaded(state: dict) -> dict:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def test_a_resumed_run_continues_exactly_with_the_accumulated_gradients():
    def make() -> Trainer:
        return make_trainer(seed_network("tanh-tanh", BETA), epochs=6, lr_drop_accuracy=0.6)

    uninterrupted_trainer = make()
    uninterrupted = list(uninterrupted_trainer.run())
    first = make()
    run = first.run()
    for _ in range(3):
        next(run)
    state = _saved_and_loaded(first.state_dict())
    assert all(buffer is not None for buffer in state["momentum_buffers"])
    second = make()
    second.load_state_dict(state)
    resumed = list(second.run())
    assert [record.epoch for record in resumed] == [3, 4, 5, 6]
    for expected, got in zip(uninterrupted[3:], resumed):
        assert (got.accuracy, got.loss, got.learning_rate) == (expected.accuracy, expected.loss, expected.learning_rate)
        assert got.mi_input == expected.mi_input
    for a, b in zip(uninterrupted_trainer.parameters, second.parameters):
        assert torch.equal(a, b)


def test_seed_code_is_off_by_default_and_takes_no_momentum():
    assert TrainingSettings(epochs=1, learning_rate=0.1).optimizer == "sgd"
    with pytest.raises(ValueError, match="momentum"):
        TrainingSettings(epochs=1, learning_rate=0.1, optimizer="seed_code", momentum=0.9)
    base = 'name = "x"\n[network]\npreset = "tanh"\n[inputs]\nkind = "gaussian"\nmean = 0.0\nvar = 0.25\n[training]\n'
    assert parse_config(base).training.optimizer == "sgd"
    assert parse_config(base + 'optimizer = "seed_code"\n').training.optimizer == "kong2019_code"
    with pytest.raises(ValueError, match="training.momentum"):
        parse_config(base + 'optimizer = "seed_code"\nmomentum = 0.5\n')
