#!/usr/bin/env bash
# Create (or refresh) the controller virtualenv in .venv with the pinned tools of
# requirements/controller.txt. Idempotent: pip runs only when the requirements changed.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${VENV:-.venv}
requirements=requirements/controller.txt
stamp="$venv/.requirements.sha256"

find_python() {
  local candidate version
  for candidate in "${CONTROLLER_PYTHON:-}" python3.13 python3.12 python3.11 python3 \
      "$HOME"/.pyenv/versions/3.1[123].*/bin/python3; do
    [ -n "$candidate" ] || continue
    command -v "$candidate" >/dev/null 2>&1 || continue
    # pyenv shims exist for versions that are not active: those fail here and are skipped.
    version=$("$candidate" -c 'import sys; print("%d%02d" % sys.version_info[:2])' 2>/dev/null) || continue
    if [ "$version" -ge 311 ] && [ "$version" -le 313 ]; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}

want=$(sha256sum "$requirements" pyproject.toml | sha256sum | cut -d' ' -f1)
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi

if ! python=$(find_python); then
  echo "bootstrap: the controller needs Python 3.11, 3.12 or 3.13 (Ansible 12 runs on those)." >&2
  echo "bootstrap: install one (apt-get install python3 on Debian 12, or pyenv install 3.11)" >&2
  echo "bootstrap: or point CONTROLLER_PYTHON at it." >&2
  exit 1
fi
echo "bootstrap: controller virtualenv $venv from $python"
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
"$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -e .
echo "$want" > "$stamp"
