"""Goldfeld et al. (2019), Estimating Information Flow in Deep Neural Networks: the SZT experiment (§6),
its orthonormality variant (``infoflow orthonormal``) and the digits CNN.

Importing this package registers what the paper ships (:mod:`infoflow.registry`).
"""

from importlib import resources

from infoflow.papers.goldfeld2019.commands import add_orthonormal_arguments
from infoflow.registry import Command, Paper, ReproduceTarget, register

register(
    Paper(
        name="goldfeld2019",
        title="Goldfeld et al. (2019), Estimating Information Flow in Deep Neural Networks",
        configs=resources.files(__name__) / "configs",
        reproduce=ReproduceTarget(
            run="infoflow.papers.goldfeld2019.reproduce:reproduce",
            help="the SZT experiment (§6) into DIR/szt, its figures and DIR/szt_report.md",
        ),
        commands=(
            Command(
                name="orthonormal",
                help="SZT with and without the orthonormality constraint: does it mitigate compression? (report)",
                add_arguments=add_orthonormal_arguments,
                run="infoflow.papers.goldfeld2019.commands:run_orthonormal_command",
            ),
        ),
    )
)

# The digits CNN experiment (beyond §6: a noisy CNN and its deterministic twin on the shipped digits)
# is its own reproduce target, `infoflow reproduce goldfeld2019-digits`.
register(
    Paper(
        name="goldfeld2019-digits",
        title="Goldfeld et al. (2019): a noisy CNN and its deterministic twin on the 8x8 digits",
        reproduce=ReproduceTarget(
            run="infoflow.papers.goldfeld2019.digits_reproduce:reproduce",
            help="the digits CNN experiment (3 seeds) into DIR/digits and DIR/digits_report.md",
        ),
    )
)
