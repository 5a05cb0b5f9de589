"""Scale-out on PostgreSQL: one check cycle done by one checker replica, then by two at once.

Each replica is a real checker process, `python -m cloudtrack_app.cli check --all`: the same
`Checker.run_cycle` and database claims that a web replica's scheduler tick runs, without
the web server, which a check cycle never touches (so the figures are the checking's, not
Reflex's). The shops run in their own process (benchmarks/checks.py), the database is a
fresh one on the given PostgreSQL server, seeded as after an earlier check.

Then the claim query's plan: `EXPLAIN ANALYZE` of the very statement `claims.claim_due`
sends (recorded from the driver), on a table of a million products with a watch each.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from benchmarks.checks import _seed, bench_database, local_shops, rss_mb, use_database
from cloudtrack_app import db as dbmod
from cloudtrack_app.models import Product, User, utcnow
from cloudtrack_app.settings import PROJECT_ROOT
from cloudtrack_app.tracking import claims

RSS_SAMPLE_SECONDS = 0.2
CLAIM_LIMIT = 100  # CLAIM_BATCH_SIZE's default


@dataclass
class ReplicaRun:
    checks: int
    cpu_seconds: float
    peak_rss_mb: float
    output: str


@dataclass
class ScaleRun:
    replicas: list[ReplicaRun]
    seconds: float
    shop_requests: int
    shop_cpu_seconds: float
    products: int
    checked_in_database: int
    still_leased: int
    cycle_seconds: float  # first check written to last: the cycle without the processes' start
    transactions: int  # committed and rolled back in the database during the cycle

    @property
    def checks(self) -> int:
        return sum(replica.checks for replica in self.replicas)

    @property
    def checks_per_second(self) -> float:
        return self.checks / self.seconds if self.seconds else 0.0

    @property
    def cycle_checks_per_second(self) -> float:
        return self.checks / self.cycle_seconds if self.cycle_seconds else 0.0

    @property
    def each_fetched_once(self) -> bool:
        # Every product was checked (so fetched at least once) and the shops answered exactly
        # as many requests as there are products: none was fetched twice.
        return (
            self.shop_requests == self.products == self.checks == self.checked_in_database
            and not self.still_leased
        )

    def lines(self) -> list[str]:
        cpu = sum(replica.cpu_seconds for replica in self.replicas)
        head = (
            f"{len(self.replicas)} replica(s): {self.checks} checks in {self.seconds:.1f} s = "
            f"{self.checks_per_second:.1f} checks/s; CPU {cpu:.1f} s = {cpu / max(1, self.checks) * 1000:.2f} ms "
            f"per check (shop process {self.shop_cpu_seconds:.1f} s); wall time includes starting the "
            f"processes; from the first check written to the last: {self.cycle_seconds:.1f} s = "
            f"{self.cycle_checks_per_second:.1f} checks/s"
        )
        per_replica = [
            f"  replica {n + 1}: {r.checks} checks, CPU {r.cpu_seconds:.1f} s "
            f"(with its page readers), peak RSS {r.peak_rss_mb:.0f} MB (process and page readers)"
            for n, r in enumerate(self.replicas)
        ]
        per_replica.append(
            f"  database: {self.transactions} transactions = {self.transactions / max(1, self.checks):.3f} per check"
        )
        verdict = "every product fetched exactly once" if self.each_fetched_once else "MISMATCH"
        tail = (
            f"  shop requests {self.shop_requests} for {self.products} products, "
            f"{self.checked_in_database} checked in the database, {self.still_leased} still leased: {verdict}"
        )
        return [head, *per_replica, tail]


@dataclass
class ReplicasResult:
    products: int
    latency_ms: float
    runs: list[ScaleRun] = field(default_factory=list)
    plan_rows: int = 0
    plan: list[str] = field(default_factory=list)
    claim_ms: list[float] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [
            f"products: {self.products} at {self.latency_ms:.0f} ms shop latency, PostgreSQL, "
            f"{os.cpu_count()} CPU(s); replicas are `cli check --all` processes started together",
        ]
        for run in self.runs:
            out += run.lines()
        if len(self.runs) == 2 and self.runs[0].checks_per_second:
            ratio = self.runs[1].checks_per_second / self.runs[0].checks_per_second
            in_cycle = self.runs[1].cycle_checks_per_second / max(0.001, self.runs[0].cycle_checks_per_second)
            out.append(
                f"two replicas / one replica: {ratio:.2f}× the checks per second over the wall time, "
                f"{in_cycle:.2f}× within the cycle"
            )
        if self.plan:
            timings = sorted(self.claim_ms)
            out.append(
                f"claim query on {self.plan_rows} products (limit {CLAIM_LIMIT}): "
                f"median {timings[len(timings) // 2]:.1f} ms, max {timings[-1]:.1f} ms over {len(timings)} claims"
            )
            out += ["  " + line for line in self.plan]
        return out


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(child) for child in task.read_text().split()]
        except OSError:
            continue
    return found


def _tree_rss_mb(pid: int) -> float:
    """The replica's resident memory: its process and its page readers."""
    return rss_mb(pid) + sum(rss_mb(child) for child in _children(pid))


