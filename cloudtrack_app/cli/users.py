"""`users …`: accounts for a headless server (e.g. the first admin)."""

from __future__ import annotations

import click

from cloudtrack_app.cli._database import needs_database


@click.group()
def users() -> None:
    """Create, list and disable accounts."""


@users.command("create")
@click.argument("email")
@click.option("--name", "display_name", default=None, help="Display name (default: the part before @).")
@click.option("--admin", is_flag=True, help="Make this account an administrator.")
@click.password_option(help="The password (prompted for when omitted; at least 8 characters).")
@needs_database
def create(email: str, display_name: str | None, admin: bool, password: str) -> None:
    """Create an account with EMAIL (its address counts as verified: you vouch for it)."""
    from cloudtrack_app.auth.accounts import AccountError, create_user

    try:
        user = create_user(email, password, display_name or email.split("@", 1)[0], is_admin=admin)
    except AccountError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Created {'admin ' if user.is_admin else ''}account {user.email} (id {user.id}).")


@users.command("list")
@needs_database
def list_() -> None:
    """List every account."""
    from cloudtrack_app.auth.accounts import list_users

    rows = list_users()
    if not rows:
        click.echo("No accounts yet. Create one with: users create EMAIL --admin")
        return
    for user in rows:
        flags = ",".join(
            f
            for f, on in (
                ("admin", user.is_admin),
                ("disabled", user.disabled),
                ("unverified", user.email_verified_at is None),
            )
            if on
        )
        click.echo(f"{user.id:>5}  {user.email:<40} {user.display_name:<24} {flags}")


@users.command("disable")
@click.argument("email")
@click.option("--enable", is_flag=True, help="Enable the account again instead.")
@needs_database
def disable(email: str, enable: bool) -> None:
    """Disable the account with EMAIL and end its sessions (or --enable it)."""
    from cloudtrack_app.auth.accounts import AccountError, set_disabled

    try:
        user = set_disabled(email, not enable)
    except AccountError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"{'Enabled' if enable else 'Disabled'} {user.email}.")


@users.command("verify")
@click.argument("email")
def verify(email: str) -> None:
    """Mark EMAIL as verified without a link (you vouch that it belongs to the account's owner)."""
    from cloudtrack_app.auth.accounts import AccountError
    from cloudtrack_app.auth.verification import mark_verified

    try:
        user = mark_verified(email)
    except AccountError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"{user.email} is verified: e-mail alerts can go there.")
