"""Apply the Alembic migrations to a database, as `reflex db migrate` does (benchmarks, tests)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from cloudtrack_app.db import make_engine
from cloudtrack_app.settings import PROJECT_ROOT


def upgrade(url: str) -> None:
    """Bring the database at `url` to the newest migration."""
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    config.attributes["configure_logger"] = False
    engine = make_engine(url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    engine.dispose()
