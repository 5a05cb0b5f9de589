"""`/add`: paste a link, see what CloudTrack read, choose what to watch, save."""

from __future__ import annotations

import reflex as rx

from cloudtrack_app.components.layout import protected
from cloudtrack_app.components.price_picker import PickerBindings, price_picker
from cloudtrack_app.components.watch_card import availability_badge, thumbnail
from cloudtrack_app.components.watch_options import RuleFields, watch_options
from cloudtrack_app.states.add_product import AddProductState
from cloudtrack_app.views.picker import PICK_PROMPT, UNSURE_PROMPT


def url_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.el.label("Product link", html_for="product-url", font_weight="500"),
            rx.flex(
                # type="text": the browser's own URL check would refuse `shop.com/item`, which
                # CloudTrack accepts, and would answer in its own words; the server checks instead.
                rx.input(
                    id="product-url",
                    name="url",
                    type="text",
                    input_mode="url",
                    auto_complete="url",
                    auto_capitalize="none",
                    spell_check=False,
                    placeholder="shop.example/product/123",
                    size="3",
                    width="100%",
                    default_value=AddProductState.url,
                    # A new key when a shared link arrives: the uncontrolled input shows it.
                    key=AddProductState.url,
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
                spacing="2",
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
                    rx.text(AddProductState.shown_price, size="6", weight="bold", data_testid="found-price"),
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


def picker() -> rx.Component:
    state = AddProductState
    return rx.cond(
        state.picking,
        rx.card(
            price_picker(
                rx.cond(state.found.uncertain, UNSURE_PROMPT, PICK_PROMPT),
                PickerBindings(
                    choices=state.pick_choices,
                    chosen=state.pick_key,
                    on_choose=state.choose_form_price,
                    on_try=state.try_pick_selector,
                    trying=state.trying_selector,
                    message=state.pick_message,
                    reading=state.reading,
                ),
                rx.button(
                    "Use automatic reading",
                    on_click=state.use_automatic_price,
                    variant="soft",
                    color_scheme="gray",
                    type="button",
                ),
            ),
            width="100%",
        ),
        rx.button(
            "Not the right price?",
            on_click=state.show_picker,
            variant="ghost",
            size="2",
            type="button",
            data_testid="not-right-price",
        ),
    )


def add_watch_options() -> rx.Component:
    return watch_options(
        mode=AddProductState.mode,
        on_mode=AddProductState.set_mode,
        target=AddProductState.target,
        on_target=AddProductState.set_target,
        any_drop=AddProductState.any_drop,
        on_any_drop=AddProductState.set_any_drop,
        target_id="target-price",
        rules=RuleFields(
            AddProductState.drop_percent,
            AddProductState.set_drop_percent,
            AddProductState.window,
            AddProductState.set_window,
            AddProductState.notify_increase,
            AddProductState.set_notify_increase,
        ),
    )


def refusal() -> rx.Component:
    return rx.cond(
        AddProductState.error != "",
        rx.callout(
            rx.vstack(
                rx.text(AddProductState.error),
                rx.cond(
                    AddProductState.offer_link != "",
                    rx.button(
                        rx.link(
                            "Open your watch of it",
                            href=AddProductState.offer_link,
                            underline="none",
                            data_testid="existing-watch-link",
                        ),
                        as_child=True,
                        size="2",
                        color_scheme="teal",
                    ),
                    rx.cond(
                        AddProductState.offer != "",
                        rx.button(
                            rx.match(
                                AddProductState.offer,
                                ("any_drop", "Alert me on any drop"),
                                ("price_watch", "Watch the price instead"),
                                "OK",
                            ),
                            on_click=AddProductState.accept_offer,
                            size="2",
                            color_scheme="teal",
                            type="button",
                        ),
                    ),
                ),
                spacing="3",
                align="start",
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
                            picker(),
                            add_watch_options(),
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
