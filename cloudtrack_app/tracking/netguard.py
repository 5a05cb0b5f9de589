"""Refuse URLs that lead into private networks, and connect only to addresses that were checked.

A shop URL comes from any signed-up user, so the server must never become a proxy into its
own network (cloud metadata endpoints, databases, admin panels). The check runs where the
connection is made: `PinnedNetworkBackend` resolves the host once, checks every address and
connects to one of those very addresses, so a DNS answer that changes between check and
connect (DNS rebinding) cannot slip through. TLS still verifies the original host name,
because httpcore takes the SNI name from the URL, not from the address connected to.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from urllib.parse import SplitResult, urlsplit

import httpcore

IPAddress = IPv4Address | IPv6Address
AddressPolicy = Callable[[IPAddress], bool]
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]

ALLOWED_SCHEMES = ("http", "https")
_NAT64_WELL_KNOWN = ip_network("64:ff9b::/96")


class URLRefused(Exception):
    """A URL the guard will not fetch; `str(error)` is a sentence for the user."""


class InvalidURL(URLRefused):
    pass


class BlockedAddress(URLRefused):
    pass


class UnresolvableHost(URLRefused):
    pass


def _embedded_ipv4(address: IPv6Address) -> list[IPv4Address]:
    if address.ipv4_mapped is not None:
        return [address.ipv4_mapped]
    if address.sixtofour is not None:
        return [address.sixtofour]
    if address.teredo is not None:
        return list(address.teredo)
    if address in _NAT64_WELL_KNOWN:
        return [IPv4Address(int(address) & 0xFFFFFFFF)]
    return []


def is_public_address(address: IPAddress) -> bool:
    """True for addresses on the public internet; the default policy of the guard."""
    if isinstance(address, IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded:
            return all(is_public_address(inner) for inner in embedded)
        if address.is_site_local:
            return False
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def literal_address(host: str) -> IPAddress | None:
    """The address a host name stands for without DNS, read the way the C resolver reads it.

    `inet_aton` accepts `2130706433`, `0x7f.1`, `0177.0.0.1` and `127.1`, and getaddrinfo
    answers them without asking DNS, so they are addresses and must be checked as such.
    """
    bare = host.strip("[]").split("%", 1)[0]
    try:
        return ip_address(bare)
    except ValueError:
        pass
    try:
        return IPv4Address(socket.inet_aton(bare))
    except (OSError, ValueError):
        return None


def _blocked(host: str, where: str) -> BlockedAddress:
    return BlockedAddress(
        f"{host} points into a private network ({where}); CloudTrack does not fetch such addresses."
    )


def _is_localhost_name(host: str) -> bool:
    # RFC 6761: these names are loopback by definition, whatever a resolver would answer.
    name = host.rstrip(".").lower()
    return name == "localhost" or name.endswith(".localhost")


def _addresses_from_addrinfo(infos: Iterable[tuple]) -> list[IPAddress]:
    addresses: list[IPAddress] = []
    for family, _type, _proto, _canonname, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        address = ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    """Every address the system resolver gives for `host` (asyncio runs getaddrinfo in a thread)."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise UnresolvableHost(f"The address {host} could not be found (DNS lookup failed).") from error
    return _addresses_from_addrinfo(infos)


def system_resolver_sync(host: str, port: int) -> list[IPAddress]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise UnresolvableHost(f"The address {host} could not be found (DNS lookup failed).") from error
    return _addresses_from_addrinfo(infos)


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int


@dataclass(frozen=True)
class Guard:
    """Which addresses may be fetched, and how host names are resolved.

    Frozen and hashable: the shared HTTP clients are keyed by the guard they enforce.
    """

    allow_private: bool = False
    is_address_allowed: AddressPolicy = is_public_address
    resolver: Resolver = system_resolver

    def parse(self, url: str) -> Target:
        """Check the URL's form (and a literal address) without any network access."""
        try:
            parts: SplitResult = urlsplit(url.strip())
            port = parts.port
        except ValueError as error:
            raise InvalidURL(f"“{url}” is not a valid web address.") from error
        scheme = parts.scheme.lower()
        if scheme not in ALLOWED_SCHEMES:
            shown = f"“{scheme}:” addresses" if scheme else "addresses without http:// or https://"
            raise InvalidURL(f"CloudTrack only opens http:// and https:// pages, not {shown}.")
        host = (parts.hostname or "").rstrip(".")
        if not host:
            raise InvalidURL(f"“{url}” has no host name.")
        if parts.username is not None or parts.password is not None:
            raise InvalidURL("Addresses with a user name or password in them are not supported.")
        target = Target(scheme, host, port or (443 if scheme == "https" else 80))
        literal = literal_address(host)
        if literal is not None:
            self.check_addresses(host, [literal])
        elif _is_localhost_name(host) and not self.allow_private:
            raise _blocked(host, "this server itself")
        return target

    def check_addresses(self, host: str, addresses: list[IPAddress]) -> None:
        if not addresses:
            raise UnresolvableHost(f"The address {host} could not be found (DNS gave no address).")
        if self.allow_private:
            return
        for address in addresses:
            if not self.is_address_allowed(address):
                raise _blocked(host, str(address))

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        """The checked addresses of `host`: all of them must be allowed, or none is used."""
        host = host.rstrip(".")
        if _is_localhost_name(host) and not self.allow_private:
            raise _blocked(host, "this server itself")
        literal = literal_address(host)
        addresses = [literal] if literal is not None else await self.resolver(host, port)
        self.check_addresses(host, addresses)
        return addresses

    async def check_url(self, url: str) -> Target:
        target = self.parse(url)
        await self.resolve(target.host, target.port)
        return target

    def check_url_sync(self, url: str) -> Target:
        target = self.parse(url)
        literal = literal_address(target.host)
        addresses = [literal] if literal is not None else system_resolver_sync(target.host, target.port)
        self.check_addresses(target.host, addresses)
        return target


class PinnedNetworkBackend(httpcore.AsyncNetworkBackend):
    """httpcore backend that connects only to addresses the guard has just approved."""

    def __init__(self, guard: Guard) -> None:
        self._guard = guard
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                addresses = await self._guard.resolve(host, port)
        except TimeoutError as error:
            raise httpcore.ConnectTimeout(f"DNS lookup of {host} timed out") from error
        last_error: Exception | None = None
        for address in addresses:
            try:
                return await self._backend.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                last_error = error
        assert last_error is not None
        raise last_error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("Unix sockets are not fetched.")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)
