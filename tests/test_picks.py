"""A price a person picks on a shared product page is theirs alone, and it sticks.

Two people watch one page of a local shop. Ada picks the members' price (the page's second
candidate); Bob keeps the automatic reading. Every check fetches and reads the page once,
yet Ada's price, history and alerts follow her element and Bob's the automatic price. When
the shop changes its layout so that Ada's element is gone, her watch says so, shows the
automatic price, and no alert comes of the jump; when the element is back, so is her price.
"""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlmodel import select

from benchmarks.shop import LocalShop
from cloudtrack_app.api.app import _product as api_product
from cloudtrack_app.cli import main
from cloudtrack_app.db import session_scope
from cloudtrack_app.models import PickPoint, Product, utcnow
from cloudtrack_app.settings import get_settings
from cloudtrack_app.tracking import claims
from cloudtrack_app.tracking.check_results import CheckStatus, PageResult, save_results
from cloudtrack_app.tracking.checker import Checker, CycleReport
from cloudtrack_app.tracking.extract import extract
from cloudtrack_app.tracking.history import price_history, product_stats
from cloudtrack_app.tracking.ingest import IngestError, add_watch
from cloudtrack_app.tracking.observations import PRICE_AUTOMATIC, PRICE_PICKED, selector_key
from cloudtrack_app.tracking.picks import PickRefused, clear_pick, set_pick
from cloudtrack_app.tracking.rules import Observation
from cloudtrack_app.tracking.watches import (
    WatchNotFound,
    WatchView,
    get_watch,
    list_watches,
    pause_watch,
    resume_watch,
)
from cloudtrack_app.views.dashboard import dashboard_page
from cloudtrack_app.views.product import history_csv, product_view
from tests.engine_fixtures import alert_events, local_shop_settings, make_due, make_user, points

D = Decimal


def kettle_page(price: str, member_price: str | None, *, availability: str = "InStock") -> str:
    """A shop page with its price in JSON-LD and, lower down, a members' price (or none)."""
    if member_price is None:
        members = '<div class="member-offer">Members: ask in the shop</div>'
    else:
        members = (
            '<div class="member-offer"><span class="label">Members pay</span> '
            f'<span class="member-price">{member_price} €</span></div>'
        )
    button = (
        '<button class="add-to-cart">Add to cart</button>' if availability == "InStock" else "<p>Sold out</p>"
    )
    return (
        '<html><head><title>Kettle 42</title><script type="application/ld+json">'
        '{"@context":"https://schema.org","@type":"Product","name":"Kettle 42","offers":{"@type":"Offer",'
        f'"price":"{price}","priceCurrency":"EUR","availability":"https://schema.org/{availability}"}}}}'
        f'</script></head><body><div class="product"><h1>Kettle 42</h1><p class="price">{price} €</p>'
        f"{members}{button}</div></body></html>"
    )


async def cycle() -> CycleReport:
    make_due()
    checker = Checker(extract_processes=0)
    try:
        return await checker.run_cycle()
    finally:
        await checker.close()


def new_alerts(seen: int) -> list[tuple[int, str, str | None]]:
    return [(e.user_id, e.kind, e.facts["price"]) for e in alert_events()[seen:]]


def second_candidate(html: str, url: str) -> tuple[str, Decimal, str | None]:
    """What the picker offers as the second price on the page: (selector, amount, currency)."""
    reading = extract(html, url, candidates=True)
    candidate = reading.candidates[1]
    return candidate.selector, candidate.price, candidate.currency


def picked_series(product_id: int, selector: str) -> list[Decimal | None]:
    return [p.price for p in price_history(product_id, None, selector_key=selector_key(selector))]


