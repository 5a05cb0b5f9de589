"""The browser fetcher: pages that write their price with JavaScript, still behind the address guard.

Chromium gets its every request answered by CloudTrack's guarded HTTP client, so the tests
check both that scripts run and that neither the page nor its scripts reach a private address.
Skipped when Chromium is not installed (`apt-get install chromium`).
"""

from __future__ import annotations

import contextlib
import importlib.util
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from cloudtrack_app.settings import Settings
from cloudtrack_app.tracking.fetch import (
    BROWSER_ARGS,
    BrowserFetcher,
    FetchError,
    FetchErrorKind,
    fetch_page,
)
from cloudtrack_app.tracking.fetch.netguard import Guard
from tests.fetch_servers import PageServer, Reply, only_127_0_0_1

pytestmark = pytest.mark.usefixtures("close_shared_clients")

CHROMIUM = "/usr/bin/chromium"
needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).is_file() or importlib.util.find_spec("playwright") is None,
    reason="Chromium (apt-get install chromium) or playwright is not installed",
)

SCRIPTED_PAGE = b"""<!DOCTYPE html><html><head><title>Kettle</title></head><body>
<p id="price">loading</p>
<script>
fetch("/api/price").then(r => r.json()).then(d => {
  document.getElementById("price").textContent = "Price: " + d.price;
});
</script></body></html>"""


@needs_chromium
async def test_a_price_written_by_javascript_is_in_the_fetched_html(server: PageServer) -> None:
    server.routes["/kettle"] = Reply(body=SCRIPTED_PAGE)
    server.routes["/api/price"] = Reply(
        body=b'{"price": "24.99"}', headers={"Content-Type": "application/json"}
    )
    settings = Settings(
        allow_private_urls=True, fetchers={"127.0.0.1": "browser"}, user_agent="Mozilla/5.0 CT"
    )
    result = await fetch_page(server.url("/kettle"), settings=settings)
    assert "Price: 24.99" in result.html
    assert result.status_code == 200
    assert result.url == server.url("/kettle")
    assert {r.path for r in server.requests} >= {"/kettle", "/api/price"}
    assert all(r.headers["user-agent"] == "Mozilla/5.0 CT" for r in server.requests)


@needs_chromium
async def test_scripts_cannot_reach_private_addresses(server: PageServer, second_server: PageServer) -> None:
    server.routes["/kettle"] = Reply(
        body=(
            b"<html><body><p id='out'>waiting</p><script>"
            b"fetch('" + second_server.url("/secret").encode() + b"').then("
            b"() => document.getElementById('out').textContent = 'leaked',"
            b"() => document.getElementById('out').textContent = 'refused');"
            b"new WebSocket('" + second_server.url("/socket").replace("http", "ws").encode() + b"');"
            b"</script><img src='" + second_server.url("/pixel.png").encode() + b"'></body></html>"
        )
    )
    second_server.routes["/secret"] = Reply(body=b"secret", headers={"Access-Control-Allow-Origin": "*"})
    fetcher = BrowserFetcher(Settings(), guard=Guard(is_address_allowed=only_127_0_0_1))
    result = await fetcher.fetch(server.url("/kettle"))
    assert "refused" in result.html
    assert second_server.requests == []


@needs_chromium
async def test_a_redirect_to_a_private_address_is_refused(
    server: PageServer, second_server: PageServer
) -> None:
    server.routes["/kettle"] = Reply(status=302, headers={"Location": second_server.url("/admin")})
    second_server.routes["/admin"] = Reply()
    fetcher = BrowserFetcher(Settings(), guard=Guard(is_address_allowed=only_127_0_0_1))
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(server.url("/kettle"))
    assert caught.value.kind == FetchErrorKind.BLOCKED_ADDRESS
    assert second_server.requests == []


