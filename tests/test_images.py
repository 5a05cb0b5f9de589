"""Product images: only http(s) URLs are kept, and CloudTrack fetches, checks, caches and serves
them itself, so a viewer's browser never contacts a shop.

The shops are real HTTP servers on loopback; 127.0.0.1 stands for the internet and 127.0.0.2
for a private address (`only_127_0_0_1`).
"""

from __future__ import annotations

import gzip
import os
import secrets
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from starlette.applications import Starlette

from cloudtrack_app.db import session_scope
from cloudtrack_app.image_routes import routes as image_routes
from cloudtrack_app.models import Product
from cloudtrack_app.notify.dispatch import dispatch_pending
from cloudtrack_app.security_headers import SecurityHeaders
from cloudtrack_app.settings import Settings, get_settings
from cloudtrack_app.tracking.extract import Extraction, extract
from cloudtrack_app.tracking.fetch.image import FetchedImage, sniff_image_type
from cloudtrack_app.tracking.fetch.netguard import Guard
from cloudtrack_app.tracking.images import (
    ImageCache,
    image_cache,
    load_image,
    preview_image_path,
    product_cache_key,
    product_cache_prefix,
    product_image_path,
    product_signature_valid,
    storable_image_url,
)
from cloudtrack_app.tracking.observations import apply_page_details
from tests.fetch_servers import TINY_PNG, PageServer, Reply, only_127_0_0_1
from tests.notify_fixtures import PUBLIC_URL, Stubs, make_event, make_user, make_watch
from tests.notify_fixtures import stubs_fixture as stubs_fixture
from tests.test_notify_escaping import tags_in

pytestmark = pytest.mark.usefixtures("close_shared_clients")

SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(document.domain)"><script>alert(1)</script></svg>'
)
JPEG_HEAD = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"
GIF_HEAD = b"GIF89a\x01\x00\x01\x00"
WEBP_HEAD = b"RIFF\x24\x00\x00\x00WEBPVP8 "
AVIF_HEAD = b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf"
AVIF_AS_COMPATIBLE_BRAND = b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1avifmiaf"
HEIC_HEAD = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"


# --- which URLs are kept ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "JAVASCRIPT:alert(document.cookie)",
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "file:///etc/passwd",
        "FILE:///etc/shadow",
        "data:image/svg+xml;base64,PHN2Zz4=",
        "ftp://shop.example/kettle.jpg",
        "http://192.168.1.20/kettle.jpg",
        "http://10.0.0.7/kettle.jpg",
        "http://127.0.0.1:8080/admin.png",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/kettle.jpg",
        "http://0x7f.1/kettle.jpg",
        "http://localhost/kettle.jpg",
        "https://user:password@shop.example/kettle.jpg",
        "https://shop.example/" + "x" * 2100 + ".jpg",
        "",
        None,
    ],
)
def test_an_image_url_that_is_not_http_on_a_public_address_is_not_kept(url: str | None) -> None:
    assert storable_image_url(url, Settings()) is None
    product = Product(url="https://shop.example/kettle", shop_domain="shop.example")
    apply_page_details(product, extract_with_image(url or ""))
    assert product.image_url is None


@pytest.mark.parametrize(
    "url",
    [
        "https://cdn.shop.example/kettle.jpg",
        "HTTP://Shop.Example/Kettle.PNG?size=400",
        "http://93.184.215.14/k.webp",
    ],
)
def test_an_http_image_url_on_a_public_host_is_kept(url: str) -> None:
    assert storable_image_url(url, Settings()) == url
    product = Product(url="https://shop.example/kettle", shop_domain="shop.example")
    apply_page_details(product, extract_with_image(url))
    assert product.image_url == url


