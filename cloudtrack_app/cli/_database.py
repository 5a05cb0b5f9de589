"""The database as the command line needs it: up to date, or one line saying what is wrong.

A command that touches the database is wrapped in `needs_database`. It applies pending
migrations first (the README's first step, `users create`, may run before the app ever
started), and turns a database that cannot be opened into a one-line message, not a traceback.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

Command = TypeVar("Command", bound=Callable[..., Any])


def _is_database_error(error: BaseException) -> bool:
    return type(error).__module__.split(".")[0] in ("sqlalchemy", "psycopg", "sqlite3", "alembic")


def _shown_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "the configured database"


def _database_failure(url: str, error: BaseException) -> click.ClickException:
    reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0] if str(error).strip() else ""
    return click.ClickException(
        f"Cannot use the database at {_shown_url(url)}: {reason or type(error).__name__}. "
        "Check DATABASE_URL, then run the command again."
    )


def ready_database() -> None:
    """Apply pending migrations, saying so on stderr; raise a one-line ClickException on failure."""
    from cloudtrack_app.migrations import pending_migrations, upgrade
    from cloudtrack_app.settings import get_settings

    url = get_settings().effective_database_url
    try:
        missing = pending_migrations(url)
        if missing:
            click.echo(
                f"Bringing the database up to date ({missing} migration{'s' if missing != 1 else ''})…",
                err=True,
            )
            upgrade(url)
    except Exception as error:
        if _is_database_error(error):
            raise _database_failure(url, error) from error
        raise


def needs_database(command: Command) -> Command:
    """Run `command` on an up-to-date database; database failures become one-line messages."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        ready_database()
        try:
            return command(*args, **kwargs)
        except Exception as error:
            if _is_database_error(error):
                from cloudtrack_app.settings import get_settings

                raise _database_failure(get_settings().effective_database_url, error) from error
            raise

    return run  # type: ignore[return-value]