@needs_chromium
async def test_browser_redirects_are_followed_and_limited(server: PageServer) -> None:
    for hop in range(3):
        server.routes[f"/hop{hop}"] = Reply(status=302, headers={"Location": f"/hop{hop + 1}"})
    server.routes["/hop3"] = Reply(body=SCRIPTED_PAGE)
    server.routes["/api/price"] = Reply(
        body=b'{"price": "9.50"}', headers={"Content-Type": "application/json"}
    )
    result = await BrowserFetcher(Settings(allow_private_urls=True)).fetch(server.url("/hop0"))
    assert result.url == server.url("/hop3")
    assert "Price: 9.50" in result.html
    with pytest.raises(FetchError) as caught:
        await BrowserFetcher(Settings(allow_private_urls=True, fetch_max_redirects=2)).fetch(
            server.url("/hop0")
        )
    assert caught.value.kind == FetchErrorKind.TOO_MANY_REDIRECTS


@needs_chromium
async def test_browser_http_errors_and_bot_walls(server: PageServer) -> None:
    server.routes["/gone"] = Reply(status=404, body=b"<html>gone</html>")
    server.routes["/wall"] = Reply(status=403, body=b"<html><div class='g-recaptcha'>captcha</div></html>")
    fetcher = BrowserFetcher(Settings(allow_private_urls=True))
    with pytest.raises(FetchError) as gone:
        await fetcher.fetch(server.url("/gone"))
    assert (gone.value.kind, gone.value.status_code) == (FetchErrorKind.HTTP_ERROR, 404)
    with pytest.raises(FetchError) as wall:
        await fetcher.fetch(server.url("/wall"))
    assert wall.value.kind == FetchErrorKind.BLOCKED_BY_SHOP


async def test_a_private_address_is_refused_before_any_browser_starts(server: PageServer) -> None:
    fetcher = BrowserFetcher(Settings(browser_executable="/nonexistent/chromium"))
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(server.url("/kettle"))
    assert caught.value.kind == FetchErrorKind.BLOCKED_ADDRESS
    assert server.requests == []


async def test_a_missing_chromium_is_a_clear_error() -> None:
    fetcher = BrowserFetcher(Settings(browser_executable="/nonexistent/chromium"))
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch("https://shop.example/kettle")
    assert "Chromium is not installed at /nonexistent/chromium" in caught.value.message
    assert not caught.value.transient


def stun_page(port: int) -> bytes:
    """A shop page whose script asks a STUN server on this machine for its addresses."""
    return (
        b"<html><head><title>Kettle</title></head><body><p id='state'>start</p><script>"
        b"const pc = new RTCPeerConnection({iceServers: [{urls: 'stun:127.0.0.1:%d'}]});"
        b"pc.createDataChannel('probe');"
        b"pc.onicecandidate = (e) => { if (e.candidate) document.title = 'gathering'; };"
        b"pc.createOffer().then((offer) => pc.setLocalDescription(offer))"
        b".then(() => document.getElementById('state').textContent = 'offered');"
        b"</script></body></html>" % port
    )


@contextlib.contextmanager
def udp_listener() -> Iterator[socket.socket]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.settimeout(1.5)
        yield listener


def datagrams(listener: socket.socket) -> list[bytes]:
    received = []
    with contextlib.suppress(TimeoutError):
        while True:
            received.append(listener.recv(2048))
    return received


@needs_chromium
async def test_a_page_cannot_send_webrtc_datagrams_to_this_machine(server: PageServer) -> None:
    with udp_listener() as listener:
        server.routes["/kettle"] = Reply(body=stun_page(listener.getsockname()[1]))
        result = await BrowserFetcher(Settings(allow_private_urls=True)).fetch(server.url("/kettle"))
        assert "offered" in result.html  # the script ran up to the point where ICE gathering starts
        assert datagrams(listener) == []


@needs_chromium
async def test_the_stun_probe_does_reach_this_machine_from_a_browser_with_webrtc_on() -> None:
    """The probe of the test above, in Chromium without CloudTrack's WebRTC switches: it sends."""
    from playwright.async_api import async_playwright

    plain_args = [arg for arg in BROWSER_ARGS if "webrtc" not in arg.lower()]
    with udp_listener() as listener:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=plain_args)
            try:
                page = await browser.new_page()
                await page.set_content(stun_page(listener.getsockname()[1]).decode())
                await page.wait_for_timeout(1000)
            finally:
                await browser.close()
        assert datagrams(listener) != []
