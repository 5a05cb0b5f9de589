"""The one interface every delivery channel implements, and the registry of channels.

A channel turns a composed plain-text message into its own format (escaping there),
and sends it. Adding ntfy, webhooks or Discord is one module with one class decorated
by `@register_channel`, listed in `CHANNEL_MODULES`.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Protocol, TypeVar

from cloudtrack_app.models import User
from cloudtrack_app.notify.compose import ComposedMessage
from cloudtrack_app.settings import Settings

CHANNEL_MODULES = (
    "cloudtrack_app.notify.email",
    "cloudtrack_app.notify.telegram",
    "cloudtrack_app.notify.apprise_channel",
)


class TransientSendError(Exception):
    """Worth retrying later (timeout, 5xx, rate limit); `retry_after` in seconds if the provider said."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentSendError(Exception):
    """Retrying cannot help (invalid address, bot blocked); the message is shown in settings."""


@dataclass(frozen=True)
class RenderedMessage:
    """Exactly what goes out: `body` is the channel's main text, `html` the e-mail's HTML part."""

    subject: str
    body: str
    html: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    links: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class SendResult:
    provider_id: str | None


class Channel(Protocol):
    """One way of reaching a person. Instances live for one dispatch run (`async with`)."""

    name: str
    label: str
    max_length: int  # longest composed body this channel can carry

    def __init__(self, settings: Settings) -> None: ...

    @classmethod
    def is_configured(cls, settings: Settings) -> bool: ...

    @classmethod
    def recipient_for(cls, user: User) -> str | None:
        """Where this user gets alerts on this channel, when they have it turned on."""
        ...

    @classmethod
    def held_reason(cls, user: User) -> str | None:
        """Why nothing may go to that recipient yet (an address nobody verified), or None."""
        ...

    def render(self, message: ComposedMessage) -> RenderedMessage: ...

    async def send(self, rendered: RenderedMessage, recipient: str, idempotency_key: str) -> SendResult: ...

    async def __aenter__(self) -> Channel: ...

    async def __aexit__(self, *exc_info: object) -> None: ...


ChannelType = type[Channel]
_REGISTRY: dict[str, ChannelType] = {}
C = TypeVar("C")


def register_channel(cls: C) -> C:
    _REGISTRY[cls.name] = cls  # type: ignore[attr-defined]
    return cls


def channel_types() -> dict[str, ChannelType]:
    for module in CHANNEL_MODULES:
        importlib.import_module(module)
    return dict(sorted(_REGISTRY.items()))


def configured_channel_types(settings: Settings) -> dict[str, ChannelType]:
    return {name: cls for name, cls in channel_types().items() if cls.is_configured(settings)}


def base_channel_name(delivery_name: str) -> str:
    """The channel of a delivery: `apprise:7` (one of a person's Apprise targets) is `apprise`."""
    return delivery_name.split(":", 1)[0]


def channel_error_column(name: str) -> str:
    """The User column that shows this channel's lasting failure in settings."""
    return f"{name}_channel_error"


@asynccontextmanager
async def open_channels(settings: Settings) -> AsyncIterator[dict[str, Channel]]:
    """Every channel the server has credentials for, opened for one dispatch run."""
    async with AsyncExitStack() as stack:
        opened: dict[str, Channel] = {}
        for name, cls in configured_channel_types(settings).items():
            opened[name] = await stack.enter_async_context(cls(settings))
        yield opened
