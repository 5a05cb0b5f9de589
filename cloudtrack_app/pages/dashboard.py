"""`/`: the dashboard for people who are logged in, the landing page for everyone else."""

from __future__ import annotations

import reflex as rx

from cloudtrack_app.auth.state import AuthState
from cloudtrack_app.components.layout import link_button, loading, page_frame, toggle_button
from cloudtrack_app.components.watch_card import watch_card
from cloudtrack_app.pages.landing import landing
from cloudtrack_app.states.dashboard import DashboardState

FILTERS = [("all", "All"), ("below_target", "Below target"), ("in_stock", "In stock"), ("failing", "Failing")]
SORTS = [("changed", "Recently changed"), ("name", "Name"), ("price", "Price"), ("drop", "Biggest drop")]


def empty_state() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.icon("package-search", size=40, color=rx.color("accent", 9)),
            rx.heading("No products yet", size="5", as_="h2"),
            rx.text(
                "Paste a product link from any shop and CloudTrack will watch its price and stock for you.",
                color=rx.color("gray", 11),
                text_align="center",
            ),
            link_button("Add your first product", "/add", size="3"),
            align="center",
            spacing="3",
            padding="2rem",
        ),
        width="100%",
    )


def filter_button(key: str, label: str) -> rx.Component:
    chosen = DashboardState.filter_by == key
    return toggle_button(
        label,
        " (",
        DashboardState.counts.get(key, 0),
        ")",
        pressed=chosen,
        variants=("solid", "soft"),
        on_click=DashboardState.change_filter(key),
        size="2",
        white_space="nowrap",
    )


def filters() -> rx.Component:
    # Buttons that wrap, not a segmented control: on a phone that squeezed "In stock (20)" to
    # "In stoc…" and pushed "Failing" out of sight.
    return rx.flex(
        *[filter_button(key, label) for key, label in FILTERS],
        role="group",
        aria_label="Show",
        spacing="2",
        wrap="wrap",
        data_testid="dashboard-filters",
    )


def controls() -> rx.Component:
    return rx.flex(
        filters(),
        rx.hstack(
            rx.el.label("Sort by", html_for="dashboard-sort", font_size="0.9rem"),
            rx.select.root(
                rx.select.trigger(id="dashboard-sort", aria_label="Sort by"),
                rx.select.content(*[rx.select.item(label, value=key) for key, label in SORTS]),
                value=DashboardState.sort,
                on_change=DashboardState.change_sort,
            ),
            align="center",
            spacing="2",
        ),
        justify="between",
        align="center",
        spacing="3",
        wrap="wrap",
        width="100%",
    )


def pagination() -> rx.Component:
    return rx.cond(
        DashboardState.pages > 1,
        rx.hstack(
            rx.button(
                rx.icon("chevron-left", size=16),
                "Previous",
                on_click=DashboardState.go_to_page(DashboardState.page - 1),
                disabled=DashboardState.page <= 1,
                variant="soft",
            ),
            rx.text("Page ", DashboardState.page, " of ", DashboardState.pages, size="2"),
            rx.button(
                "Next",
                rx.icon("chevron-right", size=16),
                on_click=DashboardState.go_to_page(DashboardState.page + 1),
                disabled=DashboardState.page >= DashboardState.pages,
                variant="soft",
            ),
            justify="center",
            align="center",
            spacing="3",
            width="100%",
        ),
    )


def dashboard() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.vstack(
                rx.heading(f"Hello, {AuthState.display_name}", size="8", as_="h1"),
                rx.text("Your watches", color=rx.color("gray", 11)),
                spacing="1",
            ),
            rx.spacer(),
            link_button("Add product", "/add", size="3"),
            align="center",
            width="100%",
            wrap="wrap",
        ),
        rx.cond(
            ~DashboardState.loaded,
            loading(),
            rx.cond(
                DashboardState.has_watches,
                rx.vstack(
                    controls(),
                    rx.cond(
                        DashboardState.total == 0,
                        rx.text("No watch matches this filter.", color=rx.color("gray", 11), padding="2rem"),
                    ),
                    rx.grid(
                        rx.foreach(DashboardState.rows, watch_card),
                        columns=rx.breakpoints(initial="1", sm="2", lg="3"),
                        spacing="4",
                        width="100%",
                    ),
                    pagination(),
                    spacing="4",
                    width="100%",
                ),
                empty_state(),
            ),
        ),
        spacing="5",
        width="100%",
    )


def index_page() -> rx.Component:
    return page_frame(
        rx.cond(
            AuthState.logged_in,
            dashboard(),
            rx.cond(AuthState.auth_checked, landing(), loading()),
        )
    )
