"""Alembic environment for plain `alembic` commands and the test suite.

`reflex db migrate` drives the same scripts through its own context; this file lets
`alembic upgrade head` (and the tests) run them against the configured database too.
"""

from logging.config import fileConfig

from alembic import context
from sqlmodel import SQLModel

from cloudtrack_app import models  # noqa: F401  (fills the metadata)
from cloudtrack_app.db import make_engine
from cloudtrack_app.settings import get_settings

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(get_settings().effective_database_url)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("Offline migrations are not supported; run `reflex db migrate`.")
run_migrations_online()
