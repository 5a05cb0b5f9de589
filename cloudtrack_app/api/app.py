"""The REST API under /api/v1: the same core functions as the UI, behind personal tokens.

Every endpoint calls what the pages call (`tracking.ingest`, `tracking.watches`,
`tracking.history`, `views.product`, the checker) and answers their refusals as
`{"error": {"code", "message", "offer"}}` with a fitting status. Ownership is the core's:
another user's id is `WatchNotFound`, so a 404 like a missing one. Reading a shop page
(probe, add, check) takes a slot of the per-person read limiter and goes through the web
process's page-reader pool, as in the UI.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, StrictBool
from sqlmodel import select
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cloudtrack_app import rate_limits
from cloudtrack_app.api.docs import docs_page
from cloudtrack_app.api.tokens import TokenHolder, TokenRefused, authenticate
from cloudtrack_app.db import session_scope
from cloudtrack_app.i18n import decimal_string
from cloudtrack_app.models import AlertDelivery, AlertEvent, User
from cloudtrack_app.settings import get_settings
from cloudtrack_app.tracking import watches
from cloudtrack_app.tracking.check_results import CheckStatus
from cloudtrack_app.tracking.checker import check_product_now
from cloudtrack_app.tracking.history import PriceWindow, price_history, product_stats
from cloudtrack_app.tracking.images import preview_image_path, product_image_path
from cloudtrack_app.tracking.ingest import IngestError, Preview, add_watch, preview_url
from cloudtrack_app.tracking.read_limits import SlowDown, page_read_limiter
from cloudtrack_app.tracking.watches import WatchNotFound, WatchView
from cloudtrack_app.views.product import owned_watch

API_PREFIX = "/api/v1"
MAX_BODY_BYTES = 64 * 1024
RANGES: dict[str, int | None] = {"30d": 30, "90d": 90, "1y": 365, "all": None}
ALERTS_MAX = 200
# A person's reads are counted per minute: past the limit, at most this long to wait.
SLOW_DOWN_RETRY_SECONDS = 60
INGEST_STATUS = {"duplicate": 409, "busy": 503, "unknown_user": 404}


class ApiError(Exception):
    """An answer other than success, as the API's error body."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        offer: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.offer = status, code, message, offer
        self.headers = headers or {}


def error_response(
    status: int, code: str, message: str, offer: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "offer": offer}}
    return JSONResponse(body, status_code=status, headers=headers)


# --- who is asking --------------------------------------------------------------------------

_bearer = HTTPBearer(auto_error=False, description="A personal access token from the settings page.")


