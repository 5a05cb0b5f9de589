#!/usr/bin/env bash
# The README's run command: install what is missing, migrate, serve http://localhost:3000.
set -euo pipefail
"$(dirname "$0")/setup.sh"
exec "$(dirname "$0")/entrypoint.sh"
