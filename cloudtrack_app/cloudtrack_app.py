"""The Reflex app: pages, API routes and lifespan tasks."""

import reflex as rx

from cloudtrack_app import models  # noqa: F401  (registers the tables for migrations)

app = rx.App()
app.add_page(lambda: rx.text("CloudTrack"), route="/")