async def token_holder(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> TokenHolder:
    """The holder of the request's token, counted against the token's rate limit."""
    if credentials is None:
        raise ApiError(
            401,
            "missing_token",
            "Send a personal access token as `Authorization: Bearer …` (make one on the settings page).",
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        holder = await asyncio.to_thread(authenticate, credentials.credentials)
    except TokenRefused as refused:
        raise ApiError(
            401, refused.code, refused.message, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
        ) from None
    limit = get_settings().api_requests_per_minute
    wait = await asyncio.to_thread(
        rate_limits.hit, f"api-token:{holder.token_id}", limit, timedelta(minutes=1)
    )
    if wait is not None:
        raise ApiError(
            429,
            "rate_limited",
            f"This token made more than {limit} requests in a minute. "
            f"Try again {rate_limits.wait_words(wait)}.",
            headers={"Retry-After": str(math.ceil(wait.total_seconds()))},
        )
    return holder


async def writer(holder: Annotated[TokenHolder, Depends(token_holder)]) -> TokenHolder:
    """The holder, when the token may change things."""
    if holder.read_only:
        raise ApiError(
            403,
            "read_only",
            "This token is read-only: it cannot change anything. Make a read-write token on the settings page.",
        )
    return holder


Reader = Annotated[TokenHolder, Depends(token_holder)]
Writer = Annotated[TokenHolder, Depends(writer)]
# Ids are database integers: a larger number in the path is refused before any query.
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]


# --- what goes in ---------------------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewWatch(_Body):
    url: str = Field(min_length=1, max_length=2048, description="The product page's address.")
    mode: Literal["price", "stock", "both"] = "price"
    target_price: str | None = Field(
        default=None, max_length=40, description='A decimal string, like "79.99", in the page\'s currency.'
    )
    any_drop: StrictBool = Field(default=False, description="Alert on any price drop instead of a target.")


class WatchChange(_Body):
    mode: Literal["price", "stock", "both"] | None = None
    target_price: str | None = Field(default=None, max_length=40)
    any_drop: StrictBool | None = None


class ProbeRequest(_Body):
    url: str = Field(min_length=1, max_length=2048)


# --- what comes out -------------------------------------------------------------------------


def _time(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def watch_json(view: WatchView) -> dict[str, Any]:
    return {
        "id": view.watch_id,
        "product_id": view.product_id,
        "url": view.url,
        "shop": view.shop,
        "title": view.title,
        "image": product_image_path(view.product_id, view.image) or None,
        "mode": view.mode,
        "target_price": decimal_string(view.target_price),
        "any_drop": view.any_drop,
        "active": view.active,
        "fulfilled": view.fulfilled,
        "price": decimal_string(view.price),
        "currency": view.currency,
        "price_source": view.price_source,  # "picked": the element the owner picked
        "price_selector": view.price_selector,
        "layout_changed": view.pick_missing,  # the picked element is gone from the page
        "availability": view.availability,
        "initial_price": decimal_string(view.initial_price),
        "last_alerted_price": decimal_string(view.last_alerted_price),
        "last_checked_at": _time(view.last_checked_at),
        "last_changed_at": _time(view.last_changed_at),
        "next_check_at": _time(view.next_check_at),
        "failing": view.failing,
        "error": view.last_error,
        "created_at": _time(view.created_at),
    }


def preview_json(preview: Preview) -> dict[str, Any]:
    return {
        "url": preview.url,
        "shop": preview.shop,
        "title": preview.title,
        "price": decimal_string(preview.price),
        "currency": preview.currency,
        "availability": preview.availability,
        "image": preview_image_path(preview.image) or None,
        "sku": preview.sku,
        "gtin": preview.gtin,
        "brand": preview.brand,
        "source": preview.source,
        "confidence": preview.confidence,
    }


def _window_json(window: PriceWindow) -> dict[str, str | None]:
    return {
        "lowest": decimal_string(window.lowest),
        "highest": decimal_string(window.highest),
        "average": decimal_string(window.average),
    }


def _alerts(user_id: int, limit: int) -> list[dict[str, Any]]:
    with session_scope() as session:
        events = session.exec(
            select(AlertEvent)
            .where(AlertEvent.user_id == user_id)
            .order_by(AlertEvent.created_at.desc(), AlertEvent.id.desc())  # type: ignore[union-attr]
            .limit(limit)
        ).all()
        ids = [event.id for event in events]
        deliveries = (
            session.exec(select(AlertDelivery).where(AlertDelivery.event_id.in_(ids))).all()  # type: ignore[attr-defined]
            if ids
            else []
        )
        by_event: dict[int, list[dict[str, Any]]] = {}
        for delivery in sorted(deliveries, key=lambda d: d.channel):
            by_event.setdefault(delivery.event_id, []).append(
                {
                    "channel": delivery.channel,
                    "status": delivery.status,
                    "sent_at": _time(delivery.sent_at),
                    "error": delivery.error,
                }
            )
        return [
            {
                "id": event.id,
                "watch_id": event.watch_id,
                "product_id": event.product_id,
                "kind": event.kind,
                "created_at": _time(event.created_at),
                "status": event.status,
                "subject": event.subject,
                "body": event.body,
                "deliveries": by_event.get(event.id or 0, []),
            }
            for event in events
        ]


def _me(holder: TokenHolder) -> dict[str, Any]:
    with session_scope() as session:
        user = session.get(User, holder.user_id)
        assert user is not None
        return {
            "id": user.id,
            "email": user.email,
            "display_name": user.display_name,
            "timezone": user.timezone,
            "locale": user.locale,
            "token": {"id": holder.token_id, "scope": "read" if holder.read_only else "read-write"},
        }


def _product(user_id: int, product_id: int, range_key: str) -> dict[str, Any]:
    view = owned_watch(user_id, product_id)
    points = price_history(product_id, RANGES[range_key], selector_key=view.series)
    stats = product_stats(product_id, selector_key=view.series, current=view.own_observation)
    return {
        "id": view.product_id,
        "url": view.url,
        "shop": view.shop,
        "title": view.title,
        "image": product_image_path(view.product_id, view.image) or None,
        "price": decimal_string(view.price),
        "currency": view.currency,
        "availability": view.availability,
        "last_checked_at": _time(view.last_checked_at),
        "failing": view.failing,
        "error": view.last_error,
        "watch": watch_json(view),
        "range": range_key,
        "history": [
            {
                "at": point.at.isoformat(),
                "price": decimal_string(point.price),
                "currency": point.currency,
                "availability": point.availability,
            }
            for point in points
        ],
        "stats": {
            "last_30_days": _window_json(stats.last_30_days),
            "last_90_days": _window_json(stats.last_90_days),
            "all_time": _window_json(stats.all_time),
            "lowest_ever_at": _time(stats.lowest_ever_at),
            "first_seen_at": _time(stats.first_seen_at),
            "good_deal": stats.good_deal,
        },
    }


def _changed_request(current: WatchView, change: WatchChange) -> tuple[str, str | None, bool]:
    """Mode, target and any-drop for `edit_watch`: what the change names, the rest as it is."""
    sent = change.model_fields_set
    mode = change.mode if "mode" in sent and change.mode is not None else current.mode
    if "target_price" in sent:
        target = change.target_price
    else:
        target = None if current.target_price is None else f"{current.target_price.normalize():f}"
    if "any_drop" in sent and change.any_drop is not None:
        any_drop = change.any_drop
    else:
        any_drop = current.any_drop and "target_price" not in sent
    if mode == "stock":
        # A stock watch has no price rule: only one asked for in this very request is refused.
        return mode, change.target_price, bool(change.any_drop)
    return mode, None if any_drop else target, any_drop


async def _reading(user_id: int, read: Callable[[], Awaitable[Any]]) -> Any:
    """Run a shop-page read in one of the person's read slots, as the UI does."""
    try:
        with page_read_limiter().slot(user_id):
            return await read()
    except SlowDown as error:
        raise ApiError(
            429, "slow_down", error.message, headers={"Retry-After": str(SLOW_DOWN_RETRY_SECONDS)}
        ) from None


def _acting(action: Callable[[int, int], WatchView]) -> Callable[..., Awaitable[JSONResponse]]:
    async def act(watch_id: Id, holder: Writer) -> JSONResponse:
        return JSONResponse({"watch": watch_json(await asyncio.to_thread(action, holder.user_id, watch_id))})

    return act


# --- the application ------------------------------------------------------------------------


def create_api() -> FastAPI:
    """The API application, its paths relative to /api/v1."""
    api = FastAPI(
        title="CloudTrack API",
        version="1",
        description=(
            "Your watches, products, alerts and page probes. Send a personal access token "
            "(settings page) as `Authorization: Bearer …`. Money is a decimal string with an ISO "
            'currency code. Errors are `{"error": {"code", "message", "offer"}}`.'
        ),
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
    )

    @api.exception_handler(ApiError)
    async def api_error(_request: Request, error: ApiError) -> JSONResponse:
        return error_response(error.status, error.code, error.message, error.offer, error.headers)

    @api.exception_handler(IngestError)
    async def ingest_error(_request: Request, error: IngestError) -> JSONResponse:
        status = INGEST_STATUS.get(error.code, 422)
        headers = {"Retry-After": "10"} if status == 503 else None
        return error_response(status, error.code, error.message, error.offer, headers)

    @api.exception_handler(WatchNotFound)
    async def not_found(_request: Request, _error: WatchNotFound) -> JSONResponse:
        return error_response(404, "not_found", "You have no such watch or product.")

    @api.exception_handler(RequestValidationError)
    async def invalid(_request: Request, error: RequestValidationError) -> JSONResponse:
        problems = error.errors()
        if any(problem.get("type") == "json_invalid" for problem in problems):
            return error_response(400, "bad_json", "The request body is not valid JSON.")
        described = []
        for problem in problems[:5]:
            where = ".".join(str(part) for part in problem.get("loc", ()) if part != "body")
            described.append(f"{where or 'body'}: {problem.get('msg', 'not valid')}")
        return error_response(
            422, "invalid_request", "The request is not right. " + "; ".join(described) + "."
        )

    @api.exception_handler(Exception)
    async def unexpected(_request: Request, _error: Exception) -> JSONResponse:
        # Logged by the server with its traceback; the client gets the API's error shape.
        return error_response(500, "internal_error", "Something went wrong in CloudTrack. Try again later.")

    @api.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, error: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        return error_response(error.status_code, code, str(error.detail), headers=error.headers)

    @api.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(docs_page(api.openapi(), API_PREFIX))

    # Endpoints answer a JSONResponse of plain JSON values: returned as a dict, FastAPI would
    # walk it again with its encoder, which costs more than building it (500 watches: ~4×).
    @api.get("/me", summary="The account the token belongs to")
    async def me(holder: Reader) -> JSONResponse:
        return JSONResponse(await asyncio.to_thread(_me, holder))

    @api.get("/watches", summary="Your watches, newest first")
    async def list_watches(holder: Reader) -> JSONResponse:
        listed = await asyncio.to_thread(
            lambda: [watch_json(view) for view in watches.list_watches(holder.user_id)]
        )
        return JSONResponse({"watches": listed})

    @api.post("/watches", status_code=201, summary="Start watching a product page")
    async def create_watch(body: NewWatch, holder: Writer) -> JSONResponse:
        result = await _reading(
            holder.user_id,
            lambda: add_watch(holder.user_id, body.url, body.mode, body.target_price, any_drop=body.any_drop),
        )
        view = await asyncio.to_thread(watches.get_watch, holder.user_id, result.watch_id)
        return JSONResponse(
            {"watch": watch_json(view), "target_met": result.target_met, "message": result.message}, 201
        )

    @api.get("/watches/{watch_id}", summary="One of your watches")
    async def read_watch(watch_id: Id, holder: Reader) -> JSONResponse:
        return JSONResponse(
            {"watch": watch_json(await asyncio.to_thread(watches.get_watch, holder.user_id, watch_id))}
        )

    @api.patch("/watches/{watch_id}", summary="Change the mode, target or any-drop of a watch")
    async def change_watch(watch_id: Id, body: WatchChange, holder: Writer) -> JSONResponse:
        current = await asyncio.to_thread(watches.get_watch, holder.user_id, watch_id)
        mode, target, any_drop = _changed_request(current, body)
        result = await asyncio.to_thread(
            lambda: watches.edit_watch(
                holder.user_id, watch_id, mode=mode, target_price=target, any_drop=any_drop
            )
        )
        return JSONResponse({"watch": watch_json(result.watch), "target_met": result.target_met})

    @api.delete("/watches/{watch_id}", status_code=204, summary="Stop watching (the history stays)")
    async def remove_watch(watch_id: Id, holder: Writer) -> Response:
        await asyncio.to_thread(watches.delete_watch, holder.user_id, watch_id)
        return Response(status_code=204)

    actions = {
        "pause": (watches.pause_watch, "Pause checks and alerts"),
        "resume": (watches.resume_watch, "Check and alert again"),
        "rearm": (watches.rearm_watch, "Wait for the next restock again after a stock alert"),
    }
    for name, (action, summary) in actions.items():
        api.post(f"/watches/{{watch_id}}/{name}", summary=summary, name=f"{name}_watch")(_acting(action))

    @api.post("/watches/{watch_id}/check", summary="Check the product page now")
    async def check_watch(watch_id: Id, holder: Writer) -> JSONResponse:
        view = await asyncio.to_thread(watches.get_watch, holder.user_id, watch_id)
        outcome = await _reading(
            holder.user_id, lambda: check_product_now(view.product_id, user_id=holder.user_id)
        )
        if outcome.status == CheckStatus.NOT_FOUND:
            raise WatchNotFound
        if outcome.status == CheckStatus.BUSY:
            raise ApiError(503, "busy", outcome.summary, headers={"Retry-After": "10"})
        view = await asyncio.to_thread(watches.get_watch, holder.user_id, watch_id)
        return JSONResponse(
            {"status": outcome.status.value, "message": outcome.summary, "watch": watch_json(view)}
        )

    @api.get("/products/{product_id}", summary="A product you watch, with its history and statistics")
    async def read_product(
        product_id: Id,
        holder: Reader,
        range_: Annotated[Literal["30d", "90d", "1y", "all"], Query(alias="range")] = "90d",
    ) -> JSONResponse:
        return JSONResponse(await asyncio.to_thread(_product, holder.user_id, product_id, range_))

    @api.post("/probe", summary="What CloudTrack reads on a page, without saving anything")
    async def probe(body: ProbeRequest, holder: Reader) -> JSONResponse:
        preview = await _reading(holder.user_id, lambda: preview_url(body.url))
        return JSONResponse({"page": preview_json(preview)})

    @api.get("/alerts", summary="Your alert history, newest first")
    async def alerts(holder: Reader, limit: Annotated[int, Query(ge=1, le=ALERTS_MAX)] = 50) -> JSONResponse:
        return JSONResponse({"alerts": await asyncio.to_thread(_alerts, holder.user_id, limit)})

    return api


class BodyLimit:
    """Refuses request bodies over `max_bytes` with 413 before the API reads them."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = error_response(
            413, "body_too_large", f"The request body is larger than {self.max_bytes // 1024} KiB."
        )
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await too_large(scope, receive, send)
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message], receive), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await too_large(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = {"type": "http.request", "body": body, "more_body": False}
        await self.app(scope, _replay([replayed], receive), send)


def _replay(messages: list[Message], then: Receive) -> Receive:
    """The messages already read, then the connection's own (a disconnect, say)."""
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        return await then()

    return receive


def api_routes() -> list[BaseRoute]:
    """The routes to add to the app's Starlette router: the API under /api/v1."""
    return [Mount(API_PREFIX, app=BodyLimit(create_api()))]
