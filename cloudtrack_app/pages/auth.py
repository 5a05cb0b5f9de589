"""Log-in and sign-up pages, and `/verify`, where a link from an e-mail is confirmed."""

from __future__ import annotations

import reflex as rx

from cloudtrack_app.components.layout import form_error, labelled_input, page_frame
from cloudtrack_app.states.account import AccountFormState, VerifyState


def _card(title: str, subtitle: str, form: rx.Component, footer: rx.Component) -> rx.Component:
    return page_frame(
        rx.center(
            rx.card(
                rx.vstack(
                    rx.heading(title, size="7", as_="h1"),
                    rx.text(subtitle, color=rx.color("gray", 11)),
                    form,
                    footer,
                    spacing="4",
                    width="100%",
                ),
                size="4",
                width="100%",
                max_width="26rem",
            ),
            padding_y=["1rem", "3rem"],
        )
    )


def _submit(label: str, busy_label: str) -> rx.Component:
    return rx.button(
        rx.cond(AccountFormState.busy, rx.hstack(rx.spinner(size="1"), rx.text(busy_label)), rx.text(label)),
        type="submit",
        size="3",
        width="100%",
        disabled=AccountFormState.busy,
    )


def login_page() -> rx.Component:
    form = rx.form(
        rx.vstack(
            form_error(AccountFormState.form_error),
            labelled_input("Email", "email", type="email", auto_complete="email", required=True),
            labelled_input(
                "Password", "password", type="password", auto_complete="current-password", required=True
            ),
            _submit("Log in", "Logging in…"),
            spacing="3",
            width="100%",
        ),
        on_submit=AccountFormState.log_in,
        width="100%",
    )
    footer = rx.text("New here? ", rx.link("Create an account", href="/signup"), size="2")
    return _card("Log in", "Welcome back to your price watches.", form, footer)


def signup_page() -> rx.Component:
    form = rx.form(
        rx.vstack(
            form_error(AccountFormState.form_error),
            labelled_input(
                "Display name", "display_name", auto_complete="nickname", required=True, max_length=120
            ),
            labelled_input("Email", "email", type="email", auto_complete="email", required=True),
            labelled_input(
                "Password (at least 8 characters)",
                "password",
                type="password",
                auto_complete="new-password",
                required=True,
                min_length=8,
            ),
            _submit("Create account", "Creating your account…"),
            spacing="3",
            width="100%",
        ),
        on_submit=AccountFormState.sign_up,
        width="100%",
    )
    sent = rx.callout(
        AccountFormState.form_message, icon="mail-check", color_scheme="green", role="status", width="100%"
    )
    footer = rx.text("Already have an account? ", rx.link("Log in", href="/login"), size="2")
    return _card(
        "Sign up",
        "Track prices and stock on any shop, and hear when it matters.",
        rx.cond(AccountFormState.form_message != "", sent, form),
        footer,
    )


def verify_page() -> rx.Component:
    action = rx.cond(
        VerifyState.verify_ready,
        rx.button(
            rx.cond(VerifyState.verify_busy, rx.spinner(size="1"), rx.icon("check", size=16)),
            "Confirm",
            on_click=VerifyState.confirm_verification,
            disabled=VerifyState.verify_busy,
            size="3",
            width="100%",
        ),
        rx.cond(
            VerifyState.logged_in,
            rx.link("Open your settings", href="/settings"),
            rx.link("Log in", href="/login"),
        ),
    )
    return page_frame(
        rx.center(
            rx.card(
                rx.vstack(
                    rx.heading(VerifyState.verify_title, size="7", as_="h1"),
                    rx.text(VerifyState.verify_text, data_testid="verify-text"),
                    action,
                    spacing="4",
                    width="100%",
                ),
                size="4",
                width="100%",
                max_width="26rem",
            ),
            padding_y=["1rem", "3rem"],
        )
    )