def test_a_page_image_in_upper_case_javascript_is_not_kept_from_a_real_extraction() -> None:
    page = (
        '<html><head><meta property="og:image" content="JAVASCRIPT:alert(1)"></head><body>'
        '<script type="application/ld+json">{"@type": "Product", "name": "Kettle", '
        '"offers": {"price": "19.99", "priceCurrency": "EUR"}}</script></body></html>'
    )
    extraction = extract(page, "https://shop.example/kettle")
    product = Product(url="https://shop.example/kettle", shop_domain="shop.example")
    apply_page_details(product, extraction)
    assert product.image_url is None


def extract_with_image(image: str) -> Extraction:
    page = (
        '<html><head><script type="application/ld+json">{"@type": "Product", "name": "Kettle", '
        '"offers": {"price": "19.99", "priceCurrency": "EUR"}}</script></head><body></body></html>'
    )
    extraction = extract(page, "https://shop.example/kettle")
    extraction.image = image or None
    return extraction


# --- what counts as an image ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "media_type"),
    [
        (TINY_PNG, "image/png"),
        (JPEG_HEAD, "image/jpeg"),
        (GIF_HEAD, "image/gif"),
        (WEBP_HEAD, "image/webp"),
        (AVIF_HEAD, "image/avif"),
        (AVIF_AS_COMPATIBLE_BRAND, "image/avif"),
        (HEIC_HEAD, None),
        (SVG, None),
        (b"<?xml version='1.0'?><svg/>", None),
        (b"<!doctype html><html><script>alert(1)</script>", None),
        (b"\xef\xbb\xbf<svg>", None),
        (b"", None),
    ],
)
def test_images_are_recognised_by_their_bytes(head: bytes, media_type: str | None) -> None:
    assert sniff_image_type(head) == media_type


# --- fetching and caching ---------------------------------------------------------------------


