"""Command line: `python -m analysis {report,compare,seed,headline,calibrate} ...`
(also `channels-bench-analysis`).

Exit status: 0 when everything was read and written; 1 when the outputs were written but some
files of a run could not be read (each problem is printed on stderr and listed in the output);
2 when an input is not a run directory at all or the arguments are wrong; 3 when a calibration
was judged and failed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import _plots, _style
from ._analysis import analyse
from ._calibrate import CalibrationError, write_calibration
from ._compare import render_comparison
from ._headline import headline
from ._load import RunReadError, load_run
from ._model import Problem, Run
from ._report import draw_chart, write_report
from ._seed_report import seed_markdown
from ._timeline import DEFAULT_BIN_S, BinError, usable_bin

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_BAD_INPUT = 2
EXIT_CALIBRATION_FAILED = 3


@dataclass(frozen=True)
class Command:
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def _say_problems(run: Run, problems: Sequence[Problem]) -> int:
    for problem in problems:
        print(
            f"analysis: {problem.severity}: {run.path / problem.file}: {problem.message}",
            file=sys.stderr,
        )
    return EXIT_PROBLEMS if any(p.severity == "error" for p in problems) else EXIT_OK


def _bin(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r}: the interval must be above 0 s")
    return value


def _run_arguments(parser: argparse.ArgumentParser, output_help: str | None) -> None:
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="results/<run_id>")
    if output_help:
        parser.add_argument("-o", "--output", type=Path, help=output_help)


def _report_arguments(parser: argparse.ArgumentParser) -> None:
    _run_arguments(parser, "directory to write into (default: RUN_DIR)")
    parser.add_argument(
        "--bin",
        type=_bin,
        default=None,
        metavar="SECONDS",
        help=f"interval of the throughput-over-time chart (default {DEFAULT_BIN_S:g} s, as the "
        "seed drew it; a whole multiple of the harness's timeline bin)",
    )


def _report(args: argparse.Namespace) -> int:
    run = load_run(args.run_dir)
    try:
        bin_s, note = usable_bin(args.bin, [rep.timeline for rep in run.reps if rep.timeline])
    except BinError as error:
        print(f"analysis: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if note:
        print(f"analysis: note: {note}", file=sys.stderr)
    result = write_report(run, args.output or args.run_dir, bin_s, note)
    for path in result.written:
        print(f"wrote {path}")
    return _say_problems(run, result.problems)


def _compare_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("base", type=Path, metavar="BASE_RUN", help="the run compared against")
    parser.add_argument("contender", type=Path, metavar="CONTENDER_RUN", help="the new run")
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        help="also write the markdown to this file (it always goes to stdout)",
    )


def _compare(args: argparse.Namespace) -> int:
    base, contender = load_run(args.base), load_run(args.contender)
    markdown = render_comparison(base, contender)
    sys.stdout.write(markdown)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(markdown, encoding="utf-8")
    return max(_say_problems(base, base.problems), _say_problems(contender, contender.problems))


def _seed(args: argparse.Namespace) -> int:
    run = load_run(args.run_dir)
    analysis = analyse(run)
    output: Path = args.output or args.run_dir
    output.mkdir(parents=True, exist_ok=True)
    chart = next(c for c in _plots.CHARTS if c.name == "seed-comparison")
    problems = list(run.problems)
    written = draw_chart(chart, analysis, output, problems)
    sys.stdout.write(seed_markdown(run, analysis.summaries, heading="#"))
    for path in written:
        sys.stdout.write(f"\nChart: {path}")
    sys.stdout.write("\n")
    return _say_problems(run, problems)


def _headline(args: argparse.Namespace) -> int:
    run = load_run(args.run_dir)
    with _style.chart_context():
        print(headline(analyse(run)))
    return _say_problems(run, run.problems)


def _calibrate(args: argparse.Namespace) -> int:
    try:
        passed, text = write_calibration(args.run_dir)
    except CalibrationError as error:
        print(f"analysis: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    sys.stdout.write(text)
    return EXIT_OK if passed else EXIT_CALIBRATION_FAILED


COMMANDS = {
    "report": Command(
        "summary.json, charts (PNG and SVG) and report.md for one run", _report_arguments, _report
    ),
    "compare": Command(
        "what differs in method between two runs, then which result differences are real",
        _compare_arguments,
        _compare,
    ),
    "seed": Command(
        "each of the seed's published figures next to the same test and statistic of a run",
        lambda parser: _run_arguments(
            parser, "directory for seed-comparison.png and .svg (default: RUN_DIR)"
        ),
        _seed,
    ),
    "calibrate": Command(
        "judge a calibration run (playbooks/calibrate.yml): known delays against the instrument",
        lambda parser: _run_arguments(parser, None),
        _calibrate,
    ),
    "headline": Command(
        "the run's answer in one paragraph: which setup, by how much, can I trust it",
        lambda parser: _run_arguments(parser, None),
        _headline,
    ),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m analysis",
        description="Charts, reports and comparisons of channels-bench results.",
        epilog="Exit status: 0 all read; 1 written, but some files could not be read; 2 bad input; "
        "3 a calibration failed.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, command in COMMANDS.items():
        sub = commands.add_parser(name, help=command.help, description=command.help)
        command.add_arguments(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command].run(args)
    except RunReadError as error:
        print(f"analysis: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
