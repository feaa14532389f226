#!/usr/bin/env bash
# The README's test command, and what .ci/run calls: installs what the suite needs into .venv
# (and Debian's chromium, haproxy and postgresql for the browser and deployment tests), then runs pytest. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'

# Browser tests drive Debian's chromium (never a browser downloaded by a tool); the deployment test
# (tests/test_deploy.py) Debian's haproxy and postgresql.
bash scripts/install_system_packages.sh

exec .venv/bin/python -m pytest "$@"
