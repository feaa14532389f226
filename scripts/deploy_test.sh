#!/usr/bin/env bash
# The deployment test alone: HAProxy, two dashboard servers, two schedulers and Debian's PostgreSQL on
# loopback (tests/test_deploy.py). As root it installs Debian's haproxy, postgresql and chromium first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_system_packages.sh
if [ ! -x .venv/bin/python ]; then
  "${PYTHON:-python3.11}" -m venv .venv
fi
.venv/bin/python -m pip install --quiet -e '.[test]'
exec .venv/bin/python -m pytest tests/test_deploy.py -m deploy "$@"
