#!/usr/bin/env bash
# Install what the tests need and run them: `bash dev/test.sh` (extra arguments go to pytest).
source "$(dirname "$0")/_env.sh"
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v node >/dev/null || missing+=(nodejs)
if [ "${#missing[@]}" -gt 0 ]; then apt_install "${missing[@]}"; fi
"$VENV_PY" -m pip install -q -r requirements-test.txt
# TypeScript's checker enforces the web modules' // @ts-check (no build step: it only checks).
if [ ! -x .venv/tsc/node_modules/.bin/tsc ]; then
  command -v npm >/dev/null || apt_install npm
  npm install --silent --no-audit --no-fund --prefix .venv/tsc typescript@5.9.3 >/dev/null
fi
exec "$VENV_PY" -m pytest "$@"
