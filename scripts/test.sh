#!/usr/bin/env bash
# Sets up (scripts/setup.sh), then runs ruff and the whole test suite against the real Nix.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
exec .venv/bin/python -m pytest -q "$@"