def _checked(output: str) -> int:
    found = {name: int(count) for count, name in re.findall(r"(\d+) ([a-z ]+?)(?=[,.])", output)}
    return sum(found.get(name, 0) for name in ("changed", "unchanged", "not modified", "failed"))


def _run_replicas(
    count: int, url: str, fetch_concurrency: int, per_shop_concurrency: int
) -> list[ReplicaRun]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "CLOUDTRACK_ALLOW_PRIVATE_URLS": "true",
        "PER_SHOP_DELAY": "0",
        "PER_SHOP_CONCURRENCY": str(per_shop_concurrency),
        "FETCH_CONCURRENCY": str(fetch_concurrency),
        "NO_PROXY": "127.0.0.1,localhost",
    }
    command = [sys.executable, "-m", "cloudtrack_app.cli", "check", "--all"]
    processes = [
        subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(count)
    ]
    peaks = [0.0] * count
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            for n, process in enumerate(processes):
                peaks[n] = max(peaks[n], _tree_rss_mb(process.pid))
            done.wait(RSS_SAMPLE_SECONDS)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    outputs: list[str] = [""] * count
    readers = [
        threading.Thread(target=lambda n=n: outputs.__setitem__(n, processes[n].stdout.read()))
        for n in range(count)
    ]
    for reader in readers:
        reader.start()
    usages = []
    for process in processes:
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        usages.append(usage)
    for reader in readers:
        reader.join()
    done.set()
    sampler.join()
    runs = []
    for n, process in enumerate(processes):
        if process.returncode != 0:
            raise RuntimeError(f"replica {n + 1} exited with {process.returncode}: {outputs[n]}")
        usage = usages[n]
        # wait4 counts the replica and the page readers it waited for.
        runs.append(ReplicaRun(_checked(outputs[n]), usage.ru_utime + usage.ru_stime, peaks[n], outputs[n]))
    return runs


def _scale_run(
    count: int,
    products: int,
    latency_ms: float,
    shops: int,
    database_url: str,
    fetch_concurrency: int,
    per_shop_concurrency: int,
) -> ScaleRun:
    with (
        local_shops(products, shops, latency_ms, 10, etags=True, visit_tokens=False) as shop,
        bench_database(database_url) as url,
    ):
        use_database(url)
        _seed(url, shop.prices, shop.urls, shop.changed)
        dbmod.dispose_engines()
        seeded_at = utcnow()
        transactions_before = _transactions(url)
        started = time.perf_counter()
        replicas = _run_replicas(count, url, fetch_concurrency, per_shop_concurrency)
        seconds = time.perf_counter() - started
        time.sleep(1)  # the statistics of the replicas' last transactions reach pg_stat_database
        transactions = _transactions(url) - transactions_before - 1
        requests, shop_cpu = shop.tally()
        with dbmod.get_engine(url).connect() as connection:
            checked = connection.execute(
                sa.select(sa.func.count(Product.id)).where(Product.last_checked_at >= seeded_at)
            ).scalar_one()
            first, last = connection.execute(
                sa.select(sa.func.min(Product.last_checked_at), sa.func.max(Product.last_checked_at)).where(
                    Product.last_checked_at >= seeded_at
                )
            ).one()
            leased = connection.execute(
                sa.select(sa.func.count(Product.id)).where(Product.lease_owner.is_not(None))
            ).scalar_one()
        dbmod.dispose_engines()
    span = (last - first).total_seconds() if first and last else 0.0
    return ScaleRun(replicas, seconds, requests, shop_cpu, products, checked, leased, span, transactions)


