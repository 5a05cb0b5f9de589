"""A second look before a surprising alert: the held reading as it is kept on the product.

When `rules.hold_reason` holds a reading, the check keeps it here (not in the history, no
alert) and reads the page again `SECOND_LOOK_SECONDS` later; the record stays on the product
with its outcome, so the product page can tell what happened.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from cloudtrack_app.tracking.rules import HoldReason, Observation


@dataclass(frozen=True)
class SecondLook:
    reason: HoldReason
    before: Observation  # the last recorded reading, which the held one would have replaced
    held: Observation
    held_at: datetime
    rechecked_at: datetime | None = None
    confirmed: bool | None = None  # None while waiting for the second reading

    @property
    def pending(self) -> bool:
        return self.rechecked_at is None

    def resolved(self, at: datetime, confirmed: bool) -> SecondLook:
        return replace(self, rechecked_at=at, confirmed=confirmed)

    def to_json(self) -> dict[str, Any]:
        return {
            "reason": str(self.reason),
            "before": _observation_json(self.before),
            "held": _observation_json(self.held),
            "held_at": self.held_at.isoformat(),
            "rechecked_at": self.rechecked_at.isoformat() if self.rechecked_at else None,
            "confirmed": self.confirmed,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> SecondLook | None:
        """The stored record, or None for none (or one this version cannot read)."""
        if not data:
            return None
        try:
            rechecked = data.get("rechecked_at")
            return cls(
                reason=HoldReason(data["reason"]),
                before=_observation_of(data["before"]),
                held=_observation_of(data["held"]),
                held_at=datetime.fromisoformat(data["held_at"]),
                rechecked_at=datetime.fromisoformat(rechecked) if rechecked else None,
                confirmed=data.get("confirmed"),
            )
        except (KeyError, TypeError, ValueError, InvalidOperation):
            return None


def _observation_json(observation: Observation) -> dict[str, str | None]:
    price = None if observation.price is None else f"{observation.price:f}"
    return {"price": price, "currency": observation.currency, "availability": observation.availability}


def _observation_of(data: dict[str, Any]) -> Observation:
    price = data.get("price")
    return Observation(
        Decimal(price) if price is not None else None, data.get("currency"), data["availability"]
    )
