"""Command line: `python -m analysis {report,compare,seed} ...` (also `channels-bench-analysis`).

Exit status: 0 when everything was read and written; 1 when the outputs were written but some
files of a run could not be read (each problem is printed on stderr and listed in the output);
2 when an input is not a run directory at all or the arguments are wrong.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ._compare import render_comparison
from ._load import RunReadError, load_run
from ._model import Problem, Run
from ._plots import seed_chart
from ._report import write_report
from ._seed import seed_markdown
from ._summary import summarize_tests

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_BAD_INPUT = 2


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


def _report_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="results/<run_id>")
    parser.add_argument(
        "-o", "--output", type=Path, help="directory to write into (default: RUN_DIR)"
    )


def _report(args: argparse.Namespace) -> int:
    run = load_run(args.run_dir)
    result = write_report(run, args.output or args.run_dir)
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


def _seed_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="results/<run_id>")
    parser.add_argument(
        "-o", "--output", type=Path, help="directory for seed-comparison.png (default: RUN_DIR)"
    )


def _seed(args: argparse.Namespace) -> int:
    run = load_run(args.run_dir)
    summaries = summarize_tests(run)
    output: Path = args.output or args.run_dir
    output.mkdir(parents=True, exist_ok=True)
    seed_chart(run, summaries, output / "seed-comparison.png")
    sys.stdout.write(seed_markdown(run, summaries, heading="#"))
    sys.stdout.write(f"\nChart: {output / 'seed-comparison.png'}\n")
    return _say_problems(run, run.problems)


COMMANDS = {
    "report": Command("summary.json, charts and report.md for one run", _report_arguments, _report),
    "compare": Command(
        "which differences between two runs are real (markdown)", _compare_arguments, _compare
    ),
    "seed": Command("the seed's published latencies next to a run's", _seed_arguments, _seed),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m analysis",
        description="Charts, reports and comparisons of channels-bench results.",
        epilog="Exit status: 0 all read; 1 written, but some files could not be read; 2 bad input.",
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
