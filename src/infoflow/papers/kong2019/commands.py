"""Kong 2019's extra ``infoflow`` subcommand, ``accuracy``: its arguments and its handler.

Light on purpose (argparse only): the registry imports it when ``infoflow`` is imported; the
study itself (``accuracy``) is imported when the command runs.
"""

from __future__ import annotations

import argparse


def add_accuracy_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``infoflow accuracy``'s arguments to its subparser."""
    parser.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="writes DIR/accuracy.csv, .md, .png, .svg and DIR/coverage.csv (DIR absent or empty, unless --force)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="a tiny study in seconds: 2 experiments, n in {100, 300}, 3 repeats"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="write into a non-empty DIR, replacing only its accuracy.* and coverage.csv files",
    )
    parser.add_argument(
        "--coverage-seeds",
        type=_non_negative_int,
        default=None,
        metavar="N",
        help="estimation seeds per case of the coverage study (default 20; 2 on 3 cases with --quick; 0 skips it)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress lines on stderr")


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0 (0 skips the coverage study), got {text!r}")
    return value


def run_accuracy_command(args: argparse.Namespace) -> int:
    """Run ``infoflow accuracy`` and print the report's path; return the exit code."""
    from infoflow.papers.kong2019.accuracy import run_accuracy_study

    print(
        run_accuracy_study(
            args.out,
            quick=args.quick,
            force=args.force,
            progress=not args.no_progress,
            coverage_seeds=args.coverage_seeds,
        )
    )
    return 0
