"""Fetching product pages: limits, conditional requests, decoding, errors a user can read.

Every test talks to a real HTTP server on 127.0.0.1 (see tests/fetch_servers.py), with
private addresses allowed as a self-hoster tracking a shop on their own network would.
"""

from __future__ import annotations

import asyncio
import gzip
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Iterator

import brotli
import httpx
import pytest

from cloudtrack_app.settings import Settings, get_settings
from cloudtrack_app.tracking.fetch import (
    DirectFetcher,
    FetchError,
    FetchErrorKind,
    ScraperApiFetcher,
    close_clients,
    fetch_page,
    fetcher_for,
    fetcher_name_for,
    shared_client,
)
from cloudtrack_app.tracking.fetch.body import _read_sample, read_capped
from cloudtrack_app.tracking.fetch.netguard import Guard
from tests.fetch_servers import PageServer, Received, Reply, closed_port

pytestmark = pytest.mark.usefixtures("close_shared_clients")

PAGE = b"<!DOCTYPE html><html><head><title>Kettle</title></head><body><p>Price: 24.99</p></body></html>"


def local(**overrides: object) -> Settings:
    return Settings(allow_private_urls=True, **overrides)


async def fetch_error(url: str, settings: Settings) -> FetchError:
    with pytest.raises(FetchError) as caught:
        await fetch_page(url, settings=settings)
    return caught.value


async def test_a_page_is_read_with_browser_like_headers(server: PageServer) -> None:
    server.routes["/kettle"] = Reply(
        body=PAGE,
        headers={
            "Content-Type": "text/html; charset=utf-8",
            "ETag": '"v1"',
            "Last-Modified": "Sat, 21 Nov 2026 10:00:00 GMT",
        },
    )
    settings = local(user_agent="Mozilla/5.0 TestBrowser", accept_language="de-DE,de;q=0.9")
    result = await fetch_page(server.url("/kettle"), settings=settings)
    assert result.html == PAGE.decode()
    assert result.status_code == 200
    assert not result.not_modified
    assert result.url == server.url("/kettle")
    assert result.content_type == "text/html; charset=utf-8"
    assert result.etag == '"v1"'
    assert result.last_modified == "Sat, 21 Nov 2026 10:00:00 GMT"
    sent = server.requests[0].headers
    assert sent["user-agent"] == "Mozilla/5.0 TestBrowser"
    assert sent["accept-language"] == "de-DE,de;q=0.9"
    assert "text/html" in sent["accept"]
    assert "br" in sent["accept-encoding"] and "gzip" in sent["accept-encoding"]
    assert "if-none-match" not in sent


def answer_304_when_etag_matches(request: Received) -> Reply:
    if request.headers.get("if-none-match") == '"v7"':
        return Reply(status=304, body=b"", headers={"ETag": '"v7"'})
    return Reply(body=PAGE, headers={"Content-Type": "text/html", "ETag": '"v7"'})


async def test_an_unchanged_page_answers_304_and_is_not_parsed(server: PageServer) -> None:
    server.routes["/kettle"] = answer_304_when_etag_matches
    first = await fetch_page(server.url("/kettle"), settings=local())
    assert first.etag == '"v7"' and first.html
    again = await fetch_page(server.url("/kettle"), etag=first.etag, settings=local())
    assert again.not_modified
    assert again.html == ""
    assert again.status_code == 304
    assert again.etag == '"v7"'
    assert server.requests[1].headers["if-none-match"] == '"v7"'


async def test_last_modified_is_sent_as_if_modified_since(server: PageServer) -> None:
    stamp = "Sat, 21 Nov 2026 10:00:00 GMT"

    def route(request: Received) -> Reply:
        if request.headers.get("if-modified-since") == stamp:
            return Reply(status=304, body=b"", headers={})
        return Reply(body=PAGE, headers={"Content-Type": "text/html", "Last-Modified": stamp})

    server.routes["/kettle"] = route
    first = await fetch_page(server.url("/kettle"), settings=local())
    again = await fetch_page(server.url("/kettle"), last_modified=first.last_modified, settings=local())
    assert again.not_modified and again.html == ""
    assert again.last_modified == stamp


async def test_a_body_over_the_cap_is_refused(server: PageServer) -> None:
    big = b"<html><body>" + b"x" * 5000 + b"</body></html>"
    server.routes["/declared"] = Reply(body=big, headers={"Content-Type": "text/html"})
    server.routes["/chunked"] = Reply(body=big, headers={"Content-Type": "text/html"}, chunk_size=512)
    for path in ("/declared", "/chunked"):
        error = await fetch_error(server.url(path), local(fetch_max_bytes=1000))
        assert error.kind == FetchErrorKind.TOO_LARGE, path
        assert "larger than" in error.message
    small_enough = await fetch_page(server.url("/chunked"), settings=local(fetch_max_bytes=10_000))
    assert small_enough.html == big.decode()


