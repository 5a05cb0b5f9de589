"""What a new user tripped over (issue 15): first steps from the shell, the add-product
refusals, what a check and a card say, the chart's data and the settings' channel states."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from benchmarks.shop import LocalShop
from cloudtrack_app.auth import accounts
from cloudtrack_app.cli import main
from cloudtrack_app.db import dispose_engines
from cloudtrack_app.models import Availability
from cloudtrack_app.notify.channel_status import ChannelStatus
from cloudtrack_app.notify.compose import ComposedMessage
from cloudtrack_app.notify.dispatch import ChannelOutcome
from cloudtrack_app.notify.email import render_html
from cloudtrack_app.notify.facts import AlertFacts, fact_rows
from cloudtrack_app.notify.routes import _page
from cloudtrack_app.settings import get_settings
from cloudtrack_app.states.notifications import NotificationsState
from cloudtrack_app.tracking.checker import check_product_now
from cloudtrack_app.tracking.fetch import close_clients
from cloudtrack_app.tracking.fetch.base import too_large
from cloudtrack_app.tracking.history import HistoryPoint
from cloudtrack_app.tracking.ingest import IngestError, add_watch, preview_url
from cloudtrack_app.views.channels import ChannelState, channel_line, describe_test_alert
from cloudtrack_app.views.dashboard import dashboard_page
from cloudtrack_app.views.preview import preview_card, refusal
from cloudtrack_app.views.product import chart_ticks, check_report, owned_watch, product_view, stock_bands
from cloudtrack_app.views.viewer import Viewer
from tests.engine_fixtures import EDUSCHO_SHELF, OTTO_GLASS, local_shop_settings, make_due, make_user
from tests.state_fixtures import run_handler
from tests.state_fixtures import state_for as reflex_state

PRIVATE_SETTING = "CLOUDTRACK_ALLOW_PRIVATE_URLS"


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


@pytest.fixture
def shop(sqlite_url: str, monkeypatch: pytest.MonkeyPatch):
    local_shop_settings(monkeypatch)
    with LocalShop() as running:
        running.add_corpus_page("/shelf", EDUSCHO_SHELF)  # 99.95 EUR, in stock
        running.add_corpus_page("/glass", OTTO_GLASS)
        running.set_availability("/glass", "OutOfStock")
        yield running


def sample_message(
    price: Decimal = Decimal("49.00"), previous_price: Decimal | None = None
) -> ComposedMessage:
    facts = AlertFacts(
        kind="restock", title="Glass", shop="otto.de", shop_url="https://otto.de/p/1", image_url=None,
        currency="EUR", price=price, previous_price=previous_price, target_price=None, lowest_90d=None,
        average_90d=None, lowest_ever=None, good_deal=False, availability="in_stock", mode="stock",
        product_id=1, watch_id=1, display_name="Ada", locale="en",
        product_page_url="https://cloudtrack.example/products/1", unsubscribe_url=None,
    )  # fmt: skip
    return ComposedMessage(subject="Back in stock", body="It is back.", facts=facts, ai_used=False,
                           fallback_reason=None)  # fmt: skip


# --- first steps from the shell ------------------------------------------------------------


@pytest.fixture
def fresh_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A database file that does not exist yet: the app has never started."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'data' / 'cloudtrack.db'}")
    get_settings.cache_clear()
    yield
    dispose_engines()
    get_settings.cache_clear()


def test_the_first_admin_can_be_created_before_the_app_ever_ran(fresh_install: None) -> None:
    code, output = cli("users", "create", "first@example.com", "--admin", "--password", "a good password")
    assert code == 0, output
    assert "Created admin account first@example.com" in output
    assert "Traceback" not in output
    # Up to date now: the next command applies nothing.
    code, output = cli("users", "list")
    assert code == 0 and "first@example.com" in output and "Bringing the database" not in output


def test_a_database_that_cannot_be_opened_is_one_line_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    monkeypatch.setenv("DATABASE_URL", f"postgresql://nobody@127.0.0.1:{closed_port}/nothing")
    get_settings.cache_clear()
    try:
        code, output = cli("users", "list")
    finally:
        get_settings.cache_clear()
    assert code == 1
    assert "Traceback" not in output
    assert output.startswith(
        f"Error: Cannot use the database at postgresql://nobody@127.0.0.1:{closed_port}/"
    )
    assert len(output.strip().splitlines()) == 1


def test_watch_list_says_any_price_drop(shop: LocalShop) -> None:
    make_user("ada@example.com")
    assert cli("watch", "add", "--user", "ada@example.com", shop.url("/shelf"), "--any-drop")[0] == 0
    code, output = cli("watch", "list", "--user", "ada@example.com")
    assert code == 0
    assert "any price drop" in output and "≤ any drop" not in output


def test_refusing_a_private_address_tells_the_admin_how_to_allow_it(
    shop: LocalShop, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_user("ada@example.com")
    monkeypatch.setenv(PRIVATE_SETTING, "false")
    get_settings.cache_clear()
    code, output = cli("watch", "add", "--user", "ada@example.com", shop.url("/shelf"), "--any-drop")
    assert code == 1 and "private network" in output and f"{PRIVATE_SETTING}=true" in output
    result = CliRunner().invoke(main, ["probe", shop.url("/shelf")])
    assert result.exit_code == 2 and f"{PRIVATE_SETTING}=true" in result.stderr


# --- add product ---------------------------------------------------------------------------


async def test_plain_words_are_not_a_web_address_in_the_apps_own_words() -> None:
    for typed in ("headphones", "red running shoes size 9"):
        with pytest.raises(IngestError) as refused:
            await preview_url(typed)
        assert refused.value.code == "invalid_url"
        assert "is not a web address" in refused.value.message
        assert "like shop.example/item" in refused.value.message


async def test_a_link_without_https_is_read_as_https(shop: LocalShop) -> None:
    # The local shop speaks plain HTTP, so the https:// address CloudTrack makes cannot connect:
    # what matters is the address it tried, and that the refusal is about the shop, not the text.
    address = shop.url("/shelf").removeprefix("http://")
    with pytest.raises(IngestError) as refused:
        await preview_url(address)
    await close_clients()
    assert (
        refused.value.code in ("unreachable", "invalid_url")
        and "not a web address" not in refused.value.message
    )


async def test_a_closed_port_reads_the_shop_did_not_answer(shop: LocalShop) -> None:
    user = make_user()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    with pytest.raises(IngestError) as refused:
        await add_watch(user, f"http://127.0.0.1:{closed_port}/p", "price", "10")
    assert "The shop did not answer" in refused.value.message
    assert "Errno" not in refused.value.message and "Connect call" not in refused.value.message


def test_the_size_limit_is_said_in_round_megabytes() -> None:
    assert "larger than 5 MB" in too_large(5 * 1024 * 1024).message
    assert "larger than 2.5 MB" in too_large(5 * 512 * 1024).message


async def test_an_item_out_of_stock_is_watched_for_its_restock_by_default(shop: LocalShop) -> None:
    card = preview_card(await preview_url(shop.url("/glass")), "en")
    await close_clients()
    assert card.suggested_mode == "stock"
    card = preview_card(await preview_url(shop.url("/shelf")), "en")
    await close_clients()
    assert card.suggested_mode == "price"


async def test_the_stock_refusal_shortens_a_long_title(shop: LocalShop) -> None:
    long_title = "Ultra Comfort Ergonomic Office Chair with Adjustable Lumbar Support " * 2
    shop.add_page("/long", shop.page("/shelf").replace("Massivholz-Waschmaschinenregal", long_title.strip()))
    user = make_user()
    with pytest.raises(IngestError) as refused:
        await add_watch(user, shop.url("/long"), "stock", None)
    await close_clients()
    assert refused.value.code == "in_stock_now"
    assert long_title.strip() not in refused.value.message
    assert "Ultra Comfort Ergonomic Office Chair" in refused.value.message and "…" in refused.value.message


async def test_an_already_watched_product_links_to_the_existing_watch(shop: LocalShop) -> None:
    user = make_user()
    first = await add_watch(user, shop.url("/shelf"), "price", "90")
    with pytest.raises(IngestError) as refused:
        await add_watch(user, shop.url("/shelf"), "price", "80")
    await close_clients()
    shown = refusal(refused.value, is_admin=False)
    assert shown.link == f"/products/{first.product_id}"
    assert "Edit that watch instead" not in shown.message


async def test_only_admins_are_told_how_to_allow_private_addresses(
    shop: LocalShop, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PRIVATE_SETTING, "false")
    get_settings.cache_clear()
    with pytest.raises(IngestError) as refused:
        await preview_url(shop.url("/shelf"))
    assert PRIVATE_SETTING in refusal(refused.value, is_admin=True).message
    assert PRIVATE_SETTING not in refusal(refused.value, is_admin=False).message


# --- what a check and a card say ----------------------------------------------------------


async def test_check_now_says_what_happened(shop: LocalShop) -> None:
    user = make_user()
    added = await add_watch(user, shop.url("/shelf"), "price", "80")
    before = owned_watch(user, added.product_id)
    outcome = await check_product_now(added.product_id, user_id=user)
    assert check_report(user, before, outcome) == "Checked just now: no change (€99.95, in stock)."

    shop.set_price("/shelf", Decimal("75"))
    before = owned_watch(user, added.product_id)
    outcome = await check_product_now(added.product_id, user_id=user)
    await close_clients()
    assert check_report(user, before, outcome) == (
        "€99.95 → €75.00, below your target. An alert is on its way."
    )


async def test_after_a_restock_the_card_says_back_in_stock(shop: LocalShop) -> None:
    user = make_user()
    added = await add_watch(user, shop.url("/glass"), "stock", None)
    shop.set_availability("/glass", "InStock")
    make_due()
    before = owned_watch(user, added.product_id)
    outcome = await check_product_now(added.product_id, user_id=user)
    await close_clients()
    assert check_report(user, before, outcome).startswith("Back in stock.")
    [row] = dashboard_page(user).rows
    assert row.change_text == "back in stock"


def test_a_restock_alert_lists_no_previous_price_equal_to_the_new_one() -> None:
    same = sample_message(price=Decimal("56.74"), previous_price=Decimal("56.74"))
    assert "Previous price" not in dict(fact_rows(same.facts))
    lower = sample_message(price=Decimal("49.00"), previous_price=Decimal("56.74"))
    assert "Previous price" in dict(fact_rows(lower.facts))


def test_e_mails_and_the_unsubscribe_page_use_the_apps_teal() -> None:
    html = render_html(sample_message())
    page = _page("Alerts off", "<p>Done.</p>").body.decode()
    for text in (html, page):
        assert "#2563eb" not in text and "#12a594" in text


# --- the chart ----------------------------------------------------------------------------


LONDON = Viewer("en", ZoneInfo("Europe/London"))


def test_a_one_day_range_has_time_ticks() -> None:
    start = datetime(2026, 12, 3, 7, 20, tzinfo=UTC)
    ticks, labels = chart_ticks(start, start + timedelta(hours=15), LONDON)
    assert 3 <= len(ticks) <= 6
    assert all(":" in label for label in labels), labels
    ticks, labels = chart_ticks(start, start + timedelta(days=80), LONDON)
    assert all(":" not in label for label in labels) and len(set(labels)) == len(labels)


def test_out_of_stock_periods_become_bands() -> None:
    def at(hours: int, availability: str) -> HistoryPoint:
        return HistoryPoint(
            datetime(2026, 12, 1, tzinfo=UTC) + timedelta(hours=hours), None, "EUR", availability
        )

    now = datetime(2026, 12, 2, tzinfo=UTC)
    points = [
        at(0, Availability.IN_STOCK),
        at(2, Availability.OUT_OF_STOCK),
        at(3, Availability.OUT_OF_STOCK),
        at(5, Availability.IN_STOCK),
        at(9, Availability.OUT_OF_STOCK),
    ]
    assert stock_bands(points, now) == [(points[1].at, points[3].at), (points[4].at, now)]
    assert stock_bands(points[:1], now) == []


async def test_the_chart_reaches_now_with_its_target_labelled(shop: LocalShop) -> None:
    user = make_user()
    added = await add_watch(user, shop.url("/glass"), "both", "50")
    await close_clients()
    chart = product_view(user, added.product_id, "90").chart
    assert Decimal(chart.target) == 50 and chart.target_label == "Target €50.00"
    assert chart.points[-1]["price_text"] == "€56.74" and ":" in str(chart.points[-1]["when"])
    assert chart.domain[1] > chart.points[-1]["t"]  # room after the latest price
    assert len(chart.bands) == 1 and chart.bands[0].end == chart.domain[1]  # still out of stock
    in_stock = await add_watch(user, shop.url("/shelf"), "price", "90")
    await close_clients()
    assert product_view(user, in_stock.product_id, "90").chart.bands == []


# --- settings -----------------------------------------------------------------------------


def status(**changes: object) -> ChannelStatus:
    values: dict[str, object] = {
        "name": "email",
        "label": "E-mail",
        "configured": True,
        "enabled": True,
        "recipient": "ada@example.com",
        "error": None,
    }
    return ChannelStatus(**(values | changes))  # type: ignore[arg-type]


def test_each_channel_state_is_said_in_words_with_its_switch() -> None:
    not_set_up = channel_line(status(configured=False))
    assert (not_set_up.state, not_set_up.switch_on, not_set_up.switch_enabled) == (
        ChannelState.NOT_SET_UP,
        False,
        False,
    )
    assert not_set_up.state_text == "Not set up on this server"
    assert channel_line(status(held="Not sent: not verified yet.")).state == ChannelState.NEEDS_VERIFICATION
    on = channel_line(status())
    assert (on.state, on.detail, on.switch_on, on.switch_enabled) == (
        ChannelState.ON,
        "Alerts go to ada@example.com.",
        True,
        True,
    )
    assert channel_line(status(enabled=False, recipient=None)).state == ChannelState.OFF
    failed = channel_line(status(error="The address bounced."))
    assert (failed.state, failed.detail) == (ChannelState.FAILED, "The address bounced.")


def test_the_test_alert_says_per_channel_what_happened_without_ids() -> None:
    lines = {
        "email": channel_line(status()),
        "telegram": channel_line(status(name="telegram", label="Telegram", configured=False)),
    }
    outcomes = [ChannelOutcome("email", "sent", "Delivered to ada@example.com (id 4242:1796285792).")]
    report = describe_test_alert(outcomes, lines)
    assert report == [
        "E-mail: sent to ada@example.com.",
        "Telegram: not set up on this server, so nothing was sent.",
    ]


def test_a_new_account_takes_the_browsers_time_zone_once(sqlite_url: str) -> None:
    user = accounts.create_user("tz@example.com", "a good password", "Tz")
    assert accounts.profile_of(user.id).timezone == ""
    assert accounts.adopt_browser_timezone(user.id, "Mars/Olympus") is None
    assert accounts.adopt_browser_timezone(user.id, "Europe/Vienna") == "Europe/Vienna"
    assert accounts.adopt_browser_timezone(user.id, "Asia/Tokyo") is None  # chosen already
    assert accounts.profile_of(user.id).timezone == "Europe/Vienna"


async def test_a_channel_the_server_lacks_shows_not_set_up_and_the_test_alert_says_so(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("RESEND_API_KEY", "TELEGRAM_BOT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    user = accounts.create_user("lonely@example.com", "a good password", "Lonely")
    state = reflex_state(NotificationsState, accounts.start_session(user.id))
    await run_handler(state, "load_notifications")
    assert state.email_alerts  # what the person chose stays stored
    assert (state.email_channel.state, state.email_channel.switch_enabled) == (ChannelState.NOT_SET_UP, False)
    assert state.telegram_channel.state == ChannelState.NOT_SET_UP
    async for _ in NotificationsState.event_handlers["send_test"].fn(state):
        pass
    assert "E-mail: not set up on this server, so nothing was sent." in state.test_results
    assert not any("No channel is enabled" in line for line in state.test_results)
