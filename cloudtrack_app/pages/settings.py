"""`/settings`: the person's account and alert preferences."""

from __future__ import annotations

import reflex as rx

from cloudtrack_app.components.layout import form_error, labelled_input, protected
from cloudtrack_app.components.watch_options import MODES, WINDOWS
from cloudtrack_app.notify.compose import TONES
from cloudtrack_app.states.add_product import AddProductState
from cloudtrack_app.states.api_tokens import NEW_TOKEN_FIELD, ApiTokensState, TokenRow
from cloudtrack_app.states.notifications import NotificationsState
from cloudtrack_app.states.profile import ProfileState
from cloudtrack_app.states.watch_defaults import WatchDefaultsState
from cloudtrack_app.views.channels import ChannelLine


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
        "How CloudTrack addresses you, the timezone for times and daily summaries, and your e-mail address.",
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
        rx.divider(),
        account_address_block(),
    )


def account_address_block() -> rx.Component:
    state = ProfileState
    return rx.vstack(
        rx.heading("E-mail address", size="3", as_="h3"),
        form_error(state.email_error),
        _notice(state.email_message),
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


def switch_row(
    label: str,
    checked: rx.Var[bool],
    on_change: rx.EventHandler,
    switch_id: str,
    disabled: rx.Var[bool] | bool = False,
) -> rx.Component:
    # Named because Reflex 0.11 leaves id-only controls out of form data (0.10.1 warns at each
    # start). The save handler reads the state var the switch sets, not the form's "on".
    return rx.hstack(
        rx.switch(checked=checked, on_change=on_change, id=switch_id, name=switch_id, disabled=disabled),
        rx.el.label(label, html_for=switch_id),
        align="center",
        spacing="2",
    )


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
        _notice(state.apprise_message),
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
    return section(
        "Alerts",
        "Where alerts go and how they are written. Every alert is also kept on the product's page.",
        rx.form(
            rx.vstack(
                form_error(state.notify_error),
                _notice(state.notify_message),
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


def new_watches_section() -> rx.Component:
    state = WatchDefaultsState
    return rx.box(
        section(
            "New watches",
            "The message that says a watch has started, and the rules a new watch starts with: the add "
            "page starts from them, and imports and the API use them where a line or request names none.",
            rx.form(
                rx.vstack(
                    form_error(state.defaults_error),
                    _notice(state.defaults_message),
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
    return section(
        "Password",
        "At least 8 characters. Changing it logs out your other sessions.",
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


def _token_row(row: TokenRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(row.name),
        rx.table.cell(row.scope),
        rx.table.cell(row.created),
        rx.table.cell(row.last_used),
        rx.table.cell(row.expires),
        rx.table.cell(
            rx.button(
                "Revoke",
                size="1",
                color_scheme="red",
                variant="soft",
                on_click=ApiTokensState.revoke(row.id),
                aria_label="Revoke " + row.name,
            )
        ),
        data_testid="api-token",
    )


def api_tokens_section() -> rx.Component:
    state = ApiTokensState
    return section(
        "API tokens",
        "Personal access tokens let your scripts and apps use CloudTrack's API (/api/v1, described at "
        "/api/v1/docs) as you: send one as “Authorization: Bearer …”. A token is shown once; keep it like "
        "a password, and revoke it when you no longer need it.",
        rx.form(
            rx.vstack(
                form_error(state.token_error),
                _notice(state.token_message),
                labelled_input("Token name", "token_name", placeholder="home assistant", max_length=100),
                rx.hstack(
                    rx.vstack(
                        rx.el.label(
                            "Access", html_for="field-token-scope", font_weight="500", font_size="0.9rem"
                        ),
                        rx.select.root(
                            rx.select.trigger(id="field-token-scope"),
                            rx.select.content(
                                rx.select.item("Read and write", value="read-write"),
                                rx.select.item("Read only", value="read"),
                            ),
                            value=state.token_scope,
                            on_change=state.set_token_scope,
                            size="3",
                        ),
                        spacing="1",
                    ),
                    rx.vstack(
                        rx.el.label(
                            "Expires", html_for="field-token-expiry", font_weight="500", font_size="0.9rem"
                        ),
                        rx.select.root(
                            rx.select.trigger(id="field-token-expiry"),
                            rx.select.content(
                                rx.select.item("Never", value="never"),
                                rx.select.item("In 30 days", value="30"),
                                rx.select.item("In 90 days", value="90"),
                                rx.select.item("In a year", value="365"),
                            ),
                            value=state.token_expiry,
                            on_change=state.set_token_expiry,
                            size="3",
                        ),
                        spacing="1",
                    ),
                    spacing="4",
                ),
                rx.button("Create token", type="submit", size="3"),
                spacing="3",
                width="100%",
                max_width="28rem",
            ),
            on_submit=state.make_token,
            reset_on_submit=True,
        ),
        # Always in the page (hidden until a token is made): the handler fills it with
        # `rx.set_value`, so the secret never becomes a state var.
        rx.vstack(
            rx.el.label("Your new token", html_for=NEW_TOKEN_FIELD, font_weight="500", font_size="0.9rem"),
            rx.input(id=NEW_TOKEN_FIELD, read_only=True, width="100%", size="3", font_family="monospace"),
            display=rx.cond(state.new_token_name != "", "flex", "none"),
            spacing="1",
            width="100%",
        ),
        rx.cond(
            state.api_tokens.length() > 0,
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        rx.table.column_header_cell("Name"),
                        rx.table.column_header_cell("Access"),
                        rx.table.column_header_cell("Created"),
                        rx.table.column_header_cell("Last used"),
                        rx.table.column_header_cell("Expires"),
                        rx.table.column_header_cell(""),
                    )
                ),
                rx.table.body(rx.foreach(state.api_tokens, _token_row)),
                width="100%",
            ),
            rx.text("No tokens yet.", size="2", color=rx.color("gray", 11)),
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


def add_from_anywhere_section() -> rx.Component:
    return section(
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