class _Pieces(httpx.AsyncByteStream):
    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            yield piece


async def test_a_body_in_many_pieces_is_read_whole_up_to_the_cap_and_cut_at_it() -> None:
    pieces = [bytes([65 + index]) * 1000 for index in range(10)]
    whole = b"".join(pieces)

    def response() -> httpx.Response:
        return httpx.Response(200, stream=_Pieces(pieces))

    assert await read_capped(response(), len(whole)) == whole
    with pytest.raises(FetchError) as caught:
        await read_capped(response(), len(whole) - 1)
    assert caught.value.kind == FetchErrorKind.TOO_LARGE
    assert await _read_sample(response(), 2500) == whole[:2500]


async def test_a_declared_length_over_the_cap_is_refused_without_reading_the_body(server: PageServer) -> None:
    # The server claims 10 MB but sends 60 bytes: reading would wait for the rest until the timeout.
    server.routes["/huge"] = Reply(
        body=PAGE[:60], headers={"Content-Type": "text/html", "Content-Length": "10000000"}
    )
    error = await fetch_error(server.url("/huge"), local(fetch_max_bytes=1_000_000, fetch_read_timeout=30))
    assert error.kind == FetchErrorKind.TOO_LARGE


async def test_a_compressed_body_is_capped_after_decompression(server: PageServer) -> None:
    bomb = gzip.compress(b"<html>" + b" " * 200_000 + b"</html>")
    server.routes["/bomb"] = Reply(
        body=bomb, headers={"Content-Type": "text/html", "Content-Encoding": "gzip"}
    )
    error = await fetch_error(server.url("/bomb"), local(fetch_max_bytes=50_000))
    assert error.kind == FetchErrorKind.TOO_LARGE


async def test_a_decompression_bomb_never_inflates_past_the_cap_in_memory(server: PageServer) -> None:
    bomb = brotli.compress(b"<html>" + b" " * 64_000_000, quality=1)  # 64 MB in about 12 KB
    server.routes["/bomb"] = Reply(body=bomb, headers={"Content-Type": "text/html", "Content-Encoding": "br"})
    del bomb
    tracemalloc.start()
    try:
        error = await fetch_error(server.url("/bomb"), local(fetch_max_bytes=1_000_000))
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert error.kind == FetchErrorKind.TOO_LARGE
    assert peak < 16_000_000


async def test_a_server_slower_than_the_read_timeout_times_out(server: PageServer) -> None:
    server.routes["/slow"] = Reply(body=PAGE, delay=1.0)
    error = await fetch_error(server.url("/slow"), local(fetch_read_timeout=0.2))
    assert error.kind == FetchErrorKind.TIMEOUT
    assert error.transient


async def test_a_slowly_dripping_body_hits_the_total_timeout(server: PageServer) -> None:
    body = b"<html><body>" + b"y" * 400 + b"</body></html>"
    server.routes["/drip"] = Reply(body=body, headers={"Content-Type": "text/html"}, chunk_size=10, drip=0.05)
    error = await fetch_error(server.url("/drip"), local(fetch_read_timeout=5, fetch_total_timeout=0.5))
    assert error.kind == FetchErrorKind.TIMEOUT
    assert "0.5 seconds" in error.message


@pytest.mark.parametrize(
    ("content_type", "body"),
    [("application/pdf", b"%PDF-1.4 ..."), ("image/png", b"\x89PNG\r\n\x1a\n"), ("application/json", b"{}")],
)
async def test_documents_that_are_not_web_pages_are_refused(
    server: PageServer, content_type: str, body: bytes
) -> None:
    server.routes["/file"] = Reply(body=body, headers={"Content-Type": content_type})
    error = await fetch_error(server.url("/file"), local())
    assert error.kind == FetchErrorKind.NOT_HTML
    assert content_type in error.message


async def test_untyped_or_plain_text_bodies_are_accepted_when_they_are_html(server: PageServer) -> None:
    server.routes["/plain"] = Reply(body=PAGE, headers={"Content-Type": "text/plain"})
    server.routes["/untyped"] = Reply(body=PAGE, headers={})
    server.routes["/notes"] = Reply(body=b"just some notes", headers={"Content-Type": "text/plain"})
    assert "Kettle" in (await fetch_page(server.url("/plain"), settings=local())).html
    assert "Kettle" in (await fetch_page(server.url("/untyped"), settings=local())).html
    error = await fetch_error(server.url("/notes"), local())
    assert error.kind == FetchErrorKind.NOT_HTML


