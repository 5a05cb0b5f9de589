#!/usr/bin/env bash
# The README's test command: installs what the suite needs, then runs it all:
# lint, unit and database tests (SQLite, and PostgreSQL when reachable), then the
# Playwright browser tests in their own pytest process. Extra arguments go to both pytest runs.
set -uo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
"$ROOT/scripts/setup.sh" --dev || exit 1

if [ ! -x /usr/bin/chromium ] && ! command -v chromium >/dev/null 2>&1; then
  echo "Installing Debian's chromium for the browser tests"
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium || {
    echo "Could not install chromium (apt-get install chromium)" >&2; exit 1; }
fi

export CLOUDTRACK_TEST_PG_URL="${CLOUDTRACK_TEST_PG_URL:-postgresql://postgres@127.0.0.1:5432/test}"
export NO_PROXY="127.0.0.1,localhost" no_proxy="127.0.0.1,localhost"
reports="$(mktemp -d)"
status=0

echo "== ruff"
ruff check . && ruff format --check cloudtrack_app benchmarks tests || status=1

echo "== unit and database tests"
python -m pytest tests --ignore=tests/e2e -q -p no:cacheprovider --junitxml="$reports/unit.xml" "$@" || status=1

echo "== browser tests (Playwright, Chromium)"
python -m pytest tests/e2e -q -p no:cacheprovider --junitxml="$reports/e2e.xml" "$@" || status=1

python - "$reports" <<'PY'
import sys, pathlib, xml.etree.ElementTree as ET
totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
for report in pathlib.Path(sys.argv[1]).glob("*.xml"):
    for suite in ET.parse(report).getroot().iter("testsuite"):
        for key in totals:
            totals[key] += int(suite.get(key, 0))
failed = totals["failures"] + totals["errors"]
passed = totals["tests"] - failed - totals["skipped"]
print(f"total: {passed} passed, {failed} failed, {totals['skipped']} skipped")
PY
exit $status
