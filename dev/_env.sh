# Shared by dev/test.sh and dev/demo.sh: a virtual environment of the project's own at .venv,
# so nothing depends on what happens to be installed on the machine.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
VENV_PY="$PWD/.venv/bin/python"

apt_install() {
  # Debian packages (chromium for the browser tests, nodejs to read web/protocol.js).
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
  fi
}