@pytest.fixture
def shop_settings(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The app's settings (data folder of this test), shops on loopback allowed."""
    monkeypatch.setenv("CLOUDTRACK_ALLOW_PRIVATE_URLS", "true")
    get_settings.cache_clear()
    return get_settings()


GUARD = Guard(is_address_allowed=only_127_0_0_1)


async def test_an_image_is_fetched_once_checked_by_its_bytes_and_cached_privately(
    server: PageServer, shop_settings: Settings
) -> None:
    # The shop calls it HTML; the bytes say PNG, and the bytes are what counts.
    server.routes["/kettle.png"] = Reply(body=TINY_PNG, headers={"Content-Type": "text/html"})
    url = server.url("/kettle.png")
    first = await load_image("k1", url, settings=shop_settings, guard=GUARD)
    second = await load_image("k1", url, settings=shop_settings, guard=GUARD)
    assert first is not None and second is not None
    assert (first.media_type, first.data) == (second.media_type, second.data) == ("image/png", TINY_PNG)
    assert len(server.requests) == 1
    assert "referer" not in server.requests[0].headers and "cookie" not in server.requests[0].headers
    cached = shop_settings.data_dir / "images" / "k1.img"
    assert oct(cached.stat().st_mode & 0o777) == "0o600"
    assert oct((shop_settings.data_dir / "images").stat().st_mode & 0o777) == "0o700"


async def test_a_compressed_image_is_inflated(server: PageServer, shop_settings: Settings) -> None:
    server.routes["/k.png"] = Reply(
        body=gzip.compress(TINY_PNG), headers={"Content-Type": "image/png", "Content-Encoding": "gzip"}
    )
    image = await load_image("k", server.url("/k.png"), settings=shop_settings, guard=GUARD)
    assert image is not None and image.data == TINY_PNG


@pytest.mark.parametrize(
    "reply",
    [
        Reply(body=SVG, headers={"Content-Type": "image/svg+xml"}),
        Reply(body=b"<html><script>alert(1)</script></html>", headers={"Content-Type": "image/png"}),
        Reply(body=TINY_PNG + b"\x00" * 3000, headers={"Content-Type": "image/png"}),  # over the limit
        Reply(body=TINY_PNG + b"\x00" * 3000, headers={"Content-Type": "image/png"}, chunk_size=512),
        Reply(status=404, body=b"gone"),
    ],
    ids=["svg", "html-called-png", "too-large", "too-large-undeclared", "missing"],
)
async def test_what_is_not_a_small_raster_image_is_not_served_and_not_asked_for_again(
    server: PageServer, shop_settings: Settings, reply: Reply
) -> None:
    server.routes["/image"] = reply
    settings = shop_settings.model_copy(update={"image_max_bytes": 2048})
    assert await load_image("bad", server.url("/image"), settings=settings, guard=GUARD) is None
    assert await load_image("bad", server.url("/image"), settings=settings, guard=GUARD) is None
    assert len(server.requests) == 1
    assert not (settings.data_dir / "images" / "bad.img").exists()


async def test_a_shop_that_never_sends_its_image_is_given_up_on(
    server: PageServer, shop_settings: Settings
) -> None:
    server.routes["/slow.png"] = Reply(body=TINY_PNG, headers={"Content-Type": "image/png"}, delay=5)
    settings = shop_settings.model_copy(update={"image_fetch_timeout": 0.3})
    assert await load_image("slow", server.url("/slow.png"), settings=settings, guard=GUARD) is None
    assert image_cache(settings).failed_recently("slow")


async def test_an_image_on_or_redirected_to_a_private_address_is_not_fetched(
    server: PageServer, second_server: PageServer, shop_settings: Settings
) -> None:
    server.routes["/moved.png"] = Reply(status=302, headers={"Location": second_server.url("/admin.png")})
    second_server.routes["/admin.png"] = Reply(body=TINY_PNG, headers={"Content-Type": "image/png"})
    assert await load_image("a", server.url("/moved.png"), settings=shop_settings, guard=GUARD) is None
    assert await load_image("b", second_server.url("/admin.png"), settings=shop_settings, guard=GUARD) is None
    assert second_server.requests == []


async def test_a_changed_image_url_replaces_the_cached_image(
    server: PageServer, shop_settings: Settings
) -> None:
    server.routes["/old.png"] = Reply(body=TINY_PNG, headers={"Content-Type": "image/png"})
    server.routes["/new.gif"] = Reply(body=GIF_HEAD + b"\x00" * 20, headers={"Content-Type": "image/gif"})
    for path in ("/old.png", "/new.gif"):
        url = server.url(path)
        await load_image(
            product_cache_key(7, url),
            url,
            replaces_prefix=product_cache_prefix(7),
            settings=shop_settings,
            guard=GUARD,
        )
    files = sorted(p.name for p in (shop_settings.data_dir / "images").iterdir())
    assert files == [f"{product_cache_key(7, server.url('/new.gif'))}.img"]


def test_the_image_cache_keeps_within_its_size_dropping_the_least_recently_shown(tmp_path: Path) -> None:
    cache = ImageCache(tmp_path / "images", max_bytes=2500)
    picture = FetchedImage("image/png", b"\x89PNG" + b"\x00" * 996)
    for key in ("a", "b"):
        cache.write(key, picture)
    os.utime(cache.directory / "a.img", (1, 1))
    os.utime(cache.directory / "b.img", (2, 2))
    assert cache.read("a") is not None  # shown just now: "b" is now the least recently shown
    cache.write("c", picture)
    assert cache.total_bytes() <= 2500
    assert cache.read("b") is None and cache.read("a") is not None and cache.read("c") is not None


# --- served from CloudTrack's own address -----------------------------------------------------


@pytest.fixture
async def app_client(shop_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = SecurityHeaders(Starlette(routes=image_routes))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://cloudtrack.test"
    ) as client:
        yield client


def saved_product(image_url: str | None) -> int:
    with session_scope() as db:
        product = Product(
            url=f"https://shop.example/kettle?id={secrets.token_hex(4)}",
            shop_domain="shop.example",
            title="Kettle",
            image_url=image_url,
            currency="EUR",
            last_price=Decimal("19.99"),
        )
        db.add(product)
        db.flush()
        assert product.id is not None
        return product.id


async def test_the_image_route_serves_the_product_image_with_its_sniffed_type(
    server: PageServer, app_client: httpx.AsyncClient
) -> None:
    server.routes["/kettle.png"] = Reply(body=TINY_PNG, headers={"Content-Type": "application/octet-stream"})
    product_id = saved_product(server.url("/kettle.png"))
    path = product_image_path(product_id, server.url("/kettle.png"))
    assert path.startswith(f"/img/product/{product_id}/")
    response = await app_client.get(path)
    assert response.status_code == 200
    assert response.content == TINY_PNG
    assert response.headers["content-type"] == "image/png"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert "max-age" in response.headers["cache-control"]


async def test_the_image_route_answers_only_signed_addresses(
    server: PageServer, app_client: httpx.AsyncClient
) -> None:
    server.routes["/kettle.png"] = Reply(body=TINY_PNG, headers={"Content-Type": "image/png"})
    product_id = saved_product(server.url("/kettle.png"))
    other_id = saved_product(server.url("/other.png"))
    signature = product_image_path(product_id, server.url("/kettle.png")).split("/")[4].split("?")[0]
    assert product_signature_valid(product_id, signature)
    for path in (f"/img/product/{product_id}/forged", f"/img/product/{other_id}/{signature}"):
        assert (await app_client.get(path)).status_code == 404
    assert server.requests == []


async def test_a_product_without_a_usable_image_has_no_image_address(app_client: httpx.AsyncClient) -> None:
    product_id = saved_product("file:///etc/passwd")  # stored by an older version
    assert product_image_path(product_id, "file:///etc/passwd") == ""
    signature = product_image_path(product_id, "https://shop.example/k.png").split("/")[4].split("?")[0]
    response = await app_client.get(f"/img/product/{product_id}/{signature}")
    assert response.status_code == 404
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_the_preview_image_route_fetches_only_urls_cloudtrack_signed(
    server: PageServer, app_client: httpx.AsyncClient
) -> None:
    server.routes["/kettle.png"] = Reply(body=TINY_PNG, headers={"Content-Type": "image/png"})
    url = server.url("/kettle.png")
    response = await app_client.get(preview_image_path(url))
    assert (response.status_code, response.content) == (200, TINY_PNG)
    signature = preview_image_path(url).split("/")[3].split("?")[0]
    other = server.url("/other.png")
    assert (await app_client.get(f"/img/preview/{signature}?u={quote(other, safe='')}")).status_code == 404
    assert [r.path for r in server.requests] == ["/kettle.png"]


def test_the_image_cache_lives_in_the_data_folder(shop_settings: Settings) -> None:
    assert image_cache(shop_settings).directory == shop_settings.data_dir / "images"


# --- in mail --------------------------------------------------------------------------------


async def test_an_alert_mail_shows_the_image_from_cloudtrack_never_from_the_shop(stubs: Stubs) -> None:
    user = make_user(ai_text=False)
    product, watch = make_watch(user.id)
    make_event(user.id, product, watch)  # its facts name https://shop.example/grinder.jpg
    await dispatch_pending()
    [email] = stubs.resend.emails
    images = [attrs.get("src") for tag, attrs in tags_in(email["html"]) if tag == "img"]
    assert len(images) == 1
    assert images[0].startswith(f"{PUBLIC_URL}/img/product/{product.id}/")
    assert "grinder.jpg" not in email["html"]


@pytest.mark.parametrize("image", ["JAVASCRIPT:alert(1)", "Data:image/svg+xml,<svg/>", "FILE:///etc/passwd"])
def test_the_extractor_drops_script_data_and_file_images_in_any_letter_case(image: str) -> None:
    page = (
        f'<html><head><meta property="og:image" content="{image}"></head><body>'
        '<script type="application/ld+json">{"@type": "Product", "name": "Kettle", '
        '"offers": {"price": "19.99", "priceCurrency": "EUR"}}</script></body></html>'
    )
    assert extract(page, "https://shop.example/kettle").image is None
