"""Adding from a phone or a browser: the share target and `/add?url=` fill in the add page, a
stranger passes through log-in and lands back on it, and the app is an installable PWA."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from PIL import Image

import cloudtrack_app.cloudtrack_app  # noqa: F401  (registers the pages and states)
from cloudtrack_app.auth import accounts
from cloudtrack_app.auth.state import safe_next
from cloudtrack_app.security_headers import CONTENT_SECURITY_POLICY
from cloudtrack_app.settings import PROJECT_ROOT
from cloudtrack_app.states.account import AccountFormState
from cloudtrack_app.states.add_product import NO_SHARED_LINK, AddProductState
from cloudtrack_app.tracking.transfer import BOOKMARKLET_TEXT, bookmarklet_href, bookmarklet_html
from tests.state_fixtures import state_for

ASSETS = PROJECT_ROOT / "assets"


async def _open_add_page(url: str, token: str) -> Any:
    state = state_for(AddProductState, token, url)
    result = await type(state).event_handlers["open_page"].fn(state)
    return state, result


@pytest.fixture
def ada_token(sqlite_url: str) -> str:
    user = accounts.create_user("ada@example.com", "a long enough password", "Ada")
    return accounts.start_session(user.id)


@pytest.mark.parametrize(
    ("query", "filled_in", "error"),
    [
        ("url=https%3A%2F%2Fshop.example%2Fp%2F1%3Fcolour%3Doak", "https://shop.example/p/1?colour=oak", ""),
        (
            "title=Oak+shelf&text=Look+at+this%21+https%3A%2F%2Fshop.example%2Fp%2F1&url=",
            "https://shop.example/p/1",
            "",
        ),
        ("title=https%3A%2F%2Fshop.example%2Fp%2F2&text=Oak+shelf", "https://shop.example/p/2", ""),
        ("text=Just+some+words", "", NO_SHARED_LINK),
        ("", "", ""),
    ],
)
async def test_the_add_page_is_filled_in_from_a_share_or_a_link(
    ada_token: str, query: str, filled_in: str, error: str
) -> None:
    state, result = await _open_add_page(f"http://localhost:3000/add?{query}", ada_token)
    assert result is None
    assert (state.url, state.error) == (filled_in, error)
    assert state.found is None and not state.reading  # filled in only: nothing is read unasked


async def test_a_stranger_passes_through_log_in_and_lands_back_on_the_filled_in_add_page(
    ada_token: str,
) -> None:
    shared = "https://shop.example/p/1?colour=oak&size=2"
    _, result = await _open_add_page(f"http://localhost:3000/add?url={quote(shared, safe='')}", "")
    target = str(result)
    assert "/login?next=" in target

    login_url = "http://localhost:3000" + target[target.index("/login?next=") :].split('"')[0]
    login = state_for(AccountFormState, ada_token, login_url)
    back = login._next_path()
    assert back == f"/add?url={quote(shared, safe='')}"

    state, result = await _open_add_page(f"http://localhost:3000{back}", ada_token)
    assert result is None and state.url == shared


@pytest.mark.parametrize(
    ("target", "followed"),
    [
        ("/add?url=https%3A%2F%2Fshop.example%2Fp%2F1", "/add?url=https%3A%2F%2Fshop.example%2Fp%2F1"),
        ("/settings", "/settings"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example/", "/"),
        ("/\t/evil.example/", "/"),
        ("/\n/evil.example/", "/"),
        ("", "/"),
        (None, "/"),
    ],
)
def test_after_log_in_only_same_site_paths_are_followed(target: str | None, followed: str) -> None:
    assert safe_next(target) == followed


def test_the_bookmarklet_opens_the_add_page_for_the_current_tab() -> None:
    href = bookmarklet_href("https://track.example/")
    assert href == (
        "javascript:location.href=%22https://track.example/add?url=%22+encodeURIComponent(location.href)"
    )
    link = bookmarklet_html('https://track.example/"><script>')
    assert link.endswith(f">{BOOKMARKLET_TEXT}</a>") and "<script>" not in link and '">' not in link[:-30]


def test_the_manifest_declares_the_share_target_and_the_icons_exist() -> None:
    manifest = json.loads((ASSETS / "manifest.webmanifest").read_text())
    share = manifest["share_target"]
    assert share["action"] == "/add" and share["method"] == "GET"
    assert share["params"] == {"title": "title", "text": "text", "url": "url"}
    assert manifest["display"] == "standalone" and manifest["start_url"] == "/"
    purposes = set()
    for icon in manifest["icons"]:
        with Image.open(ASSETS / icon["src"].lstrip("/")) as image:
            assert f"{image.width}x{image.height}" == icon["sizes"] and image.format == "PNG"
        purposes.add((icon["purpose"], icon["sizes"]))
    assert {("any", "192x192"), ("any", "512x512"), ("maskable", "512x512")} <= purposes


def test_the_service_worker_answers_from_the_network_and_caches_only_the_offline_page() -> None:
    worker = (ASSETS / "sw.js").read_text()
    assert 'event.request.mode !== "navigate"' in worker
    assert "fetch(event.request).catch(" in worker
    assert worker.count("cache.add(") == 1 and "cache.put(" not in worker and "addAll" not in worker
    assert Path(ASSETS / "offline.html").is_file()


def test_the_security_policy_allows_the_manifest_and_the_worker_from_the_app_only() -> None:
    assert "manifest-src 'self'" in CONTENT_SECURITY_POLICY
    assert "worker-src 'self'" in CONTENT_SECURITY_POLICY
