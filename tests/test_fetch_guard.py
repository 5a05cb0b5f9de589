"""The address guard: CloudTrack never fetches from private networks, however the address is written.

Every refusal is checked against a real server listening on loopback that counts the requests
it gets: a refused URL must leave it untouched. A control test shows the same URLs do reach it
when CLOUDTRACK_ALLOW_PRIVATE_URLS is on, so "no request" really means "refused".

Tests that need an *allowed* host without internet give the guard a policy that allows exactly
127.0.0.1 and nothing else. Linux routes all of 127.0.0.0/8 to loopback, so a second server on
127.0.0.2 stands in for "a private address": a redirect or a DNS answer pointing there must be
refused, and that server must see no request. Host names are answered by an injected resolver.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from ipaddress import ip_address
from pathlib import Path

import pytest

from cloudtrack_app.settings import Settings
from cloudtrack_app.tracking.fetch import (
    DirectFetcher,
    FetchError,
    FetchErrorKind,
    check_url_allowed,
    fetch_page,
)
from cloudtrack_app.tracking.fetch.netguard import Guard, IPAddress, is_public_address
from tests.fetch_servers import LOOPBACK_ONE, PageServer, Reply, ipv6_loopback_available, only_127_0_0_1

pytestmark = pytest.mark.usefixtures("close_shared_clients")


def guarded() -> Settings:
    return Settings(allow_private_urls=False)


def blocked_forms(port: int) -> list[str]:
    forms = [
        f"http://127.0.0.1:{port}/",
        f"http://localhost:{port}/",
        f"http://0.0.0.0:{port}/",
        f"http://10.0.0.1:{port}/",
        f"http://192.168.1.1:{port}/",
        f"http://100.64.0.1:{port}/",
        f"http://169.254.169.254:{port}/latest/meta-data/",
        f"http://2130706433:{port}/",
        f"http://0x7f.1:{port}/",
        f"http://0177.0.0.1:{port}/",
        f"http://127.1:{port}/",
        f"http://[::ffff:127.0.0.1]:{port}/",
        f"http://[::1]:{port}/",
        f"http://[fd00:ec2::254]:{port}/",
        f"https://127.0.0.1:{port}/",
        f"HTTP://LOCALHOST.:{port}/",
    ]
    return forms


async def test_every_private_form_is_refused_and_never_reaches_the_server(server: PageServer) -> None:
    server.routes["/"] = Reply()
    for url in blocked_forms(server.port):
        with pytest.raises(FetchError) as caught:
            await fetch_page(url, settings=guarded())
        assert caught.value.kind == FetchErrorKind.BLOCKED_ADDRESS, url
        assert "private network" in caught.value.message
        assert not caught.value.transient
    assert server.requests == []


def test_the_synchronous_check_refuses_the_same_forms(server: PageServer) -> None:
    for url in blocked_forms(server.port):
        with pytest.raises(FetchError) as caught:
            check_url_allowed(url, guarded())
        assert caught.value.kind == FetchErrorKind.BLOCKED_ADDRESS, url
    assert server.requests == []


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "localhost", "0.0.0.0", "2130706433", "0x7f.1", "127.1", "[::ffff:127.0.0.1]"]
)
async def test_with_private_urls_allowed_the_same_forms_reach_the_server(
    server: PageServer, host: str
) -> None:
    server.routes["/"] = Reply()
    result = await fetch_page(f"http://{host}:{server.port}/", settings=Settings(allow_private_urls=True))
    assert "ok" in result.html
    assert len(server.requests) == 1


@pytest.mark.skipif(not ipv6_loopback_available(), reason="no IPv6 loopback on this machine")
async def test_ipv6_loopback_is_refused_and_reachable_only_when_allowed() -> None:
    with PageServer("::1") as server:
        server.routes["/"] = Reply()
        with pytest.raises(FetchError) as caught:
            await fetch_page(server.url("/"), settings=guarded())
        assert caught.value.kind == FetchErrorKind.BLOCKED_ADDRESS
        assert server.requests == []
        result = await fetch_page(server.url("/"), settings=Settings(allow_private_urls=True))
        assert "ok" in result.html


async def test_redirect_from_an_allowed_host_to_a_private_one_is_refused(
    server: PageServer, second_server: PageServer
) -> None:
    server.routes["/product"] = Reply(status=302, headers={"Location": second_server.url("/admin")})
    second_server.routes["/admin"] = Reply()
    fetcher = DirectFetcher(guarded(), guard=Guard(is_address_allowed=only_127_0_0_1))
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(server.url("/product"))
    assert caught.value.kind == FetchErrorKind.BLOCKED_ADDRESS
    assert [r.path for r in server.requests] == ["/product"]
    assert second_server.requests == []


async def test_redirect_to_a_name_that_resolves_to_a_metadata_address_is_refused(server: PageServer) -> None:
    async def resolver(host: str, port: int) -> list[IPAddress]:
        return [ip_address("169.254.169.254")]

    server.routes["/product"] = Reply(status=301, headers={"Location": "http://metadata.internal/latest/"})
    fetcher = DirectFetcher(guarded(), guard=Guard(is_address_allowed=only_127_0_0_1, resolver=resolver))
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(server.url("/product"))
    assert caught.value.kind == FetchErrorKind.BLOCKED_ADDRESS
    assert "169.254.169.254" in caught.value.message


async def test_redirects_to_other_schemes_are_refused(server: PageServer) -> None:
    server.routes["/product"] = Reply(status=302, headers={"Location": "file:///etc/passwd"})
    fetcher = DirectFetcher(guarded(), guard=Guard(is_address_allowed=only_127_0_0_1))
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(server.url("/product"))
    assert caught.value.kind == FetchErrorKind.INVALID_URL


async def test_the_connection_goes_to_the_address_that_was_checked(
    server: PageServer, second_server: PageServer
) -> None:
    """DNS rebinding: the first answer is allowed, later answers point elsewhere.

    A fetcher that checked one answer and let the HTTP client resolve again would reach
    127.0.0.2; the pinned connection reaches the checked 127.0.0.1, after a single lookup.
    """
    answers: list[str] = []

    async def rebinding_resolver(host: str, port: int) -> list[IPAddress]:
        answers.append(host)
        return [ip_address("127.0.0.1" if len(answers) == 1 else "127.0.0.2")]

    server.routes["/product"] = Reply()
    second_server.routes["/product"] = Reply(body=b"<html>internal admin</html>")
    fetcher = DirectFetcher(
        guarded(), guard=Guard(is_address_allowed=only_127_0_0_1, resolver=rebinding_resolver)
    )
    result = await fetcher.fetch(f"http://shop.test:{server.port}/product")
    assert "ok" in result.html
    assert answers == ["shop.test"]
    assert server.requests[0].headers["host"] == f"shop.test:{server.port}"
    assert second_server.requests == []


async def test_an_answer_that_changes_after_an_earlier_check_is_refused_at_connect(
    server: PageServer, second_server: PageServer
) -> None:
    answers: list[str] = []

    async def rebinding_resolver(host: str, port: int) -> list[IPAddress]:
        answers.append(host)
        return [ip_address("127.0.0.1" if len(answers) == 1 else "127.0.0.2")]

    guard = Guard(is_address_allowed=only_127_0_0_1, resolver=rebinding_resolver)
    url = f"http://shop.test:{server.port}/product"
    await guard.check_url(url)
    with pytest.raises(FetchError) as caught:
        await DirectFetcher(guarded(), guard=guard).fetch(url)
    assert caught.value.kind == FetchErrorKind.BLOCKED_ADDRESS
    assert server.requests == []
    assert second_server.requests == []


async def test_a_host_with_one_allowed_and_one_private_address_is_refused(
    server: PageServer, second_server: PageServer
) -> None:
    async def mixed_resolver(host: str, port: int) -> list[IPAddress]:
        return [ip_address("127.0.0.1"), ip_address("127.0.0.2")]

    fetcher = DirectFetcher(
        guarded(), guard=Guard(is_address_allowed=only_127_0_0_1, resolver=mixed_resolver)
    )
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(f"http://shop.test:{server.port}/product")
    assert caught.value.kind == FetchErrorKind.BLOCKED_ADDRESS
    assert server.requests == []
    assert second_server.requests == []


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.0.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::",
        "::1",
        "fe80::1",
        "fec0::1",
        "fd00:ec2::254",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "2002:7f00:1::1",
        "2002:a00:1::1",
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",
        "64:ff9b::7f00:1",
        "64:ff9b::a9fe:a9fe",
        "64:ff9b:1::1",
        "::127.0.0.1",
    ],
)
def test_private_and_special_addresses_are_not_public(address: str) -> None:
    assert not is_public_address(ip_address(address))


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "151.101.1.69", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert is_public_address(ip_address(address))


@pytest.mark.parametrize(
    "url",
    [
        "ftp://shop.example/item",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "http://",
        "https:///path-only",
        "shop.example/item",
        "http://user:secret@shop.example/",
        "http://shop.example:99999/",
    ],
)
def test_malformed_urls_are_invalid(url: str) -> None:
    with pytest.raises(FetchError) as caught:
        check_url_allowed(url, guarded())
    assert caught.value.kind == FetchErrorKind.INVALID_URL
    assert caught.value.message


async def test_a_host_without_addresses_is_unreachable() -> None:
    async def empty_resolver(host: str, port: int) -> list[IPAddress]:
        return []

    fetcher = DirectFetcher(guarded(), guard=Guard(resolver=empty_resolver))
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch("http://no-such-shop.test/")
    assert caught.value.kind == FetchErrorKind.UNREACHABLE
    assert caught.value.transient


async def test_tls_goes_to_the_pinned_address_with_the_shop_name_and_verifies_it(
    shop_certificate: tuple[Path, Path],
) -> None:
    """The connection is made to the checked IP, but TLS still names and verifies `shop.test`."""
    server_names: list[str | None] = []
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*shop_certificate)
    context.sni_callback = lambda _socket, name, _context: server_names.append(name)
    listener = socket.create_server(("127.0.0.1", 0))

    def accept_one() -> None:
        connection, _ = listener.accept()
        with contextlib.suppress(ssl.SSLError, OSError):
            context.wrap_socket(connection, server_side=True).close()
        connection.close()

    thread = threading.Thread(target=accept_one, daemon=True)
    thread.start()

    async def resolver(host: str, port: int) -> list[IPAddress]:
        return [LOOPBACK_ONE]

    fetcher = DirectFetcher(guarded(), guard=Guard(is_address_allowed=only_127_0_0_1, resolver=resolver))
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(f"https://shop.test:{listener.getsockname()[1]}/kettle")
    thread.join(timeout=5)
    listener.close()
    assert caught.value.kind == FetchErrorKind.UNREACHABLE
    assert "certificate" in caught.value.message
    assert server_names == ["shop.test"]
