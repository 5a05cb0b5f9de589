"""What a watch waits for (add and edit forms): price / stock / both; a target, any drop, a drop
of at least X % or the lowest price of the last N days; optionally price increases."""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx

MODES = [("price", "Price drops"), ("stock", "Back in stock"), ("both", "Both")]
# "none" because a select item cannot have "" as its value.
WINDOWS = [("none", "—"), ("30", "30 days"), ("90", "90 days"), ("365", "365 days")]


def watch_options(
    *,
    mode: rx.Var[str],
    on_mode: rx.EventHandler,
    target: rx.Var[str],
    on_target: rx.EventHandler,
    any_drop: rx.Var[bool],
    on_any_drop: rx.EventHandler,
    target_id: str,
    rules: RuleFields | None = None,
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
                    disabled=any_drop if rules is None else any_drop | rules.replaces_target,
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
                *([] if rules is None else [_rule_fields(rules, target_id)]),
                spacing="2",
            ),
        ),
        spacing="4",
        width="100%",
    )


@dataclass(frozen=True)
class RuleFields:
    """The state vars and setters of the rules beside a target."""

    drop_percent: rx.Var[str]
    on_drop_percent: rx.EventHandler
    window: rx.Var[str]  # "none", "30", "90" or "365"
    on_window: rx.EventHandler
    increase: rx.Var[bool]
    on_increase: rx.EventHandler

    @property
    def replaces_target(self) -> rx.Var[bool]:
        return (self.drop_percent != "") | (self.window != "none")


def _rule_fields(rules: RuleFields, prefix: str) -> rx.Component:
    return rx.vstack(
        rx.el.label("Or a drop of at least (%)", html_for=f"{prefix}-percent", font_weight="500"),
        rx.input(
            id=f"{prefix}-percent",
            value=rules.drop_percent,
            on_change=rules.on_drop_percent,
            input_mode="decimal",
            placeholder="e.g. 10",
            size="3",
            max_width="12rem",
        ),
        rx.el.label("Or the lowest price of the last", html_for=f"{prefix}-window", font_weight="500"),
        rx.select.root(
            rx.select.trigger(id=f"{prefix}-window"),
            rx.select.content(*[rx.select.item(label, value=key) for key, label in WINDOWS]),
            value=rules.window,
            on_change=rules.on_window,
        ),
        rx.el.label(
            rx.hstack(
                rx.checkbox(checked=rules.increase, on_change=rules.on_increase),
                rx.text("Also tell me when the price goes up", size="2"),
                align="center",
                spacing="2",
            ),
        ),
        spacing="2",
    )
