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
import ssl
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from typing import Any
from urllib.parse import SplitResult, urlsplit

import httpcore

IPAddress = IPv4Address | IPv6Address
AddressPolicy = Callable[[IPAddress], bool]
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]

ALLOWED_SCHEMES = ("http", "https")
_NAT64_WELL_KNOWN = ip_network("64:ff9b::/96")


class URLRefused(Exception):
    """A URL the guard will not fetch; `str(error)` is a sentence for the user."""


class MalformedURL(URLRefused):
    """A URL whose form no fetch can use: unparsable, not http(s), without a host, or with credentials.

    Checked on the text alone, before any lookup; the fetchers report it as INVALID_URL.
    """


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
            raise MalformedURL(f"“{url}” is not a valid web address.") from error
        scheme = parts.scheme.lower()
        if scheme not in ALLOWED_SCHEMES:
            shown = f"“{scheme}:” addresses" if scheme else "addresses without http:// or https://"
            raise MalformedURL(f"CloudTrack only opens http:// and https:// pages, not {shown}.")
        host = (parts.hostname or "").rstrip(".")
        if not host:
            raise MalformedURL(f"“{url}” has no host name.")
        if parts.username is not None or parts.password is not None:
            raise MalformedURL("Addresses with a user name or password in them are not supported.")
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


# The connection's read buffer: asyncio pauses the socket once twice this much is unread, so a
# generous limit lets a whole product page arrive without pause/resume round trips.
_STREAM_BUFFER_LIMIT = 1024 * 1024
# How long closing waits for the peer to acknowledge (TLS close_notify, unsent bytes) before
# the connection is dropped: a hung shop must not hold up the request that closes it.
_CLOSE_GRACE_SECONDS = 1.0


class AsyncioStream(httpcore.AsyncNetworkStream):
    """An httpcore stream over asyncio's own streams.

    httpcore's AnyIOBackend costs noticeable CPU per fetch: an anyio cancel scope for every
    read and write, and a typed-attribute lookup plus a `poll` syscall for every pooled
    connection each time the pool hands out a request. Plain asyncio does the same job with a
    timer handle, and the connection state is already known to the StreamReader.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """What has arrived, waiting only while nothing has; often more than `max_bytes`.

        httpcore asks for 64 KB at a time, but a page the transport has already buffered
        is better handed over whole: every read costs a timer, a coroutine and a parser
        turn, which for a page of several hundred kilobytes add up to more than the copy.
        h11 takes any amount of data, and the buffer itself is bounded by the stream limit.
        """
        try:
            async with asyncio.timeout(timeout):
                return await self._reader.read(max(max_bytes, _STREAM_BUFFER_LIMIT))
        except TimeoutError as error:
            raise httpcore.ReadTimeout(error) from error
        except OSError as error:  # ssl.SSLError and the ConnectionError family included
            raise httpcore.ReadError(error) from error

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        try:
            async with asyncio.timeout(timeout):
                self._writer.write(buffer)
                await self._writer.drain()
        except TimeoutError as error:
            raise httpcore.WriteTimeout(error) from error
        except OSError as error:
            raise httpcore.WriteError(error) from error

    async def aclose(self) -> None:
        # The peer may already be gone or may never answer the TLS close_notify; closing is
        # best effort and must neither raise nor wait for asyncio's 30 s TLS shutdown timeout.
        self._writer.close()
        try:
            async with asyncio.timeout(_CLOSE_GRACE_SECONDS):
                await self._writer.wait_closed()
        except TimeoutError:  # before OSError, of which it is a subclass
            self._writer.transport.abort()
        except asyncio.CancelledError:
            # The caller gave up (e.g. the fetch's total timeout): drop the connection now
            # rather than leave a TLS shutdown running in the background.
            self._writer.transport.abort()
            raise
        except OSError:
            pass

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                # The StreamReaderProtocol becomes the TLS layer's application protocol, so the
                # same reader receives the decrypted bytes and the writer sends through TLS.
                await self._writer.start_tls(
                    ssl_context, server_hostname=server_hostname, ssl_handshake_timeout=timeout
                )
        except BaseException as error:
            # A failed handshake leaves nothing to close gracefully, and the reader's protocol
            # would never hear that the connection is gone (the TLS layer had taken it over),
            # so waiting for a close would only run out the grace period.
            self._writer.transport.abort()
            if isinstance(error, TimeoutError):
                raise httpcore.ConnectTimeout(error) from error
            if isinstance(error, OSError):  # ssl.SSLError is an OSError
                raise httpcore.ConnectError(error) from error
            raise
        return self

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            # httpcore asks this of every idle pooled connection before reusing it: "readable"
            # means the server closed it or sent something unexpected, so it must not be reused.
            # The transport reads the socket eagerly into the StreamReader, so the socket itself
            # would look empty; the reader's state is the truth, and reading it costs no syscall.
            reader = self._reader
            return bool(
                reader.at_eof()
                or getattr(reader, "_buffer", None)  # unread bytes; private, hence guarded
                or reader.exception() is not None
                or self._writer.is_closing()
            )
        if info == "ssl_object":
            return self._writer.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._writer.get_extra_info("sockname")
        if info == "server_addr":
            return self._writer.get_extra_info("peername")
        if info == "socket":
            return self._writer.get_extra_info("socket")
        return None


class PinnedNetworkBackend(httpcore.AsyncNetworkBackend):
    """httpcore backend that connects only to addresses the guard has just approved."""

    def __init__(self, guard: Guard) -> None:
        self._guard = guard

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
                return await _open_stream(str(address), port, timeout, local_address, socket_options)
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
        await asyncio.sleep(seconds)


async def _open_stream(
    address: str,
    port: int,
    timeout: float | None,
    local_address: str | None,
    socket_options: Iterable[httpcore.SOCKET_OPTION] | None,
) -> AsyncioStream:
    """A TCP connection to an address literal (asyncio needs no lookup for one)."""
    try:
        async with asyncio.timeout(timeout):
            # asyncio turns TCP_NODELAY on for every TCP connection it opens.
            reader, writer = await asyncio.open_connection(
                address,
                port,
                limit=_STREAM_BUFFER_LIMIT,
                local_addr=(local_address, 0) if local_address else None,
            )
    except TimeoutError as error:
        raise httpcore.ConnectTimeout(error) from error
    except OSError as error:
        raise httpcore.ConnectError(error) from error
    stream = AsyncioStream(reader, writer)
    if socket_options:
        sock = writer.get_extra_info("socket")
        try:
            for option in socket_options:
                sock.setsockopt(*option)
        except OSError as error:
            await stream.aclose()
            raise httpcore.ConnectError(error) from error
    return stream
