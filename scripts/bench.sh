#!/usr/bin/env bash
# `make bench`: the benchmark on this machine (every setup unless SETUP says otherwise), ending
# with the paths of the report and charts of the run it made.
set -uo pipefail
cd "$(dirname "$0")/.."
setup=${SETUP:-all}
# shellcheck disable=SC2086 # BENCH_ARGS is a list of ansible-playbook arguments
.venv/bin/ansible-playbook bench.yml -e "setup=$setup" ${BENCH_ARGS:-}
status=$?
run_dir=$(readlink -f results/latest 2>/dev/null || true)
if [ -n "$run_dir" ] && [ -f "$run_dir/run.json" ]; then
  echo
  echo "Run:    $run_dir ($(.venv/bin/python -c 'import json,sys; print(json.load(open(sys.argv[1]))["status"])' "$run_dir/run.json"))"
  [ -f "$run_dir/report.md" ] && echo "Report: $run_dir/report.md"
  for chart in "$run_dir"/*.png; do
    [ -f "$chart" ] && echo "Chart:  $chart"
  done
fi
exit $status
