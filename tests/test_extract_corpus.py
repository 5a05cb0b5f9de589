"""Real product pages from 21 shops (the shared development corpus) and 82 more (the second
one): every page is read, and the quality figures may not fall below what the extractor
reaches today."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks.extraction import BenchReport, run
from cloudtrack_app.tracking.extract import extract
from tests.conftest import CORPUS_DIR

pytestmark = pytest.mark.skipif(
    not (CORPUS_DIR / "truth.jsonl").exists(), reason=f"shared corpus not found at {CORPUS_DIR}"
)


def truths() -> list[dict[str, Any]]:
    path = CORPUS_DIR / "truth.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def report() -> BenchReport:
    return run(CORPUS_DIR, repeat=1)


@pytest.mark.parametrize("truth", truths(), ids=lambda t: t["id"])
def test_every_page_is_read_without_error(truth: dict[str, Any]) -> None:
    raw = gzip.decompress((Path(CORPUS_DIR) / "pages" / f"{truth['id']}.html.gz").read_bytes())
    found = extract(raw, truth["url"])
    assert not [note for note in found.diagnostics if "stopped early" in note]
    assert found.title
    if truth["title"]:
        assert found.title == truth["title"]
    if found.price is not None:
        assert found.source in ("json-ld", "microdata", "rdfa", "opengraph", "html")
        assert 0.0 < found.confidence <= 1.0


@pytest.mark.parametrize(
    ("field", "floor"),
    [("price", 0.95), ("currency", 0.97), ("availability", 0.97)],
)
def test_quality_floors(report: BenchReport, field: str, floor: float) -> None:
    score = report.scores[field]
    assert score.f1 >= floor, f"{field}: P={score.precision:.3f} R={score.recall:.3f} F1={score.f1:.3f}"


def test_no_wrong_prices_on_the_corpus(report: BenchReport) -> None:
    """A missing price is a nuisance; a wrong one would alert people for nothing."""
    assert report.scores["price"].fp == 0


SECOND_CORPUS_DIR = CORPUS_DIR.parent / "product-pages-2"


@pytest.fixture(scope="module")
def second_report() -> BenchReport:
    if not (SECOND_CORPUS_DIR / "truth.jsonl").exists():
        pytest.skip(f"second corpus not found at {SECOND_CORPUS_DIR}")
    return run(SECOND_CORPUS_DIR, repeat=1)


@pytest.mark.parametrize(("field", "floor"), [("price", 0.95), ("currency", 0.97), ("availability", 0.98)])
def test_quality_floors_on_the_second_corpus(second_report: BenchReport, field: str, floor: float) -> None:
    score = second_report.scores[field]
    assert score.f1 >= floor, f"{field}: P={score.precision:.3f} R={score.recall:.3f} F1={score.f1:.3f}"


def test_no_in_stock_page_is_read_as_out_of_stock(report: BenchReport, second_report: BenchReport) -> None:
    """The worst stock mistake: a red badge on an item people can buy."""
    assert report.in_stock_read_out_of_stock == 0
    assert second_report.in_stock_read_out_of_stock == 0


def test_unknown_stock_is_never_counted_wrong(report: BenchReport) -> None:
    """`unknown` is scored as the labels' default (in stock), so it can only add hits."""
    assert report.scores["availability"].fn == 0
