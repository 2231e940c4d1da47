"""The ``infoflow`` command: argument parsing and one-line errors, nothing else.

    infoflow run CONFIG_OR_NAME --out DIR [--force | --resume] [--seeds K] [--jobs N] [--no-progress]
    infoflow show NAME
    infoflow plot RUN_DIR
    infoflow reproduce [PAPER | fig2 ...] --out DIR [--seeds K] [--jobs N] [--no-progress]
    infoflow sweep SPEC.toml --out DIR [--scheduler ADDRESS | --workers N] [--no-progress]
    infoflow COMMAND ...            a paper's own command (`infoflow --help` lists them)

Papers, their experiments, reproduce targets and commands come from :mod:`infoflow.registry`.

Every error a user can cause (bad config, bad arguments, an occupied output folder, a diverging
run) prints one line, ``infoflow: error: ...``, on stderr and exits with code 2. A sweep whose
cells partly failed writes its tables, prints one line per failed cell and exits with code 1.
"""

from __future__ import annotations

import argparse
import importlib
import shlex
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from infoflow import registry
from infoflow.allocator import tune_this_process
from infoflow.config.schema import load_config, shipped_config_text, shipped_experiments, with_seeds
from infoflow.sweeps.executor import RunsFailed
from infoflow.training.experiment import run_experiment
from infoflow.training.trainer import TrainingDiverged

EXIT_USAGE = 2
EXIT_CELLS_FAILED = 1
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """A command-line mistake caught by the parser."""


class UnavailableError(Exception):
    """A subcommand whose module is not installed."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors become one line (argparse prints usage plus a line)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1; got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1; got {value}")
    return value


# ----------------------------------------------------------------------------------------------
# Subcommands
# ----------------------------------------------------------------------------------------------


def _lazy(module_name: str, attribute: str) -> Any:
    """Return ``module.attribute``, imported only when its subcommand runs (matplotlib is slow)."""
    try:
        module = importlib.import_module(module_name)
        return getattr(module, attribute)
    except (ImportError, AttributeError) as error:
        raise UnavailableError(f"{module_name}.{attribute} is not available in this installation ({error})") from None


def _command_run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if args.seeds is not None:
        config = with_seeds(config, args.seeds)
    if not (args.force or args.resume) and _lazy("infoflow.sweeps.seeds", "splits_by_seed")(config, args.out):
        # Several seeds into a new folder: one Dask task per seed (the same files as one by one).
        run_seeds = _lazy("infoflow.sweeps.seeds", "run_seeds")
        command = shlex.join(["infoflow", *args.argv])
        print(run_seeds(config, args.out, workers=args.jobs, progress=not args.no_progress, command=command))
        return 0
    run_dir = run_experiment(
        config,
        args.out,
        force=args.force,
        resume=args.resume,
        progress=not args.no_progress,
        command=shlex.join(["infoflow", *args.argv]),
    )
    # The run folder's figures/ (the same drawing as `infoflow plot RUN_DIR`).
    plot_run = _lazy("infoflow.plots.run_figures", "plot_run")
    plot_run(run_dir)
    print(run_dir)
    return 0


def _command_show(args: argparse.Namespace) -> int:
    sys.stdout.write(shipped_config_text(args.name))
    return 0


def _command_plot(args: argparse.Namespace) -> int:
    plot_run = _lazy("infoflow.plots.run_figures", "plot_run")
    for path in plot_run(args.run_dir) or []:
        print(path)
    return 0


def _command_reproduce(args: argparse.Namespace) -> int:
    targets = registry.reproduce_targets()
    papers = [name for name in args.names if name in targets]
    if papers:
        if args.names != papers[:1]:
            raise UsageError(f"reproduce {papers[0]} takes no other experiment names")
        target, names = targets[papers[0]], []
    else:
        _, target = registry.default_reproduce_target()
        names = args.names
    reproduce = _lazy(*target.run.split(":"))
    report = reproduce(
        names,
        args.out,
        seeds=args.seeds,
        progress=not args.no_progress,
        command=shlex.join(["infoflow", *args.argv]),
        jobs=args.jobs,
        scheduler=args.scheduler,
    )
    print(report)
    return 0


def _command_sweep(args: argparse.Namespace) -> int:
    run_sweep = _lazy("infoflow.sweeps", "run_sweep")
    result = run_sweep(
        args.spec,
        args.out,
        scheduler=args.scheduler,
        workers=args.workers,
        progress=not args.no_progress,
        command=shlex.join(["infoflow", *args.argv]),
    )
    for outcome in result.failed:
        print(f"infoflow: cell {outcome.label} failed: {outcome.message}", file=sys.stderr)
    print(result.summary)
    return EXIT_CELLS_FAILED if result.failed else 0


def _paper_command(reference: str) -> Any:
    """Return the handler of a paper's command: ``args -> exit code``, imported when it runs."""

    def handler(args: argparse.Namespace) -> int:
        return _lazy(*reference.split(":"))(args)

    return handler


