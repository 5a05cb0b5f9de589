"""What the settings page says about each alert channel, and what a test alert did, in words.

One mechanism for every channel in the registry: each is not set up on this server, needs
verification, on, off, or on with its last delivery failed. The page draws every channel
with the same block from a `ChannelLine`, so a channel added later shows the same states.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from cloudtrack_app.notify.apprise_channel import DELIVERY_PREFIX
from cloudtrack_app.notify.channel_status import ChannelStatus, channel_status
from cloudtrack_app.notify.dispatch import ChannelOutcome


class ChannelState(StrEnum):
    NOT_SET_UP = "not_set_up"  # the server has no credentials for it
    NEEDS_VERIFICATION = "needs_verification"  # the address has not been confirmed yet
    ON = "on"
    OFF = "off"
    FAILED = "failed"  # on, but the last delivery failed for a lasting reason


STATE_WORDS = {
    ChannelState.NOT_SET_UP: "Not set up on this server",
    ChannelState.NEEDS_VERIFICATION: "Needs verification",
    ChannelState.ON: "On",
    ChannelState.OFF: "Off",
    ChannelState.FAILED: "Last delivery failed",
}


@dataclass(frozen=True)
class ChannelLine:
    name: str
    label: str
    state: str  # a ChannelState
    state_text: str  # the state in words, for a badge
    detail: str  # one sentence: where alerts go, what to do, or why the last one failed
    switch_on: bool
    switch_enabled: bool
    last_outcome: str = ""  # the last delivery in words, for channels that keep it (Apprise)


NO_CHANNEL = ChannelLine("", "", ChannelState.NOT_SET_UP, "", "", False, False)


def channel_line(status: ChannelStatus) -> ChannelLine:
    """A channel's state for the settings page.

    It needs verification exactly when the dispatcher would hold its alerts (`status.held`),
    so the page and the sending never disagree.
    """
    if not status.configured:
        return ChannelLine(
            status.name,
            status.label,
            ChannelState.NOT_SET_UP,
            STATE_WORDS[ChannelState.NOT_SET_UP],
            f"The administrator has not set up {status.label} on this server, so no alerts go this way.",
            switch_on=False,
            switch_enabled=False,
        )
    if status.enabled and status.held:
        state, detail = (
            ChannelState.NEEDS_VERIFICATION,
            f"Confirm {status.recipient} with the link CloudTrack sent there; alerts start after that.",
        )
    elif status.enabled and status.error:
        state, detail = ChannelState.FAILED, status.error
    elif status.enabled:
        state, detail = ChannelState.ON, f"Alerts go to {_recipient_words(status)}."
    else:
        state, detail = ChannelState.OFF, "No alerts go this way."
    return ChannelLine(
        status.name,
        status.label,
        state,
        STATE_WORDS[state],
        detail,
        switch_on=status.enabled,
        switch_enabled=True,
        last_outcome=status.last_outcome or "",
    )


def _recipient_words(status: ChannelStatus) -> str:
    if status.name == "telegram":
        return "your Telegram chat"
    return status.recipient or status.label


def channel_lines(user_id: int) -> dict[str, ChannelLine]:
    """Every channel of the registry for this person, by channel name."""
    return {status.name: channel_line(status) for status in channel_status(user_id)}


def apprise_lines(lines: Mapping[str, ChannelLine]) -> list[ChannelLine]:
    """The person's Apprise targets among `lines`, in the order they were added."""
    return [line for name, line in lines.items() if name.startswith(DELIVERY_PREFIX)]


def describe_test_alert(outcomes: Sequence[ChannelOutcome], lines: Mapping[str, ChannelLine]) -> list[str]:
    """What a test alert did on each channel, one sentence each, without internal ids."""
    report = []
    reached = {outcome.channel for outcome in outcomes}
    for outcome in outcomes:
        line = lines.get(outcome.channel)
        label = line.label if line else outcome.channel.capitalize()
        if outcome.channel == "app":
            report.append("No channel is on, so the test alert was only kept in the app's alert history.")
        elif outcome.status == "sent":
            where = line.detail.removeprefix("Alerts go to ").rstrip(".") if line else "you"
            report.append(f"{label}: sent to {where}.")
        elif outcome.status == "retrying":
            report.append(f"{label}: not delivered yet; CloudTrack will try again shortly.")
        elif outcome.status == "skipped":
            report.append(f"{label}: not sent. {outcome.detail}")
        else:
            report.append(f"{label}: not delivered. {outcome.detail}")
    for name, line in lines.items():
        if name in reached:
            continue
        if line.state == ChannelState.NOT_SET_UP:
            report.append(f"{line.label}: not set up on this server, so nothing was sent.")
        elif line.state == ChannelState.NEEDS_VERIFICATION:
            report.append(f"{line.label}: not sent until the address is confirmed.")
        elif line.state == ChannelState.OFF:
            report.append(f"{line.label}: off, so nothing was sent.")
    return report
