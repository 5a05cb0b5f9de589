"""Canonical product URLs: the same product shared in different ways is one product."""

from __future__ import annotations

import pytest

from cloudtrack_app.tracking.urls import InvalidURL, canonical_url, shop_domain


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("https://WWW.Shop.EXAMPLE/p/123", "https://www.shop.example/p/123"),
        ("https://shop.example:443/p/1", "https://shop.example/p/1"),
        ("http://shop.example:80/p/1", "http://shop.example/p/1"),
        ("http://shop.example:8080/p/1", "http://shop.example:8080/p/1"),
        ("https://shop.example/p/1#reviews", "https://shop.example/p/1"),
        ("https://shop.example", "https://shop.example/"),
        ("shop.example/p/1", "https://shop.example/p/1"),
        ("  https://shop.example/p/1  ", "https://shop.example/p/1"),
        (
            "https://shop.example/p/1?utm_source=news&utm_medium=email&utm_campaign=x&color=red",
            "https://shop.example/p/1?color=red",
        ),
        ("https://shop.example/p/1?fbclid=abc&gclid=def&msclkid=1&size=M", "https://shop.example/p/1?size=M"),
        (
            "https://www.amazon.de/p/1?ref=homepage&tag=aff-20&variant=42",
            "https://www.amazon.de/p/1?variant=42",
        ),
        ("https://shop.example/p?b=2&a=1", "https://shop.example/p?a=1&b=2"),
        (
            "https://www.amazon.example/dp/B0123/ref=sr_1_3?keywords=x&qid=1",
            "https://www.amazon.example/dp/B0123?keywords=x",
        ),
        ("https://shop.example/caf%c3%a9?q=a b", "https://shop.example/caf%C3%A9?q=a+b"),
        ("https://bücher.example/buch", "https://xn--bcher-kva.example/buch"),
    ],
)
def test_canonical_form(given: str, canonical: str) -> None:
    assert canonical_url(given) == canonical


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        # Elsewhere Amazon's parameter names may select a variant or a listing: they stay.
        ("https://shop.example/p?sort=price&tag=red", "https://shop.example/p?sort=price&tag=red"),
        (
            "https://shop.example/p/1?ref=homepage&variant=42",
            "https://shop.example/p/1?ref=homepage&variant=42",
        ),
        (
            "https://shop.example/p/1?sr=2&qid=7&camp=summer",
            "https://shop.example/p/1?camp=summer&qid=7&sr=2",
        ),
        ("https://shop.example/p/1?pd_rd_w=a&pf_rd_p=b", "https://shop.example/p/1?pd_rd_w=a&pf_rd_p=b"),
        ("https://amazon.shop.example/p?tag=red", "https://amazon.shop.example/p?tag=red"),
        ("https://notamazon.com/p?tag=red", "https://notamazon.com/p?tag=red"),
        # Generic trackers go everywhere, Amazon's names stay.
        ("https://shop.example/p?tag=red&utm_source=x&fbclid=1", "https://shop.example/p?tag=red"),
        # On Amazon, whatever the country, they only say where the click came from.
        ("https://www.amazon.com/dp/B01?tag=aff-20&ref=nav&th=1", "https://www.amazon.com/dp/B01?th=1"),
        ("https://www.amazon.co.uk/dp/B01?tag=aff-21&qid=1&sr=8-1", "https://www.amazon.co.uk/dp/B01"),
        (
            "https://amazon.com.au/dp/B01?camp=1&linkCode=ll1&keywords=x",
            "https://amazon.com.au/dp/B01?keywords=x",
        ),
        ("https://smile.amazon.de/dp/B01?pd_rd_w=a&pf_rd_p=b&psc=1", "https://smile.amazon.de/dp/B01?psc=1"),
        ("https://WWW.AMAZON.CO.JP./dp/B01?tag=x&utm_medium=y", "https://www.amazon.co.jp/dp/B01"),
    ],
)
def test_amazon_parameters_are_stripped_on_amazon_only(given: str, canonical: str) -> None:
    assert canonical_url(given) == canonical


def test_variants_stay_distinct_and_tracking_copies_merge() -> None:
    red = canonical_url("https://shop.example/p/1?color=red&utm_source=a")
    blue = canonical_url("https://shop.example/p/1?color=blue")
    assert red != blue
    assert red == canonical_url("https://SHOP.example:443/p/1?gclid=zz&color=red#top")


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("", "Paste the address"),
        ("ftp://shop.example/file", "Only http:// and https://"),
        ("javascript:alert(1)", "Only http:// and https://"),
        ("https://user:secret@shop.example/p", "user name or password"),
        ("https:///p/1", "no valid host"),
        ("https://shop.example:99999/p", "not a valid web address"),
        ("https://shop.example/" + "a" * 3000, "too long"),
    ],
)
def test_refusals_say_why(given: str, message: str) -> None:
    with pytest.raises(InvalidURL, match=message):
        canonical_url(given)


def test_shop_domain_groups_www_and_keeps_ports() -> None:
    assert shop_domain("https://www.shop.example/p/1") == "shop.example"
    assert shop_domain("http://127.0.0.2:8123/p/1") == "127.0.0.2:8123"
