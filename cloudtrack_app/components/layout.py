"""The frame every page sits in (navigation bar, content width, colour mode) and the form pieces pages share."""

from __future__ import annotations

import reflex as rx

from cloudtrack_app.auth.state import AuthState

CONTENT_WIDTH = "72rem"


def brand() -> rx.Component:
    return rx.link(
        rx.hstack(
            rx.icon("radar", size=22, color=rx.color("accent", 10)),
            rx.text("CloudTrack", size="5", weight="bold"),
            align="center",
            spacing="2",
        ),
        href="/",
        underline="none",
        color=rx.color("gray", 12),
        aria_label="CloudTrack home",
    )


def link_button(label: str, href: str, **props) -> rx.Component:
    """A link that looks like a button (a real <a>, so it is announced as a link)."""
    return rx.button(rx.link(label, href=href, underline="none"), as_child=True, **props)


def toggle_button(
    *children: rx.Component | rx.Var | str, pressed: rx.Var[bool], variants: tuple[str, str], **props
) -> rx.Component:
    """A button that stays pressed while `pressed`: teal in `variants[0]`, else gray in
    `variants[1]`; screen readers hear whether it is pressed."""
    return rx.button(
        *children,
        aria_pressed=rx.cond(pressed, "true", "false"),
        variant=rx.cond(pressed, *variants),
        color_scheme=rx.cond(pressed, "teal", "gray"),
        type="button",
        **props,
    )


def nav_link(label: str, href: str, icon: str) -> rx.Component:
    return rx.link(
        rx.hstack(
            rx.icon(icon, size=18),
            rx.text(label, size="3", display=["none", "inline"]),
            align="center",
            spacing="1",
        ),
        href=href,
        aria_label=label,
        underline="none",
        color=rx.color("gray", 12),
        padding_x="0.5rem",
        padding_y="0.25rem",
        border_radius="var(--radius-2)",
        _hover={"background": rx.color("gray", 3)},
    )


def navbar() -> rx.Component:
    return rx.box(
        rx.hstack(
            brand(),
            rx.spacer(),
            rx.cond(
                AuthState.logged_in,
                rx.hstack(
                    rx.el.nav(
                        rx.hstack(
                            nav_link("Dashboard", "/", "layout-dashboard"),
                            nav_link("Settings", "/settings", "settings"),
                            spacing="1",
                        ),
                        aria_label="Main",
                    ),
                    rx.button(
                        rx.icon("log-out", size=16),
                        rx.text("Log out", display=["none", "inline"]),
                        on_click=AuthState.logout,
                        variant="soft",
                        color_scheme="gray",
                        aria_label="Log out",
                    ),
                    spacing="2",
                    align="center",
                ),
                rx.hstack(
                    link_button("Log in", "/login", variant="soft"),
                    link_button("Sign up", "/signup"),
                    spacing="2",
                ),
            ),
            rx.color_mode.button(variant="ghost", aria_label="Toggle dark mode"),
            align="center",
            spacing="3",
            max_width=CONTENT_WIDTH,
            margin_x="auto",
            width="100%",
        ),
        as_="header",
        padding_x=["0.75rem", "1.5rem"],
        padding_y="0.75rem",
        border_bottom=f"1px solid {rx.color('gray', 5)}",
        background=rx.color("gray", 1),
        position="sticky",
        top="0",
        z_index="10",
        width="100%",
    )


def page_frame(*children: rx.Component) -> rx.Component:
    return rx.box(
        navbar(),
        rx.el.main(
            rx.box(*children, max_width=CONTENT_WIDTH, margin_x="auto", width="100%"),
            padding_x=["0.75rem", "1.5rem"],
            padding_y=["1rem", "2rem"],
        ),
        min_height="100vh",
        background=rx.color("gray", 2),
    )


def loading() -> rx.Component:
    return rx.center(rx.spinner(size="3"), padding="4rem", aria_label="Loading")


def protected(*children: rx.Component) -> rx.Component:
    """Content shown only once the session is confirmed (the on_load guard redirects otherwise)."""
    return page_frame(rx.cond(AuthState.logged_in, rx.fragment(*children), loading()))


def form_error(message: rx.Var[str]) -> rx.Component:
    return rx.cond(
        message != "",
        rx.callout(message, icon="triangle-alert", color_scheme="red", role="alert", width="100%"),
    )


def labelled_input(label: str, name: str, **props) -> rx.Component:
    field_id = props.pop("id", f"field-{name}")
    return rx.vstack(
        rx.el.label(label, html_for=field_id, font_weight="500", font_size="0.9rem"),
        rx.input(id=field_id, name=name, width="100%", size="3", **props),
        spacing="1",
        width="100%",
    )


def section_card(title: str, description: str, *children: rx.Component) -> rx.Component:
    """A settings section: a titled card with a line saying what it is for."""
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


def success_notice(message: rx.Var[str]) -> rx.Component:
    """A green "done" line, shown only while `message` is not empty."""
    return rx.cond(message != "", rx.callout(message, icon="check", color_scheme="green", role="status"))


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
