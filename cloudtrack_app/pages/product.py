"""`/products/[id]`: the price history of one watched product, and the watch's controls."""

from __future__ import annotations

import reflex as rx
from reflex.vars.function import FunctionStringVar

from cloudtrack_app.components.layout import form_error, loading, protected
from cloudtrack_app.components.price_picker import PickerBindings, price_picker
from cloudtrack_app.components.watch_card import availability_badge, reading_status_callout, thumbnail
from cloudtrack_app.components.watch_options import RuleFields, watch_options
from cloudtrack_app.states.product import ProductState
from cloudtrack_app.views.picker import PICK_PROMPT
from cloudtrack_app.views.product import AlertLine, StatLine, StockBand

RANGES = [("30", "30 days"), ("90", "90 days"), ("365", "1 year"), ("all", "All")]


def header() -> rx.Component:
    detail = ProductState.detail
    return rx.flex(
        thumbnail(detail.image, detail.title, size="7rem"),
        rx.vstack(
            rx.heading(detail.title, size="6", as_="h1"),
            rx.link(
                rx.hstack(
                    rx.text(detail.shop), rx.icon("external-link", size=14), align="center", spacing="1"
                ),
                href=detail.url,
                is_external=True,
                size="2",
            ),
            rx.hstack(
                rx.text(detail.price_text, size="7", weight="bold", data_testid="current-price"),
                availability_badge(detail.availability),
                rx.cond(detail.good_deal, rx.badge("Good deal", color_scheme="amber", variant="solid")),
                rx.cond(~detail.active, rx.badge("Paused", color_scheme="gray", variant="outline")),
                align="center",
                spacing="3",
                wrap="wrap",
            ),
            rx.text(
                "Target: ",
                detail.target_text,
                " · checked ",
                detail.checked_text,
                size="2",
                color=rx.color("gray", 11),
            ),
            # A gone pick is told below, with the button that mends it.
            rx.cond(detail.status == "layout_changed", rx.fragment(), reading_status_callout(detail)),
            rx.cond(detail.error != "", rx.text(detail.error, size="1", color=rx.color("gray", 11))),
            rx.cond(detail.deal_text != "", deal_note()),
            followed_price(),
            rx.cond(
                detail.second_look_text != "",
                rx.text(
                    detail.second_look_text, size="2", color=rx.color("gray", 11), data_testid="second-look"
                ),
            ),
            spacing="2",
            min_width="0",
        ),
        spacing="4",
        direction=rx.breakpoints(initial="column", sm="row"),
        width="100%",
    )


def deal_note() -> rx.Component:
    """What CloudTrack's history says about the discount the shop claims."""
    detail = ProductState.detail
    return rx.cond(
        detail.deal_overstated,
        rx.callout(
            detail.deal_text, icon="badge-alert", color_scheme="orange", size="1", data_testid="deal-check"
        ),
        rx.callout(
            detail.deal_text, icon="badge-percent", color_scheme="gray", size="1", data_testid="deal-check"
        ),
    )


def followed_price() -> rx.Component:
    """Which price the watch follows, and when the picked one is gone, what to do."""
    detail = ProductState.detail
    return rx.cond(
        detail.pick_missing,
        rx.callout(
            rx.hstack(
                rx.text("The page layout changed: pick the price again."),
                rx.button("Pick the price", on_click=ProductState.open_picker, size="1", type="button"),
                align="center",
                spacing="3",
                wrap="wrap",
            ),
            icon="triangle-alert",
            color_scheme="amber",
            role="status",
            size="1",
            data_testid="layout-changed",
        ),
        rx.cond(
            detail.picked,
            rx.text(
                "Following the price you picked: ",
                rx.text.strong(detail.pick_text),
                size="2",
                data_testid="following-pick",
            ),
        ),
    )


def picker() -> rx.Component:
    return rx.cond(
        ProductState.picking,
        rx.card(
            price_picker(
                PICK_PROMPT,
                PickerBindings(
                    choices=ProductState.pick_choices,
                    chosen="",
                    on_choose=ProductState.choose_price,
                    on_try=ProductState.try_pick_selector,
                    trying=ProductState.trying_selector,
                    message=ProductState.pick_message,
                    reading=ProductState.picker_reading,
                ),
                rx.cond(
                    ProductState.detail.picked,
                    rx.button(
                        "Use automatic reading",
                        on_click=ProductState.use_automatic,
                        variant="soft",
                        type="button",
                    ),
                ),
                rx.button(
                    "Close",
                    on_click=ProductState.close_picker,
                    variant="soft",
                    color_scheme="gray",
                    type="button",
                ),
            ),
            width="100%",
        ),
    )


