"""The settings' alert channels: e-mail, Telegram, Apprise URLs and AI-written texts."""

from __future__ import annotations

import reflex as rx

from cloudtrack_app.components.layout import (
    form_error,
    labelled_input,
    section_card,
    success_notice,
    switch_row,
)
from cloudtrack_app.notify.compose import TONES
from cloudtrack_app.states.notifications import NotificationsState
from cloudtrack_app.views.channels import ChannelLine


def channel_header(channel: ChannelLine) -> rx.Component:
    """A channel's name and state, the same for every channel."""
    colour = rx.match(
        channel.state,
        ("on", "green"),
        ("failed", "red"),
        ("needs_verification", "amber"),
        "gray",
    )
    return rx.vstack(
        rx.hstack(
            rx.heading(channel.label, size="3", as_="h3"),
            rx.badge(channel.state_text, color_scheme=colour, variant="soft"),
            align="center",
            spacing="2",
            wrap="wrap",
        ),
        rx.text(
            channel.detail,
            size="2",
            color=rx.cond(channel.state == "failed", rx.color("red", 11), rx.color("gray", 11)),
        ),
        spacing="1",
        width="100%",
        data_testid=f"channel-{channel.name}",
    )


def channel_switch(
    channel: ChannelLine,
    label: str,
    wanted: rx.Var[bool],
    on_change: rx.EventHandler,
    switch_id: str,
) -> rx.Component:
    """On when the person wants it and the server can send it; a channel the server has not set
    up shows off and cannot be turned on."""
    return switch_row(label, wanted & channel.switch_enabled, on_change, switch_id, ~channel.switch_enabled)


def email_block() -> rx.Component:
    state = NotificationsState
    return rx.vstack(
        channel_header(state.email_channel),
        channel_switch(
            state.email_channel, "E-mail alerts", state.email_alerts, state.set_email_alerts, "email-alerts"
        ),
        labelled_input(
            "Send alerts to (empty: your account address)",
            "alert_email",
            type="email",
            default_value=state.alert_email,
            key=state.alert_email,
            placeholder=state.account_email,
        ),
        rx.cond(
            (state.alert_email != "") & ~state.alert_email_verified,
            rx.hstack(
                rx.text("Alerts go to this address once you follow the link sent to it.", size="2"),
                rx.button(
                    "Send verification mail",
                    on_click=state.send_alert_link,
                    variant="soft",
                    size="1",
                    type="button",
                ),
                align="center",
                spacing="2",
                wrap="wrap",
            ),
        ),
        spacing="3",
        width="100%",
    )


def telegram_block() -> rx.Component:
    state = NotificationsState
    return rx.vstack(
        channel_header(state.telegram_channel),
        rx.cond(
            state.telegram_configured,
            rx.cond(
                state.telegram_linked,
                rx.vstack(
                    channel_switch(
                        state.telegram_channel,
                        "Telegram alerts",
                        state.telegram_alerts,
                        state.set_telegram_alerts,
                        "telegram-alerts",
                    ),
                    rx.button(
                        "Unlink Telegram",
                        on_click=state.unlink_telegram,
                        variant="soft",
                        color_scheme="gray",
                        type="button",
                    ),
                    spacing="3",
                ),
                rx.vstack(
                    rx.text(
                        "Not linked. Open the link (or scan the code) and press Start in Telegram.", size="2"
                    ),
                    rx.cond(
                        state.link_url != "",
                        rx.flex(
                            rx.image(
                                src=state.link_qr,
                                alt="QR code of the Telegram link",
                                width="160px",
                                height="160px",
                                background="white",
                                border_radius="var(--radius-2)",
                            ),
                            rx.vstack(
                                rx.link("Open Telegram to link", href=state.link_url, is_external=True),
                                rx.text(
                                    "The link works once, for 15 minutes.",
                                    size="1",
                                    color=rx.color("gray", 10),
                                ),
                                rx.button(
                                    "I pressed Start — check again",
                                    on_click=state.refresh_telegram,
                                    variant="soft",
                                    type="button",
                                ),
                                spacing="2",
                            ),
                            spacing="4",
                            wrap="wrap",
                            align="center",
                        ),
                        rx.button("Link Telegram", on_click=state.link_telegram, type="button"),
                    ),
                    spacing="2",
                ),
            ),
        ),
        spacing="3",
        width="100%",
    )


