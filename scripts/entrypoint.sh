#!/usr/bin/env bash
# Starts CloudTrack in production mode: migrations first, then the app on one port.
# The container's entrypoint, also run by `make run` and by the test suite.
# PORT (default 3000) picks the port; DATABASE_URL the database (default: SQLite under ./data).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
port="${PORT:-3000}"

echo "Applying database migrations"
reflex db migrate

echo "Starting CloudTrack on http://localhost:$port"
exec reflex run --env prod --single-port --frontend-port "$port" --backend-port "$port" --backend-host "${HOST:-0.0.0.0}"