async def test_http_errors_carry_the_status_and_only_5xx_are_transient(server: PageServer) -> None:
    server.routes["/gone"] = Reply(status=404, body=b"<html>nothing here</html>")
    server.routes["/broken"] = Reply(status=500, body=b"<html>oops</html>")
    gone = await fetch_error(server.url("/gone"), local())
    assert gone.kind == FetchErrorKind.HTTP_ERROR
    assert gone.status_code == 404
    assert gone.message == "The shop answered 404 Not Found."
    assert not gone.transient
    broken = await fetch_error(server.url("/broken"), local())
    assert (broken.kind, broken.status_code, broken.transient) == (FetchErrorKind.HTTP_ERROR, 500, True)
    assert "500 Internal Server Error" in broken.message


async def test_bot_walls_are_reported_as_blocked_by_the_shop(server: PageServer) -> None:
    server.routes["/captcha"] = Reply(status=403, body=b"<html><div id='px-captcha'></div></html>")
    server.routes["/robot"] = Reply(status=429, body=b"<html><h1>Are you a robot?</h1></html>")
    server.routes["/cloudflare"] = Reply(
        status=403, body=b"<html>Just a moment...</html>", headers={"cf-mitigated": "challenge"}
    )
    server.routes["/forbidden"] = Reply(status=403, body=b"<html>Forbidden</html>")
    captcha = await fetch_error(server.url("/captcha"), local())
    assert captcha.kind == FetchErrorKind.BLOCKED_BY_SHOP
    assert captcha.status_code == 403
    assert "scraper_api" in captcha.message
    robot = await fetch_error(server.url("/robot"), local())
    assert robot.kind == FetchErrorKind.BLOCKED_BY_SHOP and robot.transient
    assert (await fetch_error(server.url("/cloudflare"), local())).kind == FetchErrorKind.BLOCKED_BY_SHOP
    plain = await fetch_error(server.url("/forbidden"), local())
    assert (plain.kind, plain.status_code) == (FetchErrorKind.HTTP_ERROR, 403)


def redirect_chain(server: PageServer, hops: int) -> str:
    for hop in range(hops):
        server.routes[f"/hop{hop}"] = Reply(status=302, headers={"Location": f"/hop{hop + 1}"})
    server.routes[f"/hop{hops}"] = Reply(body=PAGE, headers={"Content-Type": "text/html"})
    return server.url("/hop0")


async def test_redirects_are_followed_up_to_the_limit(server: PageServer) -> None:
    start = redirect_chain(server, 5)
    result = await fetch_page(start, settings=local(fetch_max_redirects=5))
    assert result.url == server.url("/hop5")
    assert "Kettle" in result.html
    error = await fetch_error(start, local(fetch_max_redirects=4))
    assert error.kind == FetchErrorKind.TOO_MANY_REDIRECTS


async def test_cookies_set_during_redirects_are_sent_on_the_next_hop(server: PageServer) -> None:
    server.routes["/start"] = Reply(
        status=302, headers={"Location": "/product", "Set-Cookie": "consent=yes; Path=/"}
    )
    server.routes["/product"] = lambda request: Reply(
        body=PAGE if request.headers.get("cookie") == "consent=yes" else b"<html>set cookie first</html>",
        headers={"Content-Type": "text/html"},
    )
    result = await fetch_page(server.url("/start"), settings=local())
    assert "Kettle" in result.html
    other_fetch = await fetch_page(server.url("/product"), settings=local())
    assert "set cookie first" in other_fetch.html


async def test_gzip_and_brotli_bodies_are_decoded(server: PageServer) -> None:
    server.routes["/gzip"] = Reply(
        body=gzip.compress(PAGE), headers={"Content-Type": "text/html", "Content-Encoding": "gzip"}
    )
    server.routes["/br"] = Reply(
        body=brotli.compress(PAGE), headers={"Content-Type": "text/html", "Content-Encoding": "br"}
    )
    for path in ("/gzip", "/br"):
        assert (await fetch_page(server.url(path), settings=local())).html == PAGE.decode(), path


