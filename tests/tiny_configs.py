"""A tiny experiment config shared by the config, training and CLI tests (seconds to run)."""

TINY = """
name = "tiny"
seeds = [0]

[network]
preset = "tanh-tanh"

[inputs]
kind = "gaussian"
mean = 0.0
var = 0.25

[training]
epochs = 4
learning_rate = 0.05
train_size = 40
batch_size = 10
test_size = 50
lr_drop_accuracy = 0.8

[estimation]
n_samples = 40
n_conditional = 16
n_inputs = 6
estimators = ["sp", "kl_upper"]

[density]
points = 24
"""
