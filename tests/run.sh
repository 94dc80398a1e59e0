#!/usr/bin/env bash
# Set up (first run) and run the whole test suite:  bash tests/run.sh [pytest args...]
set -euo pipefail
source "$(dirname "$0")/../.ci/bootstrap"
cd "$repo"
# -p no:cacheprovider: leave no .pytest_cache behind in the checkout.
exec python -m pytest -p no:cacheprovider -ra "$@"
