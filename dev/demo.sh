#!/usr/bin/env bash
# Install the pack's runtime needs and run the demo: `bash dev/demo.sh` (then open the printed URL).
source "$(dirname "$0")/_env.sh"
"$VENV_PY" -m pip install -q -r requirements.txt
exec "$VENV_PY" -m dev.harness.demo "$@"