async def test_raw_deflate_is_decoded_and_a_damaged_body_is_reported(server: PageServer) -> None:
    raw_deflate = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    server.routes["/deflate"] = Reply(
        body=raw_deflate.compress(PAGE) + raw_deflate.flush(),
        headers={"Content-Type": "text/html", "Content-Encoding": "deflate"},
    )
    server.routes["/damaged"] = Reply(
        body=b"\x1f\x8b\x08\x00garbage-not-gzip",
        headers={"Content-Type": "text/html", "Content-Encoding": "gzip"},
    )
    assert (await fetch_page(server.url("/deflate"), settings=local())).html == PAGE.decode()
    error = await fetch_error(server.url("/damaged"), local())
    assert (error.kind, error.transient) == (FetchErrorKind.UNREACHABLE, True)
    assert "damaged" in error.message


FRENCH = (
    "<html><head><title>Cafetière électrique</title></head><body><p>Prix : 39,90 € TTC. "
    "Livraison gratuite dès 25 € d'achat. Très élégante, idéale pour préparer un café délicieux "
    "chaque matin. Garantie deux ans, pièces détachées disponibles, écran lumineux, réservoir amovible."
    "</p></body></html>"
)


async def test_the_charset_comes_from_the_header_with_the_browser_reading_of_latin_1(
    server: PageServer,
) -> None:
    server.routes["/fr"] = Reply(
        body=FRENCH.encode("cp1252"), headers={"Content-Type": "text/html; charset=ISO-8859-1"}
    )
    assert (await fetch_page(server.url("/fr"), settings=local())).html == FRENCH


async def test_the_charset_comes_from_a_meta_tag(server: PageServer) -> None:
    japanese = '<html><head><meta charset="Shift_JIS"><title>電気ケトル</title></head><body>価格 3,980円</body></html>'
    server.routes["/jp"] = Reply(body=japanese.encode("shift_jis"), headers={"Content-Type": "text/html"})
    old_style = (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1252">'
        "</head><body>29,90 €</body></html>"
    )
    server.routes["/old"] = Reply(body=old_style.encode("cp1252"), headers={"Content-Type": "text/html"})
    assert (await fetch_page(server.url("/jp"), settings=local())).html == japanese
    assert "29,90 €" in (await fetch_page(server.url("/old"), settings=local())).html


async def test_an_undeclared_charset_is_detected(server: PageServer) -> None:
    server.routes["/fr"] = Reply(body=FRENCH.encode("cp1252"), headers={"Content-Type": "text/html"})
    html = (await fetch_page(server.url("/fr"), settings=local())).html
    assert "Cafetière électrique" in html
    assert "39,90 €" in html


async def test_wrong_or_unknown_charsets_do_not_crash(server: PageServer) -> None:
    server.routes["/lies"] = Reply(
        body=FRENCH.encode("cp1252"), headers={"Content-Type": "text/html; charset=utf-8"}
    )
    server.routes["/bogus"] = Reply(body=PAGE, headers={"Content-Type": "text/html; charset=x-no-such-thing"})
    lying = (await fetch_page(server.url("/lies"), settings=local())).html
    assert "Prix" in lying
    assert (await fetch_page(server.url("/bogus"), settings=local())).html == PAGE.decode()


async def test_a_closed_port_is_unreachable() -> None:
    error = await fetch_error(f"http://127.0.0.1:{closed_port()}/", local())
    assert error.kind == FetchErrorKind.UNREACHABLE
    assert error.transient
    assert "127.0.0.1" in error.message


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/file", "javascript:alert(1)", "http:///kettle", "kettle"])
async def test_invalid_urls_are_refused_before_any_connection(url: str) -> None:
    error = await fetch_error(url, local())
    assert error.kind == FetchErrorKind.INVALID_URL


async def test_connections_are_kept_alive_across_fetches_redirects_and_304s(server: PageServer) -> None:
    server.routes["/kettle"] = answer_304_when_etag_matches
    server.routes["/old-kettle"] = Reply(status=301, body=b"moved", headers={"Location": "/kettle"})
    await fetch_page(server.url("/kettle"), settings=local())
    await fetch_page(server.url("/kettle"), etag='"v7"', settings=local())
    await fetch_page(server.url("/old-kettle"), etag='"v7"', settings=local())
    assert len(server.requests) == 4
    assert len({request.client_port for request in server.requests}) == 1


