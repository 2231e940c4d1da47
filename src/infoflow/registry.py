"""What the reproduced papers ship, registered by each paper and read by config and CLI.

A paper (``infoflow/papers/<name>/__init__.py``) calls :func:`register` with a :class:`Paper`:
its shipped experiments (a folder of ``<experiment>.toml``), its network presets (architecture
and the paper's own initialisation), its reproduce target and its extra CLI commands. General
code (``config/``, ``training/``, ``cli.py``) reads this table and never imports ``papers/``.

How the table is filled: ``infoflow/__init__.py``, the package's composition root, imports
``infoflow.papers``, whose ``__init__`` imports each paper package, which registers itself.
Python runs ``infoflow/__init__.py`` before any ``infoflow.*`` submodule a program imports, so
the table is full before user code, the CLI or a Dask worker can read it. General modules read
it only inside functions (validation, command time), never while being imported, so the order
of imports inside ``infoflow/__init__.py`` cannot matter; a read of an empty table (an
import-time read added by mistake) raises instead of answering wrongly. A paper's ``__init__``
imports only this module and light modules of its own; heavy ones (matplotlib, Dask) are named
as ``"module:function"`` and imported when their command runs, so registering costs nothing
and creates no import cycle.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn

__all__ = [
    "Command",
    "NetworkPreset",
    "Paper",
    "ReproduceTarget",
    "build_preset",
    "commands",
    "default_reproduce_target",
    "load_function",
    "network_presets",
    "papers",
    "register",
    "reproduce_targets",
    "shipped_config_files",
]


@dataclass(frozen=True)
class NetworkPreset:
    """A network a paper defines by name: its architecture and the paper's initialisation.

    Attributes
    ----------
    name : str
        The preset's name in configs (``network.preset``), e.g. "tanh".
    paper : str
        The paper that defines it; ``network.init = <paper>`` selects the paper's initialisation.
    activations : tuple of str
        One per layer; every layer (and the input) has width 1 unless ``widths`` says otherwise.
    widths : tuple of int
        Input size, then each layer's width.
    """

    name: str
    paper: str
    activations: tuple[str, ...]
    widths: tuple[int, ...]


@dataclass(frozen=True)
class ReproduceTarget:
    """What ``infoflow reproduce <paper>`` runs.

    Attributes
    ----------
    run : str
        ``"module:function"``; the function is called as ``function(names, out_dir, *, seeds,
        progress, command, jobs, scheduler)`` (``names``: experiment names given on the command
        line, empty for the paper's default set) and returns the report's path.
    help : str
        One line for ``infoflow reproduce --help``.
    default : bool
        The target of ``infoflow reproduce`` without a paper name (experiment names only). At
        most one paper sets it.
    """

    run: str
    help: str
    default: bool = False


@dataclass(frozen=True)
class Command:
    """An extra ``infoflow`` subcommand a paper ships.

    Attributes
    ----------
    name, help : str
    add_arguments : callable
        Receives the subcommand's ``argparse.ArgumentParser`` and adds its arguments.
    run : str
        ``"module:function"``; the function takes the parsed ``argparse.Namespace`` and returns
        the exit code.
    """

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: str


@dataclass(frozen=True)
class Paper:
    """Everything one reproduced paper ships.

    Attributes
    ----------
    name : str
        Short name, e.g. "kong2019" (also the CLI's ``reproduce`` target and the config value
        ``network.init`` that selects its presets' initialisation).
    title : str
    configs : Traversable or None
        A folder of ``<experiment>.toml`` files (``infoflow show``, ``infoflow run NAME``).
    presets : mapping of str to (activations, widths)
        The paper's networks by name.
    build_preset : callable or None
        ``build_preset(name, beta)`` returns preset ``name`` with the paper's initialisation.
    reproduce : ReproduceTarget or None
    commands : tuple of Command
    """

    name: str
    title: str
    configs: Traversable | None = None
    presets: Mapping[str, tuple[tuple[str, ...], tuple[int, ...]]] = field(default_factory=dict)
    build_preset: Callable[[str, float], nn.Module] | None = None
    reproduce: ReproduceTarget | None = None
    commands: tuple[Command, ...] = ()


_PAPERS: dict[str, Paper] = {}


def register(paper: Paper) -> None:
    """Add a paper to the registry (once; names of papers, experiments, presets and commands unique)."""
    if paper.name in _PAPERS:
        raise ValueError(f"paper {paper.name!r} is registered already")
    if paper.presets and paper.build_preset is None:
        raise ValueError(f"paper {paper.name!r} registers presets without build_preset")
    taken_experiments = {name for other in _PAPERS.values() for name in _experiment_files(other)}
    taken_presets = {name for other in _PAPERS.values() for name in other.presets}
    taken_commands = {command.name for other in _PAPERS.values() for command in other.commands}
    clashes = (
        [f"experiment {name!r}" for name in _experiment_files(paper) if name in taken_experiments]
        + [f"preset {name!r}" for name in paper.presets if name in taken_presets]
        + [f"command {command.name!r}" for command in paper.commands if command.name in taken_commands]
    )
    if paper.reproduce is not None and paper.reproduce.default and any(
        other.reproduce is not None and other.reproduce.default for other in _PAPERS.values()
    ):
        clashes.append("the default reproduce target")
    if clashes:
        raise ValueError(f"paper {paper.name!r} registers {', '.join(clashes)}, which another paper has")
    _PAPERS[paper.name] = paper


def papers() -> dict[str, Paper]:
    """Return {name: Paper} of every registered paper, in registration order."""
    if not _PAPERS:
        raise RuntimeError("no paper is registered; import infoflow (which registers them) before reading the registry")
    return dict(_PAPERS)


def _experiment_files(paper: Paper) -> dict[str, Traversable]:
    if paper.configs is None or not paper.configs.is_dir():
        return {}
    return {
        entry.name.removesuffix(".toml"): entry for entry in paper.configs.iterdir() if entry.name.endswith(".toml")
    }


def shipped_config_files() -> dict[str, Traversable]:
    """Return {experiment name: its TOML resource} over every registered paper."""
    files: dict[str, Traversable] = {}
    for paper in papers().values():
        files.update(_experiment_files(paper))
    return files


def network_presets() -> dict[str, NetworkPreset]:
    """Return {preset name: NetworkPreset} over every registered paper."""
    return {
        name: NetworkPreset(name=name, paper=paper.name, activations=tuple(activations), widths=tuple(widths))
        for paper in papers().values()
        for name, (activations, widths) in paper.presets.items()
    }


def build_preset(name: str, beta: float) -> nn.Module:
    """Return the preset network ``name`` with its paper's initialisation and noise ``beta``."""
    presets = network_presets()
    if name not in presets:
        raise ValueError(f"unknown network preset {name!r}; registered: {', '.join(presets)}")
    builder = papers()[presets[name].paper].build_preset
    assert builder is not None  # register() refuses presets without one
    return builder(name, beta)


def reproduce_targets() -> dict[str, ReproduceTarget]:
    """Return {paper name: ReproduceTarget} of the papers that have one."""
    return {name: paper.reproduce for name, paper in papers().items() if paper.reproduce is not None}


def default_reproduce_target() -> tuple[str, ReproduceTarget]:
    """Return (paper name, target) of ``infoflow reproduce`` given experiment names only."""
    for name, target in reproduce_targets().items():
        if target.default:
            return name, target
    raise ValueError("no paper registers a default reproduce target; name one of " + ", ".join(reproduce_targets()))


def commands() -> dict[str, Command]:
    """Return {command name: Command} of every paper's extra subcommands."""
    return {command.name: command for paper in papers().values() for command in paper.commands}


def load_function(reference: str) -> Callable[..., Any]:
    """Return the function ``"package.module:function"`` names, importing its module now."""
    module_name, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module_name), attribute)
