"""What the settings page and `notify status` show of each alert channel: configured, on, where
alerts go, and how the last delivery went. Apart from the outbox run, which only writes these."""

from __future__ import annotations

from dataclasses import dataclass

from cloudtrack_app.db import session_scope
from cloudtrack_app.models import User
from cloudtrack_app.notify.apprise_channel import TargetView
from cloudtrack_app.notify.channels import channel_error_column, channel_types
from cloudtrack_app.notify.dispatch import MultiTargetChannel
from cloudtrack_app.settings import Settings, get_settings


@dataclass(frozen=True)
class ChannelStatus:
    name: str  # "email" | "telegram" | "apprise:<target id>"
    label: str
    configured: bool  # the server has credentials for it
    enabled: bool  # the person turned it on
    recipient: str | None  # address or chat id the alerts go to
    error: str | None  # the last lasting failure, until a send succeeds
    last_outcome: str | None = None  # the last delivery in words, for channels that keep it
    held: str | None = None  # the channel's `held_reason`: why nothing may go to the recipient yet


def _target_status(target: TargetView) -> ChannelStatus:
    return ChannelStatus(
        name=target.delivery_name,
        label=target.name,
        configured=True,
        enabled=True,
        recipient=target.shown_url,
        error=target.last_detail if target.last_status == "failed" else None,
        last_outcome=_LAST_OUTCOME_WORDS.get(target.last_status or "", "Nothing sent here yet.")
        + (f" {target.last_detail}" if target.last_status == "retrying" and target.last_detail else ""),
    )


_LAST_OUTCOME_WORDS = {
    "sent": "The last alert was delivered.",
    "retrying": "The last alert was not delivered yet; CloudTrack tries again.",
    "skipped": "The last alert was not sent.",
    "failed": "The last alert failed.",
}


def channel_status(user_id: int, *, settings: Settings | None = None) -> list[ChannelStatus]:
    settings = settings or get_settings()
    with session_scope() as db:
        user = db.get(User, user_id)
        if user is None:
            raise LookupError(f"No user with id {user_id}.")
        statuses = []
        for name, cls in channel_types().items():
            if issubclass(cls, MultiTargetChannel):
                statuses += [_target_status(target) for target in cls.targets_for(user_id)]
                continue
            recipient = cls.recipient_for(user)
            statuses.append(
                ChannelStatus(
                    name=name,
                    label=cls.label,
                    configured=cls.is_configured(settings),
                    enabled=recipient is not None,
                    recipient=recipient,
                    error=getattr(user, channel_error_column(name), None),
                    held=cls.held_reason(user),
                )
            )
        return statuses
