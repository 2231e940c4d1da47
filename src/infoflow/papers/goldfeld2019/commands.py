"""Goldfeld et al. (2019)'s extra ``infoflow`` subcommand, ``orthonormal``: its arguments and handler.

Light on purpose (argparse only): the registry imports it when ``infoflow`` is imported; the
comparison itself (``orthonormal``) is imported when the command runs.
"""

from __future__ import annotations

import argparse


def add_orthonormal_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``infoflow orthonormal``'s arguments to its subparser."""
    parser.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="writes DIR/szt-plain, DIR/szt-orthonormal (resumed or reused when there) and DIR/orthonormal_report.md",
    )
    parser.add_argument("--seeds", type=_at_least(1), default=3, metavar="K", help="seeds 0..K-1 of each (default 3)")
    parser.add_argument(
        "--alpha", type=_alpha, default=None, metavar="A", help="the orthonormality step (default: szt-orthonormal's)"
    )
    parser.add_argument(
        "--epochs", type=_at_least(1), default=None, metavar="N", help="train N epochs (default: the configs' 10000)"
    )
    parser.add_argument(
        "--points",
        type=_at_least(2),
        default=None,
        metavar="P",
        help="measure at P log-spaced epochs (default: the configs' 84)",
    )
    parser.add_argument(
        "--no-bounds", action="store_true", help="record bare estimates, no bounds (each measurement ~3x cheaper)"
    )
    parser.add_argument(
        "--jobs",
        type=_at_least(1),
        default=None,
        metavar="N",
        help="run the (variant, seed) pairs as N parallel worker processes (default: one after the other)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress lines on stderr")


def _at_least(low: int):  # type: ignore[no-untyped-def]
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if value < low:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {text!r}")
        return value

    return parse


def _alpha(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1), got {text!r}")
    return value


def run_orthonormal_command(args: argparse.Namespace) -> int:
    """Run ``infoflow orthonormal`` and print the report's path; return the exit code."""
    from infoflow.papers.goldfeld2019.orthonormal import compare_orthonormal

    print(
        compare_orthonormal(
            args.out,
            seeds=args.seeds,
            alpha=args.alpha,
            epochs=args.epochs,
            points=args.points,
            bounds=False if args.no_bounds else None,
            progress=not args.no_progress,
            jobs=args.jobs,
        )
    )
    return 0