def build_parser() -> argparse.ArgumentParser:
    """Return the ``infoflow`` argument parser, one subparser per subcommand."""
    from infoflow import __version__

    parser = _Parser(prog="infoflow", description="Information flow in noisy neural networks.")
    parser.add_argument("--version", action="version", version=f"infoflow {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    run = commands.add_parser("run", help="train an experiment and record its information flow into a run folder")
    run.add_argument("config", metavar="CONFIG_OR_NAME", help="a shipped experiment (e.g. fig2) or a TOML config file")
    run.add_argument(
        "--out", required=True, metavar="DIR", help="the run folder to write (absent or empty, unless --force/--resume)"
    )
    overwrite = run.add_mutually_exclusive_group()
    overwrite.add_argument("--force", action="store_true", help="replace an existing infoflow run in DIR")
    overwrite.add_argument("--resume", action="store_true", help="continue the run in DIR from its last checkpoint")
    run.add_argument("--seeds", type=_positive_int, metavar="K", help="run seeds 0..K-1 instead of the config's seeds")
    run.add_argument(
        "--jobs", type=_positive_int, metavar="N", help="with several seeds: seeds run at once (default: one per CPU core)"
    )
    run.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    run.set_defaults(handler=_command_run)

    show = commands.add_parser("show", help="print a shipped experiment's TOML")
    show.add_argument("name", metavar="NAME", help=f"one of {', '.join(shipped_experiments())}")
    show.set_defaults(handler=_command_show)

    plot = commands.add_parser("plot", help="draw a run folder's figures into RUN_DIR/figures")
    plot.add_argument("run_dir", metavar="RUN_DIR")
    plot.set_defaults(handler=_command_plot)

    targets = registry.reproduce_targets()
    default_paper, _ = registry.default_reproduce_target()
    reproduce = commands.add_parser(
        "reproduce",
        help=f"run a paper's experiments (default {default_paper}; or {', '.join(targets)}), then figures and a report",
    )
    reproduce.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help="a paper alone ("
        + "; ".join(f"{name}: {target.help}" for name, target in targets.items())
        + f"), or shipped experiments to run as {default_paper} does (default: its own)",
    )
    reproduce.add_argument("--out", required=True, metavar="DIR", help="writes DIR/fig2 ... and the report")
    reproduce.add_argument("--seeds", type=_positive_int, metavar="K", help="run seeds 0..K-1")
    reproduce_cluster = reproduce.add_mutually_exclusive_group()
    reproduce_cluster.add_argument(
        "--jobs", type=_positive_int, metavar="N", help="experiments run at once (default: one per CPU core)"
    )
    reproduce_cluster.add_argument(
        "--scheduler", metavar="ADDRESS", help="run on a running Dask cluster (tcp://host:8786 or a scheduler file)"
    )
    reproduce.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    reproduce.set_defaults(handler=_command_reproduce)

    sweep = commands.add_parser(
        "sweep", help="run every (grid point, seed) cell of a sweep spec on Dask; gather summary.csv and figures"
    )
    sweep.add_argument("spec", metavar="SPEC.toml", help="experiment, seeds, [set] overrides and a [grid]")
    sweep.add_argument(
        "--out", required=True, metavar="DIR", help="the sweep folder (absent, empty, or an earlier sweep's: reused)"
    )
    cluster = sweep.add_mutually_exclusive_group()
    cluster.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="a running Dask scheduler (tcp://host:8786 or a scheduler file); default a local cluster",
    )
    cluster.add_argument(
        "--workers", type=_positive_int, metavar="N", help="local cluster workers (default: one per CPU core)"
    )
    sweep.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    sweep.set_defaults(handler=_command_sweep)

    for command in registry.commands().values():
        extra = commands.add_parser(command.name, help=command.help)
        command.add_arguments(extra)
        extra.set_defaults(handler=_paper_command(command.run))
    return parser


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text or type(error).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``infoflow`` command and return its exit code.

    ``argv`` None: the process's own command line, and the process is the command's (the console
    script, ``python -m infoflow``): its allocator is tuned for runs (:mod:`infoflow.allocator`).
    """
    if argv is None:
        tune_this_process()
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(arguments)
        args.argv = arguments
        return args.handler(args)
    except UsageError as error:
        print(f"infoflow: error: {_one_line(error)}", file=sys.stderr)
        return EXIT_USAGE
    except (ValueError, OSError, TrainingDiverged, UnavailableError) as error:
        # ConfigError is a ValueError; FileExistsError an OSError.
        print(f"infoflow: error: {_one_line(error)}", file=sys.stderr)
        return EXIT_USAGE
    except RunsFailed as error:
        # The runs that worked are written (report, tables); the failed ones are named.
        print(f"infoflow: {_one_line(error)}", file=sys.stderr)
        return EXIT_CELLS_FAILED
    except KeyboardInterrupt:
        print("infoflow: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
