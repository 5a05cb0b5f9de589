# Sourced by the other scripts: the project's venv and Node first on PATH, Reflex offline-friendly.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CLOUDTRACK_VENV:-$ROOT/.venv}"
export PATH="$VENV/bin:$PATH"
export REFLEX_USE_NPM=1
export REFLEX_TELEMETRY_ENABLED=false
export REFLEX_CHECK_LATEST_VERSION=false
export PYTHONUNBUFFERED=1
