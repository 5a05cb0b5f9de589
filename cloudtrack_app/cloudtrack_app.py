"""The Reflex app: pages, API routes and lifespan tasks."""

import reflex as rx
from starlette.applications import Starlette

from cloudtrack_app import models  # noqa: F401  (registers the tables for migrations)
from cloudtrack_app.api.app import api_routes
from cloudtrack_app.background import background_services
from cloudtrack_app.image_routes import routes as image_routes
from cloudtrack_app.notify.routes import routes as notify_routes
from cloudtrack_app.pages.add_product import add_product_page
from cloudtrack_app.pages.auth import login_page, signup_page, verify_page
from cloudtrack_app.pages.dashboard import index_page
from cloudtrack_app.pages.product import product_page
from cloudtrack_app.pages.settings import settings_page
from cloudtrack_app.pages.transfer import import_page
from cloudtrack_app.security_headers import SecurityHeaders
from cloudtrack_app.states.account import AccountFormState, VerifyState
from cloudtrack_app.states.add_product import AddProductState
from cloudtrack_app.states.api_tokens import ApiTokensState
from cloudtrack_app.states.dashboard import DashboardState
from cloudtrack_app.states.notifications import NotificationsState
from cloudtrack_app.states.product import ProductState
from cloudtrack_app.states.profile import ProfileState
from cloudtrack_app.states.transfer import ImportState
from cloudtrack_app.tracking.extractor_pool import request_pool_lifespan

app = rx.App(
    # The routes first, then the headers around everything, frontend build included.
    api_transformer=[Starlette(routes=[*notify_routes, *image_routes, *api_routes()]), SecurityHeaders],
    head_components=[
        rx.el.meta(name="description", content="CloudTrack: self-hosted price and stock tracker"),
        # Installable as an app (assets/manifest.webmanifest), with a share target on `/add`.
        rx.el.link(rel="manifest", href="/manifest.webmanifest"),
        rx.el.meta(name="theme-color", content="#e5ddf4"),
        rx.el.link(rel="apple-touch-icon", href="/icons/icon-192.png"),
        rx.script(src="/register-sw.js"),
    ],
)
app.add_page(index_page, route="/", title="CloudTrack", on_load=DashboardState.load_dashboard)
app.add_page(
    login_page, route="/login", title="Log in · CloudTrack", on_load=AccountFormState.open_public_page
)
app.add_page(
    signup_page, route="/signup", title="Sign up · CloudTrack", on_load=AccountFormState.open_public_page
)
app.add_page(
    verify_page,
    route="/verify",
    title="Confirm your address · CloudTrack",
    on_load=[VerifyState.check_session, VerifyState.open_verify_page],
)
app.add_page(
    settings_page,
    route="/settings",
    title="Settings · CloudTrack",
    on_load=[ProfileState.load_profile, NotificationsState.load_notifications, ApiTokensState.load_tokens],
)
app.add_page(
    add_product_page, route="/add", title="Add a product · CloudTrack", on_load=AddProductState.open_page
)
app.add_page(
    import_page, route="/import", title="Import and export · CloudTrack", on_load=ImportState.open_page
)
app.add_page(
    product_page,
    route="/products/[product_id]",
    title="Product · CloudTrack",
    on_load=ProductState.load_product,
)
app.register_lifespan_task(background_services)
app.register_lifespan_task(request_pool_lifespan)
