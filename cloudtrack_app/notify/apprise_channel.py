"""Apprise as a channel: each person's own list of ntfy, Gotify, webhook, Discord, … URLs.

Every Apprise URL a person adds is a target a stranger could point at this server's own
network, so no connection Apprise opens escapes the address guard:

- only plugins that talk HTTP through `requests` are accepted (`SUPPORTED_SCHEMES`); those
  that open sockets by other means (mailto's smtplib, MQTT, XMPP, …) are refused when added;
- while a target is sent to, every connection `requests` (urllib3) opens in that thread
  resolves the host, checks every address (`is_public_address`, or
  NOTIFY_ALLOW_PRIVATE_HOSTS) and connects to a checked address. That covers the target,
  the redirects `requests` follows and a DNS answer that changes between check and connect.

URLs hold tokens and passwords: they are stored whole (sending needs them) and shown only as
`masked_url` (scheme and host).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from typing import Any
from urllib.parse import urlsplit

import apprise
import urllib3.util.connection
from sqlmodel import select

from cloudtrack_app.db import session_scope
from cloudtrack_app.models import AppriseTarget, User, utcnow
from cloudtrack_app.notify.channels import (
    PermanentSendError,
    RenderedMessage,
    SendResult,
    TransientSendError,
    register_channel,
)
from cloudtrack_app.notify.compose import ComposedMessage
from cloudtrack_app.notify.facts import fact_rows, message_links
from cloudtrack_app.settings import Settings, get_settings
from cloudtrack_app.tracking.fetch.netguard import IPAddress, is_public_address, literal_address

log = logging.getLogger(__name__)

# Plugins whose every connection goes through `requests` (checked in their source).
SUPPORTED_SCHEMES = frozenset(
    {
        "json", "jsons", "ntfy", "ntfys", "gotify", "gotifys", "discord",
        "slack", "pover", "matrix", "matrixs",
    }
)  # fmt: skip
DELIVERY_PREFIX = "apprise:"
MAX_TARGETS = 20
NAME_MAX_CHARS = 60
MASK = "•••"

# Apprise logs the URLs it posts to; its own lines stay out of CloudTrack's logs below warnings.
logging.getLogger("apprise").setLevel(logging.WARNING)


class AppriseTargetError(Exception):
    """A URL or name CloudTrack will not take; `str(error)` is a sentence for the person."""


# --- showing a URL -------------------------------------------------------------------------


def masked_url(url: str) -> str:
    """Scheme and host only: `ntfy://ntfy.example.com/•••`; tokens and paths never shown."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return MASK
    scheme = parts.scheme.lower() or "?"
    rest = f"/{MASK}" if (parts.path.strip("/") or parts.query or parts.username or parts.password) else ""
    return f"{scheme}://{host}{port}{rest}"


# --- which addresses may be reached ----------------------------------------------------------


@dataclass(frozen=True)
class PrivateHostAllowance:
    """NOTIFY_ALLOW_PRIVATE_HOSTS: host names and networks that may be private (a LAN's ntfy)."""

    hosts: frozenset[str]
    networks: tuple[IPv4Network | IPv6Network, ...]

    @classmethod
    def parse(cls, text: str) -> PrivateHostAllowance:
        hosts, networks = set(), []
        for entry in text.replace(",", " ").split():
            try:
                networks.append(ip_network(entry, strict=False))
            except ValueError:
                hosts.add(entry.rstrip(".").lower())
        return cls(frozenset(hosts), tuple(networks))

    def allows(self, host: str, address: IPAddress) -> bool:
        if is_public_address(address):
            return True
        if host.rstrip(".").lower() in self.hosts:
            return True
        return any(address in network for network in self.networks)


def _refusal(host: str, address: IPAddress) -> AppriseTargetError:
    return AppriseTargetError(
        f"{host} points into a private network ({address}); CloudTrack does not send alerts there "
        "unless the administrator allows that host (NOTIFY_ALLOW_PRIVATE_HOSTS)."
    )


def checked_addresses(host: str, port: int, allowance: PrivateHostAllowance) -> list[IPAddress]:
    """Every address of `host`, all of them allowed, or AppriseTargetError."""
    literal = literal_address(host)
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as error:
            raise AppriseTargetError(f"The address {host} could not be found (DNS lookup failed).") from error
        addresses = []
        for family, _type, _proto, _name, sockaddr in infos:
            if family in (socket.AF_INET, socket.AF_INET6):
                found = ip_address(str(sockaddr[0]).split("%", 1)[0])
                if found not in addresses:
                    addresses.append(found)
    if not addresses:
        raise AppriseTargetError(f"The address {host} could not be found (DNS gave no address).")
    for address in addresses:
        if not allowance.allows(host, address):
            raise _refusal(host, address)
    return addresses


