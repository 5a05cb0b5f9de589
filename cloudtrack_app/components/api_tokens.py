"""The settings' API tokens: make one (shown once), see when each was used, revoke it."""

from __future__ import annotations

import reflex as rx

from cloudtrack_app.components.layout import form_error, labelled_input, section_card, success_notice
from cloudtrack_app.states.api_tokens import NEW_TOKEN_FIELD, ApiTokensState, TokenRow


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
    return section_card(
        "API tokens",
        "Personal access tokens let your scripts and apps use CloudTrack's API (/api/v1, described at "
        "/api/v1/docs) as you: send one as “Authorization: Bearer …”. A token is shown once; keep it like "
        "a password, and revoke it when you no longer need it.",
        rx.form(
            rx.vstack(
                form_error(state.token_error),
                success_notice(state.token_message),
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
