"""HTTP endpoints of `notify`: the alerts-off link from e-mails and the Telegram webhook.

`routes` is a list of Starlette routes for the app to mount. The alerts-off page asks
before acting on GET (mail scanners follow links), and acts on POST: from its own
button, or from a mail client's RFC 8058 one-click unsubscribe.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from cloudtrack_app.db import session_scope
from cloudtrack_app.models import Product, Watch
from cloudtrack_app.notify.links import (
    UNSUBSCRIBE_PATH,
    InvalidLinkToken,
    UnsubscribeClaim,
    read_unsubscribe_token,
)
from cloudtrack_app.notify.telegram import SECRET_HEADER, WEBHOOK_PATH, handle_webhook_payload, webhook_secret
from cloudtrack_app.settings import get_settings

log = logging.getLogger(__name__)

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>{title} · CloudTrack</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#111}}
button{{font:inherit;padding:.6rem 1.2rem;border:0;border-radius:.4rem;background:#12a594;color:#fff;cursor:pointer}}
a{{color:#008573}}</style></head>
<body><h1>{title}</h1>{content}</body></html>"""


def _page(title: str, content: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=escape(title), content=content), status_code=status_code)


def _watched_title(claim: UnsubscribeClaim) -> tuple[str, bool] | None:
    with session_scope() as db:
        watch = db.get(Watch, claim.watch_id)
        if watch is None or watch.user_id != claim.user_id:
            return None
        product = db.get(Product, watch.product_id)
        return (product.title if product and product.title else "this product"), watch.active


def turn_off_alerts(claim: UnsubscribeClaim) -> str | None:
    """Deactivate the watch the link names; its product title, or None if the watch is gone."""
    with session_scope() as db:
        watch = db.get(Watch, claim.watch_id)
        if watch is None or watch.user_id != claim.user_id:
            return None
        watch.active = False
        product = db.get(Product, watch.product_id)
        return product.title if product and product.title else "this product"


async def unsubscribe(request: Request) -> Response:
    """`/alerts/off?token=…`: turn one watch's alerts off without logging in."""
    settings = get_settings()
    try:
        claim = read_unsubscribe_token(request.query_params.get("token", ""), settings=settings)
    except InvalidLinkToken as error:
        return _page("Link not valid", f"<p>{escape(str(error))}</p>", status_code=400)
    home = f'<p><a href="{escape(settings.public_url)}">Open CloudTrack</a></p>'
    if request.method == "POST":
        title = await asyncio.to_thread(turn_off_alerts, claim)
        if title is None:
            return _page("Nothing to turn off", "<p>This product is no longer watched.</p>" + home, 404)
        return _page(
            "Alerts are off",
            f"<p>You will get no more alerts for <strong>{escape(title)}</strong>. "
            "You can turn them on again on the product's page in CloudTrack.</p>" + home,
        )
    found = await asyncio.to_thread(_watched_title, claim)
    if found is None:
        return _page("Nothing to turn off", "<p>This product is no longer watched.</p>" + home, 404)
    title, active = found
    if not active:
        return _page(
            "Alerts are off", f"<p>Alerts for <strong>{escape(title)}</strong> are already off.</p>" + home
        )
    return _page(
        "Turn off alerts?",
        f"<p>Stop watching <strong>{escape(title)}</strong> and get no more alerts for it?</p>"
        '<form method="post"><button type="submit">Turn off alerts</button></form>',
    )


async def telegram_webhook(request: Request) -> Response:
    """Updates from Telegram when TELEGRAM_MODE=webhook, authenticated by the secret header."""
    settings = get_settings()
    if not settings.telegram_bot_token or settings.telegram_mode != "webhook":
        return JSONResponse({"error": "not found"}, status_code=404)
    secret = request.headers.get(SECRET_HEADER, "")
    if not hmac.compare_digest(secret.encode(), webhook_secret(settings).encode()):
        return JSONResponse({"error": "forbidden"}, status_code=403)
    try:
        payload = await request.json()
    except ValueError:
        return JSONResponse({"error": "invalid JSON"}, status_code=400)
    try:
        await handle_webhook_payload(payload, settings)
    except Exception:
        # Telegram retries non-2xx answers for hours; one bad update must not block the rest.
        log.exception("Handling a Telegram webhook update failed")
    return JSONResponse({"ok": True})


routes = [
    Route(UNSUBSCRIBE_PATH, unsubscribe, methods=["GET", "POST"], name="alerts_off"),
    Route(WEBHOOK_PATH, telegram_webhook, methods=["POST"], name="telegram_webhook"),
]