class GuardedConnectionRefused(Exception):
    """Raised inside `requests` (not an OSError, so urllib3 does not retry it away)."""

    def __init__(self, refusal: AppriseTargetError) -> None:
        super().__init__(str(refusal))
        self.refusal = refusal


_guarded = threading.local()
_original_create_connection = urllib3.util.connection.create_connection
_install_lock = threading.Lock()


def _guarded_create_connection(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
    allowance: PrivateHostAllowance | None = getattr(_guarded, "allowance", None)
    if allowance is None:
        return _original_create_connection(address, *args, **kwargs)
    host, port = address
    try:
        addresses = checked_addresses(host.strip("[]"), port, allowance)
    except AppriseTargetError as refusal:
        raise GuardedConnectionRefused(refusal) from None
    last: OSError | None = None
    for checked in addresses:
        try:
            return _original_create_connection((str(checked), port), *args, **kwargs)
        except OSError as error:
            last = error
    assert last is not None
    raise last


def _install_guard() -> None:
    with _install_lock:
        if urllib3.util.connection.create_connection is not _guarded_create_connection:
            urllib3.util.connection.create_connection = _guarded_create_connection  # type: ignore[assignment]


@contextmanager
def guarded_connections(allowance: PrivateHostAllowance) -> Iterator[None]:
    """Every connection `requests` opens in this thread, meanwhile, passes the address check."""
    _install_guard()
    _guarded.allowance = allowance
    try:
        yield
    finally:
        _guarded.allowance = None


# --- reading a URL -----------------------------------------------------------------------


def _plugin(url: str) -> Any:
    scheme = urlsplit(url.strip()).scheme.lower() if "://" in url else ""
    if scheme not in SUPPORTED_SCHEMES:
        shown = f"“{scheme}://”" if scheme else "a URL without a scheme"
        supported = ", ".join(f"{name}://" for name in sorted(SUPPORTED_SCHEMES))
        raise AppriseTargetError(
            f"CloudTrack does not send alerts to {shown}. It takes Apprise URLs of these kinds: {supported}."
        )
    plugin = apprise.Apprise.instantiate(url.strip(), suppress_exceptions=True)
    if not plugin:
        raise AppriseTargetError(
            f"Apprise cannot read this {scheme}:// URL; check it against the Apprise documentation."
        )
    return plugin


def _self_hosted_target(plugin: Any) -> tuple[str, int] | None:
    """The host and port of a self-hosted plugin (json, ntfy, gotify, matrix), None for a fixed service."""
    host = getattr(plugin, "host", None)
    if not isinstance(host, str) or not host:
        return None
    if type(plugin).__name__ == "NotifyNtfy" and getattr(plugin, "mode", "") == "cloud":
        return None
    if type(plugin).__name__ in ("NotifyDiscord", "NotifyPushover", "NotifySlack"):
        return None
    port = getattr(plugin, "port", None)
    return host, int(port) if port else (443 if getattr(plugin, "secure", False) else 80)


def check_target_url(url: str, settings: Settings) -> None:
    """Refuse, in words, a URL CloudTrack cannot or will not send to (looks its host up)."""
    plugin = _plugin(url)
    target = _self_hosted_target(plugin)
    if target is not None:
        checked_addresses(
            target[0], target[1], PrivateHostAllowance.parse(settings.notify_allow_private_hosts)
        )


# --- the list each person keeps ----------------------------------------------------------


@dataclass(frozen=True)
class TargetView:
    """One Apprise target as shown: never the URL itself."""

    id: int
    name: str
    shown_url: str
    last_status: str | None
    last_detail: str | None

    @property
    def delivery_name(self) -> str:
        return f"{DELIVERY_PREFIX}{self.id}"


def _view(target: AppriseTarget) -> TargetView:
    assert target.id is not None
    return TargetView(target.id, target.name, masked_url(target.url), target.last_status, target.last_detail)


def list_targets(user_id: int) -> list[TargetView]:
    with session_scope() as db:
        rows = db.exec(
            select(AppriseTarget).where(AppriseTarget.user_id == user_id).order_by(AppriseTarget.id)  # type: ignore[arg-type]
        )
        return [_view(row) for row in rows]


def add_target(user_id: int, url: str, name: str, *, settings: Settings | None = None) -> TargetView:
    settings = settings or get_settings()
    name = " ".join(name.split())
    if not name:
        raise AppriseTargetError("Give the channel a name, so you can tell it from the others.")
    if len(name) > NAME_MAX_CHARS:
        raise AppriseTargetError(f"A channel name has at most {NAME_MAX_CHARS} characters.")
    check_target_url(url, settings)
    with session_scope() as db:
        if db.get(User, user_id) is None:
            raise LookupError(f"No user with id {user_id}.")
        count = len(list(db.exec(select(AppriseTarget.id).where(AppriseTarget.user_id == user_id))))
        if count >= MAX_TARGETS:
            raise AppriseTargetError(f"You have {MAX_TARGETS} Apprise channels already; remove one first.")
        target = AppriseTarget(user_id=user_id, name=name, url=url.strip())
        db.add(target)
        db.flush()
        return _view(target)


def remove_target(user_id: int, target_id: int) -> bool:
    """Remove one of this person's targets; False when they have none with that id."""
    with session_scope() as db:
        target = db.get(AppriseTarget, target_id)
        if target is None or target.user_id != user_id:
            return False
        db.delete(target)
        return True


def target_id_of(delivery_name: str) -> int | None:
    if not delivery_name.startswith(DELIVERY_PREFIX):
        return None
    try:
        return int(delivery_name.removeprefix(DELIVERY_PREFIX))
    except ValueError:
        return None


def record_target_outcome(delivery_name: str, status: str, detail: str | None) -> None:
    """The last delivery outcome, shown beside the target on the settings page."""
    target_id = target_id_of(delivery_name)
    if target_id is None:
        return
    with session_scope() as db:
        target = db.get(AppriseTarget, target_id)
        if target is not None:
            target.last_status = status[:12]
            target.last_detail = detail[:500] if detail else None
            target.last_at = utcnow()


def _owned_url(delivery_name: str, user_id: int) -> str | None:
    target_id = target_id_of(delivery_name)
    with session_scope() as db:
        target = db.get(AppriseTarget, target_id) if target_id is not None else None
        return target.url if target is not None and target.user_id == user_id else None


# --- the channel -------------------------------------------------------------------------


def render_text(message: ComposedMessage) -> str:
    facts = message.facts
    lines = [message.body, ""]
    lines += [f"{label}: {value}" for label, value in fact_rows(facts)]
    lines += [f"{label}: {url}" for label, url in message_links(facts)]
    return "\n".join(lines).strip()


def _send_now(url: str, title: str, body: str, allowance: PrivateHostAllowance) -> bool:
    plugin = _plugin(url)
    with guarded_connections(allowance):
        return bool(plugin.notify(body=body, title=title))


@register_channel
class AppriseChannel:
    """One delivery per target (`apprise:<id>`), each through the outbox like e-mail."""

    name = "apprise"
    label = "Apprise"
    max_length = 3500

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.allowance = PrivateHostAllowance.parse(settings.notify_allow_private_hosts)

    @classmethod
    def is_configured(cls, settings: Settings) -> bool:
        return True  # nothing to set up on the server: each person brings their own URLs

    @classmethod
    def recipient_for(cls, user: User) -> str | None:
        return None  # several targets, each its own delivery: see `targets_for`

    @classmethod
    def held_reason(cls, user: User) -> str | None:
        return None

    @classmethod
    def targets_for(cls, user_id: int) -> list[TargetView]:
        return list_targets(user_id)

    @classmethod
    def recipient_for_delivery(cls, delivery_name: str, user: User) -> str | None:
        """The masked URL of a target the person still has, or None once it was removed."""
        if user.id is None or _owned_url(delivery_name, user.id) is None:
            return None
        target_id = target_id_of(delivery_name)
        return next((t.shown_url for t in list_targets(user.id) if t.id == target_id), None)

    @staticmethod
    def record_outcome(delivery_name: str, status: str, detail: str | None) -> None:
        record_target_outcome(delivery_name, status, detail)

    def render(self, message: ComposedMessage) -> RenderedMessage:
        return RenderedMessage(subject=message.subject, body=render_text(message))

    async def send_to(self, rendered: RenderedMessage, delivery_name: str, user_id: int) -> SendResult:
        url = await asyncio.to_thread(_owned_url, delivery_name, user_id)
        if url is None:
            raise PermanentSendError("This Apprise channel was removed.")
        try:
            delivered = await asyncio.to_thread(
                _send_now, url, rendered.subject, rendered.body, self.allowance
            )
        except GuardedConnectionRefused as error:
            raise PermanentSendError(str(error.refusal)) from None
        except AppriseTargetError as error:
            raise PermanentSendError(str(error)) from None
        if not delivered:
            raise TransientSendError(f"{masked_url(url)} did not take the alert.")
        return SendResult(provider_id=None)

    async def send(self, rendered: RenderedMessage, recipient: str, idempotency_key: str) -> SendResult:
        raise PermanentSendError("Apprise targets are sent through `send_to`.")

    async def __aenter__(self) -> AppriseChannel:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None
