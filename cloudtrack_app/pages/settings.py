"""`/settings`: the person's account and alert preferences."""

from __future__ import annotations

import reflex as rx

from cloudtrack_app.components.api_tokens import api_tokens_section
from cloudtrack_app.components.layout import (
    form_error,
    labelled_input,
    protected,
    section_card,
    success_notice,
    switch_row,
)
from cloudtrack_app.components.notification_settings import notifications_section
from cloudtrack_app.components.watch_options import MODES, WINDOWS
from cloudtrack_app.states.add_product import AddProductState
from cloudtrack_app.states.profile import ProfileState
from cloudtrack_app.states.watch_defaults import WatchDefaultsState


def profile_section() -> rx.Component:
    return section_card(
        "Profile",
        "How CloudTrack addresses you, the timezone for times and daily summaries, and your e-mail address.",
        rx.form(
            rx.vstack(
                form_error(ProfileState.profile_error),
                success_notice(ProfileState.profile_message),
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
        rx.divider(),
        account_address_block(),
    )


def account_address_block() -> rx.Component:
    state = ProfileState
    return rx.vstack(
        rx.heading("E-mail address", size="3", as_="h3"),
        form_error(state.email_error),
        success_notice(state.email_message),
        rx.hstack(
            rx.text(state.email, size="2", weight="medium"),
            rx.cond(
                state.email_verified,
                rx.badge("Verified", color_scheme="green"),
                rx.badge("Needs verification", color_scheme="amber"),
            ),
            align="center",
            spacing="2",
            wrap="wrap",
        ),
        rx.cond(
            ~state.email_verified & state.mail_configured,
            rx.vstack(
                rx.text("E-mail alerts to this address are held until you confirm it.", size="2"),
                rx.button(
                    "Send verification mail",
                    on_click=state.send_verification_link,
                    variant="soft",
                    type="button",
                ),
                spacing="2",
            ),
        ),
        rx.cond(
            state.pending_email != "",
            rx.text(
                "Waiting for you to follow the link sent to ",
                rx.text.strong(state.pending_email),
                ".",
                size="2",
            ),
        ),
        rx.form(
            rx.vstack(
                labelled_input("New e-mail address", "new_email", type="email", auto_complete="email"),
                labelled_input(
                    "Your password, to confirm",
                    "email_password",
                    type="password",
                    auto_complete="current-password",
                ),
                rx.button("Change address", type="submit", size="3", variant="soft"),
                spacing="3",
                width="100%",
                max_width="28rem",
            ),
            on_submit=state.change_email,
            reset_on_submit=True,
        ),
        spacing="3",
        width="100%",
    )


def new_watches_section() -> rx.Component:
    state = WatchDefaultsState
    return rx.box(
        section_card(
            "New watches",
            "The message that says a watch has started, and the rules a new watch starts with: the add "
            "page starts from them, and imports and the API use them where a line or request names none.",
            rx.form(
                rx.vstack(
                    form_error(state.defaults_error),
                    success_notice(state.defaults_message),
                    switch_row(
                        "Tell me when a watch starts",
                        state.confirmation_messages,
                        state.set_confirmation_messages,
                        "confirmation-messages",
                    ),
                    rx.text(
                        "Adding several products at once sends one summary. If the price already meets "
                        "your rule when you add a product, you are told even with this off.",
                        size="2",
                        color=rx.color("gray", 11),
                    ),
                    rx.vstack(
                        rx.el.label("New watches wait for", html_for="default-mode", font_weight="500"),
                        rx.select.root(
                            rx.select.trigger(id="default-mode"),
                            rx.select.content(*[rx.select.item(label, value=key) for key, label in MODES]),
                            value=state.default_mode,
                            on_change=state.set_default_mode,
                        ),
                        spacing="1",
                    ),
                    labelled_input(
                        "A drop of at least (%), instead of a target",
                        "default_drop_percent",
                        id="default-drop-percent",
                        default_value=state.default_drop_percent,
                        key=state.default_drop_percent,
                        input_mode="decimal",
                        max_width="12rem",
                    ),
                    rx.vstack(
                        rx.el.label(
                            "Or the lowest price of the last", html_for="default-window", font_weight="500"
                        ),
                        rx.select.root(
                            rx.select.trigger(id="default-window"),
                            rx.select.content(*[rx.select.item(label, value=key) for key, label in WINDOWS]),
                            value=state.default_lowest_window,
                            on_change=state.set_default_lowest_window,
                        ),
                        spacing="1",
                    ),
                    switch_row(
                        "Also tell me when the price goes up",
                        state.default_notify_increase,
                        state.set_default_notify_increase,
                        "default-notify-increase",
                    ),
                    rx.button("Save new-watch settings", type="submit", size="3"),
                    spacing="3",
                    width="100%",
                    max_width="32rem",
                ),
                on_submit=state.save_defaults,
                width="100%",
            ),
        ),
        on_mount=state.load_defaults,
        width="100%",
    )


def password_section() -> rx.Component:
    return section_card(
        "Password",
        "At least 8 characters. Changing it logs out your other sessions.",
        rx.form(
            rx.vstack(
                form_error(ProfileState.password_error),
                success_notice(ProfileState.password_message),
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
    return section_card(
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


def add_from_anywhere_section() -> rx.Component:
    return section_card(
        "Add from your phone or browser",
        'On a phone, install CloudTrack from the browser\'s menu ("Add to Home screen" or '
        '"Install app"); then share a product page to CloudTrack and the add page opens with its '
        "link. On a computer, drag this link to your bookmarks bar and click it on any product page:",
        rx.box(
            rx.html(AddProductState.bookmarklet),
            data_testid="bookmarklet",
            padding="0.5rem 0.75rem",
            border=f"1px dashed {rx.color('accent', 8)}",
            border_radius="var(--radius-3)",
            width="fit-content",
        ),
        rx.text(
            "Moving from another tracker, or keeping a copy? ",
            rx.link("Import and export your watches", href="/import"),
            ".",
            size="2",
        ),
    )


def settings_page() -> rx.Component:
    return protected(
        rx.vstack(
            rx.heading("Settings", size="8", as_="h1"),
            profile_section(),
            notifications_section(),
            add_from_anywhere_section(),
            new_watches_section(),
            password_section(),
            api_tokens_section(),
            danger_section(),
            spacing="5",
            width="100%",
        )
    )
