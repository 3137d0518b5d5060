# Sourced by scripts/run and scripts/test: make .venv and install the requirements when
# they changed since the last install. Usage: source scripts/_venv.sh [dev]
set -euo pipefail
requirements=requirements.txt
[ "${1:-}" = dev ] && requirements=requirements-dev.txt
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
fi
stamp=".venv/.installed-$(cat requirements.txt "$requirements" | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install --quiet -r "$requirements"
  touch "$stamp"
fi
export PATH="$PWD/.venv/bin:$PATH"
