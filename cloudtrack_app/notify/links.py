"""Signed, expiring links that turn one watch's alerts off without logging in.

The token is `<payload>.<signature>`: base64url JSON `{"w": watch, "u": user, "e": expiry}`
and an HMAC-SHA256 of it under the server's secret key (itsdangerous is not installed,
and the standard library covers this in a few lines).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from cloudtrack_app.models import utcnow
from cloudtrack_app.settings import Settings, get_settings

UNSUBSCRIBE_PATH = "/alerts/off"
_PURPOSE = b"cloudtrack-unsubscribe-v1"


class InvalidLinkToken(ValueError):
    """The link was altered, belongs to another server, or has expired (message says which)."""


@dataclass(frozen=True)
class UnsubscribeClaim:
    watch_id: int
    user_id: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(payload: str, settings: Settings) -> str:
    key = hmac.new(settings.effective_secret_key.encode(), _PURPOSE, hashlib.sha256).digest()
    return _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())


def make_unsubscribe_token(
    watch_id: int, user_id: int, *, now: datetime | None = None, settings: Settings | None = None
) -> str:
    settings = settings or get_settings()
    expires = (now or utcnow()) + timedelta(days=settings.unsubscribe_link_days)
    payload = _b64(json.dumps({"w": watch_id, "u": user_id, "e": int(expires.timestamp())}).encode())
    return f"{payload}.{_signature(payload, settings)}"


def read_unsubscribe_token(
    token: str, *, now: datetime | None = None, settings: Settings | None = None
) -> UnsubscribeClaim:
    settings = settings or get_settings()
    payload, _, signature = token.strip().partition(".")
    if not payload or not hmac.compare_digest(signature.encode(), _signature(payload, settings).encode()):
        raise InvalidLinkToken("This link is not valid. Turn alerts off from the product page in CloudTrack.")
    try:
        data = json.loads(_unb64(payload))
        claim = UnsubscribeClaim(watch_id=int(data["w"]), user_id=int(data["u"]))
        expires = int(data["e"])
    except (ValueError, KeyError, TypeError) as error:
        raise InvalidLinkToken("This link is not valid.") from error
    if (now or utcnow()).timestamp() > expires:
        raise InvalidLinkToken("This link has expired. Turn alerts off from the product page in CloudTrack.")
    return claim


def unsubscribe_url(
    watch_id: int, user_id: int, *, now: datetime | None = None, settings: Settings | None = None
) -> str:
    settings = settings or get_settings()
    token = make_unsubscribe_token(watch_id, user_id, now=now, settings=settings)
    return f"{settings.public_url.rstrip('/')}{UNSUBSCRIBE_PATH}?token={token}"