async def test_one_client_is_shared_per_event_loop_and_closed_on_shutdown() -> None:
    settings = local()
    guard = Guard(allow_private=True)
    client = shared_client(guard, settings)
    assert shared_client(guard, settings) is client

    async def in_another_loop() -> int:
        other = shared_client(guard, settings)
        await close_clients()
        return id(other)

    assert await asyncio.to_thread(asyncio.run, in_another_loop()) != id(client)
    await close_clients()
    assert client.is_closed
    assert shared_client(guard, settings) is not client


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.amazon.de/dp/B0", "scraper_api"),
        ("https://amazon.de/dp/B0", "scraper_api"),
        ("https://smile.amazon.de./dp/B0", "scraper_api"),
        ("https://notamazon.de/dp/B0", "direct"),
        ("https://shop.example.com/item", "browser"),
        ("https://example.com/item", "direct"),
    ],
)
def test_the_fetcher_is_chosen_by_shop_domain(url: str, expected: str) -> None:
    fetchers = {"amazon.de": "scraper_api", "Shop.Example.com": "browser"}
    assert fetcher_name_for(url, fetchers) == expected


def test_fetchers_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FETCHERS", '{"amazon.de": "scraper_api", "spa.test": "browser"}')
    get_settings.cache_clear()
    try:
        assert isinstance(fetcher_for("https://www.amazon.de/x"), ScraperApiFetcher)
        assert isinstance(fetcher_for("https://elsewhere.test/x"), DirectFetcher)
    finally:
        get_settings.cache_clear()


async def test_an_unknown_fetcher_name_is_a_clear_error() -> None:
    error = await fetch_error("https://shop.test/x", local(fetchers={"shop.test": "carrier-pigeon"}))
    assert "carrier-pigeon" in error.message


@pytest.fixture
def scraper() -> Iterator[PageServer]:
    with PageServer("127.0.0.1") as running:
        running.routes["/render"] = Reply(body=PAGE, headers={"Content-Type": "text/html; charset=utf-8"})
        yield running


def through_scraper(scraper: PageServer, **overrides: object) -> Settings:
    options: dict[str, object] = {
        "fetchers": {"93.184.215.14": "scraper_api"},
        "scraper_api_url": scraper.url("/render?api_key={key}&url={url}&render=false"),
        "scraper_api_key": "k3y&x",
    }
    return Settings(**(options | overrides))


async def test_the_scraper_api_receives_the_encoded_target_and_key(scraper: PageServer) -> None:
    target = "http://93.184.215.14/item?id=7&colour=red"
    settings = through_scraper(scraper)
    result = await fetch_page(target, settings=settings)
    assert result.html == PAGE.decode()
    assert result.url == target
    assert scraper.requests[0].path == (
        "/render?api_key=k3y%26x&url=http%3A%2F%2F93.184.215.14%2Fitem%3Fid%3D7%26colour%3Dred&render=false"
    )


async def test_the_scraper_api_is_not_asked_for_private_targets(scraper: PageServer) -> None:
    settings = through_scraper(scraper, fetchers={"169.254.169.254": "scraper_api"})
    error = await fetch_error("http://169.254.169.254/latest/meta-data/", settings)
    assert error.kind == FetchErrorKind.BLOCKED_ADDRESS
    assert scraper.requests == []


@pytest.mark.parametrize("header", ["sa-final-url", "Spb-Resolved-Url", "Zr-Final-Url", "X-Final-Url"])
async def test_a_scraper_api_redirect_into_a_private_network_is_refused(
    scraper: PageServer, header: str
) -> None:
    scraper.routes["/render"] = Reply(
        body=b"<html><title>Router admin</title><body>admin password: hunter2</body></html>",
        headers={"Content-Type": "text/html", header: "http://192.168.1.1/admin"},
    )
    error = await fetch_error("http://93.184.215.14/item", through_scraper(scraper))
    assert error.kind == FetchErrorKind.BLOCKED_ADDRESS
    assert "192.168.1.1" in error.message


async def test_a_scraper_api_that_reports_a_public_final_url_is_read(scraper: PageServer) -> None:
    scraper.routes["/render"] = Reply(
        body=PAGE, headers={"Content-Type": "text/html", "sa-final-url": "http://93.184.215.14/moved"}
    )
    result = await fetch_page("http://93.184.215.14/item", settings=through_scraper(scraper))
    assert result.html == PAGE.decode()


async def test_scraper_api_errors_do_not_reveal_the_key(scraper: PageServer) -> None:
    scraper.routes["/render"] = Reply(status=401, body=b"bad key")
    settings = through_scraper(scraper)
    error = await fetch_error("http://93.184.215.14/item", settings)
    assert (error.kind, error.status_code) == (FetchErrorKind.HTTP_ERROR, 401)
    assert "k3y" not in error.message


async def test_the_scraper_api_needs_its_url_template() -> None:
    settings = Settings(fetchers={"93.184.215.14": "scraper_api"}, scraper_api_url="")
    error = await fetch_error("http://93.184.215.14/item", settings)
    assert "SCRAPER_API_URL" in error.message