def screens(user_id: int, product_id: int) -> tuple[str, list[float], str, str | None, list[str]]:
    """What the person sees of the product: on the dashboard card, on the chart of the product
    page, and through the API (price, their pick, history)."""
    (card,) = dashboard_page(user_id).rows
    chart = product_view(user_id, product_id, "all").chart
    api = api_product(user_id, product_id, "all")
    drawn = [round(float(point["price"]), 2) for point in chart.points if point["price"] is not None]  # type: ignore[arg-type]
    return (
        card.price_text,
        [price for index, price in enumerate(drawn) if index == 0 or price != drawn[index - 1]],
        api["price"],
        api["watch"]["price_selector"],
        [point["price"] for point in api["history"]],
    )


def shown(view: WatchView) -> tuple[Decimal | None, str, bool]:
    return view.price, view.price_source, view.pick_missing


@pytest.fixture
def shop(monkeypatch: pytest.MonkeyPatch):
    local_shop_settings(monkeypatch)
    with LocalShop() as running:
        running.add_page("/kettle", kettle_page("59.90", "49.90"))
        yield running


async def test_each_watcher_follows_their_own_price_on_one_shared_page(db_url: str, shop: LocalShop) -> None:
    url = shop.url("/kettle")
    ada, bob = make_user("ada@example.com"), make_user("bob@example.com")
    ada_watch = await add_watch(ada, url, "price", None, any_drop=True, notify_increase=True)
    bob_watch = await add_watch(bob, url, "price", None, any_drop=True, notify_increase=True)
    product = ada_watch.product_id
    assert bob_watch.product_id == product
    seen = len(alert_events())  # the two confirmations

    selector, amount, currency = second_candidate(shop.page("/kettle"), url)
    assert (amount, currency) == (D("49.90"), "EUR")
    with session_scope() as session:
        set_pick(
            session,
            user_id=ada,
            watch_id=ada_watch.watch_id,
            selector=selector,
            price=amount,
            currency=currency,
        )

    # The switch from 59.90 to Ada's 49.90 is no price drop: nobody is told anything.
    assert shown(get_watch(ada, ada_watch.watch_id)) == (D("49.90"), PRICE_PICKED, False)
    assert shown(get_watch(bob, bob_watch.watch_id)) == (D("59.90"), PRICE_AUTOMATIC, False)
    assert get_watch(bob, bob_watch.watch_id).price_selector is None
    report = await cycle()
    assert report.statuses == {"unchanged": 1} and new_alerts(seen) == []
    assert shop.request_count("/kettle") == 3  # two previews, one check for both watchers

    # The members' price drops: Ada is told, at her price; Bob's price did not move.
    shop.set_html("/kettle", kettle_page("59.90", "44.90"))
    await cycle()
    assert new_alerts(seen) == [(ada, "price_drop", "44.90")]
    seen += 1
    assert shown(get_watch(ada, ada_watch.watch_id))[0] == D("44.90")
    assert get_watch(bob, bob_watch.watch_id).price == D("59.90")

    # The automatic price rises: Bob is told (he asked to hear of rises); Ada is not.
    shop.set_html("/kettle", kettle_page("64.90", "44.90"))
    await cycle()
    assert new_alerts(seen) == [(bob, "price_increase", "64.90")]
    seen += 1

    # The automatic price drops: Bob's alert only.
    shop.set_html("/kettle", kettle_page("54.90", "44.90"))
    await cycle()
    assert new_alerts(seen) == [(bob, "price_drop", "54.90")]
    seen += 1

    # Histories stay apart: the product's is the automatic reading, Ada's her element's.
    assert [price for price, _ in points(product)] == [D("59.90"), D("64.90"), D("54.90")]
    assert picked_series(product, selector) == [D("49.90"), D("44.90")]
    assert product_stats(product).all_time.lowest == D("54.90")
    assert {view.price for view in list_watches(bob)} == {D("54.90")}
    assert {view.price for view in list_watches(ada)} == {D("44.90")}
    assert screens(bob, product) == (
        "€54.90",
        [59.90, 64.90, 54.90],
        "54.90",
        None,
        ["59.90", "64.90", "54.90"],
    )
    assert screens(ada, product) == ("€44.90", [49.90, 44.90], "44.90", selector, ["49.90", "44.90"])
    assert "44.9" not in history_csv(bob, product) and "44.9" in history_csv(ada, product)

    # Back to automatic: no alert for the switch, and Ada's price is the product's again.
    with session_scope() as session:
        clear_pick(session, user_id=ada, watch_id=ada_watch.watch_id)
    assert shown(get_watch(ada, ada_watch.watch_id)) == (D("54.90"), PRICE_AUTOMATIC, False)
    await cycle()
    assert new_alerts(seen) == []


