"""The config schema: shipped configs, defaults, the round trip, every kind, one-line errors."""

from __future__ import annotations

import dataclasses
import pickle
import tomllib
from pathlib import Path

import numpy as np
import pytest
import tomli_w
from tiny_configs import TINY

from infoflow.config.schema import (
    ConfigError,
    ExperimentConfig,
    config_to_dict,
    config_to_toml,
    load_config,
    parse_config,
    shipped_config_text,
    shipped_experiments,
    with_seeds,
)
from infoflow.estimators.draws import resolve_conditional

# A network of any widths; {inputs} and {labels} complete it.
GENERAL = """
[network]
widths = {widths}
activations = {activations}

[inputs]
{inputs}

{labels}
[training]
loss = "{loss}"
"""


def general(
    inputs: str,
    *,
    widths: str = "[1, 3, 1]",
    activations: str = '["tanh", "tanh"]',
    labels: str = "",
    loss: str = "mse",
    extra: str = "",
) -> str:
    """Return a config text with a general network, the given [inputs] body and [labels] table."""
    text = GENERAL.format(widths=widths, activations=activations, inputs=inputs, labels=labels, loss=loss)
    return text + extra


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def data_files(tmp_path: Path) -> Path:
    """A folder with data.npz (x of shape (6, 2), y) and data.csv (columns a, b, label)."""
    x = np.arange(12, dtype=np.float64).reshape(6, 2)
    np.savez(tmp_path / "data.npz", x=x, y=np.array([0, 1, 2, 0, 1, 2]))
    write(tmp_path / "data.csv", "a,b,label\n0,1,0\n2,3,1\n4,5,0\n")
    return tmp_path


# ----------------------------------------------------------------------------------------------
# Shipped configs
# ----------------------------------------------------------------------------------------------


def test_the_shipped_experiments() -> None:
    # Kong (2019)'s five figures and its future work (rnn, uniform-*), Goldfeld et al. (2019)'s SZT
    # and its orthonormality variant.
    assert shipped_experiments() == [
        "fig2", "fig3", "fig4", "fig5", "fig6", "rnn", "szt", "szt-orthonormal", "uniform-leaky-tanh",
        "uniform-tanh-tanh"
    ]  # fmt: skip


@pytest.mark.parametrize("name", ["fig2", "fig3", "fig4", "fig5", "fig6"])
def test_shipped_configs_load_and_round_trip(name: str) -> None:
    config = load_config(name)
    assert config.name == name
    text = config_to_toml(config)
    assert tomllib.loads(text)["name"] == name
    assert parse_config(text) == config
    # The shipped file (with its comments) is itself valid TOML and cites only what users have.
    shipped = shipped_config_text(name)
    tomllib.loads(shipped)
    assert "MISSION" not in shipped


@pytest.mark.parametrize(
    ("name", "preset", "lr", "n_inputs"),
    [
        ("fig2", "tanh", 0.0005, 100),
        ("fig3", "leaky-leaky", 0.0001, 200),
        ("fig4", "tanh-tanh", 0.005, 500),
        ("fig5", "leaky-tanh", 0.005, 500),
        ("fig6", "tanh", 0.0001, 500),
    ],
)
def test_shipped_configs_follow_the_seed(name: str, preset: str, lr: float, n_inputs: int) -> None:
    # What the seed paper fixes (README's table of its experiments); set sizes, batch sizes,
    # epochs and momentum are our documented choices.
    config = load_config(name)
    assert config.network.preset == preset and config.network.init == "kong2019" and config.network.beta == 0.05
    assert config.training.learning_rate == lr and config.training.loss == "mse"
    assert config.training.optimizer == "sgd" and 0.0 <= config.training.momentum < 1.0
    assert config.estimation.n_inputs == n_inputs
    # The seed's code draws n = 1000; fig5 draws more (its TOML says why), never fewer.
    assert config.estimation.n_samples == (4000 if name == "fig5" else 1000)
    # "auto" is 1000 for the seed's narrow networks (the conditional pass stays under its budget).
    widths = list(config.network.widths)
    assert resolve_conditional(config.estimation.n_conditional, n_inputs, widths) == 1000
    assert config.labels.kind == "threshold" and config.inputs.dim == 1
    assert all(limit != "auto" for limit in config.density.limits)  # the seed figures' grids are fixed
    if name == "fig2":
        assert config.training.lr_drop_accuracy is None
    else:
        assert (config.training.lr_drop_factor, config.training.lr_drop_accuracy) == (20.0, 0.99)