def apprise_target(channel: ChannelLine) -> rx.Component:
    state = NotificationsState
    return rx.vstack(
        channel_header(channel),
        rx.text(channel.last_outcome, size="1", color=rx.color("gray", 10)),
        rx.hstack(
            rx.button(
                "Send test",
                on_click=state.test_apprise(channel.name),
                disabled=state.testing,
                variant="soft",
                size="1",
                type="button",
            ),
            rx.button(
                "Remove",
                on_click=state.remove_apprise(channel.name),
                variant="soft",
                color_scheme="gray",
                size="1",
                type="button",
            ),
            spacing="2",
        ),
        spacing="2",
        width="100%",
    )


def apprise_block() -> rx.Component:
    """Apprise URLs (ntfy, Gotify, webhooks, Discord, …): a form of its own, outside the alert form."""
    state = NotificationsState
    return rx.vstack(
        rx.heading("Apprise: ntfy, Gotify, webhooks, Discord, …", size="3", as_="h3"),
        rx.text(
            "Add an Apprise URL such as ntfys://ntfy.sh/your-topic or json://hooks.example.com/alerts. "
            "Only its service and host are shown once it is saved.",
            size="2",
            color=rx.color("gray", 11),
        ),
        rx.foreach(state.apprise_channels, apprise_target),
        form_error(state.apprise_error),
        success_notice(state.apprise_message),
        rx.form(
            rx.vstack(
                labelled_input("Name", "apprise_name", placeholder="Phone", key=state.apprise_form_key),
                labelled_input(
                    "Apprise URL",
                    "apprise_url",
                    placeholder="ntfys://ntfy.sh/your-topic",
                    key=state.apprise_form_key,
                    autocomplete="off",
                ),
                rx.button("Add Apprise channel", type="submit", variant="soft"),
                spacing="2",
                width="100%",
            ),
            on_submit=state.add_apprise,
            width="100%",
        ),
        spacing="3",
        width="100%",
        data_testid="apprise-channels",
    )


def ai_block() -> rx.Component:
    state = NotificationsState
    return rx.vstack(
        rx.heading("Written by AI", size="3", as_="h3"),
        rx.cond(
            ~state.ai_available,
            rx.text(
                "No AI endpoint is set up on this server (OPENAI_API_KEY / OPENAI_BASE_URL): alerts use the plain template.",
                size="2",
                color=rx.color("gray", 11),
            ),
        ),
        switch_row("AI-written alerts", state.ai_text, state.set_ai_text, "ai-text"),
        rx.vstack(
            rx.el.label("Tone", html_for="ai-tone", font_weight="500", font_size="0.9rem"),
            rx.select.root(
                rx.select.trigger(id="ai-tone"),
                rx.select.content(*[rx.select.item(tone.capitalize(), value=tone) for tone in TONES]),
                value=state.ai_tone,
                on_change=state.set_ai_tone,
            ),
            spacing="1",
        ),
        spacing="3",
        width="100%",
    )


def notifications_section() -> rx.Component:
    state = NotificationsState
    return section_card(
        "Alerts",
        "Where alerts go and how they are written. Every alert is also kept on the product's page.",
        rx.form(
            rx.vstack(
                form_error(state.notify_error),
                success_notice(state.notify_message),
                email_block(),
                rx.divider(),
                telegram_block(),
                rx.divider(),
                ai_block(),
                rx.button("Save alert settings", type="submit", size="3"),
                spacing="4",
                width="100%",
                max_width="32rem",
            ),
            on_submit=state.save_notifications,
            width="100%",
        ),
        rx.divider(),
        rx.box(apprise_block(), max_width="32rem", width="100%"),
        rx.divider(),
        rx.hstack(
            rx.button(
                rx.cond(state.testing, rx.spinner(size="1"), rx.icon("send", size=16)),
                "Send me a test alert",
                on_click=state.send_test,
                disabled=state.testing,
                variant="soft",
                type="button",
            ),
            align="center",
        ),
        rx.foreach(state.test_results, lambda line: rx.text(line, size="2", data_testid="test-alert-result")),
    )
