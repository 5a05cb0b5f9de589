"""`/add`: paste a link, see what CloudTrack read, choose what to watch, save."""

from __future__ import annotations

import reflex as rx

from cloudtrack_app.components.layout import protected
from cloudtrack_app.components.watch_card import availability_badge, thumbnail
from cloudtrack_app.states.add_product import AddProductState

MODES = [("price", "Price drops"), ("stock", "Back in stock"), ("both", "Both")]


def url_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.el.label("Product link", html_for="product-url", font_weight="500"),
            rx.flex(
                rx.input(
                    id="product-url",
                    name="url",
                    type="url",
                    placeholder="https://shop.example/product/123",
                    required=True,
                    size="3",
                    width="100%",
                    default_value=AddProductState.url,
                    disabled=AddProductState.reading,
                ),
                rx.button(
                    rx.cond(
                        AddProductState.reading,
                        rx.hstack(rx.spinner(size="1"), rx.text("Reading the page…")),
                        rx.text("Read page"),
                    ),
                    type="submit",
                    size="3",
                    disabled=AddProductState.reading,
                ),
                gap="2",
                direction=rx.breakpoints(initial="column", sm="row"),
                width="100%",
            ),
            rx.text(
                "CloudTrack reads the price, currency and stock from the page itself — any shop works.",
                size="1",
                color=rx.color("gray", 10),
            ),
            spacing="2",
            width="100%",
        ),
        on_submit=AddProductState.read_page,
        width="100%",
    )


def found_card() -> rx.Component:
    found = AddProductState.found
    return rx.card(
        rx.hstack(
            thumbnail(found.image, found.title, size="6rem"),
            rx.vstack(
                rx.text(found.title, weight="bold", size="4", data_testid="found-title"),
                rx.text(found.shop, size="2", color=rx.color("gray", 10)),
                rx.hstack(
                    rx.text(found.price_text, size="6", weight="bold", data_testid="found-price"),
                    availability_badge(found.availability),
                    align="center",
                    spacing="3",
                ),
                spacing="1",
                min_width="0",
            ),
            spacing="4",
            align="center",
        ),
        width="100%",
    )


def watch_options() -> rx.Component:
    return rx.vstack(
        rx.el.fieldset(
            rx.el.legend("Tell me when", font_weight="500", margin_bottom="0.5rem"),
            rx.radio_group.root(
                rx.flex(
                    *[
                        rx.el.label(
                            rx.hstack(
                                rx.radio_group.item(value=key), rx.text(label), align="center", spacing="2"
                            ),
                            cursor="pointer",
                        )
                        for key, label in MODES
                    ],
                    gap="4",
                    wrap="wrap",
                ),
                value=AddProductState.mode,
                on_change=AddProductState.set_mode,
                name="mode",
            ),
            border="none",
            padding="0",
            margin="0",
        ),
        rx.cond(
            AddProductState.mode != "stock",
            rx.vstack(
                rx.el.label("Target price", html_for="target-price", font_weight="500"),
                rx.input(
                    id="target-price",
                    value=AddProductState.target,
                    on_change=AddProductState.set_target,
                    input_mode="decimal",
                    disabled=AddProductState.any_drop,
                    size="3",
                    max_width="12rem",
                ),
                rx.el.label(
                    rx.hstack(
                        rx.checkbox(checked=AddProductState.any_drop, on_change=AddProductState.set_any_drop),
                        rx.text("Any price drop instead of a target", size="2"),
                        align="center",
                        spacing="2",
                    ),
                ),
                spacing="2",
            ),
        ),
        spacing="4",
        width="100%",
    )


def refusal() -> rx.Component:
    return rx.cond(
        AddProductState.error != "",
        rx.callout(
            rx.vstack(
                rx.text(AddProductState.error),
                rx.cond(
                    AddProductState.offer != "",
                    rx.button(
                        rx.match(
                            AddProductState.offer,
                            ("any_drop", "Alert me on any drop"),
                            ("price_watch", "Watch the price instead"),
                            ("edit_watch", "OK"),
                            "OK",
                        ),
                        on_click=AddProductState.accept_offer,
                        size="1",
                        variant="soft",
                    ),
                ),
                spacing="2",
            ),
            icon="triangle-alert",
            color_scheme="red",
            role="alert",
            width="100%",
        ),
    )


def add_product_page() -> rx.Component:
    return protected(
        rx.vstack(
            rx.heading("Add a product", size="8", as_="h1"),
            rx.card(
                rx.vstack(
                    url_form(),
                    refusal(),
                    rx.cond(
                        AddProductState.found,
                        rx.vstack(
                            rx.heading("Found on the page", size="4", as_="h2"),
                            found_card(),
                            watch_options(),
                            rx.hstack(
                                rx.button(
                                    rx.cond(
                                        AddProductState.saving,
                                        rx.hstack(rx.spinner(size="1"), rx.text("Saving…")),
                                        rx.text("Start watching"),
                                    ),
                                    on_click=AddProductState.save,
                                    disabled=AddProductState.saving,
                                    size="3",
                                ),
                                rx.button(
                                    "Start over",
                                    on_click=AddProductState.start_over,
                                    variant="soft",
                                    color_scheme="gray",
                                    size="3",
                                ),
                                spacing="3",
                            ),
                            spacing="4",
                            width="100%",
                        ),
                    ),
                    spacing="4",
                    width="100%",
                ),
                size="3",
                width="100%",
            ),
            spacing="5",
            width="100%",
            max_width="44rem",
        )
    )
