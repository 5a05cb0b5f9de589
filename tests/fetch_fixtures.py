"""Fixtures of the fetch tests (a pytest plugin, registered in conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

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
