"""Fixtures of the fetch tests (a pytest plugin, registered in conftest.py)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from cloudtrack_app.tracking.fetch import close_clients
from tests.fetch_servers import PageServer


@pytest.fixture
async def close_shared_clients() -> AsyncIterator[None]:
    """Each test's event loop gets its own shared HTTP client: close it with the loop."""
    yield
    await close_clients()


@pytest.fixture
def server() -> Iterator[PageServer]:
    with PageServer("127.0.0.1") as running:
        yield running


@pytest.fixture
def second_server(server: PageServer) -> Iterator[PageServer]:
    """A server on 127.0.0.2, on the same port as `server` (so only the address differs)."""
    with PageServer("127.0.0.2", server.port) as running:
        yield running


@pytest.fixture(scope="session")
def shop_certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate and key for shop.test."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "1", "-subj", "/CN=shop.test", "-addext", "subjectAltName=DNS:shop.test",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key
