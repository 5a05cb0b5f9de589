"""Reflex's configuration of CloudTrack, read by every `reflex` command before it starts."""

import logging

import reflex as rx

from cloudtrack_app.settings import get_settings, make_private_dir

settings = get_settings()
if not settings.database_url:
    make_private_dir(settings.data_dir)

config = rx.Config(
    app_name="cloudtrack_app",
    db_url=settings.effective_database_url.replace("postgresql://", "postgresql+psycopg://", 1),
    redis_url=settings.reflex_redis_url or None,
    telemetry_enabled=False,
    show_built_with_reflex=False,
    # Reflex resolves each socket's client address (router.session.client_ip) through this many
    # X-Forwarded-For entries; CloudTrack's throttles and sessions use only that address.
    trusted_proxy_hops=settings.trusted_proxy_hops,
    plugins=[
        rx.plugins.SitemapPlugin(),
        rx.plugins.RadixThemesPlugin(
            theme=rx.theme(accent_color="teal", gray_color="slate", radius="large", has_background=True)
        ),
    ],
)


def _without_uv_hint(record: logging.LogRecord) -> bool:
    # CloudTrack does not use uv: it is started by scripts/run.sh or the container entrypoint.
    if isinstance(record.msg, str):
        record.msg = record.msg.partition(" Run `uv run reflex run`")[0]
    return True


# Reflex's first start ends "Initialized cloudtrack_app." with "Run `uv run reflex run` to start
# the app." and has no switch to leave it out (reflex/reflex.py, `_init`). Its messages go
# through the standard logging tree, so a filter on the logger that writes that one trims it.
logging.getLogger("reflex.reflex").addFilter(_without_uv_hint)