async def test_a_picked_price_gone_from_the_page_falls_back_without_an_alert(
    db_url: str, shop: LocalShop
) -> None:
    url = shop.url("/kettle")
    ada, bob = make_user("ada@example.com"), make_user("bob@example.com")
    selector, amount, currency = second_candidate(shop.page("/kettle"), url)
    ada_watch = await add_watch(
        ada, url, "price", None, any_drop=True, notify_increase=True, pick=(selector, amount, currency)
    )
    bob_watch = await add_watch(bob, url, "price", None, any_drop=True)
    assert shown(get_watch(ada, ada_watch.watch_id)) == (D("49.90"), PRICE_PICKED, False)
    assert "It costs €49.90" in ada_watch.message
    seen = len(alert_events())

    # A new layout without the members' price, and a lower automatic price: Ada's watch says
    # the layout changed and shows 39.90, with no alert for the jump from her 49.90; Bob's
    # any-drop watch is told of the drop from 59.90.
    shop.set_html("/kettle", kettle_page("39.90", None))
    await cycle()
    ada_view = get_watch(ada, ada_watch.watch_id)
    assert shown(ada_view) == (D("39.90"), PRICE_AUTOMATIC, True)
    assert ada_view.price_selector == selector  # kept, to be found again
    assert not get_watch(bob, bob_watch.watch_id).pick_missing
    assert new_alerts(seen) == [(bob, "price_drop", "39.90")]
    seen += 1

    # Still gone at the next check: still no alert, still flagged.
    make_due()
    await cycle()
    assert new_alerts(seen) == [] and get_watch(ada, ada_watch.watch_id).pick_missing

    # The element is back at 45.00: the flag clears and the rise from 39.90 is no alert either.
    shop.set_html("/kettle", kettle_page("39.90", "45.00"))
    await cycle()
    assert shown(get_watch(ada, ada_watch.watch_id)) == (D("45.00"), PRICE_PICKED, False)
    assert new_alerts(seen) == []

    # From there on her element's moves alert her again, measured from 45.00.
    shop.set_html("/kettle", kettle_page("39.90", "40.00"))
    await cycle()
    assert new_alerts(seen) == [(ada, "price_drop", "40.00")]
    # Her series shows what her watch saw: the picked price, the fallback, the picked price.
    assert picked_series(ada_watch.product_id, selector) == [D("49.90"), D("39.90"), D("45.00"), D("40.00")]