def _transactions(url: str) -> int:
    """Transactions this database has seen (PostgreSQL's statistics; each read counts one)."""
    with dbmod.get_engine(url).connect() as connection:
        connection.execute(sa.text("SELECT pg_stat_clear_snapshot()"))
        return connection.execute(
            sa.text(
                "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()"
            )
        ).scalar_one()


def _seed_million(url: str, rows: int) -> None:
    """`rows` products with a watch each, spread over a six-hour cycle of which half is due (a
    backlog, as after downtime): one INSERT … SELECT each."""
    engine = dbmod.get_engine(url)
    with engine.begin() as connection:
        user_id = connection.execute(
            sa.insert(User)
            .values(email="plan@example.com", password_hash="-", display_name="Plan")
            .returning(User.id)
        ).scalar_one()
        connection.execute(
            sa.text(
                "INSERT INTO products (url, shop_domain, currency, last_price, last_availability, created_at,"
                " last_checked_at, next_check_at, consecutive_failures, failing)"
                " SELECT 'https://shop' || (n % 500) || '.example/p/' || n, 'shop' || (n % 500) || '.example',"
                " 'EUR', 10 + (n % 90), 'in_stock', now() - interval '30 days', now() - interval '6 hours',"
                " now() - interval '3 hours' + (n % 21600) * interval '1 second', 0, false"
                " FROM generate_series(1, :rows) AS n"
            ),
            {"rows": rows},
        )
        connection.execute(
            sa.text(
                "INSERT INTO watches (user_id, product_id, mode, target_price, initial_price, active,"
                " created_at, price_armed, price_crossings, seen_out_of_stock, stock_fulfilled, restock_count)"
                " SELECT :user_id, id, 'price', last_price * 0.9, last_price, true, now(), true, 0, false,"
                " false, 0 FROM products"
            ),
            {"user_id": user_id},
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.text("VACUUM ANALYZE products"))
        connection.execute(sa.text("VACUUM ANALYZE watches"))


def _claim_plan(url: str, claims_to_time: int = 20) -> tuple[list[str], list[float]]:
    """The plan of the claim statement as `claims.claim_due` sends it, and its time for
    `claims_to_time` claims in a row (each leasing `CLAIM_LIMIT` due products)."""
    engine = dbmod.get_engine(url)
    sent: list[tuple[str, object]] = []

    def record(conn: object, cursor: object, statement: str, parameters: object, *_: object) -> None:
        if statement.lstrip().upper().startswith("UPDATE PRODUCTS"):
            sent.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", record)
    timings = []
    try:
        for _ in range(claims_to_time):
            started = time.perf_counter()
            claims.claim_due("bench:plan", limit=CLAIM_LIMIT, lease_seconds=300, engine=engine)
            timings.append((time.perf_counter() - started) * 1000)
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    statement, parameters = sent[-1]
    with engine.connect() as connection:
        transaction = connection.begin()
        plan = connection.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters).scalars()  # type: ignore[arg-type]
        lines = list(plan)
        transaction.rollback()  # EXPLAIN ANALYZE ran the UPDATE: take it back
    return lines, timings


def run_bench(
    products: int,
    *,
    latency_ms: float,
    shops: int,
    database_url: str,
    plan_rows: int,
    fetch_concurrency: int,
    per_shop_concurrency: int,
) -> ReplicasResult:
    if dbmod.is_sqlite(database_url):
        raise ValueError("bench replicas needs a PostgreSQL server (--database-url postgresql://…)")
    result = ReplicasResult(products, latency_ms)
    for count in (1, 2):
        run = _scale_run(
            count, products, latency_ms, shops, database_url, fetch_concurrency, per_shop_concurrency
        )
        result.runs.append(run)
    if plan_rows:
        with bench_database(database_url) as url:
            use_database(url)
            _seed_million(url, plan_rows)
            result.plan, result.claim_ms = _claim_plan(url)
            result.plan_rows = plan_rows
            dbmod.dispose_engines()
    return result
