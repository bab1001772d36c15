#!/usr/bin/env bash
# `make bench`: the benchmark on this machine (every setup of the stack unless SETUP says
# otherwise), one line per measurement on the terminal (the whole Ansible output goes to
# results/<run_id>/ansible.log), ending with the report's answer and the paths of the run.
# Ctrl-C stops the load generator and nothing else, marks the run interrupted, keeps what was
# measured, and exits 130.
set -uo pipefail
cd "$(dirname "$0")/.."
setup=${SETUP:-all}
stack=${STACK:-2016}
python=.venv/bin/python

# The plan stage writes the run's directory here (wherever -e bench_results_dir puts it).
run_dir_file=$(mktemp)
trap 'rm -f "$run_dir_file"' EXIT
export CHANNELS_BENCH_RUN_DIR_FILE=$run_dir_file
run_dir() { cat "$run_dir_file" 2>/dev/null || true; }

on_interrupt() {
  trap '' INT TERM
  local dir
  dir=$(run_dir)
  if [ -n "$dir" ] && [ -f "$dir/run.json" ]; then
    # The driver of this run only: its spec file lies under the run's own output directory.
    pkill -TERM -f "driver.mjs .*/$(basename "$dir")/" 2>/dev/null || true
    "$python" scripts/run_status.py interrupted "$dir"
  fi
  exit 130
}
trap on_interrupt INT TERM

export CHANNELS_BENCH_PROGRESS=1
# shellcheck disable=SC2086 # BENCH_ARGS is a list of ansible-playbook arguments
.venv/bin/ansible-playbook bench.yml -e "setup=$setup" -e "stack=$stack" ${BENCH_ARGS:-} &
wait $!
status=$?
# Ctrl-C reaches ansible-playbook too. When it has exited ("User interrupted execution", 99)
# before bash takes its own SIGINT, bash may drop that signal as handled by the child, and the
# trap never runs: the generator kept going and run.json stayed "running".
if [ "$status" -eq 99 ]; then
  on_interrupt
fi
dir=$(run_dir)
if [ -n "$dir" ] && [ -f "$dir/run.json" ]; then
  echo
  if [ -f "$dir/report.md" ]; then
    "$python" -m analysis headline "$dir" 2>/dev/null || true
    echo
  fi
  echo "Run:    $dir ($("$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["status"])' "$dir/run.json"))"
  [ -f "$dir/report.md" ] && echo "Report: $dir/report.md"
  for chart in "$dir"/*.png; do
    [ -f "$chart" ] && echo "Chart:  $chart"
  done
  echo "Log:    $dir/ansible.log"
fi
exit $status
