"""The container entrypoint: migrate, serve, answer /_health, stop cleanly on SIGTERM."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from benchmarks.apprunner import running_app
from cloudtrack_app.db import make_engine
from tests.conftest import PG_AVAILABLE, PG_URL

pytestmark = pytest.mark.slow


def _fresh_pg_database(name: str) -> str:
    admin = make_engine(PG_URL).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_URL.rsplit("/", 1)[0] + f"/{name}"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_entrypoint_migrates_serves_and_stops_on_sigterm(backend: str, tmp_path: Path) -> None:
    if backend == "postgresql":
        if not PG_AVAILABLE:
            pytest.skip("PostgreSQL is not reachable")
        url = _fresh_pg_database("cloudtrack_entrypoint_test")
    else:
        url = f"sqlite:///{tmp_path / 'fresh.db'}"

    with running_app(url, tmp_path) as app:
        health = httpx.get(f"{app.base_url}/_health", timeout=5)
        assert health.status_code == 200
        assert health.json()["db"] is True
        page = httpx.get(f"{app.base_url}/login", timeout=5, follow_redirects=True)
        assert page.status_code == 200
        assert "<html" in page.text.lower()
        alerts_off = httpx.get(f"{app.base_url}/alerts/off?token=forged", timeout=5)
        assert alerts_off.status_code == 400 and "Link not valid" in alerts_off.text
        engine = make_engine(url)
        tables = set(sa.inspect(engine).get_table_names())
        engine.dispose()
        assert {"users", "products", "watches", "price_points", "alert_events"} <= tables
        code = app.stop()
    assert code == 0, app.log()[-3000:]
    assert "Reflex app stopped" in app.log()