async def test_a_pick_resumed_is_read_again_on_a_page_that_sends_the_same_bytes(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    local_shop_settings(monkeypatch)
    with LocalShop(etags=False) as shop:
        url = shop.add_page("/kettle", kettle_page("59.90", "49.90"))
        ada, bob = make_user("ada@example.com"), make_user("bob@example.com")
        ada_watch = await add_watch(
            ada, url, "price", None, any_drop=True, pick=("span.member-price", "49.90", "EUR")
        )
        await add_watch(bob, url, "price", None, any_drop=True)
        seen = len(alert_events())
        pause_watch(ada, ada_watch.watch_id)

        # While Ada's watch rests, the members' price drops; Bob's check reads the page without her pick.
        shop.set_html("/kettle", kettle_page("59.90", "44.90"))
        await cycle()
        resume_watch(ada, ada_watch.watch_id)
        assert get_watch(ada, ada_watch.watch_id).price == D("49.90")

        # Same bytes again, but now her pick must be read: she sees (and hears of) 44.90.
        report = await cycle()
        assert report.statuses == {"unchanged": 1}
        assert get_watch(ada, ada_watch.watch_id).price == D("44.90")
        assert new_alerts(seen) == [(ada, "price_drop", "44.90")]


async def test_a_new_lowest_price_is_the_lowest_of_the_watchers_own_series(
    db_url: str, shop: LocalShop
) -> None:
    shop.set_html("/kettle", kettle_page("39.90", "49.90"))
    url = shop.url("/kettle")
    ada = make_user("ada@example.com")
    watch = await add_watch(
        ada, url, "price", None, lowest_window_days=30, pick=("span.member-price", "49.90", "EUR")
    )
    seen = len(alert_events())

    # 45.00 is above every automatic price (39.90) but the lowest her element has shown.
    shop.set_html("/kettle", kettle_page("39.90", "45.00"))
    await cycle()
    assert new_alerts(seen) == [(ada, "price_drop", "45.00")]
    assert get_watch(ada, watch.watch_id).price == D("45.00")


async def test_a_picked_series_gets_its_daily_point_when_the_shop_answers_not_modified(
    db_url: str, shop: LocalShop
) -> None:
    ada = make_user("ada@example.com")
    watch = await add_watch(
        ada, shop.url("/kettle"), "price", None, any_drop=True, pick=("span.member-price", "49.90", "EUR")
    )
    await cycle()  # the page is read once for the new pick; later checks get 304s
    with session_scope() as session:
        session.execute(
            sa.update(Product)
            .values(last_checked_at=utcnow() - timedelta(days=1))
            .where(Product.id == watch.product_id)
        )
        session.execute(sa.update(PickPoint).values(checked_at=utcnow() - timedelta(days=1)))
    report = await cycle()
    assert report.statuses == {"not_modified": 1}
    assert picked_series(watch.product_id, "span.member-price") == [D("49.90"), D("49.90")]
    assert get_watch(ada, watch.watch_id).price == D("49.90") and len(alert_events()) == 1


async def test_a_pick_made_while_the_page_is_checked_gets_its_daily_point(
    db_url: str, shop: LocalShop
) -> None:
    bob = make_user("bob@example.com")
    watch = await add_watch(bob, shop.url("/kettle"), "price", None, any_drop=True)
    with session_scope() as session:
        session.execute(
            sa.update(Product)
            .values(last_checked_at=utcnow() - timedelta(days=1))
            .where(Product.id == watch.product_id)
        )
    make_due()
    (claimed,) = claims.claim_due("tester", limit=5, lease_seconds=60)
    assert claimed.selectors == ()
    # Picked after the claim, before the result is saved: the claim cannot know of it.
    with session_scope() as session:
        set_pick(
            session,
            user_id=bob,
            watch_id=watch.watch_id,
            selector="span.member-price",
            price=D("49.90"),
            currency="EUR",
        )
    # The same price, with a "was" price the product had not shown: recorded, not a change.
    reading = Observation(claimed.last_price, claimed.currency, claimed.last_availability, D("69.90"))
    page = PageResult(claimed, utcnow(), observation=reading, fingerprint="another visit")
    (outcome,) = save_results([page], "tester", get_settings())
    assert outcome.status == CheckStatus.UNCHANGED
    assert picked_series(watch.product_id, "span.member-price") == [D("49.90"), D("49.90")]


async def test_stock_news_still_reaches_a_watch_whose_pick_went_missing(db_url: str, shop: LocalShop) -> None:
    shop.set_html("/kettle", kettle_page("59.90", "49.90", availability="OutOfStock"))
    url = shop.url("/kettle")
    ada = make_user("ada@example.com")
    selector = "span.member-price"
    watch = await add_watch(ada, url, "both", None, any_drop=True, pick=(selector, "49.90", "EUR"))
    seen = len(alert_events())

    # Back in stock in a new layout without the element: the restock is news, the price switch is not.
    shop.set_html("/kettle", kettle_page("39.90", None))
    await cycle()
    assert new_alerts(seen) == [(ada, "restock", "39.90")]
    assert get_watch(ada, watch.watch_id).pick_missing


async def test_picks_are_the_owners_alone_and_must_be_readable(db_url: str, shop: LocalShop) -> None:
    url = shop.url("/kettle")
    ada, bob = make_user("ada@example.com"), make_user("bob@example.com")
    ada_watch = await add_watch(ada, url, "price", None, any_drop=True)
    await add_watch(bob, url, "price", None, any_drop=True)

    with session_scope() as session, pytest.raises(WatchNotFound):
        set_pick(session, user_id=bob, watch_id=ada_watch.watch_id, selector="span.member-price",
                 price=D("49.90"), currency="EUR")  # fmt: skip
    with session_scope() as session, pytest.raises(WatchNotFound):
        clear_pick(session, user_id=bob, watch_id=ada_watch.watch_id)
    with session_scope() as session, pytest.raises(WatchNotFound):
        set_pick(session, user_id=ada, watch_id=ada_watch.watch_id + 100, selector="span.member-price",
                 price=D("49.90"), currency="EUR")  # fmt: skip
    for selector, words in [("span[", "not a CSS selector"), ("", "Choose the price"), ("p" * 600, "longer")]:
        with session_scope() as session, pytest.raises(PickRefused, match=words):
            set_pick(session, user_id=ada, watch_id=ada_watch.watch_id, selector=selector,
                     price=D("49.90"), currency="EUR")  # fmt: skip
    with session_scope() as session, pytest.raises(PickRefused, match="above zero"):
        set_pick(session, user_id=ada, watch_id=ada_watch.watch_id, selector="span.member-price",
                 price=D("-1"), currency="EUR")  # fmt: skip
    with pytest.raises(IngestError, match="not a CSS selector"):
        await add_watch(
            make_user("cy@example.com"), url, "price", None, any_drop=True, pick=("a[", "1", None)
        )

    assert get_watch(ada, ada_watch.watch_id).price_selector is None
    with session_scope() as session:
        assert session.exec(select(PickPoint)).all() == []
    assert len(alert_events()) == 2  # the confirmations


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_the_cli_picks_reads_once_and_lists_the_pick(sqlite_url: str, shop: LocalShop) -> None:
    make_user("ada@example.com")
    code, output = cli("watch", "add", "--user", "ada@example.com", shop.url("/kettle"), "--any-drop")
    assert code == 0, output
    wid = re.search(r"Watch (\d+)", output)[1]  # type: ignore[index]

    code, output = cli("watch", "pick", "--user", "ada@example.com", wid, "--selector", "span.member-price")
    assert code == 0, output
    assert "found €49.90 at span.member-price" in output
    code, output = cli("watch", "list", "--user", "ada@example.com")
    assert re.search(r"\*\s*€49\.90", output) and "your picked price: span.member-price" in output

    code, output = cli("watch", "pick", "--user", "ada@example.com", wid, "--selector", "span.nothing-here")
    assert code == 1 and "finds no price" in output
    code, output = cli("watch", "pick", "--user", "ada@example.com", wid, "--selector", "span[")
    assert code == 1 and "not a CSS selector" in output
    code, output = cli("watch", "pick", "--user", "bob@example.com", wid, "--clear")
    assert code == 1 and "No account" in output
    make_user("bob@example.com")
    code, output = cli("watch", "pick", "--user", "bob@example.com", wid, "--clear")
    assert code == 1 and "does not exist" in output

    shop.set_html("/kettle", kettle_page("59.90", None))
    asyncio.run(cycle())
    code, output = cli("watch", "list", "--user", "ada@example.com")
    assert "page layout changed" in output.lower() and "€59.90" in output

    code, output = cli("watch", "pick", "--user", "ada@example.com", wid, "--clear")
    assert code == 0 and "back to the automatic price" in output
    code, output = cli("watch", "list", "--user", "ada@example.com")
    assert "*" not in output and "layout changed" not in output
    assert len(alert_events()) == 1  # the confirmation alone
