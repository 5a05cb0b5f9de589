"""Migrations: `reflex db migrate` builds the same schema on SQLite and PostgreSQL, and the
committed migrations match the models (autogenerate finds nothing to add)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from cloudtrack_app import models  # noqa: F401
from cloudtrack_app.db import make_engine
from cloudtrack_app.settings import PROJECT_ROOT
from tests.conftest import PG_AVAILABLE, PG_URL

pytestmark = pytest.mark.slow


def _reflex_db_migrate(url: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "CLOUDTRACK_DATA_DIR": str(tmp_path / "data"),
        "PATH": f"{PROJECT_ROOT / '.venv' / 'bin'}:{os.environ['PATH']}",
        "REFLEX_USE_NPM": "1",
        "REFLEX_TELEMETRY_ENABLED": "false",
    }
    result = subprocess.run(
        ["reflex", "db", "migrate"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _schema(url: str) -> dict[str, set[str]]:
    engine = make_engine(url)
    inspector = sa.inspect(engine)
    schema = {
        table: {c["name"] for c in inspector.get_columns(table)} for table in inspector.get_table_names()
    }
    engine.dispose()
    return schema


def _drop_pg_database(name: str) -> None:
    admin = make_engine(PG_URL).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _empty_pg_database(name: str) -> str:
    _drop_pg_database(name)
    admin = make_engine(PG_URL).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_URL.rsplit("/", 1)[0] + f"/{name}"


def _model_diff(url: str) -> list:
    engine = make_engine(url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    engine.dispose()
    return diff


def test_reflex_db_migrate_builds_the_same_schema_on_sqlite_and_postgresql(tmp_path: Path) -> None:
    if not PG_AVAILABLE:
        pytest.skip("PostgreSQL is not reachable")
    sqlite_url = f"sqlite:///{tmp_path / 'empty.db'}"
    # One name per test process: runs of the suite side by side must not share a database.
    pg_name = f"cloudtrack_migration_test_{os.getpid()}"
    pg_url = _empty_pg_database(pg_name)
    try:
        _reflex_db_migrate(sqlite_url, tmp_path)
        _reflex_db_migrate(pg_url, tmp_path)
        sqlite_schema, pg_schema = _schema(sqlite_url), _schema(pg_url)
    finally:
        _drop_pg_database(pg_name)
    assert sqlite_schema == pg_schema
    assert set(sqlite_schema) == {t.name for t in SQLModel.metadata.sorted_tables} | {"alembic_version"}


def test_reflex_db_migrate_on_an_empty_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'only-sqlite.db'}"
    _reflex_db_migrate(url, tmp_path)
    assert set(_schema(url)) == {t.name for t in SQLModel.metadata.sorted_tables} | {"alembic_version"}


def test_models_and_migrations_agree(db_url: str) -> None:
    """The fixture database was built by the migrations; the models must see nothing to change."""
    assert _model_diff(db_url) == []
