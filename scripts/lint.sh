#!/usr/bin/env bash
# `make lint`: every static check, over the whole tree. Each check runs even when an earlier one
# failed, so that one run shows every finding; the exit status is non-zero if any check failed.
#   yamllint (.yamllint), ansible-lint with the production profile (.ansible-lint), ruff, mypy on
#   the typed helper scripts, ansible-playbook --syntax-check of every playbook, and the check
#   that each role's argument spec and defaults name the same variables.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/${VENV:-.venv}/bin:$PATH"
# Findings as plain text: CI logs are read without a terminal.
export NO_COLOR=1 ANSIBLE_NOCOLOR=1 PY_COLORS=0

failed=()

check() {
  local name=$1
  shift
  echo "== lint: $name"
  if ! "$@"; then
    failed+=("$name")
  fi
}

syntax_check_playbooks() {
  local playbook status=0
  for playbook in playbooks/*.yml bench.yml; do
    [ -f "$playbook" ] || continue
    if ansible-playbook --syntax-check "$playbook" >/dev/null 2>"${TMPDIR:-/tmp}/syntax-check.$$"; then
      echo "ok: $playbook"
    else
      echo "FAILED: $playbook"
      cat "${TMPDIR:-/tmp}/syntax-check.$$"
      status=1
    fi
  done
  rm -f "${TMPDIR:-/tmp}/syntax-check.$$"
  return "$status"
}

check yamllint yamllint --strict .
check ansible-lint ansible-lint --nocolor
check ruff ruff check .
check mypy mypy --strict scripts/check_role_specs.py
check syntax-check syntax_check_playbooks
check role-specs python scripts/check_role_specs.py

if [ "${#failed[@]}" -gt 0 ]; then
  echo "lint: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "lint: all checks passed"