def test_an_old_resolved_config_reads_to_the_same_config() -> None:
    # A run folder's config.toml written before optimizer, labels.kind and target_std_error
    # existed: their defaults are exactly what those runs did.
    config = load_config("fig4")
    old = tomllib.loads(config_to_toml(config))
    del old["training"]["optimizer"], old["labels"]["kind"], old["estimation"]["target_std_error"]
    assert parse_config(tomli_w.dumps(old)) == config


# ----------------------------------------------------------------------------------------------
# Defaults, the resolved config, value semantics
# ----------------------------------------------------------------------------------------------


def test_defaults_are_resolved() -> None:
    config = parse_config(
        '[network]\nwidths = [1, 3, 1]\nactivations = ["relu", "tanh"]\n[inputs]\nkind = "gaussian"\n',
        default_name="mine",
    )
    assert config.name == "mine" and config.description == "" and config.seeds == (0,)
    assert config.network.init == "default" and config.network.preset is None and config.network.n_layers == 2
    assert (config.inputs.mean, config.inputs.var, config.inputs.dim) == (0.0, 1.0, 1)
    assert (config.labels.kind, config.labels.threshold, config.labels.below, config.labels.above) == (
        "threshold",
        0.0,
        -1.0,
        1.0,
    )
    training = config.training
    assert (training.epochs, training.optimizer, training.learning_rate, training.momentum) == (100, "sgd", 0.001, 0.0)
    assert (training.loss, training.train_size, training.test_size) == ("mse", 1000, 1000)
    assert training.batch_size == training.train_size and training.lr_drop_factor == 20.0
    assert training.lr_drop_accuracy is None
    estimation = config.estimation
    assert (estimation.n_samples, estimation.n_conditional, estimation.n_inputs) == (1000, "auto", 500)
    assert (estimation.schedule, estimation.every, estimation.points) == ("every", 1, 60)
    assert estimation.label_information and estimation.true_information
    assert estimation.estimators == ("sp",) and estimation.binning_bin_size == 0.05
    assert estimation.target_std_error == 0.01
    # relu is unbounded: its grid is chosen from the data; tanh keeps [-1 - 6 beta, 1 + 6 beta].
    assert config.density.points == 300 and config.density.limits == ("auto", (-1.3, 1.3))
    assert parse_config(config_to_toml(config)) == config


def test_every_default_is_written_out() -> None:
    config = parse_config('[network]\npreset = "tanh"\n[inputs]\nkind = "gaussian"\n')
    data = config_to_dict(config)
    assert list(data["training"]) == [
        "epochs",
        "optimizer",
        "learning_rate",
        "momentum",
        "loss",
        "train_size",
        "test_size",
        "batch_size",
        "lr_drop_factor",
    ]  # lr_drop_accuracy absent: never drop
    assert data["network"] == {
        "preset": "tanh",
        "widths": [1, 1],
        "activations": ["tanh"],
        "init": "kong2019",
        "beta": 0.05,
    }
    assert data["labels"] == {"kind": "threshold", "threshold": 0.0, "below": -1.0, "above": 1.0}
    assert data["inputs"] == {"kind": "gaussian", "mean": 0.0, "var": 1.0}
    assert data["estimation"]["target_std_error"] == 0.01
    assert data["density"] == {"points": 300, "limits": [[-1.3, 1.3]]}


