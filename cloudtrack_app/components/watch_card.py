"""One watch on the dashboard: what it is, what it costs, and how it is doing."""

from __future__ import annotations

import reflex as rx

from cloudtrack_app.views.dashboard import SPARKLINE_HEIGHT, SPARKLINE_WIDTH, WatchRow
from cloudtrack_app.views.summary import WatchSummary

LINE_CLAMP_2 = {
    "display": "-webkit-box",
    "WebkitLineClamp": "2",
    "WebkitBoxOrient": "vertical",
    "overflow": "hidden",
}


def availability_badge(availability: rx.Var[str]) -> rx.Component:
    return rx.match(
        availability,
        ("in_stock", rx.badge("In stock", color_scheme="green", variant="soft")),
        ("out_of_stock", rx.badge("Out of stock", color_scheme="red", variant="soft")),
        rx.badge("Stock unknown", color_scheme="gray", variant="soft"),
    )


# A picture outline drawn over an image that failed to load. Browsers draw an <img>'s ::after
# only when the image is broken, so a loaded image never shows it, and a broken one shows
# this instead of a broken-image sign or its alt text spilling out of the frame.
_BROKEN_IMAGE_ICON = (
    "url(\"data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 24 24' "
    "fill='none' stroke='%238b8d98' stroke-width='1.5' stroke-linecap='round' stroke-linejoin='round'%3E"
    "%3Crect x='3' y='3' width='18' height='18' rx='2'/%3E%3Ccircle cx='9' cy='9' r='2'/%3E"
    "%3Cpath d='m21 15-5-5L5 21'/%3E%3C/svg%3E\")"
)
_BROKEN_IMAGE_STYLE = {
    "&::after": {
        "content": '""',
        "position": "absolute",
        "inset": "0",
        "background": f"white {_BROKEN_IMAGE_ICON} center / 40% no-repeat",
    }
}


def reading_status_callout(summary: WatchSummary, size: str = "1") -> rx.Component:
    """What went wrong with the product's last reading and how old its last good price is;
    nothing when all is well. Red once the product counts as failing."""
    return rx.cond(
        summary.status != "ok",
        rx.callout(
            summary.status_text + " · " + summary.last_good_text,
            icon="triangle-alert",
            color_scheme=rx.cond(summary.failing, "red", "amber"),
            size=size,
            role="alert",
            width="100%",
            data_testid="reading-status",
        ),
    )


def thumbnail(image: rx.Var[str], title: rx.Var[str], size: str = "4.5rem") -> rx.Component:
    """The product's picture in a fixed frame; `image` is CloudTrack's own address of it.

    No picture: a package icon. A picture that fails to load: a picture outline (see above).
    """
    return rx.box(
        rx.cond(
            image != "",
            rx.image(
                src=image,
                alt="",
                width="100%",
                height="100%",
                object_fit="contain",
                loading="lazy",
                position="relative",
                display="block",
                style=_BROKEN_IMAGE_STYLE,
                data_testid="product-image",
            ),
            rx.center(rx.icon("package", size=28, color=rx.color("gray", 9)), height="100%"),
        ),
        width=size,
        height=size,
        min_width=size,
        border_radius="var(--radius-3)",
        background="white",
        border=f"1px solid {rx.color('gray', 4)}",
        overflow="hidden",
        title=title,
    )


def sparkline(path: rx.Var[str], direction: rx.Var[str]) -> rx.Component:
    colour = rx.cond(direction == "up", "var(--red-9)", "var(--teal-9)")
    return rx.cond(
        path != "",
        rx.el.svg(
            rx.el.path(d=path, fill="none", stroke=colour, stroke_width="2", stroke_linejoin="round"),
            view_box=f"0 0 {SPARKLINE_WIDTH} {SPARKLINE_HEIGHT}",
            width=f"{SPARKLINE_WIDTH}",
            height=f"{SPARKLINE_HEIGHT}",
            role="img",
            aria_label="Price over the last 30 days",
        ),
    )


def watch_card(row: WatchRow) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                thumbnail(row.image, row.title),
                rx.vstack(
                    # The title is the card's one link; its ::after covers the whole card, so
                    # a click anywhere opens the product while readers still hear one link.
                    rx.link(
                        rx.text(row.title, weight="medium", style=LINE_CLAMP_2),
                        href=f"/products/{row.product_id}",
                        color=rx.color("gray", 12),
                        underline="hover",
                        _after={"content": "''", "position": "absolute", "inset": "0", "zIndex": "1"},
                        data_testid="watch-card-link",
                    ),
                    rx.text(row.shop, size="1", color=rx.color("gray", 10)),
                    spacing="1",
                    min_width="0",
                ),
                spacing="3",
                align="start",
                width="100%",
            ),
            rx.hstack(
                rx.vstack(
                    rx.text(row.price_text, size="6", weight="bold", data_testid="price"),
                    rx.text("Target: ", row.target_text, size="1", color=rx.color("gray", 11)),
                    spacing="0",
                ),
                rx.spacer(),
                sparkline(row.sparkline, row.change_direction),
                align="end",
                width="100%",
            ),
            rx.cond(
                row.change_text != "",
                rx.text(
                    row.change_text,
                    size="1",
                    color=rx.cond(row.change_direction == "up", rx.color("red", 11), rx.color("teal", 11)),
                ),
            ),
            rx.flex(
                availability_badge(row.availability),
                rx.cond(row.good_deal, rx.badge("Good deal", color_scheme="amber", variant="solid")),
                rx.cond(row.below_target, rx.badge("Below target", color_scheme="teal", variant="solid")),
                rx.cond(~row.active, rx.badge("Paused", color_scheme="gray", variant="outline")),
                spacing="2",
                wrap="wrap",
            ),
            reading_status_callout(row),
            rx.text("Checked ", row.checked_text, size="1", color=rx.color("gray", 10)),
            spacing="3",
            width="100%",
        ),
        size="2",
        width="100%",
        position="relative",
        cursor="pointer",
        _hover={"boxShadow": f"0 0 0 1px {rx.color('accent', 8)}"},
        _focus_within={"boxShadow": f"0 0 0 2px {rx.color('accent', 8)}"},
        data_testid="watch-card",
    )
