"""The Reflex side of accounts: `AuthState`, the base of every feature state.

The browser keeps a server-generated session token in localStorage; the database keeps
only its hash. Every handler that touches user data starts with `await self._user()`
(or `_require_user()` under `@login_required`), which checks the token against the
database each time, so a session ended on the server is ended everywhere at once.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import reflex as rx

from cloudtrack_app.auth import accounts
from cloudtrack_app.auth.accounts import AccountError, CurrentUser

LOGIN_ROUTE = "/login"
HOME_ROUTE = "/"


Handler = TypeVar("Handler", bound=Callable[..., Any])


class NotAuthenticatedError(Exception):
    """Raised by `_require_user` when the request carries no valid session."""


def refusing(
    error_type: type[Exception], respond: Callable[[Any, Exception], rx.event.EventSpec | None]
) -> Callable[[Handler], Handler]:
    """A decorator for event handlers (async functions or async generators): `error_type`
    raised inside becomes `respond(state, error)`, returned or yielded as the last event.

    It keeps the handler's signature (Reflex reads the arguments from it), so it goes
    below `@rx.event`.
    """

    def decorate(handler: Handler) -> Handler:
        if inspect.isasyncgenfunction(handler):

            @functools.wraps(handler)
            async def stream(
                state: Any, *args: Any, **kwargs: Any
            ) -> AsyncIterator[rx.event.EventSpec | None]:
                try:
                    async for event in handler(state, *args, **kwargs):
                        yield event
                except error_type as error:
                    if (event := respond(state, error)) is not None:
                        yield event

            return stream  # type: ignore[return-value]

        @functools.wraps(handler)
        async def call(state: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return await handler(state, *args, **kwargs)
            except error_type as error:
                return respond(state, error)

        return call  # type: ignore[return-value]

    return decorate


class AuthState(rx.State):
    session_token: str = rx.LocalStorage("", name="cloudtrack_session", sync=True)
    # What the page may show about the person; refreshed on every guarded page load.
    display_name: str = ""
    email: str = ""
    auth_checked: bool = False

    @rx.var
    def logged_in(self) -> bool:
        return bool(self.email)

    async def _user(self) -> CurrentUser | None:
        user = await asyncio.to_thread(accounts.user_for_token, self.session_token)
        if user is None:
            self.display_name = self.email = ""
        else:
            self.display_name, self.email = user.display_name, user.email
        self.auth_checked = True
        return user

    async def _require_user(self) -> CurrentUser:
        user = await self._user()
        if user is None:
            raise NotAuthenticatedError
        return user

    def _login_redirect(self) -> rx.event.EventSpec:
        # The query comes along: a shared link in `/add?url=…` is still there after log-in.
        here = urlsplit(str(self.router.url))
        path = here.path or HOME_ROUTE
        if path in (HOME_ROUTE, LOGIN_ROUTE):
            return rx.redirect(LOGIN_ROUTE)
        back = f"{path}?{here.query}" if here.query else path
        return rx.redirect(f"{LOGIN_ROUTE}?next={quote(back, safe='/')}")

    @rx.event
    async def check_session(self) -> None:
        """on_load of public pages: know whether someone is logged in."""
        await self._user()

    @rx.event
    async def require_login(self) -> rx.event.EventSpec | None:
        """on_load guard of protected pages: send strangers to the log-in page."""
        if await self._user() is None:
            return self._login_redirect()
        return None

    def _client_address(self) -> str | None:
        """The client's address as Reflex resolved it: the peer, or the X-Forwarded-For entry
        TRUSTED_PROXY_HOPS from the end (rxconfig.py). The header itself is never read here:
        any client can write it."""
        return self.router.session.client_ip or None

    async def _begin_session(self, user: CurrentUser) -> None:
        headers = self.router.headers
        self.session_token = await asyncio.to_thread(
            accounts.start_session,
            user.id,
            client_ip=self._client_address(),
            user_agent=getattr(headers, "user_agent", "") or None,
        )
        self.display_name, self.email = user.display_name, user.email
        self.auth_checked = True

    @rx.event
    async def logout(self) -> rx.event.EventSpec:
        token = self.session_token
        self.session_token = ""
        self.display_name = self.email = ""
        await asyncio.to_thread(accounts.end_session, token)
        return rx.redirect(LOGIN_ROUTE)


def login_required(handler: Handler) -> Handler:
    """For handlers that start with `await self._require_user()`: strangers go to log in."""
    return refusing(NotAuthenticatedError, lambda state, _error: state._login_redirect())(handler)


def safe_next(target: str | None) -> str:
    """Only same-site paths are followed after log-in (no open redirect).

    Browsers drop tabs and line breaks inside a URL, so "/<tab>/evil.example" would become
    "//evil.example": any whitespace or control character refuses the target too."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return HOME_ROUTE
    if any(character.isspace() or not character.isprintable() for character in target):
        return HOME_ROUTE
    return target


__all__ = ["AccountError", "AuthState", "NotAuthenticatedError", "login_required", "refusing", "safe_next"]
