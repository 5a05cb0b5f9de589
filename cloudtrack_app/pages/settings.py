"""`/settings`: the person's account and alert preferences."""

from __future__ import annotations

import reflex as rx

from cloudtrack_app.components.layout import form_error, labelled_input, protected
from cloudtrack_app.states.profile import ProfileState


def section(title: str, description: str, *children: rx.Component) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading(title, size="5", as_="h2"),
            rx.text(description, color=rx.color("gray", 11), size="2"),
            *children,
            spacing="3",
            width="100%",
        ),
        size="3",
        width="100%",
    )


def _notice(message: rx.Var[str]) -> rx.Component:
    return rx.cond(message != "", rx.callout(message, icon="check", color_scheme="green", role="status"))


def profile_section() -> rx.Component:
    return section(
        "Profile",
        "How CloudTrack addresses you, and the timezone for times and daily summaries.",
        rx.form(
            rx.vstack(
                form_error(ProfileState.profile_error),
                _notice(ProfileState.profile_message),
                labelled_input(
                    "Display name",
                    "display_name",
                    default_value=ProfileState.profile_name,
                    key=ProfileState.profile_name,
                ),
                rx.vstack(
                    rx.el.label("Timezone", html_for="field-timezone", font_weight="500", font_size="0.9rem"),
                    rx.select(
                        ProfileState.timezone_options,
                        value=ProfileState.profile_timezone,
                        on_change=ProfileState.set_profile_timezone,
                        id="field-timezone",
                        name="timezone",
                        size="3",
                    ),
                    spacing="1",
                ),
                rx.button("Save profile", type="submit", size="3"),
                spacing="3",
                width="100%",
                max_width="28rem",
            ),
            on_submit=ProfileState.save_profile,
        ),
    )


def password_section() -> rx.Component:
    return section(
        "Password",
        "At least 8 characters. Other sessions stay logged in.",
        rx.form(
            rx.vstack(
                form_error(ProfileState.password_error),
                _notice(ProfileState.password_message),
                labelled_input(
                    "Current password",
                    "current_password",
                    type="password",
                    auto_complete="current-password",
                    id="current_password",
                ),
                labelled_input("New password", "new_password", type="password", auto_complete="new-password"),
                labelled_input(
                    "Repeat new password", "repeat_password", type="password", auto_complete="new-password"
                ),
                rx.button("Change password", type="submit", size="3"),
                spacing="3",
                width="100%",
                max_width="28rem",
            ),
            on_submit=ProfileState.change_password,
            reset_on_submit=True,
        ),
    )


def danger_section() -> rx.Component:
    return section(
        "Delete account",
        "Removes your account, your watches and your alert history from this server. This cannot be undone.",
        rx.alert_dialog.root(
            rx.alert_dialog.trigger(rx.button("Delete my account…", color_scheme="red", variant="soft")),
            rx.alert_dialog.content(
                rx.alert_dialog.title("Delete your account?"),
                rx.alert_dialog.description(
                    "Everything you track here will be gone. Enter your password to confirm."
                ),
                rx.form(
                    rx.vstack(
                        form_error(ProfileState.delete_error),
                        labelled_input(
                            "Password", "confirm_password", type="password", id="confirm-delete-password"
                        ),
                        rx.hstack(
                            rx.alert_dialog.cancel(
                                rx.button("Cancel", variant="soft", color_scheme="gray", type="button")
                            ),
                            rx.button("Delete everything", color_scheme="red", type="submit"),
                            justify="end",
                            spacing="3",
                            width="100%",
                        ),
                        spacing="3",
                    ),
                    on_submit=ProfileState.delete_account,
                ),
            ),
        ),
    )


def settings_page() -> rx.Component:
    return protected(
        rx.vstack(
            rx.heading("Settings", size="8", as_="h1"),
            profile_section(),
            password_section(),
            danger_section(),
            spacing="5",
            width="100%",
        )
    )
