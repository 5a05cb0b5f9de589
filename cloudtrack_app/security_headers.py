"""Headers every answer of CloudTrack carries: what a browser may load, frame and send along.

One ASGI middleware around the whole app (pages, the frontend build, `/_health`, `/ping` and
the API routes), added through `rx.App(api_transformer=...)`, so nothing served misses them.
A route that sets its own Content-Security-Policy (the image routes: a stricter one) keeps it.

The policy allows what the Reflex frontend needs, checked in Chromium against the production
build: scripts and styles from the same origin; the inline scripts of the React Router build
(theme, scroll restoration, router context, streaming) and the style attributes and tags of
Radix and Emotion ('unsafe-inline'); `eval` ('unsafe-eval'), with which Reflex runs scripts
that event handlers send (a toast after adding a product, say); and its websocket to the same
origin (`connect-src 'self'` covers ws: and wss: there). So the policy does little against
injected script (React's escaping does that); what it holds is that no page can be framed,
load plugins, change its base URL, post forms elsewhere, or fetch or show anything from
another origin: images come only from CloudTrack itself (products' images are proxied), so
no page ever makes a viewer's browser contact a shop.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        # The web app manifest and the service worker (assets/), said outright.
        "manifest-src 'self'",
        "worker-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("X-Frame-Options", "DENY"),
)


class SecurityHeaders:
    """Adds SECURITY_HEADERS to every HTTP response that does not set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS:
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
