#!/usr/bin/env python3
"""What a run costs beyond its load: wall-clock time of `ansible-playbook bench.yml` divided by
the load the plan asked for (every warm-up, measured and reference run: run.json plan.load_s).

  .venv/bin/python benchmarks/overhead.py                  # one setup (2016/gunicorn), default plan
  .venv/bin/python benchmarks/overhead.py --setup all      # the three 2016 setups
  .venv/bin/python benchmarks/overhead.py --profile smoke --runs 2

Run it on a warm machine (the stacks deployed once already, e.g. after `make bench`), so that
it measures the harness, not pip. Targets (issue 9): one setup, default plan, at most 1.25 x its
planned load; all three 2016 setups within 11 minutes. Runs go to a temporary results directory.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def bench(setup: str, profile: str, results: Path) -> tuple[float, dict, list[str]]:
    started = time.monotonic()
    completed = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "bench.yml",
         "-e", f"setup={setup}", "-e", f"profile={profile}", "-e", f"bench_results_dir={results}"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    wall = time.monotonic() - started
    if completed.returncode != 0:
        sys.exit(f"bench.yml failed:\n{completed.stdout[-3000:]}{completed.stderr[-2000:]}")
    run_dir = (results / "latest").resolve()
    return wall, json.loads((run_dir / "run.json").read_text()), recap(completed.stdout)


def recap(output: str, lines: int = 12) -> list[str]:
    """The slowest tasks, from the end of the channels_bench callback's output."""
    _, _, tail = output.rpartition("WHERE THE TIME WENT")
    return [
        line
        for line in tail.splitlines()[1:]
        if line.strip().endswith(tuple("abcdefghijklmnopqrstuvwxyz)]0123456789")) and " s  " in line
    ][:lines]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setup", default="gunicorn", help="as -e setup= (default gunicorn)")
    parser.add_argument("--profile", default="default")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("-v", "--verbose", action="store_true", help="list the slowest tasks")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="channels-bench-overhead.") as temporary:
        for index in range(1, arguments.runs + 1):
            wall, run, slowest = bench(arguments.setup, arguments.profile, Path(temporary))
            load = float(run["plan"]["load_s"])
            print(
                f"run {index}: setups {', '.join(run['setups'])}, profile {arguments.profile}: "
                f"{wall:.0f} s wall-clock for {load:.0f} s of planned load = "
                f"{wall / load:.2f} x ({(wall - load):.0f} s of harness; status {run['status']})"
            )
            if arguments.verbose:
                print("  slowest tasks (the load itself is the first):")
                print("\n".join(f"  {line.strip()}" for line in slowest))
    return 0


if __name__ == "__main__":
    sys.exit(main())