def test_a_float_field_takes_an_integer() -> None:
    config = parse_config(TINY.replace("learning_rate = 0.05", "learning_rate = 1").replace("var = 0.25", "var = 2"))
    assert config.training.learning_rate == 1.0 and isinstance(config.training.learning_rate, float)
    assert config.inputs.var == 2.0 and isinstance(config.inputs.var, float)


def test_configs_are_values_hashable_and_picklable() -> None:
    first, second = parse_config(TINY), parse_config(TINY)
    assert first == second and hash(first) == hash(second) and len({first, second}) == 1
    assert pickle.loads(pickle.dumps(first)) == first
    assert with_seeds(first, 2) != first
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.name = "other"  # type: ignore[misc]


def test_replacing_a_field_validates_it() -> None:
    config = parse_config(TINY)
    shorter = dataclasses.replace(config, training=dataclasses.replace(config.training, epochs=12))
    assert shorter.training.epochs == 12
    with pytest.raises(ValueError):
        dataclasses.replace(config.training, learning_rate=-1.0)


def test_with_seeds() -> None:
    assert with_seeds(parse_config(TINY), 3).seeds == (0, 1, 2)
    with pytest.raises(ConfigError, match="seeds"):
        with_seeds(parse_config(TINY), 0)


def test_the_design_documents_example_is_a_valid_config() -> None:
    design = Path(__file__).resolve().parents[2] / "docs" / "DESIGN.md"
    example = design.read_text(encoding="utf-8").split("```toml", 1)[1].split("```", 1)[0]
    config = parse_config(example, source="DESIGN.md")
    assert config.network.preset == "tanh" and config.density.limits == ((-1.3, 1.3),)


# ----------------------------------------------------------------------------------------------
# Every kind of inputs, labels, losses, optimizers, grids
# ----------------------------------------------------------------------------------------------


DATASET_NPZ = "kind = 'dataset'\npath = 'data.npz'"
DATASET_LABELS = '[labels]\nkind = "dataset"\n'

GOOD_CONFIGS = {
    "uniform": general("kind = 'uniform'\nlow = -1\nhigh = 2.5"),
    "gaussian with a 1 x 1 covariance": general("kind = 'gaussian'\nmean = 0.5\nvar = [[0.25]]"),
    "mixture with equal weights": general("kind = 'gaussian_mixture'\nmeans = [-1.0, 1.0]\nvariances = [0.25, 0.5]"),
    "rows of one number": general("kind = 'discrete_uniform'\nvalues = [[1.0], [2.0], [4.0]]"),
    "dataset, classes, adam": general(
        DATASET_NPZ + "\nsplit = 0.75",
        widths="[2, 4, 3]",
        labels=DATASET_LABELS,
        loss="cross_entropy",
        extra='optimizer = "adam"\nlearning_rate = 0.0004\n[density]\nlimits = "auto"\n',
    ),
    "csv with a label column, binary logistic": general(
        "kind = 'dataset'\npath = 'data.csv'\nlabel_column = 'label'",
        widths="[2, 3, 1]",
        labels=DATASET_LABELS,
        loss="cross_entropy",
    ),
    "dataset with threshold labels": general(DATASET_NPZ, widths="[1, 2, 1]"),
    "mixed grid limits": general(
        "kind = 'gaussian'",
        activations='["leaky_relu", "sigmoid"]',
        extra='[density]\nlimits = ["auto", [-0.5, 1.5]]\n',
    ),
    "relu network": general(
        "kind = 'gaussian'", activations='["relu", "linear"]', extra="[estimation]\ntarget_std_error = 0.002\n"
    ),
}


@pytest.mark.parametrize("case", list(GOOD_CONFIGS))
def test_every_kind_round_trips(data_files: Path, case: str) -> None:
    config = load_config(write(data_files / "good.toml", GOOD_CONFIGS[case]))
    assert parse_config(config_to_toml(config)) == config
    assert tomllib.loads(config_to_toml(config)) == config_to_dict(config)


