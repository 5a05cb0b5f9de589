"""A real HTTP server on a loopback address for the fetch tests, recording what it receives."""

from __future__ import annotations

import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import IPv4Address, IPv6Address

LOOPBACK_ONE = IPv4Address("127.0.0.1")


def only_127_0_0_1(address: IPv4Address | IPv6Address) -> bool:
    """An address policy allowing exactly 127.0.0.1: the other loopback addresses stand in for
    private ones, so a redirect from 127.0.0.1 to 127.0.0.2 must be refused."""
    return address == LOOPBACK_ONE


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"<html><head><title>Ok</title></head><body>ok</body></html>"
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "text/html; charset=utf-8"})
    chunk_size: int = 0  # > 0: Transfer-Encoding chunked, no Content-Length
    delay: float = 0.0  # seconds before the status line
    drip: float = 0.0  # seconds between chunks


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    client_port: int = 0  # tells connections apart: keep-alive reuses the port


Route = Reply | Callable[[Received], Reply]


class PageServer:
    """Serves `routes` (path -> Reply or function of the request) on `host`, port chosen by the OS."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Received] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                received = Received(self.path, headers, self.client_address[1])
                server.requests.append(received)
                route = server.routes.get(self.path.split("?", 1)[0], Reply(status=404, body=b"not found"))
                reply = route(received) if callable(route) else route
                try:
                    self._send(reply)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            def _send(self, reply: Reply) -> None:
                if reply.delay:
                    time.sleep(reply.delay)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if reply.chunk_size:
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for start in range(0, len(reply.body), reply.chunk_size):
                        chunk = reply.body[start : start + reply.chunk_size]
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        self.wfile.flush()
                        if reply.drip:
                            time.sleep(reply.drip)
                    self.wfile.write(b"0\r\n\r\n")
                else:
                    if "Content-Length" not in reply.headers:
                        self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)

        family = socket.AF_INET6 if ":" in host else socket.AF_INET

        class Server(ThreadingHTTPServer):
            address_family = family
            daemon_threads = True

        self._httpd = Server((host, port), Handler)
        self.host = host
        self.port: int = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    def url(self, path: str = "/") -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{path}"

    def __enter__(self) -> PageServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def ipv6_loopback_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


def _png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


# A real 8 × 8 teal PNG, for product images served by the test shops.
TINY_PNG = _png(8, 8, (0, 128, 128))
