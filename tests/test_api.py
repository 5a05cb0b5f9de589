"""The REST API under /api/v1, spoken to over HTTP by two people with their own tokens.

The server is real: the ASGI app the web app mounts (security headers and body limit
included), served by uvicorn on a loopback port (`benchmarks.api.ApiServer`); product pages
come from a local shop on 127.0.0.1. The core behind it is the UI's, so these tests check
the API's own promises: tokens, ownership, refusals as error bodies, limits.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from benchmarks.api import ApiServer
from benchmarks.shop import LocalShop
from cloudtrack_app.api.tokens import authenticate, create_token, list_tokens, revoke_token
from cloudtrack_app.cli import main
from cloudtrack_app.db import session_scope
from cloudtrack_app.models import ApiToken, Watch, utcnow
from cloudtrack_app.notify.preferences import save_watch_defaults
from cloudtrack_app.settings import get_settings
from cloudtrack_app.tracking.read_limits import page_read_limiter
from tests.engine_fixtures import EDUSCHO_SHELF, OTTO_GLASS, local_shop_settings, make_user


@dataclass
class Person:
    user_id: int
    token: str
    client: httpx.Client


@pytest.fixture
def shop(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalShop]:
    local_shop_settings(monkeypatch)
    page_read_limiter.cache_clear()
    with LocalShop() as running:
        running.add_corpus_page("/shelf", EDUSCHO_SHELF)  # 99.95 EUR, in stock
        running.add_corpus_page("/glass", OTTO_GLASS)  # 56.74 EUR
        yield running
    page_read_limiter.cache_clear()


@pytest.fixture
def server(shop: LocalShop) -> Iterator[ApiServer]:
    with ApiServer() as running:
        yield running


def person(server: ApiServer, email: str, *, read_only: bool = False) -> Iterator[Person]:
    user_id = make_user(email)
    _, token = create_token(user_id, "script", read_only=read_only)
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=60
    ) as client:
        yield Person(user_id, token, client)


@pytest.fixture
def ada(server: ApiServer) -> Iterator[Person]:
    yield from person(server, "ada@example.com")


@pytest.fixture
def bob(server: ApiServer) -> Iterator[Person]:
    yield from person(server, "bob@example.com")


def error_of(response: httpx.Response) -> dict[str, str | None]:
    return response.json()["error"]


def add_shelf(who: Person, shop: LocalShop, **fields: object) -> dict:
    response = who.client.post(
        "/watches", json={"url": shop.url("/shelf"), "target_price": "89.50", **fields}
    )
    assert response.status_code == 201, response.text
    return response.json()["watch"]


def watch_count() -> int:
    with session_scope() as session:
        return session.execute(sa.select(sa.func.count()).select_from(Watch)).scalar_one()


def test_each_token_speaks_for_its_own_account(ada: Person, bob: Person) -> None:
    me = ada.client.get("/me")
    assert me.status_code == 200
    assert me.json()["email"] == "ada@example.com"
    assert me.json()["token"]["scope"] == "read-write"
    assert bob.client.get("/me").json()["email"] == "bob@example.com"
    # The security headers cover the API's answers too.
    assert "frame-ancestors 'none'" in me.headers["content-security-policy"]
    assert me.headers["x-content-type-options"] == "nosniff"
    [token] = list_tokens(ada.user_id)
    assert token.last_used_at is not None


def test_adding_listing_reading_and_deleting_a_watch(ada: Person, shop: LocalShop) -> None:
    response = ada.client.post(
        "/watches", json={"url": shop.url("/shelf?utm_source=x"), "target_price": "89.50"}
    )
    assert response.status_code == 201, response.text
    added = response.json()
    assert "Now watching" in added["message"] and added["target_met"] is False
    watch = added["watch"]
    assert (watch["url"], watch["mode"], watch["target_price"], watch["any_drop"]) == (
        shop.url("/shelf"),
        "price",
        "89.50",
        False,
    )
    assert (watch["price"], watch["currency"], watch["availability"]) == ("99.95", "EUR", "in_stock")

    listed = ada.client.get("/watches").json()["watches"]
    assert [item["id"] for item in listed] == [watch["id"]]
    assert ada.client.get(f"/watches/{watch['id']}").json()["watch"] == listed[0]

    assert ada.client.delete(f"/watches/{watch['id']}").status_code == 204
    gone = ada.client.get(f"/watches/{watch['id']}")
    assert gone.status_code == 404 and error_of(gone)["code"] == "not_found"
    assert ada.client.get("/watches").json()["watches"] == []


def test_a_watch_added_without_a_rule_gets_the_persons_defaults(ada: Person, shop: LocalShop) -> None:
    save_watch_defaults(ada.user_id, confirmation_messages=True, default_mode="both", default_drop_percent="10",
                        default_lowest_window="", default_notify_increase=True)  # fmt: skip
    by_default = ada.client.post("/watches", json={"url": shop.url("/shelf")})
    assert by_default.status_code == 201, by_default.text
    watch = by_default.json()["watch"]
    assert (watch["mode"], watch["target_price"], watch["any_drop"]) == ("both", None, False)
    assert (watch["drop_percent"], watch["lowest_window_days"], watch["notify_increase"]) == (
        "10.00",
        None,
        True,
    )

    asked = ada.client.post("/watches", json={"url": shop.url("/glass"), "mode": "price", "any_drop": True})
    watch = asked.json()["watch"]
    assert (watch["mode"], watch["any_drop"], watch["drop_percent"], watch["notify_increase"]) == (
        "price",
        True,
        None,
        False,
    )


def test_another_persons_ids_are_not_found(ada: Person, bob: Person, shop: LocalShop) -> None:
    watch = add_shelf(ada, shop)
    watch_id, product_id = watch["id"], watch["product_id"]
    for method, path, body in (
        ("GET", f"/watches/{watch_id}", None),
        ("PATCH", f"/watches/{watch_id}", {"any_drop": True}),
        ("DELETE", f"/watches/{watch_id}", None),
        ("POST", f"/watches/{watch_id}/pause", None),
        ("POST", f"/watches/{watch_id}/resume", None),
        ("POST", f"/watches/{watch_id}/rearm", None),
        ("POST", f"/watches/{watch_id}/check", None),
        ("GET", f"/products/{product_id}", None),
        ("GET", "/watches/999999", None),
    ):
        response = bob.client.request(method, path, json=body)
        assert response.status_code == 404, (method, path, response.text)
        assert error_of(response)["code"] == "not_found"
    assert bob.client.get("/watches").json()["watches"] == []
    assert ada.client.get(f"/watches/{watch_id}").json()["watch"] == watch
    assert shop.request_count("/shelf") == 1  # bob's check read nothing


def test_pausing_resuming_rearming_and_changing_a_watch(ada: Person, shop: LocalShop) -> None:
    watch_id = add_shelf(ada, shop)["id"]
    assert ada.client.post(f"/watches/{watch_id}/pause").json()["watch"]["active"] is False
    assert ada.client.post(f"/watches/{watch_id}/resume").json()["watch"]["active"] is True
    assert ada.client.post(f"/watches/{watch_id}/rearm").status_code == 200

    changed = ada.client.patch(f"/watches/{watch_id}", json={"target_price": "95"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["watch"]["target_price"] == "95.00"
    changed = ada.client.patch(f"/watches/{watch_id}", json={"any_drop": True})
    assert (changed.json()["watch"]["any_drop"], changed.json()["watch"]["target_price"]) == (True, None)
    changed = ada.client.patch(f"/watches/{watch_id}", json={"mode": "both", "target_price": "99.95"})
    assert changed.json()["target_met"] is True
    assert changed.json()["watch"]["mode"] == "both"

    above = ada.client.patch(f"/watches/{watch_id}", json={"target_price": "150"})
    assert above.status_code == 422
    assert (error_of(above)["code"], error_of(above)["offer"]) == ("target_above_price", "any_drop")
    stock_with_target = ada.client.patch(f"/watches/{watch_id}", json={"mode": "stock", "target_price": "50"})
    assert stock_with_target.status_code == 422
    assert error_of(stock_with_target)["code"] == "invalid_target"
    to_stock = ada.client.patch(f"/watches/{watch_id}", json={"mode": "stock"})
    assert to_stock.json()["watch"]["target_price"] is None
    back_to_price = ada.client.patch(f"/watches/{watch_id}", json={"mode": "price"})
    assert back_to_price.status_code == 422
    assert (error_of(back_to_price)["code"], error_of(back_to_price)["offer"]) == (
        "missing_target",
        "any_drop",
    )
    assert ada.client.get(f"/watches/{watch_id}").json()["watch"]["mode"] == "stock"


def test_check_now_reads_the_page_again(ada: Person, shop: LocalShop) -> None:
    watch_id = add_shelf(ada, shop)["id"]
    shop.set_price("/shelf", Decimal("79.95"))
    response = ada.client.post(f"/watches/{watch_id}/check")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "changed"
    assert response.json()["watch"]["price"] == "79.95"
    assert shop.request_count("/shelf") == 2


def test_a_product_with_its_history_and_statistics(ada: Person, shop: LocalShop) -> None:
    product_id = add_shelf(ada, shop)["product_id"]
    for range_key in ("30d", "90d", "1y", "all"):
        response = ada.client.get(f"/products/{product_id}", params={"range": range_key})
        assert response.status_code == 200, response.text
        product = response.json()
        assert product["range"] == range_key
        assert [(p["price"], p["currency"]) for p in product["history"]] == [("99.95", "EUR")]
    assert product["stats"]["all_time"] == {"lowest": "99.95", "highest": "99.95", "average": "99.95"}
    assert product["watch"]["product_id"] == product_id
    wrong = ada.client.get(f"/products/{product_id}", params={"range": "2w"})
    assert wrong.status_code == 422 and error_of(wrong)["code"] == "invalid_request"
    assert "range" in error_of(wrong)["message"]


def test_probe_reads_a_page_and_saves_nothing(ada: Person, shop: LocalShop) -> None:
    response = ada.client.post("/probe", json={"url": shop.url("/glass")})
    assert response.status_code == 200, response.text
    page = response.json()["page"]
    assert (page["price"], page["currency"], page["url"]) == ("56.74", "EUR", shop.url("/glass"))
    assert watch_count() == 0
    bad = ada.client.post("/probe", json={"url": "not a link"})
    assert bad.status_code == 422 and error_of(bad)["code"] == "invalid_url"


def test_probe_and_add_share_the_persons_read_limit(
    ada: Person, shop: LocalShop, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("USER_READS_PER_MINUTE", "1")
    get_settings.cache_clear()
    page_read_limiter.cache_clear()
    assert ada.client.post("/probe", json={"url": shop.url("/glass")}).status_code == 200
    refused = ada.client.post("/watches", json={"url": shop.url("/shelf"), "any_drop": True})
    assert refused.status_code == 429
    assert error_of(refused)["code"] == "slow_down" and int(refused.headers["retry-after"]) > 0
    assert shop.request_count("/shelf") == 0 and watch_count() == 0


def test_alerts_are_each_persons_own(ada: Person, bob: Person, shop: LocalShop) -> None:
    watch_id = add_shelf(ada, shop)["id"]
    alerts = ada.client.get("/alerts").json()["alerts"]
    assert [(alert["kind"], alert["watch_id"]) for alert in alerts] == [("confirmation", watch_id)]
    assert bob.client.get("/alerts").json()["alerts"] == []
    assert ada.client.get("/alerts", params={"limit": 0}).status_code == 422


def test_bad_requests_are_refused_in_words_and_save_nothing(ada: Person, shop: LocalShop) -> None:
    bad_json = ada.client.post(
        "/watches", content=b'{"url": "x", ', headers={"Content-Type": "application/json"}
    )
    assert bad_json.status_code == 400 and error_of(bad_json)["code"] == "bad_json"

    wrong_type = ada.client.post("/watches", json={"url": shop.url("/shelf"), "target_price": 89.5})
    assert wrong_type.status_code == 422 and error_of(wrong_type)["code"] == "invalid_request"
    assert "target_price" in error_of(wrong_type)["message"]

    missing = ada.client.post("/watches", json={"target_price": "89.50"})
    assert missing.status_code == 422 and "url" in error_of(missing)["message"]

    not_an_object = ada.client.post("/watches", json=["https://shop.example/p"])
    assert not_an_object.status_code == 422

    unknown_field = ada.client.post("/watches", json={"url": shop.url("/shelf"), "price": "1"})
    assert unknown_field.status_code == 422 and "price" in error_of(unknown_field)["message"]

    oversized = ada.client.post("/watches", json={"url": shop.url("/shelf"), "pad": "x" * 70_000})
    assert oversized.status_code == 413 and error_of(oversized)["code"] == "body_too_large"

    stock_with_target = ada.client.post(
        "/watches", json={"url": shop.url("/shelf"), "mode": "stock", "target_price": "50"}
    )
    assert stock_with_target.status_code == 422
    assert (error_of(stock_with_target)["code"], error_of(stock_with_target)["offer"]) == (
        "invalid_target",
        "price_watch",
    )

    no_target = ada.client.post("/watches", json={"url": shop.url("/shelf")})
    assert no_target.status_code == 422
    assert (error_of(no_target)["code"], error_of(no_target)["offer"]) == ("missing_target", "any_drop")

    assert shop.request_count("/shelf") == 0 and watch_count() == 0

    add_shelf(ada, shop)
    again = ada.client.post("/watches", json={"url": shop.url("/shelf"), "any_drop": True})
    assert again.status_code == 409
    assert (error_of(again)["code"], error_of(again)["offer"]) == ("duplicate", "edit_watch")
    assert watch_count() == 1

    huge_id = ada.client.get(f"/watches/{2**70}")
    assert huge_id.status_code == 422 and error_of(huge_id)["code"] == "invalid_request"

    nowhere = ada.client.get("/nowhere")
    assert nowhere.status_code == 404 and error_of(nowhere)["code"] == "not_found"


def test_tokens_that_do_not_let_a_request_in(server: ApiServer, ada: Person) -> None:
    with httpx.Client(base_url=server.url) as anonymous:
        none = anonymous.get("/me")
        assert none.status_code == 401 and error_of(none)["code"] == "missing_token"
        assert none.headers["www-authenticate"].startswith("Bearer")
        forged = anonymous.get("/me", headers={"Authorization": "Bearer ct_forged"})
        assert forged.status_code == 401 and error_of(forged)["code"] == "invalid_token"

    _, expiring = create_token(ada.user_id, "short-lived", expires_in=timedelta(days=1))
    with session_scope() as session:
        session.execute(
            sa.update(ApiToken)
            .where(ApiToken.name == "short-lived")
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    expired = ada.client.get("/me", headers={"Authorization": f"Bearer {expiring}"})
    assert expired.status_code == 401 and error_of(expired)["code"] == "token_expired"

    [token] = [t for t in list_tokens(ada.user_id) if t.name == "script"]
    revoke_token(ada.user_id, token.id)
    revoked = ada.client.get("/watches")
    assert revoked.status_code == 401 and error_of(revoked)["code"] == "invalid_token"
    assert "revoked" in error_of(revoked)["message"]


def test_a_read_only_token_can_read_but_change_nothing(
    server: ApiServer, ada: Person, shop: LocalShop
) -> None:
    watch = add_shelf(ada, shop)
    _, token = create_token(ada.user_id, "dashboard", read_only=True)
    reader = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"})
    assert reader.get("/watches").json()["watches"] == [watch]
    assert reader.get(f"/products/{watch['product_id']}").status_code == 200
    for method, path, body in (
        ("POST", "/watches", {"url": shop.url("/glass"), "any_drop": True}),
        ("PATCH", f"/watches/{watch['id']}", {"any_drop": True}),
        ("DELETE", f"/watches/{watch['id']}", None),
        ("POST", f"/watches/{watch['id']}/pause", None),
        ("POST", f"/watches/{watch['id']}/resume", None),
        ("POST", f"/watches/{watch['id']}/rearm", None),
        ("POST", f"/watches/{watch['id']}/check", None),
    ):
        response = reader.request(method, path, json=body)
        assert response.status_code == 403, (method, path, response.text)
        assert error_of(response)["code"] == "read_only"
    assert ada.client.get(f"/watches/{watch['id']}").json()["watch"] == watch
    assert shop.request_count("/shelf") == 1 and shop.request_count("/glass") == 0
    reader.close()


def test_too_many_requests_with_one_token_answer_429_with_retry_after(
    ada: Person, bob: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("API_REQUESTS_PER_MINUTE", "3")
    get_settings.cache_clear()
    assert [ada.client.get("/me").status_code for _ in range(3)] == [200, 200, 200]
    refused = ada.client.get("/me")
    assert refused.status_code == 429 and error_of(refused)["code"] == "rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert bob.client.get("/me").status_code == 200  # another token has its own count


def test_the_openapi_document_and_its_readable_page(server: ApiServer) -> None:
    with httpx.Client(base_url=server.url) as anonymous:
        document = anonymous.get("/openapi.json").json()
        assert {
            "/me",
            "/watches",
            "/watches/{watch_id}/check",
            "/products/{product_id}",
            "/probe",
            "/alerts",
        } <= set(document["paths"])
        page = anonymous.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "/api/v1/watches/{watch_id}/pause" in page.text and "<script" not in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]


def test_tokens_are_stored_only_as_hashes(db_url: str) -> None:
    user_id = make_user()
    info, secret = create_token(user_id, "  home   assistant ", read_only=True)
    assert info.name == "home assistant" and info.scope == "read"
    with session_scope() as session:
        stored = session.execute(sa.select(ApiToken.token_hash)).scalar_one()
    assert secret not in stored and len(stored) == 64
    holder = authenticate(secret)
    assert (holder.user_id, holder.read_only) == (user_id, True)
    other = make_user("eve@example.com")
    with pytest.raises(ValueError, match="does not exist"):
        revoke_token(other, info.id)
    revoke_token(user_id, info.id)
    assert list_tokens(user_id) == []


def test_the_tokens_command_creates_lists_and_revokes(sqlite_url: str) -> None:
    make_user()
    runner = CliRunner()
    made = runner.invoke(
        main, ["tokens", "create", "--user", "ada@example.com", "--name", "cron", "--read-only"]
    )
    assert made.exit_code == 0, made.output
    secret = made.output.strip().splitlines()[-1]
    assert authenticate(secret).read_only
    listed = runner.invoke(main, ["tokens", "list", "--user", "ada@example.com"])
    assert "cron" in listed.output and "read" in listed.output and secret not in listed.output
    token_id = list_tokens(authenticate(secret).user_id)[0].id
    revoked = runner.invoke(main, ["tokens", "revoke", "--user", "ada@example.com", str(token_id)])
    assert revoked.exit_code == 0 and "Revoked" in revoked.output
    nobody = runner.invoke(main, ["tokens", "list", "--user", "nobody@example.com"])
    assert nobody.exit_code != 0 and "No account" in nobody.output


async def test_the_settings_page_shows_a_new_token_once_and_revokes_only_ones_own(sqlite_url: str) -> None:
    import reflex as rx

    import cloudtrack_app.cloudtrack_app  # noqa: F401  (registers every state)
    from cloudtrack_app.auth import accounts
    from cloudtrack_app.states.api_tokens import NEW_TOKEN_FIELD, ApiTokensState

    owner = accounts.create_user("owner@example.com", "owner password", "Owner")
    stranger = accounts.create_user("stranger@example.com", "stranger password", "Stranger")
    _, strangers_secret = create_token(stranger.id, "theirs")
    root = rx.State(_reflex_internal_init=True)
    state = root.get_substate(ApiTokensState.get_full_name().split(".")[1:])
    state.session_token = accounts.start_session(owner.id)
    handlers = ApiTokensState.event_handlers

    await handlers["load_tokens"].fn(state)
    handlers["set_token_scope"].fn(state, "read")
    shown = await handlers["make_token"].fn(state, {"token_name": "phone"})
    [row] = state.api_tokens
    assert (row.name, row.scope, row.last_used, row.expires) == ("phone", "read only", "never", "never")
    secret = authenticate_secret_in(shown, NEW_TOKEN_FIELD)
    assert authenticate(secret).read_only
    assert secret not in str(state.dict())  # handed to the page, never kept in the state

    empty = await handlers["make_token"].fn(state, {"token_name": "   "})
    assert empty is None and "name" in state.token_error and len(state.api_tokens) == 1

    [theirs] = list_tokens(stranger.id)
    await handlers["revoke"].fn(state, theirs.id)
    assert "does not exist" in state.token_error
    assert authenticate(strangers_secret).user_id == stranger.id
    await handlers["revoke"].fn(state, row.id)
    assert state.api_tokens == [] and "Revoked" in state.token_message


def authenticate_secret_in(event: object, field: str) -> str:
    """The token a `rx.set_value(field, …)` event carries to the page."""
    import re

    text = str(event)
    assert "ref_" + field.replace("-", "_") in text
    match = re.search(r"ct_[A-Za-z0-9_-]{20,}", text)
    assert match, text
    return match[0]
