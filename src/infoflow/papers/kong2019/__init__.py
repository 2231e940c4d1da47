"""Kong (2019), Information Compression in Simple Neural Networks: configs, claims C1-C7, reproduce, accuracy.

Importing this package registers what the paper ships (:mod:`infoflow.registry`).
"""

from importlib import resources

from infoflow.papers.kong2019.commands import add_accuracy_arguments
from infoflow.papers.kong2019.networks import build_preset, preset_architectures
from infoflow.registry import Command, Paper, ReproduceTarget, register

register(
    Paper(
        name="kong2019",
        title="Kong (2019), Information Compression in Simple Neural Networks",
        configs=resources.files(__name__) / "configs",
        presets=preset_architectures(),
        build_preset=build_preset,
        reproduce=ReproduceTarget(
            run="infoflow.papers.kong2019.reproduce:reproduce",
            help="the paper's experiments fig2..fig6 (or the shipped experiments named), claims C1-C7, report.md",
            default=True,
        ),
        commands=(
            Command(
                name="accuracy",
                help="measure SP's bias and SD against the exact MI on the seed's trained networks",
                add_arguments=add_accuracy_arguments,
                run="infoflow.papers.kong2019.commands:run_accuracy_command",
            ),
        ),
    )
)
