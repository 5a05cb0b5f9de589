"""The API in the running app: a token made on the settings page works at /api/v1 until revoked."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from benchmarks.shop import LocalShop
from tests.e2e.test_accounts_e2e import sign_up, unique_email
from tests.e2e.test_security_e2e import assert_security_headers
from tests.engine_fixtures import SMALL_PAGE

TIMEOUT = 30_000


def test_a_token_made_on_the_settings_page_works_until_revoked(
    page: Page, base: str, shop: LocalShop
) -> None:
    email = unique_email("api")
    sign_up(page, base, email, "Ada")
    page.goto(f"{base}/settings")
    page.get_by_label("Token name").fill("my script")
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_text("Copy it now: it is not shown again.")).to_be_visible(timeout=TIMEOUT)
    shown = page.locator("#new-api-token")
    expect(shown).not_to_have_value("", timeout=TIMEOUT)
    token = shown.input_value()
    assert token.startswith("ct_")
    expect(page.get_by_test_id("api-token")).to_contain_text("my script")

    api = httpx.Client(base_url=f"{base}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    me = api.get("/me")
    assert me.status_code == 200 and me.json()["email"] == email
    assert_security_headers(me)
    assert api.get("/watches").json() == {"watches": []}
    assert "/watches" in api.get("/openapi.json").json()["paths"]

    # Pages are read in the app's page-reader pool, as for the add page.
    shop.add_corpus_page("/api-page", SMALL_PAGE)  # 3.56 EUR
    probed = api.post("/probe", json={"url": shop.url("/api-page")})
    assert probed.status_code == 200, probed.text
    assert (probed.json()["page"]["price"], probed.json()["page"]["currency"]) == ("3.56", "EUR")
    added = api.post("/watches", json={"url": shop.url("/api-page"), "any_drop": True})
    assert added.status_code == 201, added.text
    product = api.get(f"/products/{added.json()['watch']['product_id']}", params={"range": "30d"})
    assert [point["price"] for point in product.json()["history"]] == ["3.56"]

    page.goto(f"{base}/api/v1/docs")
    expect(page.get_by_role("heading", name="CloudTrack API")).to_be_visible(timeout=TIMEOUT)

    page.goto(f"{base}/settings")
    page.get_by_role("button", name="Revoke my script").click()
    expect(page.get_by_text("Revoked the token “my script”.")).to_be_visible(timeout=TIMEOUT)
    refused = api.get("/me")
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_token"
    api.close()
