"""Apply the Alembic migrations to a database, as `reflex db migrate` does (CLI, benchmarks, tests).

The command line may run before the app has ever started (the first admin is created from
the shell), so it brings the database up to date itself rather than failing on a missing table.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from cloudtrack_app.db import make_engine
from cloudtrack_app.settings import PROJECT_ROOT


def _config() -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    config.attributes["configure_logger"] = False
    return config


def pending_migrations(url: str) -> int:
    """How many migrations the database at `url` lacks (every one for a new database)."""
    script = ScriptDirectory.from_config(_config())
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_heads()
    finally:
        engine.dispose()
    if set(current) == set(script.get_heads()):
        return 0
    return sum(1 for _ in script.iterate_revisions("heads", current or "base"))


def upgrade(url: str) -> None:
    """Bring the database at `url` to the newest migration."""
    config = _config()
    engine = make_engine(url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    engine.dispose()
