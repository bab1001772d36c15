#!/usr/bin/env bash
# `make test`: everything CI checks, on this machine, with real parts (see README "Tests").
#   lint -> container image for molecule -> one pytest run: analysis and harness unit tests,
#   real deploys of the three setups, the benchmark end to end, EC2 against moto, molecule.
# PYTEST_MARKERS narrows it to a marker expression (PYTEST_MARKERS="not molecule" make test);
# PYTEST_ARGS replaces the paths and options given to pytest (PYTEST_ARGS=tests/analysis).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"

echo "== lint"
scripts/lint.sh

if [ -x scripts/molecule-prepare.sh ]; then
  echo "== container image for molecule"
  scripts/molecule-prepare.sh
fi

echo "== tests"
# The slowest tests close the output: CI has 90 minutes, and this says where they go.
# shellcheck disable=SC2086 # PYTEST_ARGS is a list of pytest arguments
exec python -m pytest -ra --durations=30 ${PYTEST_MARKERS:+-m "$PYTEST_MARKERS"} ${PYTEST_ARGS:-tests}
