"""The running app: security headers on every answer, and a browser that only ever talks to CloudTrack.

A product page's image is served by the shop; the viewer's browser must get it from CloudTrack
(`/img/…`), and the Content-Security-Policy must not break the app (no violations reported).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Page, expect

from benchmarks.apprunner import RunningApp
from cloudtrack_app.db import session_scope
from cloudtrack_app.models import Product
from cloudtrack_app.notify.links import unsubscribe_url
from cloudtrack_app.settings import Settings
from cloudtrack_app.tracking.images import product_image_path
from tests.e2e.test_accounts_e2e import sign_up, unique_email
from tests.fetch_servers import TINY_PNG, PageServer, Reply

TIMEOUT = 30_000


@pytest.fixture(scope="module")
def image_shop() -> Iterator[PageServer]:
    with PageServer("127.0.0.1") as shop:
        shop.routes["/kettle.png"] = Reply(body=TINY_PNG, headers={"Content-Type": "image/png"})
        yield shop


def kettle_page(shop: PageServer, image_path: str) -> bytes:
    return (
        "<!doctype html><html><head><title>Steel Kettle</title>"
        f'<meta property="og:image" content="{shop.url(image_path)}"></head><body>'
        '<script type="application/ld+json">{"@context": "https://schema.org", "@type": "Product", '
        '"name": "Steel Kettle", "offers": {"@type": "Offer", "price": "24.90", "priceCurrency": "EUR", '
        '"availability": "https://schema.org/InStock"}}</script><h1>Steel Kettle</h1></body></html>'
    ).encode()


def assert_security_headers(response: httpx.Response) -> None:
    headers = response.headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"] or (
        headers["content-security-policy"] == "default-src 'none'; sandbox"  # an image, on its own
    ), response.url
    assert headers["x-content-type-options"] == "nosniff", response.url
    assert headers["referrer-policy"] in ("same-origin", "no-referrer"), response.url


def test_every_page_and_route_sends_the_security_headers(
    app_server: RunningApp, image_shop: PageServer
) -> None:
    base = app_server.base_url
    with session_scope() as db:
        product = Product(url=image_shop.url(f"/k-{uuid.uuid4().hex[:6]}"), shop_domain="127.0.0.1")
        product.image_url = image_shop.url("/kettle.png")
        db.add(product)
        db.flush()
        assert product.id is not None
        product_id = product.id
    # The app's data folder (its generated secret key signs the image address) and address.
    settings = Settings(
        CLOUDTRACK_DATA_DIR=app_server.log_path.parent / "data",
        PUBLIC_URL=base,
        CLOUDTRACK_ALLOW_PRIVATE_URLS=True,
    )
    image_path = product_image_path(product_id, image_shop.url("/kettle.png"), settings)
    assert image_path.startswith("/img/product/")
    off_link = unsubscribe_url(999_999, 999_999, settings=settings)
    paths = [
        "/",
        "/login",
        "/signup",
        f"/products/{product_id}",
        "/_health",
        "/ping",
        image_path,
        "/missing-page",
    ]
    with httpx.Client(base_url=base, timeout=20) as client:
        for path in paths:
            assert_security_headers(client.get(path))
        assert_security_headers(client.get(off_link.removeprefix(settings.public_url.rstrip("/"))))
        image = client.get(image_path)
        assert (image.status_code, image.headers["content-type"], image.content) == (
            200,
            "image/png",
            TINY_PNG,
        )
        page = client.get("/login")
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_the_browser_only_ever_contacts_cloudtrack_and_breaks_no_policy(
    page: Page, base: str, image_shop: PageServer
) -> None:
    requested: list[str] = []
    violations: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on(
        "console",
        lambda message: (
            violations.append(message.text)
            if "Content Security Policy" in message.text or "Refused to" in message.text
            else None
        ),
    )
    page.on("pageerror", lambda error: violations.append(str(error)))
    product_path = f"/kettle-{uuid.uuid4().hex[:6]}"
    image_shop.routes[product_path] = Reply(body=kettle_page(image_shop, "/kettle.png"))

    sign_up(page, base, unique_email("pictures"), "Pia")
    page.goto(f"{base}/add")
    page.get_by_label("Product link").fill(image_shop.url(product_path))
    page.get_by_role("button", name="Read page").click()
    expect(page.get_by_test_id("found-title")).to_contain_text("Steel Kettle", timeout=TIMEOUT)
    preview = page.get_by_test_id("product-image")
    expect(preview).to_have_attribute("src", re.compile(r"^/img/preview/"))
    expect(preview).to_have_js_property("naturalWidth", 8, timeout=TIMEOUT)

    page.get_by_role("button", name="Start watching").click()
    expect(page).to_have_url(re.compile(r"/products/\d+$"), timeout=TIMEOUT)
    on_product_page = page.get_by_test_id("product-image")
    expect(on_product_page).to_have_attribute("src", re.compile(r"^/img/product/\d+/"), timeout=TIMEOUT)
    expect(on_product_page).to_have_js_property("naturalWidth", 8, timeout=TIMEOUT)

    page.get_by_role("link", name="Dashboard").click()
    card = page.get_by_test_id("watch-card").filter(has_text="Steel Kettle")
    expect(card.get_by_test_id("product-image")).to_have_js_property("naturalWidth", 8, timeout=TIMEOUT)

    # The shop was asked for its image by CloudTrack, never by the browser.
    origin = urlsplit(base).netloc
    elsewhere = [
        url for url in requested if not url.startswith(("data:", "blob:")) and urlsplit(url).netloc != origin
    ]
    assert elsewhere == []
    assert any("/img/product/" in url for url in requested)
    assert violations == []


def test_a_broken_image_shows_the_placeholder_inside_the_frame(
    page: Page, base: str, image_shop: PageServer
) -> None:
    product_path = f"/broken-{uuid.uuid4().hex[:6]}"
    image_shop.routes[product_path] = Reply(body=kettle_page(image_shop, "/no-such-image.png"))
    sign_up(page, base, unique_email("broken"), "Bo")
    page.goto(f"{base}/add")
    page.get_by_label("Product link").fill(image_shop.url(product_path))
    page.get_by_role("button", name="Read page").click()
    expect(page.get_by_test_id("found-title")).to_contain_text("Steel Kettle", timeout=TIMEOUT)
    image = page.get_by_test_id("product-image")
    expect(image).to_have_attribute("src", re.compile(r"^/img/preview/"))
    page.wait_for_function("el => el.complete", arg=image.element_handle(), timeout=TIMEOUT)
    assert image.evaluate("el => el.naturalWidth") == 0
    assert image.get_attribute("alt") == ""
    assert image.evaluate("el => getComputedStyle(el, '::after').backgroundImage").startswith(
        'url("data:image/svg+xml'
    )
    frame = image.evaluate(
        "el => { const f = el.parentElement.getBoundingClientRect(); "
        "const i = el.getBoundingClientRect(); return [f.width, f.height, i.width, i.height]; }"
    )
    assert frame[2] <= frame[0] and frame[3] <= frame[1]
