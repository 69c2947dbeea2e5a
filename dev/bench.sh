#!/usr/bin/env bash
# Install what the benchmarks need and run them: `bash dev/bench.sh` (arguments go to `python -m dev.bench`).
source "$(dirname "$0")/_env.sh"
"$VENV_PY" -m pip install -q -r requirements-test.txt
exec "$VENV_PY" -m dev.bench "$@"