def test_what_the_new_kinds_hold(data_files: Path) -> None:
    configs = {case: load_config(write(data_files / "good.toml", text)) for case, text in GOOD_CONFIGS.items()}
    uniform = configs["uniform"].inputs
    assert (uniform.kind, uniform.low, uniform.high, uniform.dim) == ("uniform", -1.0, 2.5, 1)
    assert configs["mixture with equal weights"].inputs.weights == (1.0, 1.0)
    assert configs["rows of one number"].inputs.values == ((1.0,), (2.0,), (4.0,))
    classes = configs["dataset, classes, adam"]
    assert classes.inputs.path == str((data_files / "data.npz").resolve()) and classes.inputs.dim is None
    assert (classes.inputs.split, classes.inputs.label_column, classes.labels.kind) == (0.75, None, "dataset")
    assert (classes.training.optimizer, classes.training.loss) == ("adam", "cross_entropy")
    assert classes.density.limits == ("auto", "auto")
    assert configs["csv with a label column, binary logistic"].inputs.label_column == "label"
    assert configs["mixed grid limits"].density.limits == ("auto", (-0.5, 1.5))
    assert configs["relu network"].density.limits == ("auto", "auto")
    assert configs["relu network"].estimation.target_std_error == 0.002


MULTIVARIATE_INPUTS = [
    ({"kind": "discrete_uniform", "values": [[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]}, 2),
    ({"kind": "gaussian", "mean": [0.0, 1.0, 2.0]}, 3),
    ({"kind": "gaussian", "mean": [0.0, 1.0], "var": [[1.0, 0.5], [0.5, 2.0]]}, 2),
    ({"kind": "gaussian", "var": [[1.0, 0.0], [0.0, 2.0]]}, 2),
    ({"kind": "gaussian_mixture", "means": [[0.0, 0.0], [2.0, 2.0]], "variances": [0.5, [[1.0, 0.2], [0.2, 1.0]]]}, 2),
    ({"kind": "uniform", "low": [0.0, -1.0], "high": [1.0, 1.0]}, 2),
]


@pytest.mark.parametrize(("inputs", "dim"), MULTIVARIATE_INPUTS)
def test_inputs_of_any_dimension(inputs: dict, dim: int) -> None:
    # A multi-dimensional X fixes network.widths[0]; a threshold needs a scalar X, and labels from
    # a data set need inputs.kind = "dataset", so such a config is valid only up to [labels].
    text = tomli_w.dumps({"network": {"widths": [dim, 2, 1], "activations": ["tanh", "tanh"]}, "inputs": inputs})
    with pytest.raises(ConfigError, match=rf"labels\.kind must be .*d = {dim}"):
        parse_config(text)
    wrong = tomli_w.dumps({"network": {"widths": [dim + 1, 2, 1], "activations": ["tanh", "tanh"]}, "inputs": inputs})
    with pytest.raises(ConfigError, match=rf"network\.widths must be a list starting with {dim}, .*inputs\."):
        parse_config(wrong)


@pytest.mark.parametrize(("inputs", "dim"), MULTIVARIATE_INPUTS)
def test_multivariate_inputs_round_trip(inputs: dict, dim: int) -> None:
    from pydantic import TypeAdapter

    from infoflow.config.schema import INPUT_CONFIGS

    adapter = TypeAdapter(INPUT_CONFIGS[inputs["kind"]])
    section = adapter.validate_python(inputs)
    assert section.dim == dim
    written = tomllib.loads(tomli_w.dumps({"inputs": dataclasses.asdict(section)}))["inputs"]
    assert adapter.validate_python(written) == section


# ----------------------------------------------------------------------------------------------
# Relative data set paths
# ----------------------------------------------------------------------------------------------


def test_a_relative_data_path_is_read_from_the_config_files_folder(
    data_files: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    (data_files / "configs").mkdir()
    text = general("kind = 'dataset'\npath = '../data.npz'", widths="[2, 1]", activations='["tanh"]')
    path = write(data_files / "configs" / "exp.toml", text)
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    config = load_config(path)
    assert Path(config.inputs.path) == (data_files / "data.npz").resolve() and Path(config.inputs.path).is_absolute()
    # The resolved config names the absolute path, so it reads back equal from any folder.
    assert parse_config(config_to_toml(config)) == config


def test_a_relative_data_path_in_a_string_is_read_from_the_working_directory(
    data_files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = general("kind = 'dataset'\npath = 'data.csv'", widths="[2, 1]", activations='["tanh"]')
    monkeypatch.chdir(data_files)
    assert parse_config(text).inputs.path == str((data_files / "data.csv").resolve())
    monkeypatch.chdir(data_files.parent)
    with pytest.raises(ConfigError, match="inputs.path must be an existing .npz or .csv file"):
        parse_config(text)
    assert parse_config(text, base_dir=data_files).inputs.path == str((data_files / "data.csv").resolve())


# ----------------------------------------------------------------------------------------------
# Errors: one line, naming the field
# ----------------------------------------------------------------------------------------------

NETWORK_2D = '[network]\nwidths = [2, 3, 1]\nactivations = ["tanh", "tanh"]\n[inputs]\n'

BAD_CONFIGS = [
    ("bad TOML", "[network\npreset = 'tanh'", "invalid TOML"),
    ("empty file", "", "empty"),
    ("only whitespace", "  \n\n", "empty"),
    ("wrong type", TINY.replace("epochs = 4", 'epochs = "four"'), "training.epochs"),
    ("string number", TINY.replace("epochs = 4", 'epochs = "4"'), "training.epochs"),
    ("string float", TINY.replace("learning_rate = 0.05", 'learning_rate = "0.05"'), "training.learning_rate"),
    ("float epochs", TINY.replace("epochs = 4", "epochs = 4.0"), "training.epochs"),
    ("boolean number", TINY.replace("epochs = 4", "epochs = true"), "training.epochs"),
    ("boolean float", TINY.replace("learning_rate = 0.05", "learning_rate = true"), "training.learning_rate"),
    ("boolean seed", TINY.replace("seeds = [0]", "seeds = [true]"), "seeds"),
    (
        "boolean flag as number",
        TINY.replace("n_samples = 40", "n_samples = 40\nlabel_information = 1"),
        "estimation.label_information",
    ),
    ("NaN", TINY.replace("learning_rate = 0.05", "learning_rate = nan"), "training.learning_rate"),
    ("infinity", TINY.replace("var = 0.25", "var = inf"), "inputs.var"),
    ("NaN in a list", general("kind = 'discrete_uniform'\nvalues = [1.0, nan]"), "inputs.values"),
    ("negative beta", TINY.replace('preset = "tanh-tanh"', 'preset = "tanh-tanh"\nbeta = -0.05'), "network.beta"),
    ("zero beta", TINY.replace('preset = "tanh-tanh"', 'preset = "tanh-tanh"\nbeta = 0'), "network.beta"),
    ("negative epochs", TINY.replace("epochs = 4", "epochs = -1"), "training.epochs"),
    ("zero learning rate", TINY.replace("learning_rate = 0.05", "learning_rate = 0"), "training.learning_rate"),
    ("unknown activation", general("kind = 'gaussian'", activations='["swish", "tanh"]'), "network.activations"),
    ("activations per layer", general("kind = 'gaussian'", activations='["tanh"]'), "network.activations"),
    ("zero width", general("kind = 'gaussian'", widths="[1, 0, 1]"), "network.widths"),
    ("unknown key", TINY.replace("epochs = 4", "epochs = 4\nlerning_rate = 0.1"), "training.lerning_rate"),
    ("unknown network key", TINY.replace('preset = "tanh-tanh"', 'preset = "tanh-tanh"\nwidht = 3'), "network.widht"),
    ("unknown table", TINY + "\n[trainng]\nepochs = 3\n", "trainng"),
    ("unknown input kind", TINY.replace('kind = "gaussian"', 'kind = "cauchy"'), "inputs.kind"),
    ("missing input kind", TINY.replace('kind = "gaussian"', ""), "inputs.kind"),
    ("key of another kind", TINY.replace("var = 0.25", "var = 0.25\nvalues = [1.0]"), "inputs.values"),
    ("missing inputs", '[network]\npreset = "tanh"\n', "inputs"),
    ("missing network", '[inputs]\nkind = "gaussian"\n', "network"),
    ("missing widths", '[network]\nactivations = ["tanh"]\n[inputs]\nkind = "gaussian"\n', "network.widths"),
    ("unknown preset", TINY.replace('"tanh-tanh"', '"relu-relu"'), "network.preset"),
    (
        "preset mismatch",
        TINY.replace('preset = "tanh-tanh"', 'preset = "tanh-tanh"\nactivations = ["tanh"]'),
        "network.activations",
    ),
    (
        "preset widths",
        TINY.replace('preset = "tanh-tanh"', 'preset = "tanh-tanh"\nwidths = [2, 1, 1]'),
        "network.widths",
    ),
    ("vector output with mse", general("kind = 'gaussian'", widths="[1, 2]", activations='["tanh"]'), "network.widths"),
    (
        "cross entropy, multi-output, threshold labels",
        general("kind = 'gaussian'", widths="[1, 3, 2]", loss="cross_entropy"),
        "labels.kind",
    ),
    (
        "seed init without preset",
        general("kind = 'gaussian'", widths="[1, 1]", activations='["tanh"]').replace(
            "[inputs]", 'init = "seed"\n[inputs]'
        ),
        "network.init",
    ),
    ("negative variance", TINY.replace("var = 0.25", "var = -0.25"), "inputs.var"),
    (
        "non-PD covariance",
        NETWORK_2D + "kind = 'gaussian'\nmean = [0.0, 0.0]\nvar = [[1.0, 2.0], [2.0, 1.0]]",
        "inputs.var",
    ),
    ("asymmetric covariance", NETWORK_2D + "kind = 'gaussian'\nvar = [[1.0, 0.1], [0.2, 1.0]]", "inputs.var"),
    ("ragged covariance", NETWORK_2D + "kind = 'gaussian'\nvar = [[1.0, 0.0], [0.0]]", "inputs.var"),
    ("covariance of another size", NETWORK_2D + "kind = 'gaussian'\nmean = [0.0, 0.0]\nvar = [[1.0]]", "inputs.var"),
    ("empty mean", NETWORK_2D + "kind = 'gaussian'\nmean = []", "inputs.mean"),
    ("ragged rows", NETWORK_2D + "kind = 'discrete_uniform'\nvalues = [[1.0, 2.0], [3.0]]", "inputs.values"),
    ("numbers and rows", NETWORK_2D + "kind = 'discrete_uniform'\nvalues = [1.0, [2.0, 3.0]]", "inputs.values"),
    ("repeated rows", NETWORK_2D + "kind = 'discrete_uniform'\nvalues = [[1.0, 2.0], [1.0, 2.0]]", "inputs.values"),
    ("empty values", general("kind = 'discrete_uniform'\nvalues = []"), "inputs.values"),
    ("missing values", general("kind = 'discrete_uniform'"), "inputs.values"),
    (
        "matrix variance of a scalar mixture",
        general("kind = 'gaussian_mixture'\nmeans = [0.0, 1.0]\nvariances = [[[1.0]], 1.0]"),
        "inputs.variances",
    ),
    (
        "variances per mean",
        general("kind = 'gaussian_mixture'\nmeans = [0.0, 1.0]\nvariances = [1.0]"),
        "inputs.variances",
    ),
    (
        "negative weight",
        general("kind = 'gaussian_mixture'\nmeans = [0.0, 1.0]\nvariances = [1.0, 1.0]\nweights = [-1.0, 2.0]"),
        "inputs.weights",
    ),
    ("uniform low above high", general("kind = 'uniform'\nlow = 1.0\nhigh = 0.0"), "inputs.high"),
    ("uniform shapes differ", NETWORK_2D + "kind = 'uniform'\nlow = [0.0, 0.0]\nhigh = 1.0", "inputs.high"),
    ("uniform without high", general("kind = 'uniform'\nlow = 0.0"), "inputs.high"),
    ("uniform with values", general("kind = 'uniform'\nlow = 0.0\nhigh = 1.0\nvalues = [1.0]"), "inputs.values"),
    ("missing data set file", general("kind = 'dataset'\npath = 'absent.npz'"), "inputs.path"),
    ("data set of a wrong suffix", general("kind = 'dataset'\npath = 'data.txt'"), "inputs.path"),
    ("data set path not a string", general("kind = 'dataset'\npath = 3"), "inputs.path"),
    ("label column of a .npz", general(DATASET_NPZ + "\nlabel_column = 'y'"), "inputs.label_column"),
    ("split of one", general(DATASET_NPZ + "\nsplit = 1.0"), "inputs.split"),
    ("split of zero", general(DATASET_NPZ + "\nsplit = 0"), "inputs.split"),
    ("data set with values", general(DATASET_NPZ + "\nvalues = [1.0]"), "inputs.values"),
    ("dataset labels without a data set", general("kind = 'gaussian'", labels=DATASET_LABELS), "labels.kind"),
    (
        "dataset labels with a threshold",
        general(DATASET_NPZ, labels=DATASET_LABELS + "threshold = 1.0\n"),
        "labels.threshold",
    ),
    ("unknown labels kind", general("kind = 'gaussian'", labels='[labels]\nkind = "sign"\n'), "labels.kind"),
    ("threshold on a 2-D X", NETWORK_2D + "kind = 'uniform'\nlow = [0.0, 0.0]\nhigh = [1.0, 1.0]", "labels.kind"),
    ("width and dimension differ", general("kind = 'gaussian'\nmean = [0.0, 0.0]"), "network.widths"),
    ("preset on a 2-D X", TINY.replace("mean = 0.0", "mean = [0.0, 0.0]"), "network.widths"),
    (
        "momentum with adam",
        TINY.replace("epochs = 4", 'epochs = 4\noptimizer = "adam"\nmomentum = 0.9'),
        "training.momentum",
    ),
    ("unknown optimizer", TINY.replace("epochs = 4", 'epochs = 4\noptimizer = "rmsprop"'), "training.optimizer"),
    ("batch larger than set", TINY.replace("batch_size = 10", "batch_size = 41"), "training.batch_size"),
    (
        "accuracy above one",
        TINY.replace("lr_drop_accuracy = 0.8", "lr_drop_accuracy = 1.5"),
        "training.lr_drop_accuracy",
    ),
    ("unknown loss", TINY.replace("epochs = 4", 'epochs = 4\nloss = "hinge"'), "training.loss"),
    (
        "unknown schedule",
        TINY.replace("n_samples = 40", 'n_samples = 40\nschedule = "sometimes"'),
        "estimation.schedule",
    ),
    ("unknown estimator", TINY.replace('["sp", "kl_upper"]', '["sp", "knn"]'), "estimation.estimators"),
    ("estimators without sp", TINY.replace('["sp", "kl_upper"]', '["kl_upper"]'), "estimation.estimators"),
    ("repeated estimators", TINY.replace('["sp", "kl_upper"]', '["sp", "sp"]'), "estimation.estimators"),
    ("zero samples", TINY.replace("n_samples = 40", "n_samples = 0"), "estimation.n_samples"),
    (
        "zero target error",
        TINY.replace("n_samples = 40", "n_samples = 40\ntarget_std_error = 0.0"),
        "estimation.target_std_error",
    ),
    ("limits per layer", TINY.replace("points = 24", "points = 24\nlimits = [[-1.0, 1.0]]"), "density.limits"),
    (
        "limits reversed",
        TINY.replace("points = 24", "points = 24\nlimits = [[1.0, -1.0], [0.0, 1.0]]"),
        "density.limits",
    ),
    (
        "limits of three numbers",
        TINY.replace("points = 24", 'points = 24\nlimits = [[0.0, 1.0, 2.0], "auto"]'),
        "density.limits",
    ),
    ("limits neither auto nor pairs", TINY.replace("points = 24", 'points = 24\nlimits = "wide"'), "density.limits"),
    ("empty seeds", TINY.replace("seeds = [0]", "seeds = []"), "seeds"),
    ("repeated seeds", TINY.replace("seeds = [0]", "seeds = [1, 1]"), "seeds"),
    ("negative seed", TINY.replace("seeds = [0]", "seeds = [-1]"), "seeds"),
    ("name not a string", TINY.replace('name = "tiny"', "name = 3"), "name"),
    ("table as value", TINY.replace("seeds = [0]", "seeds = [0]\nlabels = 3"), "labels"),
    ("equal labels", TINY + "\n[labels]\nbelow = 1.0\nabove = 1.0\n", "labels.above"),
]


@pytest.mark.parametrize(("case", "text", "field"), BAD_CONFIGS, ids=[case for case, _, _ in BAD_CONFIGS])
def test_bad_configs_raise_one_line_naming_the_field(data_files: Path, case: str, text: str, field: str) -> None:
    write(data_files / "data.txt", "1,2\n")
    path = write(data_files / "bad.toml", text)
    before = sorted(data_files.iterdir())
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert field in message
    assert "\n" not in message and "pydantic" not in message and "validation error" not in message
    assert isinstance(caught.value, ValueError)
    assert sorted(data_files.iterdir()) == before


def test_errors_say_what_is_allowed_and_what_was_given() -> None:
    def message(text: str) -> str:
        with pytest.raises(ConfigError) as caught:
            parse_config(text, source="fig2.toml")
        return str(caught.value)

    assert message(TINY.replace("learning_rate = 0.05", "learning_rate = 0")) == (
        "fig2.toml: training.learning_rate must be a finite number > 0; got 0"
    )
    assert message(TINY.replace('preset = "tanh-tanh"', 'preset = "tanh-tanh"\nwidht = 3')) == (
        "fig2.toml: network.widht is not a known key; allowed: preset, kind, hidden, steps, widths, activations, init, beta"
    )
    assert message(TINY.replace("var = 0.25", "var = 0.25\nvalues = [1.0]")) == (
        "fig2.toml: inputs.values is not a known key; allowed: kind, mean, var"
    )
    assert message(TINY.replace("epochs = 4", "epochs = true")) == (
        "fig2.toml: training.epochs must be an integer >= 0; got True"
    )
    assert '"leaky_relu"' in message(general("kind = 'gaussian'", activations='["swish", "tanh"]'))
    assert message('[network]\npreset = "tanh"\n') == (
        'fig2.toml: inputs is required: a table [inputs] with kind = one of "discrete_uniform", "gaussian", '
        '"gaussian_mixture", "uniform", "dataset", "szt"'
    )
    assert message(general("kind = 'gaussian'\nmean = [0.0, 0.0]")) == (
        "fig2.toml: network.widths must be a list starting with 2, the dimension of X that inputs.mean sets; "
        "got [1, 3, 1] (list)"
    )
    assert "training.momentum must be 0 with optimizer" in message(
        TINY.replace("epochs = 4", 'epochs = 4\noptimizer = "adam"\nmomentum = 0.9')
    )


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file.*shipped: fig2"):
        load_config(tmp_path / "absent.toml")
    with pytest.raises(ConfigError, match="is a folder"):
        load_config(tmp_path)


def test_a_shipped_name_wins_over_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "fig2", "not toml [")
    assert load_config("fig2") == load_config("fig2")
    assert load_config("fig2").name == "fig2"


def test_direct_construction_is_validated() -> None:
    config = parse_config(TINY)
    assert isinstance(config, ExperimentConfig)
    with pytest.raises(ValueError):
        dataclasses.replace(config, seeds=(1, 1))
