# Each virtualenv given, in one block: "== <path>", the interpreter's version and prefix, then pip
# freeze. A path without an interpreter is left out. (deploy.yml and fetch.yml run it.)
for venv in "$@"; do
  [ -x "$venv/bin/python" ] || continue
  echo "== $venv"
  "$venv/bin/python" -c 'import sys; print(sys.version.split()[0]); print(sys.base_prefix)'
  "$venv/bin/pip" freeze --disable-pip-version-check
done
