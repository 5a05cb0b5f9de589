"""The benchmarks measure what they claim: every product checked once, every change read, and the
chart query the product page really makes. (Their figures go in issue notes, not in assertions.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks import history, replicas
from benchmarks.checks import run_bench
from cloudtrack_app import db as dbmod
from cloudtrack_app.settings import get_settings
from tests.conftest import PG_AVAILABLE, PG_URL


@pytest.fixture
def bench_database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A bench's own SQLite file; the bench points the settings at it, the test puts them back."""
    url = f"sqlite:///{tmp_path}/bench.db"
    monkeypatch.setenv("CLOUDTRACK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DATABASE_URL", url)
    yield url
    dbmod.dispose_engines()
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("options", "unchanged"),
    [
        ({}, "not_modified"),
        ({"etags": False}, "same_page"),
        ({"visit_tokens": True}, "unchanged"),
    ],
    ids=["etags", "no-etags", "visit-tokens"],
)
def test_a_check_cycle_bench_checks_each_product_once_and_reads_every_change(
    bench_database_url: str, options: dict[str, bool], unchanged: str
) -> None:
    result = run_bench(
        40, latency_ms=0, shops=2, changed_share=0.1, database_url=bench_database_url, **options
    )
    assert result.requests == 40
    assert result.statuses == {"changed": 4, unchanged: 36}
    assert result.alerts == 4
    assert result.checks_per_second > 0 and result.database_mb > 0


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_the_history_bench_times_the_real_chart_query_on_its_index(
    bench_database_url: str, kind: str
) -> None:
    if kind == "postgresql" and not PG_AVAILABLE:
        pytest.skip("PostgreSQL is not reachable (set CLOUDTRACK_TEST_PG_URL)")
    lines = history.run(20, 40, 5, bench_database_url if kind == "sqlite" else PG_URL)
    assert lines[0].startswith(f"history: 20 products × 40 days = 800 price points ({kind})")
    assert sum(line.startswith("chart ") for line in lines) == len(history.CHART_RANGES)
    plan = lines[-1]
    assert plan.startswith("plan of a chart query:")
    if kind == "sqlite":
        assert "ix_price_points_product_checked" in plan


def test_the_replicas_bench_splits_one_cycle_between_two_checkers_and_explains_the_real_claim(
    bench_database_url: str,
) -> None:
    if not PG_AVAILABLE:
        pytest.skip("PostgreSQL is not reachable (set CLOUDTRACK_TEST_PG_URL)")
    result = replicas.run_bench(
        60, latency_ms=20, shops=2, database_url=PG_URL, plan_rows=2000, fetch_concurrency=4,
        per_shop_concurrency=2,
    )  # fmt: skip
    one, two = result.runs
    assert [len(one.replicas), len(two.replicas)] == [1, 2]
    for run in result.runs:
        assert run.shop_requests == run.checks == run.checked_in_database == 60
        assert run.each_fetched_once
        assert all(replica.cpu_seconds > 0 and replica.peak_rss_mb > 0 for replica in run.replicas)
    plan = "\n".join(result.plan)
    assert plan.startswith("Update on products") and "LockRows" in plan
    assert "ix_products_next_check_at" in plan or "Seq Scan on products" in plan
