"""Goldfeld et al. (2019), Estimating Information Flow in Deep Neural Networks: the SZT experiment (§6).

Importing this package registers what the paper ships (:mod:`infoflow.registry`).
"""

from importlib import resources

from infoflow.registry import Paper, ReproduceTarget, register

register(
    Paper(
        name="goldfeld2019",
        title="Goldfeld et al. (2019), Estimating Information Flow in Deep Neural Networks",
        configs=resources.files(__name__) / "configs",
        reproduce=ReproduceTarget(
            run="infoflow.papers.goldfeld2019.reproduce:reproduce",
            help="the SZT experiment (§6) into DIR/szt, its figures and DIR/szt_report.md",
        ),
    )
)
