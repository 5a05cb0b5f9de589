"""Shared fixtures: real databases (a SQLite file, and PostgreSQL when reachable)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

from cloudtrack_app import db as dbmod
from cloudtrack_app.migrations import upgrade
from cloudtrack_app.settings import PROJECT_ROOT, get_settings

pytest_plugins = ["tests.fetch_fixtures"]

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
os.environ.setdefault("no_proxy", "127.0.0.1,localhost")
os.environ.setdefault("SCHEDULER_ENABLED", "false")

PG_URL = os.environ.get("CLOUDTRACK_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
SHARED_DIR = PROJECT_ROOT.parent / "shared"
CORPUS_DIR = SHARED_DIR / "corpus" / "product-pages"


def _pg_reachable() -> bool:
    try:
        engine = dbmod.make_engine(PG_URL)
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:
        return False


PG_AVAILABLE = _pg_reachable()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test run, dropped at the end."""
    if not PG_AVAILABLE:
        pytest.skip("PostgreSQL is not reachable (set CLOUDTRACK_TEST_PG_URL)")
    name = f"cloudtrack_test_{uuid.uuid4().hex[:10]}"
    admin = dbmod.make_engine(PG_URL).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = PG_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    yield url
    dbmod.dispose_engines()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _use_database(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    dbmod.dispose_engines()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A migrated, empty database of each kind; the app's settings point at it."""
    monkeypatch.setenv("CLOUDTRACK_DATA_DIR", str(tmp_path / "data"))
    if request.param == "sqlite":
        path = tmp_path / "cloudtrack.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("pg_database")
        engine = dbmod.make_engine(url)
        tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
        with engine.begin() as conn:
            conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        engine.dispose()
    _use_database(monkeypatch, url)
    yield url
    dbmod.dispose_engines()
    get_settings.cache_clear()


@pytest.fixture
def sqlite_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_template: Path) -> Iterator[str]:
    """Only SQLite, for tests whose subject is not the database."""
    monkeypatch.setenv("CLOUDTRACK_DATA_DIR", str(tmp_path / "data"))
    path = tmp_path / "cloudtrack.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    _use_database(monkeypatch, url)
    yield url
    dbmod.dispose_engines()
    get_settings.cache_clear()
