"""The rules a new watch starts with: the ones asked for, or else the person's defaults.

The add page shows a person's defaults (settings page, "New watches") in its form, so what it
sends is always asked for. Every other way in (the command line, imports, the API) asks this
module, so the defaults mean the same everywhere. The mode and the price rule are taken
separately: a command that names only a target still gets the default mode, and one that names
only a mode still gets the default price rule.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from decimal import Decimal

from cloudtrack_app.db import session_scope
from cloudtrack_app.models import User, WatchMode
from cloudtrack_app.tracking.ingest import AddWatchResult, add_watch


@dataclass(frozen=True)
class PriceRule:
    """What a price watch waits for, as a person asks it (checked by `add_watch`)."""

    target_price: Decimal | str | None = None
    any_drop: bool = False
    drop_percent: Decimal | str | None = None
    lowest_window_days: int | str | None = None
    notify_increase: bool = False

    @property
    def chooses_price(self) -> bool:
        """Whether it says which prices to tell about (`notify_increase` alone does not)."""
        return any(
            value not in (None, "", False)
            for value in (self.target_price, self.any_drop, self.drop_percent, self.lowest_window_days)
        )


@dataclass(frozen=True)
class NewWatchDefaults:
    """A person's rules for new watches; `rule` chooses no price when they set none."""

    mode: str
    rule: PriceRule


BUILT_IN_DEFAULTS = NewWatchDefaults(WatchMode.PRICE, PriceRule())


def defaults_of(user: User) -> NewWatchDefaults:
    mode = user.default_watch_mode if user.default_watch_mode in set(WatchMode) else WatchMode.PRICE
    return NewWatchDefaults(
        WatchMode(mode),
        PriceRule(
            drop_percent=user.default_drop_percent,
            lowest_window_days=user.default_lowest_window_days,
            notify_increase=user.default_notify_increase,
        ),
    )


def load_defaults(user_id: int) -> NewWatchDefaults:
    with session_scope() as db:
        user = db.get(User, user_id)
        return defaults_of(user) if user is not None else BUILT_IN_DEFAULTS


def rule_for_new_watch(
    defaults: NewWatchDefaults,
    mode: str | None,
    rule: PriceRule | None,
    *,
    any_drop_unless_chosen: bool = False,
) -> tuple[str, PriceRule]:
    """The mode and price rule of a new watch: `mode` and `rule` where given, else the defaults.

    A `rule` that only asks to hear of increases keeps the default choice of prices.
    `any_drop_unless_chosen`: where nobody can be asked (an import line), a watch whose
    defaults choose no price waits for any drop instead of being refused.
    """
    asked = rule if rule is not None and (rule.chooses_price or rule.notify_increase) else None
    chosen_mode = mode or defaults.mode
    if asked is not None and mode is None and chosen_mode == WatchMode.STOCK:
        # The default waits for a restock; a price rule asked for on top means both.
        chosen_mode = WatchMode.BOTH
    if chosen_mode == WatchMode.STOCK:
        return chosen_mode, asked or PriceRule()
    if asked is not None and asked.chooses_price:
        return chosen_mode, asked
    price = defaults.rule
    if any_drop_unless_chosen and not price.chooses_price:
        price = replace(price, any_drop=True)
    if asked is not None:
        price = replace(price, notify_increase=True)
    return chosen_mode, price


async def add_watch_with_defaults(
    user_id: int, url: str, mode: str | None, rule: PriceRule | None
) -> AddWatchResult:
    """`add_watch` with `rule_for_new_watch` filling in what was not asked for."""
    defaults = await asyncio.to_thread(load_defaults, user_id)
    chosen_mode, chosen = rule_for_new_watch(defaults, mode, rule)
    return await add_watch(
        user_id,
        url,
        chosen_mode,
        chosen.target_price,
        any_drop=chosen.any_drop,
        drop_percent=chosen.drop_percent,
        lowest_window_days=chosen.lowest_window_days,
        notify_increase=chosen.notify_increase,
    )
