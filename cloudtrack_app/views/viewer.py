"""Who is looking at a view: the language and timezone the user's pages are written in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_datetime

from cloudtrack_app.db import session_scope
from cloudtrack_app.i18n import usable_locale
from cloudtrack_app.models import User


@dataclass(frozen=True)
class Viewer:
    locale: str
    timezone: ZoneInfo


def viewer(user_id: int) -> Viewer:
    """The user's locale and timezone; "en" and UTC for whatever is missing or unknown."""
    with session_scope() as session:
        user = session.get(User, user_id)
        zone_name = user.timezone if user else "UTC"
        locale = usable_locale(user.locale if user else None)
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return Viewer(locale, zone)


def local_time(moment: datetime | None, who: Viewer) -> str:
    """A moment as the viewer's clock and language write it ("" for none)."""
    if moment is None:
        return ""
    return format_datetime(moment, "medium", tzinfo=who.timezone, locale=who.locale)
