"""The price picker: the prices a page offers, to choose the right one, and a field where an
expert types a CSS selector. One component for the add-product preview and the product page;
each page's state decides what choosing means (remember it for the save, or follow it now)."""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx

from cloudtrack_app.components.layout import toggle_button
from cloudtrack_app.views.picker import PriceChoice


@dataclass(frozen=True)
class PickerBindings:
    choices: rx.Var[list[PriceChoice]]
    chosen: rx.Var[str]  # the key of the chosen price ("" for none)
    on_choose: rx.EventHandler  # called with a choice's key
    on_try: rx.EventHandler  # called with the selector form's data
    trying: rx.Var[bool]
    message: rx.Var[str]  # what the last selector tried found, or why it could not be tried
    reading: rx.Var[bool]  # the page is being read again for fresh prices


def _choice(choice: PriceChoice, bindings: PickerBindings) -> rx.Component:
    chosen = choice.key == bindings.chosen
    return toggle_button(
        rx.hstack(
            rx.icon(rx.cond(chosen, "circle-check", "circle"), size=18, flex_shrink="0"),
            rx.vstack(
                rx.hstack(
                    rx.text(choice.price_text, weight="bold", size="4", data_testid="price-choice-amount"),
                    rx.badge(choice.source, variant="soft", color_scheme="gray"),
                    align="center",
                    spacing="2",
                    wrap="wrap",
                ),
                # Shop text: shown as plain text, never as markup.
                rx.text(choice.snippet, size="1", color=rx.color("gray", 11), text_align="left"),
                spacing="1",
                align="start",
                min_width="0",
            ),
            align="center",
            spacing="3",
            width="100%",
        ),
        pressed=chosen,
        variants=("soft", "outline"),
        on_click=bindings.on_choose(choice.key),
        height="auto",
        width="100%",
        padding="0.75rem",
        white_space="normal",
        justify="start",
        data_testid="price-choice",
    )


def _selector_field(bindings: PickerBindings) -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.el.label(
                "CSS selector (for experts)", html_for="pick-selector", font_weight="500", font_size="14px"
            ),
            rx.flex(
                rx.input(
                    id="pick-selector",
                    name="selector",
                    placeholder="#price, .price-now",
                    auto_capitalize="none",
                    spell_check=False,
                    max_length=500,
                    width="100%",
                ),
                rx.button(
                    rx.cond(bindings.trying, rx.spinner(size="1"), rx.icon("search", size=16)),
                    "Try selector",
                    type="submit",
                    variant="soft",
                    disabled=bindings.trying,
                ),
                spacing="2",
                width="100%",
            ),
            rx.cond(
                bindings.message != "",
                rx.text(bindings.message, size="2", role="status", data_testid="selector-message"),
            ),
            spacing="2",
            width="100%",
        ),
        on_submit=bindings.on_try,
        reset_on_submit=False,
        width="100%",
    )


def price_picker(prompt: rx.Var[str] | str, bindings: PickerBindings, *actions: rx.Component) -> rx.Component:
    """The picker; `actions` (buttons) go below it."""
    return rx.vstack(
        rx.text(prompt, weight="medium", data_testid="picker-prompt"),
        rx.cond(
            bindings.reading,
            rx.hstack(rx.spinner(size="1"), rx.text("Reading the page again…", size="2")),
            rx.vstack(rx.foreach(bindings.choices, lambda choice: _choice(choice, bindings)), width="100%"),
        ),
        _selector_field(bindings),
        *([rx.hstack(*actions, spacing="2", wrap="wrap")] if actions else []),
        spacing="3",
        width="100%",
        data_testid="price-picker",
    )