def actions() -> rx.Component:
    detail = ProductState.detail
    return rx.flex(
        rx.button(
            rx.cond(ProductState.checking, rx.spinner(size="1"), rx.icon("refresh-cw", size=16)),
            rx.cond(ProductState.checking, "Checking…", "Check now"),
            on_click=ProductState.check_now,
            disabled=ProductState.checking,
        ),
        rx.button(
            rx.icon("mouse-pointer-click", size=16),
            "Not the right price?",
            on_click=ProductState.open_picker,
            variant="soft",
            data_testid="not-right-price",
        ),
        rx.cond(
            detail.active,
            rx.button(rx.icon("pause", size=16), "Pause", on_click=ProductState.pause, variant="soft"),
            rx.button(rx.icon("play", size=16), "Resume", on_click=ProductState.resume, variant="soft"),
        ),
        rx.cond(
            detail.fulfilled,
            rx.button("Wait for the next restock", on_click=ProductState.rearm, variant="soft"),
        ),
        rx.button(
            rx.icon("download", size=16), "Download CSV", on_click=ProductState.download_csv, variant="soft"
        ),
        rx.alert_dialog.root(
            rx.alert_dialog.trigger(
                rx.button(rx.icon("trash-2", size=16), "Delete", color_scheme="red", variant="soft")
            ),
            rx.alert_dialog.content(
                rx.alert_dialog.title("Stop watching this product?"),
                rx.alert_dialog.description("Its alerts stop and the watch is removed from your dashboard."),
                rx.hstack(
                    rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                    rx.alert_dialog.action(
                        rx.button("Delete watch", color_scheme="red", on_click=ProductState.delete)
                    ),
                    justify="end",
                    spacing="3",
                    margin_top="1rem",
                ),
            ),
        ),
        spacing="2",
        wrap="wrap",
    )


# Recharts calls these in the browser; the texts come with the data (formatted on the server
# in the user's language and timezone), so the functions only look them up.
TOOLTIP_VALUE = "(value, name, item) => [(item && item.payload && item.payload.price_text) || value, name]"
TOOLTIP_LABEL = "(label, payload) => (payload && payload.length && payload[0].payload.when) || ''"


def _tick_label() -> FunctionStringVar:
    labels = ProductState.chart_tick_labels
    return FunctionStringVar.create(
        f"((value) => ({labels})[String(value)] ?? '')", _var_data=labels._get_all_var_data()
    )


def stock_band(band: StockBand) -> rx.Component:
    return rx.recharts.reference_area(
        x1=band.start,
        x2=band.end,
        fill="var(--red-9)",
        fill_opacity=0.12,
        stroke="none",
        if_overflow="hidden",
    )


def chart() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading("Price history", size="4", as_="h2"),
                rx.spacer(),
                rx.segmented_control.root(
                    *[rx.segmented_control.item(label, value=key) for key, label in RANGES],
                    value=ProductState.chart_range,
                    on_change=ProductState.set_chart_range,
                    aria_label="Chart range",
                ),
                width="100%",
                wrap="wrap",
                align="center",
            ),
            rx.cond(
                ProductState.chart.length() > 0,
                rx.recharts.composed_chart(
                    rx.recharts.cartesian_grid(stroke_dasharray="3 3", opacity=0.4),
                    rx.foreach(ProductState.stock_bands, stock_band),
                    rx.recharts.line(
                        data_key="price",
                        name="Price",
                        type_="stepAfter",
                        stroke="var(--teal-9)",
                        stroke_width=2,
                        dot=ProductState.chart_dots,
                        is_animation_active=False,
                    ),
                    rx.cond(
                        ProductState.has_target,
                        rx.recharts.reference_line(
                            rx.recharts.label(
                                value=ProductState.chart_target_label,
                                position="insideBottomLeft",
                                custom_attrs={"fill": "var(--amber-11)", "fontSize": 12},
                            ),
                            y=ProductState.chart_target,
                            stroke="var(--amber-9)",
                            stroke_dasharray="6 4",
                            if_overflow="extendDomain",
                        ),
                    ),
                    rx.recharts.x_axis(
                        data_key="t",
                        type_="number",
                        scale="time",
                        domain=ProductState.chart_domain,
                        ticks=ProductState.chart_ticks,
                        tick_formatter=_tick_label(),
                        allow_data_overflow=True,
                    ),
                    # Room above and below, so a target at the lowest price is not drawn on the axis.
                    rx.recharts.y_axis(domain=["auto", "auto"], width=64, padding={"top": 12, "bottom": 12}),
                    rx.recharts.graphing_tooltip(
                        custom_attrs={
                            "formatter": rx.Var(TOOLTIP_VALUE),
                            "labelFormatter": rx.Var(TOOLTIP_LABEL),
                        },
                    ),
                    data=ProductState.chart,
                    width="100%",
                    height=300,
                ),
                rx.text("No history yet.", color=rx.color("gray", 11)),
            ),
            rx.cond(
                ProductState.stock_bands.length() > 0,
                rx.hstack(
                    rx.box(
                        width="0.9rem",
                        height="0.9rem",
                        background="var(--red-9)",
                        opacity="0.25",
                        border_radius="2px",
                    ),
                    rx.text("Out of stock", size="1", color=rx.color("gray", 11)),
                    align="center",
                    spacing="2",
                    data_testid="stock-band-key",
                ),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
        data_testid="price-chart",
    )


