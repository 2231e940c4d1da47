"""The paper registry: what papers register, what config and CLI read from it, old spellings."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch
from tiny_configs import TINY

import infoflow
from infoflow import registry
from infoflow.cli import main
from infoflow.config import ConfigError, config_to_toml, parse_config
from infoflow.papers.kong2019.networks import KONG2019_NETWORKS
from infoflow.training.experiment import build_network
from infoflow.training.settings import TrainingSettings

SOURCE = Path(infoflow.__file__).parent


def test_papers_register_their_experiments_presets_targets_and_commands() -> None:
    papers = registry.papers()
    assert set(papers) == {"kong2019", "goldfeld2019", "goldfeld2019-digits"}
    files = registry.shipped_config_files()
    assert {"fig2", "fig6", "rnn", "uniform-tanh-tanh"} <= set(files) and "szt" in files
    # Every shipped TOML is in its own paper's folder.
    assert all(files[name].name == f"{name}.toml" for name in files)
    presets = registry.network_presets()
    assert set(presets) == set(KONG2019_NETWORKS) and {p.paper for p in presets.values()} == {"kong2019"}
    assert presets["leaky-tanh"].activations == ("leaky_relu", "tanh") and presets["leaky-tanh"].widths == (1, 1, 1)
    assert set(registry.reproduce_targets()) == {"kong2019", "goldfeld2019", "goldfeld2019-digits"}
    assert registry.default_reproduce_target()[0] == "kong2019"
    assert set(registry.commands()) == {"accuracy", "orthonormal"}


def test_a_preset_is_built_with_its_papers_initialisation() -> None:
    net = registry.build_preset("leaky-leaky", 0.05)
    # Kong 2019 network 2: w1 = 0, b1 = 4.5, w2 = -1, b2 = 0.
    weights = [(float(linear.weight.detach()), float(linear.bias.detach())) for linear in net.linears]
    assert weights == [(0.0, 4.5), (-1.0, 0.0)]
    config = parse_config(TINY)
    assert config.network.init == "kong2019"
    built = build_network(config.network, seed=0)
    assert all(torch.count_nonzero(parameter) == 0 for parameter in built.parameters())
    with pytest.raises(ValueError, match="unknown network preset"):
        registry.build_preset("relu-relu", 0.05)


def test_registering_a_taken_name_is_refused() -> None:
    with pytest.raises(ValueError, match="registered already"):
        registry.register(registry.Paper(name="kong2019", title="again"))
    clash = registry.Paper(
        name="other2020", title="x", presets={"tanh": (("tanh",), (1, 1))}, build_preset=lambda name, beta: None
    )
    with pytest.raises(ValueError, match="preset 'tanh'"):
        registry.register(clash)
    assert "other2020" not in registry.papers()


def test_old_spellings_still_load_and_resolve_to_the_paper_names() -> None:
    old = TINY.replace('preset = "tanh-tanh"', 'preset = "tanh-tanh"\ninit = "seed"').replace(
        "epochs = 4", 'epochs = 4\noptimizer = "seed_code"\nmomentum = 0.0'
    )
    config = parse_config(old)
    assert config.network.init == "kong2019" and config.training.optimizer == "kong2019_code"
    written = config_to_toml(config)
    assert 'init = "kong2019"' in written and 'optimizer = "kong2019_code"' in written
    assert parse_config(written) == config
    assert TrainingSettings(epochs=1, learning_rate=0.1, optimizer="seed_code").optimizer == "kong2019_code"


@pytest.mark.parametrize(
    ("network", "fragment"),
    [
        ('widths = [1, 1]\nactivations = ["tanh"]\ninit = "kong2019"', '"kong2019" needs one of its presets'),
        ('preset = "tanh"\ninit = "goldfeld2019"', 'one of "kong2019", "default", "zeros"'),
        ('preset = "relu-relu"', 'network.preset must be one of "tanh", "leaky-leaky", "tanh-tanh", "leaky-tanh"'),
    ],
)
def test_a_paper_init_needs_that_papers_preset(network: str, fragment: str) -> None:
    text = TINY.replace('preset = "tanh-tanh"', network)
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="x.toml")
    message = str(caught.value)
    assert message.startswith("x.toml: network.") and fragment in message and "\n" not in message


def test_reproduce_takes_a_paper_alone(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["reproduce", "goldfeld2019", "fig2", "--out", str(tmp_path / "out")]) == 2
    assert "reproduce goldfeld2019 takes no other experiment names" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def _imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_no_general_module_imports_a_paper() -> None:
    # The package's __init__ (the composition root) registers the papers; nothing else outside
    # papers/ may name them.
    offenders = [
        str(path.relative_to(SOURCE))
        for path in SOURCE.rglob("*.py")
        if "papers" not in path.relative_to(SOURCE).parts
        and path != SOURCE / "__init__.py"
        and any(name.startswith("infoflow.papers") for name in _imported_modules(path))
    ]
    assert offenders == []
