import reflex as rx

from cloudtrack_app.settings import get_settings

settings = get_settings()
if not settings.database_url:
    settings.data_dir.mkdir(parents=True, exist_ok=True)

config = rx.Config(
    app_name="cloudtrack_app",
    db_url=settings.effective_database_url.replace("postgresql://", "postgresql+psycopg://", 1),
    redis_url=settings.reflex_redis_url or None,
    telemetry_enabled=False,
    show_built_with_reflex=False,
    plugins=[
        rx.plugins.SitemapPlugin(),
        rx.plugins.RadixThemesPlugin(
            theme=rx.theme(accent_color="teal", gray_color="slate", radius="large", has_background=True)
        ),
    ],
)
