#!/usr/bin/env python3
"""Close runs whose controller is gone, so that run.json never says "running" for a dead run.

  run_status.py interrupted RUN_DIR    the controller was stopped (Ctrl-C): status interrupted
  run_status.py abandon RESULTS_DIR    every run still "running" whose owner process (run.json
                                       owner.pid on owner.hostname, this host) no longer exists
                                       becomes "abandoned", and a load generator of it still
                                       running here is stopped; prints each one

Only run.json's status, ended_at and failure change; nothing measured is touched.
(module_utils/channels_bench_runs.py holds the rules; plan.yml applies them too, through the
bench_run module, before each new run.)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from module_utils import channels_bench_runs as runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["interrupted", "abandon"])
    parser.add_argument("path", type=Path)
    arguments = parser.parse_args(argv)
    if not arguments.path.is_dir():
        print(f"run_status: {arguments.path}: not a directory", file=sys.stderr)
        return 2
    if arguments.action == "interrupted":
        closed = runs.close(
            arguments.path / "run.json", "interrupted", "interrupted by the user (SIGINT)"
        )
        print(f"run_status: {arguments.path.name}: {'interrupted' if closed else 'left as it was'}")
        return 0
    for line in runs.abandon(arguments.path):
        print(f"run_status: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
