"""`/`: the dashboard for people who are logged in, the landing page for everyone else."""

from __future__ import annotations

import reflex as rx

from cloudtrack_app.auth.state import AuthState
from cloudtrack_app.components.layout import loading, page_frame
from cloudtrack_app.pages.landing import landing


def empty_dashboard() -> rx.Component:
    return rx.vstack(
        rx.heading(f"Hello, {AuthState.display_name}", size="8", as_="h1"),
        rx.card(
            rx.vstack(
                rx.icon("package-search", size=40, color=rx.color("accent", 9)),
                rx.heading("No products yet", size="5", as_="h2"),
                rx.text(
                    "Paste a product link from any shop and CloudTrack will watch its price and stock for you.",
                    color=rx.color("gray", 11),
                    text_align="center",
                ),
                align="center",
                spacing="3",
                padding="2rem",
            ),
            width="100%",
        ),
        spacing="5",
        width="100%",
    )


def index_page() -> rx.Component:
    return page_frame(
        rx.cond(
            AuthState.logged_in,
            empty_dashboard(),
            rx.cond(AuthState.auth_checked, landing(), loading()),
        )
    )
