"""Reflex states under pytest, without a browser: a state as a tab would have it, and a handler
run as Reflex runs it (see REFLEX-NOTES, "State handlers without a browser")."""

from __future__ import annotations

import inspect
from typing import Any

import reflex as rx
from reflex.istate.data import ReflexURL, URLData


def state_for(state_cls: type[rx.State], token: str = "", url: str = "") -> Any:
    """The state `state_cls` of a fresh tab holding the session `token`, opened at `url`."""
    root = rx.State(_reflex_internal_init=True)
    state = root.get_substate(state_cls.get_full_name().split(".")[1:])
    state.session_token = token
    if url:
        state.rx_router_url = URLData.from_url(ReflexURL(url))
    return state


async def run_handler(state: Any, name: str, *args: Any) -> Any:
    """Run the event handler `name`; a handler that yields runs to its end, giving what it yielded."""
    result = type(state).event_handlers[name].fn(state, *args)
    if inspect.isasyncgen(result):
        return [item async for item in result]
    return await result if inspect.isawaitable(result) else result
