"""The data folder and what is in it are readable by CloudTrack's own user only.

The database holds password hashes and session tokens, the key file signs every link:
another account on the same machine must not be able to read them, whatever the umask.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from cloudtrack_app.db import make_engine
from cloudtrack_app.migrations import upgrade
from cloudtrack_app.settings import Settings


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    """The usual umask of a server account, under which files come out world-readable."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_fresh_database_its_wal_and_shm_are_private_to_the_owner(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh" / "data"
    database = data_dir / "cloudtrack.db"
    settings = Settings(CLOUDTRACK_DATA_DIR=data_dir, DATABASE_URL="")
    upgrade(settings.effective_database_url)
    engine = make_engine(settings.effective_database_url)
    with engine.begin() as connection:  # a write leaves the WAL and shared-memory files behind
        connection.execute(sa.text("CREATE TABLE scratch (x INTEGER)"))
        connection.execute(sa.text("INSERT INTO scratch VALUES (1)"))
        wal, shm = database.with_name("cloudtrack.db-wal"), database.with_name("cloudtrack.db-shm")
        assert wal.exists() and shm.exists()
        assert (mode(database), mode(wal), mode(shm)) == (0o600, 0o600, 0o600)
    engine.dispose()
    assert mode(data_dir) == 0o700


def test_the_generated_secret_key_is_private_to_the_owner(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    settings = Settings(CLOUDTRACK_DATA_DIR=data_dir, SECRET_KEY="")
    key = settings.effective_secret_key
    assert mode(data_dir / "secret_key") == 0o600
    assert mode(data_dir) == 0o700
    assert Settings(CLOUDTRACK_DATA_DIR=data_dir, SECRET_KEY="").effective_secret_key == key


def test_a_database_left_readable_by_an_older_version_is_tightened(tmp_path: Path) -> None:
    database = tmp_path / "old.db"
    database.touch(mode=0o644)
    database.chmod(0o644)
    make_engine(f"sqlite:///{database}").dispose()
    assert mode(database) == 0o600
