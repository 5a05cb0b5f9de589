"""Links from a phone's share sheet, lists of links to import, and exports that re-import as they were."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from decimal import Decimal

import pytest
from click.testing import CliRunner
from sqlmodel import select

import cloudtrack_app.cloudtrack_app  # noqa: F401  (registers the pages and their states)
from benchmarks.shop import LocalShop
from cloudtrack_app.auth import accounts
from cloudtrack_app.cli import main
from cloudtrack_app.db import session_scope
from cloudtrack_app.models import ImportOutcome, Watch
from cloudtrack_app.notify.preferences import save_watch_defaults
from cloudtrack_app.states.transfer import ImportState
from cloudtrack_app.tracking.imports import ImportBusy, ImportRunner, import_report, run_import, start_import
from cloudtrack_app.tracking.ingest import add_watch
from cloudtrack_app.tracking.new_watch_rules import NewWatchDefaults, PriceRule
from cloudtrack_app.tracking.transfer import (
    ImportRefused,
    export_csv,
    export_json,
    links_in,
    parse_import,
    shared_link,
)
from cloudtrack_app.tracking.watches import list_watches, pause_watch
from tests.engine_fixtures import EDUSCHO_SHELF, OTTO_GLASS, SMALL_PAGE, local_shop_settings, make_user
from tests.state_fixtures import run_handler, state_for


@pytest.mark.parametrize(
    ("url", "text", "title", "link"),
    [
        ("https://shop.example/p/1", None, None, "https://shop.example/p/1"),
        (None, "Look at this! https://shop.example/p/1", "Shelf", "https://shop.example/p/1"),
        (
            "",
            "Shelf – only €99 https://shop.example/p/1?colour=oak.",
            None,
            "https://shop.example/p/1?colour=oak",
        ),
        (None, "(see https://shop.example/p/1)", None, "https://shop.example/p/1"),
        (
            None,
            "https://en.wikipedia.org/wiki/Shelf_(storage), nice",
            None,
            "https://en.wikipedia.org/wiki/Shelf_(storage)",
        ),
        (None, "«https://shop.example/p/1»", None, "https://shop.example/p/1"),
        (None, "two: https://a.example/1 and https://b.example/2", None, "https://a.example/1"),
        (None, "check www.shop.example/p/1!", None, "https://www.shop.example/p/1"),
        (None, "Shelf", "https://shop.example/p/1 via Shop", "https://shop.example/p/1"),
        ("not a link", "", "Shelf", None),
        (None, "ftp://shop.example/file javascript:alert(1)", None, None),
        (None, "http://localhost/", None, None),
        (None, None, None, None),
    ],
)
def test_the_link_is_taken_from_what_a_phone_shares(
    url: str | None, text: str | None, title: str | None, link: str | None
) -> None:
    assert shared_link(url, text, title) == link


def test_every_link_of_a_line_is_found_in_order() -> None:
    assert links_in("a https://x.example/1, b http://y.example/2.") == [
        "https://x.example/1",
        "http://y.example/2",
    ]


def test_a_pasted_list_becomes_one_request_per_line_and_bad_lines_say_why() -> None:
    requests = parse_import(
        "https://shop.example/a\n\n  Oak shelf: https://shop.example/b  \njust words\nhttps://\n"
    )
    assert [(r.position, r.url, r.problem) for r in requests] == [
        (1, "https://shop.example/a", None),
        (3, "https://shop.example/b", None),
        (4, "just words", "No link on this line."),
        (5, "https://", "No link on this line."),
    ]
    assert all(r.mode == "price" and r.any_drop and r.target_price is None for r in requests[:2])


def test_a_csv_file_gives_mode_and_target_per_line() -> None:
    text = "URL,Mode,Target\nhttps://shop.example/a,price,79.99\nhttps://shop.example/b,stock,\n" \
           "https://shop.example/c,,\nhttps://shop.example/d,price,ten\nhttps://shop.example/e,colour,\n" \
           "https://shop.example/f,stock,5\n"  # fmt: skip
    requests = parse_import(text.encode())
    summary = [(r.position, r.mode, r.target_price, r.any_drop, r.problem) for r in requests]
    assert summary == [
        (2, "price", Decimal("79.99"), False, None),
        (3, "stock", None, False, None),
        (4, "price", None, True, None),
        (5, "price", None, True, "Enter the target price as a number, like 79.99."),
        (6, "price", None, True, "Choose what to watch: price, stock or both."),
        (7, "price", None, True, 'A stock watch has no price target. Choose "both" to watch the price too.'),
    ]


def test_lines_without_a_mode_or_rule_take_the_importing_persons_defaults() -> None:
    defaults = NewWatchDefaults("both", PriceRule(drop_percent=Decimal("10"), notify_increase=True))
    text = "url,mode,target\nhttps://shop.example/a,,\nhttps://shop.example/b,price,\n" \
           "https://shop.example/c,,79.99\nhttps://shop.example/d,stock,\n"  # fmt: skip
    rows = parse_import(text, defaults) + parse_import("https://shop.example/e\n", defaults)
    assert [
        (r.mode, r.target_price, r.any_drop, r.drop_percent, r.notify_increase, r.problem) for r in rows
    ] == [
        ("both", None, False, Decimal("10"), True, None),
        ("price", None, False, Decimal("10"), True, None),
        ("both", Decimal("79.99"), False, None, False, None),
        ("stock", None, False, None, False, None),
        ("both", None, False, Decimal("10"), True, None),
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("", "There is nothing to import"),
        ("\n  \n", "There is nothing to import"),
        (b"\xff\xfe\x00\x01binary", "That file is not text"),
        (b"x" * 1_000_001, "That file is too large"),
        ("\n".join(f"https://shop.example/{n}" for n in range(501)), "That is 501 links: import at most 500"),
        ('{"watches": []}', "not a CloudTrack export"),
        ('{"format": "cloudtrack-watches", "version": 99, "watches": []}', "another version"),
        ('{"format": "cloudtrack-watches", "ver', "cut off or not JSON"),
    ],
)
def test_an_import_that_cannot_be_read_is_refused_as_a_whole(data: str | bytes, message: str) -> None:
    with pytest.raises(ImportRefused, match=message):
        parse_import(data)


@pytest.fixture
def shop(db_url: str, monkeypatch: pytest.MonkeyPatch):
    local_shop_settings(monkeypatch)
    with LocalShop() as running:
        running.add_corpus_page("/shelf", EDUSCHO_SHELF)  # 99.95 EUR, in stock
        running.add_corpus_page("/glass", OTTO_GLASS)  # 56.74 EUR, in stock
        running.add_corpus_page("/small", SMALL_PAGE)  # 3.56 EUR
        running.add_page("/about", "<html><body><h1>About us</h1><p>We sell shelves.</p></body></html>")
        yield running


async def test_an_import_reports_each_line_added_already_watched_or_refused(shop: LocalShop) -> None:
    ada = make_user("ada@example.com")
    await add_watch(ada, shop.url("/small"), "price", None, any_drop=True)
    text = "\n".join(
        [shop.url("/shelf"), shop.url("/small"), shop.url("/about"), "no link here", shop.url("/glass")]
    )
    job_id = start_import(ada, parse_import(text))
    report = import_report(ada, job_id)
    assert report is not None and report.running and report.done == 1 and report.total == 5

    await run_import(job_id)

    report = import_report(ada)
    assert report is not None and not report.running
    assert [(line.position, line.outcome) for line in report.lines] == [
        (1, ImportOutcome.ADDED),
        (2, ImportOutcome.WATCHED),
        (3, ImportOutcome.REFUSED),
        (4, ImportOutcome.REFUSED),
        (5, ImportOutcome.ADDED),
    ]
    assert "Now watching “Massivholz-Waschmaschinenregal”" in (report.lines[0].message or "")
    assert "already watching" in (report.lines[1].message or "")
    assert "Is it a product page?" in (report.lines[2].message or "")
    assert (report.added, report.watched, report.refused) == (2, 1, 2)
    assert len(list_watches(ada)) == 3


async def test_an_import_carries_on_in_the_backend_and_is_only_one_at_a_time(shop: LocalShop) -> None:
    ada, bob = make_user("ada@example.com"), make_user("bob@example.com")
    job_id = start_import(ada, parse_import(f"{shop.url('/shelf')}\n{shop.url('/glass')}"))
    with pytest.raises(ImportBusy):
        start_import(ada, parse_import(shop.url("/small")))
    assert import_report(bob, job_id) is None  # another user's import is not theirs to see

    runner = ImportRunner(poll_seconds=0.05)
    await runner.poll_once()
    await runner.poll_once()  # the job is leased: not started twice
    assert len(runner._tasks) == 1

    await asyncio.gather(*runner._tasks)
    report = import_report(ada, job_id)
    assert report is not None and not report.running and report.added == 2
    assert start_import(ada, parse_import(shop.url("/small"))) != job_id


async def test_the_json_export_re_imports_losslessly(
    shop: LocalShop, monkeypatch: pytest.MonkeyPatch
) -> None:
    ada, bob = make_user("ada@example.com"), make_user("bob@example.com")
    await add_watch(ada, shop.url("/shelf"), "price", "79.99")
    small = await add_watch(ada, shop.url("/small"), "both", None, any_drop=True)
    pause_watch(ada, small.watch_id)
    shop.set_availability("/glass", "OutOfStock")
    glass = await add_watch(ada, shop.url("/glass"), "stock", None)
    with session_scope() as session:  # the restock alert was sent: the watch is fulfilled
        watch = session.get(Watch, glass.watch_id)
        watch.stock_fulfilled = True
        session.add(watch)
    with session_scope() as session:  # "any drop" compares with the price when watching began
        watch = session.get(Watch, small.watch_id)
        watch.initial_price = Decimal("3.10")
        session.add(watch)
    shop.set_availability("/glass", "InStock")
    shop.set_price("/shelf", Decimal("70"))  # below ada's target now: a restore keeps the target

    shop.add_corpus_page("/shelf-2", EDUSCHO_SHELF)
    shop.add_corpus_page("/small-2", SMALL_PAGE)
    await add_watch(ada, shop.url("/shelf-2"), "price", None, drop_percent="15", notify_increase=True)
    await add_watch(ada, shop.url("/small-2"), "both", None, lowest_window_days=90)

    exported = export_json(ada)
    document = json.loads(exported)
    assert document["format"] == "cloudtrack-watches" and len(document["watches"]) == 5

    job_id = start_import(bob, parse_import(exported))
    await run_import(job_id)
    report = import_report(bob, job_id)
    assert report is not None and report.added == 5, report.lines

    def rules(user_id: int) -> list[tuple]:
        return sorted(
            (
                w["url"],
                w["mode"],
                w["target_price"],
                w["any_drop"],
                w["drop_percent"],
                w["lowest_window_days"],
                w["notify_increase"],
                w["paused"],
                w["stock_fulfilled"],
                w["initial_price"] if w["any_drop"] or w["mode"] == "stock" else None,
            )
            for w in json.loads(export_json(user_id))["watches"]
        )

    assert rules(bob) == rules(ada)
    chosen = {
        (w["drop_percent"] and Decimal(w["drop_percent"]), w["lowest_window_days"], w["notify_increase"])
        for w in document["watches"]
    }
    assert {(Decimal("15"), None, True), (None, 90, False)} <= chosen
    assert ("both", True) in {(w.mode, not w.active) for w in list_watches(bob)}


def test_the_csv_export_lists_every_watch_and_its_url_column_re_imports(shop: LocalShop) -> None:

    ada = make_user("ada@example.com")
    asyncio.run(add_watch(ada, shop.url("/shelf"), "price", "79.99"))
    rows = list(csv.DictReader(io.StringIO(export_csv(ada))))
    assert rows == [
        {
            "url": shop.url("/shelf"),
            "title": "Massivholz-Waschmaschinenregal",
            "mode": "price",
            "target": "79.99",
            "paused": "no",
            "price": "99.95",
            "currency": "EUR",
            "availability": "in_stock",
        }
    ]
    [request] = parse_import(export_csv(ada))
    assert (request.url, request.mode, request.target_price) == (
        shop.url("/shelf"),
        "price",
        Decimal("79.99"),
    )


def test_a_title_from_a_shop_cannot_become_a_spreadsheet_formula(shop: LocalShop) -> None:

    shop.add_page(
        "/evil",
        '<html><head><title>x</title><script type="application/ld+json">{"@context":"https://schema.org",'
        '"@type":"Product","name":"=HYPERLINK(\\"http://evil.example\\")","offers":{"@type":"Offer",'
        '"price":"5.00","priceCurrency":"EUR","availability":"https://schema.org/InStock"}}</script></head>'
        "<body></body></html>",
    )
    ada = make_user("ada@example.com")
    asyncio.run(add_watch(ada, shop.url("/evil"), "price", None, any_drop=True))
    [row] = list(csv.DictReader(io.StringIO(export_csv(ada))))
    assert row["title"].startswith("'=HYPERLINK")


def test_cli_imports_a_file_and_exports_csv_and_json(shop: LocalShop, tmp_path) -> None:
    make_user("ada@example.com")
    listing = tmp_path / "links.csv"
    listing.write_text(f"url,mode,target\n{shop.url('/shelf')},price,79.99\n{shop.url('/about')},,\nnope,,\n")
    result = CliRunner().invoke(main, ["watch", "import", "--user", "ada@example.com", str(listing)])
    assert result.exit_code == 0, result.output
    assert "line    2  added" in result.output and "line    3  refused" in result.output
    assert "No link on this line." in result.output
    assert "1 added, 0 already watched, 2 refused." in result.output

    result = CliRunner().invoke(main, ["watch", "export", "--user", "ada@example.com", "--format", "csv"])
    assert result.exit_code == 0 and result.output.startswith("url,title,mode,target")
    assert f"{shop.url('/shelf')},Massivholz-Waschmaschinenregal,price,79.99,no" in result.output
    result = CliRunner().invoke(main, ["watch", "export", "--user", "ada@example.com"])
    assert json.loads(result.output)["watches"][0]["target_price"] == "79.99"

    empty = tmp_path / "empty.txt"
    empty.write_text("")
    result = CliRunner().invoke(main, ["watch", "import", "--user", "ada@example.com", str(empty)])
    assert result.exit_code == 1 and "There is nothing to import" in result.output


async def test_an_import_whose_worker_stopped_is_taken_up_again_where_it_was(shop: LocalShop) -> None:
    from datetime import timedelta

    from cloudtrack_app.models import ImportJob, utcnow

    ada = make_user("ada@example.com")
    job_id = start_import(ada, parse_import(f"{shop.url('/shelf')}\n{shop.url('/glass')}"))
    await add_watch(ada, shop.url("/shelf"), "price", None, any_drop=True)
    with session_scope() as session:  # a worker claimed it and died: its lease is still running
        job = session.get(ImportJob, job_id)
        job.lease_owner, job.lease_until = "a-stopped-worker", utcnow() + timedelta(minutes=1)
        session.add(job)
    runner = ImportRunner()
    await runner.poll_once()
    assert not runner._tasks  # not while the lease runs

    with session_scope() as session:
        job = session.get(ImportJob, job_id)
        job.lease_until = utcnow() - timedelta(seconds=1)
        session.add(job)
    await runner.poll_once()
    await asyncio.gather(*runner._tasks)
    report = import_report(ada, job_id)
    assert report is not None and not report.running
    assert [line.outcome for line in report.lines] == [ImportOutcome.WATCHED, ImportOutcome.ADDED]


async def test_a_shop_that_does_not_answer_is_tried_again_then_reported(
    shop: LocalShop, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cloudtrack_app.models import ImportLine
    from cloudtrack_app.tracking import imports
    from tests.fetch_servers import closed_port

    monkeypatch.setattr(imports, "RETRY_DELAY_SECONDS", 0.01)
    ada = make_user("ada@example.com")
    down = f"http://127.0.0.1:{closed_port()}/item"
    job_id = start_import(ada, parse_import(f"{down}\n{shop.url('/shelf')}"))
    await run_import(job_id)
    report = import_report(ada, job_id)
    assert report is not None and not report.running
    assert [line.outcome for line in report.lines] == [ImportOutcome.REFUSED, ImportOutcome.ADDED]
    assert "could not open that page" in (report.lines[0].message or "")
    with session_scope() as session:
        attempts = {line.url: line.attempts for line in session.exec(select(ImportLine)).all()}
    assert attempts[down] == imports.MAX_ATTEMPTS


async def test_the_import_page_gives_lines_without_a_rule_the_persons_defaults(shop: LocalShop) -> None:
    user = accounts.create_user("ada@example.com", "a long enough password", "Ada")
    save_watch_defaults(user.id, confirmation_messages=False, default_mode="price", default_drop_percent="",
                        default_lowest_window="90", default_notify_increase=False)  # fmt: skip
    state = state_for(ImportState, accounts.start_session(user.id))
    await run_handler(state, "import_text", {"links": f"{shop.url('/shelf')}\n{shop.url('/glass')}"})
    assert state.import_error == ""

    await run_import(state.job_id)

    assert sorted((w.url, w.lowest_window_days, w.any_drop) for w in list_watches(user.id)) == [
        (shop.url("/glass"), 90, False),
        (shop.url("/shelf"), 90, False),
    ]