def stat_row(line: StatLine) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(line.period),
        rx.table.cell(line.lowest),
        rx.table.cell(line.highest),
        rx.table.cell(line.average),
    )


def statistics() -> rx.Component:
    detail = ProductState.detail
    return rx.card(
        rx.vstack(
            rx.heading("Statistics", size="4", as_="h2"),
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        rx.table.column_header_cell("Period"),
                        rx.table.column_header_cell("Lowest"),
                        rx.table.column_header_cell("Highest"),
                        rx.table.column_header_cell("Average"),
                    )
                ),
                rx.table.body(rx.foreach(detail.stats, stat_row)),
                size="1",
                width="100%",
            ),
            rx.text("Lowest ever: ", detail.lowest_ever_text, " (", detail.lowest_ever_when, ")", size="2"),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def edit_form() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("What to watch", size="4", as_="h2"),
            form_error(ProductState.edit_error),
            rx.cond(
                ProductState.edit_message != "",
                rx.callout(ProductState.edit_message, icon="check", color_scheme="green", size="1"),
            ),
            watch_options(
                mode=ProductState.edit_mode,
                on_mode=ProductState.set_edit_mode,
                target=ProductState.edit_target,
                on_target=ProductState.set_edit_target,
                any_drop=ProductState.edit_any_drop,
                on_any_drop=ProductState.set_edit_any_drop,
                target_id="edit-target",
                rules=RuleFields(
                    ProductState.edit_drop_percent,
                    ProductState.set_edit_drop_percent,
                    ProductState.edit_window,
                    ProductState.set_edit_window,
                    ProductState.edit_increase,
                    ProductState.set_edit_increase,
                ),
            ),
            rx.button("Save changes", on_click=ProductState.save_edit),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def alert_row(line: AlertLine) -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.badge(line.kind, variant="soft"),
            rx.text(line.when, size="1", color=rx.color("gray", 10)),
            rx.spacer(),
            rx.text(line.channels, size="1"),
            width="100%",
            wrap="wrap",
            align="center",
        ),
        rx.cond(line.subject != "", rx.text(line.subject, weight="medium", size="2", margin_top="0.25rem")),
        rx.cond(
            line.body != "", rx.text(line.body, size="1", color=rx.color("gray", 11), white_space="pre-wrap")
        ),
        rx.cond(line.error != "", rx.text(line.error, size="1", color=rx.color("red", 11))),
        padding_y="0.75rem",
        border_bottom=f"1px solid {rx.color('gray', 4)}",
        width="100%",
    )


def alerts() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Alert history", size="4", as_="h2"),
            rx.cond(
                ProductState.alerts.length() > 0,
                rx.box(rx.foreach(ProductState.alerts, alert_row), width="100%", data_testid="alert-history"),
                rx.text("No alerts yet.", color=rx.color("gray", 11)),
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
    )


def not_found() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Product not found", size="6", as_="h1"),
            rx.text("It is not on your list. It may have been deleted."),
            rx.link("Back to the dashboard", href="/"),
            spacing="3",
        ),
    )


def product_page() -> rx.Component:
    return protected(
        rx.cond(
            ProductState.not_found,
            not_found(),
            rx.cond(
                ProductState.detail,
                rx.vstack(
                    header(),
                    actions(),
                    picker(),
                    rx.cond(
                        ProductState.check_message != "",
                        rx.callout(ProductState.check_message, icon="info", size="1", role="status"),
                    ),
                    chart(),
                    rx.grid(
                        statistics(),
                        edit_form(),
                        columns=rx.breakpoints(initial="1", md="2"),
                        spacing="4",
                        width="100%",
                    ),
                    alerts(),
                    spacing="4",
                    width="100%",
                ),
                loading(),
            ),
        )
    )
