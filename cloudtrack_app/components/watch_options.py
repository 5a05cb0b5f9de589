"""What a watch waits for: price / stock / both, a target or any drop (add and edit forms)."""

from __future__ import annotations

import reflex as rx

MODES = [("price", "Price drops"), ("stock", "Back in stock"), ("both", "Both")]


def watch_options(
    *,
    mode: rx.Var[str],
    on_mode: rx.EventHandler,
    target: rx.Var[str],
    on_target: rx.EventHandler,
    any_drop: rx.Var[bool],
    on_any_drop: rx.EventHandler,
    target_id: str,
) -> rx.Component:
    return rx.vstack(
        rx.el.fieldset(
            rx.el.legend("Tell me when", font_weight="500", padding="0", margin_bottom="0.75rem"),
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
                    spacing="4",
                    wrap="wrap",
                ),
                value=mode,
                on_change=on_mode,
            ),
            border="none",
            padding="0",
            margin="0",
        ),
        rx.cond(
            mode != "stock",
            rx.vstack(
                rx.el.label("Target price", html_for=target_id, font_weight="500"),
                rx.input(
                    id=target_id,
                    value=target,
                    on_change=on_target,
                    input_mode="decimal",
                    disabled=any_drop,
                    size="3",
                    max_width="12rem",
                ),
                rx.el.label(
                    rx.hstack(
                        rx.checkbox(checked=any_drop, on_change=on_any_drop),
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
