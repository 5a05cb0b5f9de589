"""The Reflex app: pages, API routes and lifespan tasks."""

import reflex as rx

from cloudtrack_app import models  # noqa: F401  (registers the tables for migrations)
from cloudtrack_app.auth.state import AuthState
from cloudtrack_app.pages.auth import login_page, signup_page
from cloudtrack_app.pages.dashboard import index_page
from cloudtrack_app.pages.settings import settings_page
from cloudtrack_app.states.account import AccountFormState
from cloudtrack_app.states.profile import ProfileState

app = rx.App(
    head_components=[
        rx.el.meta(name="description", content="CloudTrack: self-hosted price and stock tracker")
    ],
)
app.add_page(index_page, route="/", title="CloudTrack", on_load=AuthState.check_session)
app.add_page(
    login_page, route="/login", title="Log in · CloudTrack", on_load=AccountFormState.open_public_page
)
app.add_page(
    signup_page, route="/signup", title="Sign up · CloudTrack", on_load=AccountFormState.open_public_page
)
app.add_page(
    settings_page, route="/settings", title="Settings · CloudTrack", on_load=ProfileState.load_profile
)
