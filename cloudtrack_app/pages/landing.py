"""What a stranger sees at `/`: what CloudTrack does, and the way in."""

from __future__ import annotations

import reflex as rx

from cloudtrack_app.components.layout import link_button


def _feature(icon: str, title: str, text: str) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.icon(icon, size=24, color=rx.color("accent", 10)),
            rx.heading(title, size="4", as_="h3"),
            rx.text(text, color=rx.color("gray", 11), size="2"),
            spacing="2",
        ),
        size="2",
    )


def landing() -> rx.Component:
    return rx.vstack(
        rx.vstack(
            rx.heading("Know when the price drops.", size="9", as_="h1", text_align="center"),
            rx.text(
                "CloudTrack watches products on any shop for you. Paste a link, say "
                "“tell me below 80 €” or “tell me when it's back in stock”, and get one "
                "clear message by email or Telegram when it happens — never spam, never a miss.",
                size="4",
                color=rx.color("gray", 11),
                text_align="center",
                max_width="40rem",
            ),
            rx.hstack(
                link_button("Sign up — it's your server", "/signup", size="4"),
                link_button("Log in", "/login", size="4", variant="soft"),
                spacing="3",
                wrap="wrap",
                justify="center",
            ),
            align="center",
            spacing="5",
            padding_y=["2rem", "4rem"],
        ),
        rx.grid(
            _feature(
                "scan-search",
                "Reads any shop",
                "Structured data, visible prices and stock text in many languages — no per-shop rules to write.",
            ),
            _feature(
                "chart-line",
                "Price history",
                "Every change is kept, charted, and compared with the lowest price seen.",
            ),
            _feature(
                "bell-ring",
                "Alerts that matter",
                "Once per crossing, once per restock, written for you — by email or Telegram.",
            ),
            _feature(
                "server",
                "Self-hosted",
                "Your data stays on your machine. SQLite by default, PostgreSQL when you grow.",
            ),
            columns=rx.breakpoints(initial="1", sm="2", lg="4"),
            spacing="4",
            width="100%",
        ),
        spacing="6",
        width="100%",
    )
