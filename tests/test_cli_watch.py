"""The command line: add and list watches, check products, refusals as messages with exit code 1."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from click.testing import CliRunner

from benchmarks.shop import LocalShop
from cloudtrack_app.cli import main
from cloudtrack_app.notify.preferences import save_watch_defaults
from tests.engine_fixtures import EDUSCHO_SHELF, alert_events, local_shop_settings, make_due, make_user


@pytest.fixture
def shop(sqlite_url: str, monkeypatch: pytest.MonkeyPatch):
    local_shop_settings(monkeypatch)
    with LocalShop() as running:
        running.add_corpus_page("/shelf", EDUSCHO_SHELF)  # 99.95 EUR, in stock
        yield running


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_add_list_and_check_a_watch(shop: LocalShop) -> None:
    make_user("ada@example.com")
    code, output = cli("watch", "add", "--user", "ADA@example.com", shop.url("/shelf"), "--mode", "price",
                       "--target", "79.99")  # fmt: skip
    assert code == 0, output
    assert "Now watching “Massivholz-Waschmaschinenregal”" in output and "€79.99 or below" in output
    product_id = re.search(r"on product (\d+)", output)[1]  # type: ignore[index]

    code, output = cli("watch", "list", "--user", "ada@example.com")
    assert code == 0
    assert "Massivholz-Waschmaschinenregal" in output and "€99.95" in output and "price ≤ €79.99" in output

    code, output = cli("check", "--product", product_id)
    assert code == 0 and "not modified — €99.95, in_stock, 0 alert(s)" in output

    shop.set_price("/shelf", Decimal("75"))
    make_due()
    code, output = cli("check", "--all")
    assert code == 0 and "1 changed" in output and "1 alerts" in output
    assert [e.kind for e in alert_events()] == ["confirmation", "price_drop"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--target", "150"], "above the current price €99.95"),
        (["--mode", "stock"], "is in stock now"),
        (["--target", "ten"], "as a number"),
    ],
)
def test_refusals_print_the_reason_and_exit_1(shop: LocalShop, args: list[str], message: str) -> None:
    make_user("ada@example.com")
    code, output = cli("watch", "add", "--user", "ada@example.com", shop.url("/shelf"), *args)
    assert code == 1
    assert message in output


def test_unknown_account_and_missing_options(shop: LocalShop) -> None:
    code, output = cli("watch", "list", "--user", "nobody@example.com")
    assert code == 1 and "No account with the email nobody@example.com" in output
    code, output = cli("check")
    assert code == 2 and "either --all or --product" in output
    code, output = cli("check", "--product", "999")
    assert code == 1 and "not tracked" in output


def test_pause_resume_and_delete_by_owner_only(shop: LocalShop) -> None:
    make_user("ada@example.com")
    make_user("bob@example.com")
    _, output = cli("watch", "add", "--user", "ada@example.com", shop.url("/shelf"), "--target", "90")
    watch_id = re.search(r"Watch (\d+)", output)[1]  # type: ignore[index]
    code, output = cli("watch", "pause", "--user", "bob@example.com", watch_id)
    assert code == 1 and "does not exist" in output
    assert cli("watch", "pause", "--user", "ada@example.com", watch_id)[0] == 0
    assert "[paused]" in cli("watch", "list", "--user", "ada@example.com")[1]
    assert cli("watch", "resume", "--user", "ada@example.com", watch_id)[0] == 0
    assert cli("watch", "delete", "--user", "ada@example.com", watch_id)[0] == 0
    assert "No watches yet" in cli("watch", "list", "--user", "ada@example.com")[1]


def test_watch_rules_are_set_from_the_cli_and_shown_by_list(shop: LocalShop) -> None:
    make_user("ada@example.com")
    shop.add_corpus_page("/shelf-oak", EDUSCHO_SHELF)
    code, output = cli("watch", "add", "--user", "ada@example.com", shop.url("/shelf"),
                       "--drop-percent", "12.5", "--notify-increase")  # fmt: skip
    assert code == 0, output
    assert "drops by" in output and "hear when the price goes up" in output
    code, output = cli(
        "watch", "add", "--user", "ada@example.com", shop.url("/shelf-oak"), "--lowest-days", "90"
    )
    assert code == 0, output

    code, output = cli("watch", "list", "--user", "ada@example.com")
    assert code == 0
    assert "drop of 12.5 % or more or any rise" in output
    assert "lowest in 90 days" in output


def test_conflicting_rules_are_refused_by_the_cli(shop: LocalShop) -> None:
    make_user("ada@example.com")
    code, output = cli("watch", "add", "--user", "ada@example.com", shop.url("/shelf"),
                       "--target", "80", "--drop-percent", "10")  # fmt: skip
    assert code == 1 and "Choose one price rule" in output


def test_watch_add_takes_the_users_default_rules_for_what_it_leaves_out(shop: LocalShop) -> None:
    ada = make_user("ada@example.com")
    shop.add_corpus_page("/shelf-oak", EDUSCHO_SHELF)
    code, output = cli("watch", "add", "--user", "ada@example.com", shop.url("/shelf"))
    assert code == 1 and "(add --any-drop)" in output  # no default price rule yet: one is asked for

    save_watch_defaults(ada, confirmation_messages=True, default_mode="both", default_drop_percent="10",
                        default_lowest_window="", default_notify_increase=True)  # fmt: skip
    assert cli("watch", "add", "--user", "ada@example.com", shop.url("/shelf"))[0] == 0
    assert cli("watch", "add", "--user", "ada@example.com", shop.url("/shelf-oak"), "--target", "90")[0] == 0

    _, listed = cli("watch", "list", "--user", "ada@example.com")
    assert "drop of 10 % or more or any rise or restock" in listed
    assert "price ≤ €90.00 or restock" in listed
