"""`tokens …`: personal access tokens for the REST API, from the shell."""

from __future__ import annotations

import click

from cloudtrack_app.cli.watch import user_id_for


@click.group()
def tokens() -> None:
    """Create, list and revoke personal access tokens for the API (/api/v1)."""


@tokens.command("create")
@click.option("--user", "email", required=True, help="Email of the account the token acts for.")
@click.option("--name", required=True, help="What the token is for, like “home assistant”.")
@click.option("--read-only", is_flag=True, help="The token can read but change nothing.")
@click.option("--expires-in-days", type=click.IntRange(1, 3650), default=None, help="Default: never expires.")
def create(email: str, name: str, read_only: bool, expires_in_days: int | None) -> None:
    """Make a token; it is printed once and cannot be shown again."""
    from datetime import timedelta

    from cloudtrack_app.api.tokens import TokenError, create_token

    expires_in = timedelta(days=expires_in_days) if expires_in_days else None
    try:
        info, secret = create_token(user_id_for(email), name, read_only=read_only, expires_in=expires_in)
    except TokenError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Created {info.scope} token {info.id} “{info.name}”. Copy it now: it is not shown again.")
    click.echo(secret)


@tokens.command("list")
@click.option("--user", "email", required=True, help="Email of the account.")
def list_(email: str) -> None:
    """List the account's tokens (their secrets are not kept, so not shown)."""
    from cloudtrack_app.api.tokens import list_tokens

    rows = list_tokens(user_id_for(email))
    if not rows:
        click.echo("No tokens. Make one with: tokens create --user EMAIL --name NAME")
        return
    for info in rows:
        used = info.last_used_at.strftime("%Y-%m-%d %H:%M") if info.last_used_at else "never"
        expires = info.expires_at.strftime("%Y-%m-%d %H:%M") if info.expires_at else "never"
        click.echo(
            f"{info.id:>5}  {info.name:<30} {info.scope:<10} created {info.created_at:%Y-%m-%d %H:%M}"
            f"  last used {used}  expires {expires} (UTC)"
        )


@tokens.command("revoke")
@click.option("--user", "email", required=True, help="Email of the account.")
@click.argument("token_id", type=int)
def revoke(email: str, token_id: int) -> None:
    """Revoke token TOKEN_ID: requests with it are refused from now on."""
    from cloudtrack_app.api.tokens import TokenError, revoke_token

    try:
        name = revoke_token(user_id_for(email), token_id)
    except TokenError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Revoked token {token_id} “{name}”.")
