"""`bench cli`: how long the command line takes to answer, each command in a fresh interpreter.

A person types `--help` or probes a saved page and waits for the whole interpreter start; a
command module that imports the engine, the database layer or the OpenAI client at its top
makes every command pay for it. This runs each top-level command's `--help`, the group's
`--help` and `probe` of one small saved page as separate processes and reports wall times,
next to a bare `python -c pass`, and which imports `probe` spends its start on.
"""

from __future__ import annotations

import re
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import click

from benchmarks.shop import CORPUS_DIR
from cloudtrack_app.cli import main
from cloudtrack_app.settings import PROJECT_ROOT

TARGET_SECONDS = 0.5
CLI = ("-m", "cloudtrack_app.cli")
_IMPORT_LINE = re.compile(r"^import time:\s+\d+ \|\s+(\d+) \| (\s*)(\S+)$")


@dataclass(frozen=True)
class Timing:
    label: str
    wall: list[float]
    cpu: list[float]

    def line(self) -> str:
        worst = max(self.wall)
        over = "  over the target" if worst > TARGET_SECONDS else ""
        return (
            f"  {self.label:<40} {statistics.median(self.wall) * 1000:6.0f} ms {worst * 1000:6.0f} ms"
            f" {statistics.median(self.cpu) * 1000:6.0f} ms{over}"
        )


def smallest_corpus_page(corpus_dir: Path = CORPUS_DIR) -> Path:
    pages = sorted((corpus_dir / "pages").glob("*.html*"), key=lambda page: page.stat().st_size)
    if not pages:
        raise click.ClickException(f"No saved pages in {corpus_dir / 'pages'}: give one with --page FILE.")
    return pages[0]


def _python(arguments: list[str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, *arguments], cwd=PROJECT_ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise click.ClickException(
            f"`python {' '.join(arguments)}` exited with {done.returncode}: {done.stderr.strip()[-500:]}"
        )
    return done


def _timed(arguments: list[str]) -> tuple[float, float]:
    """Wall time, and CPU time of the child: on a busy machine the second still tells the cost."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    _python(arguments)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def import_times(arguments: list[str]) -> dict[str, float]:
    """Seconds spent importing each module that the command imported first-hand (not as a dependency)."""
    outermost: dict[str, float] = {}
    for line in _python(["-X", "importtime", *arguments]).stderr.splitlines():
        match = _IMPORT_LINE.match(line)
        if match and not match[2]:
            outermost[match[3]] = int(match[1]) / 1e6
    return outermost


def run(runs: int, page: Path | None) -> list[str]:
    page = page or smallest_corpus_page()
    commands = [("python -c pass", ["-c", "pass"]), ("--help", [*CLI, "--help"])]
    commands += [(f"{name} --help", [*CLI, name, "--help"]) for name in sorted(main.commands)]
    commands.append((f"probe {page.name}", [*CLI, "probe", str(page)]))
    for _, arguments in commands:  # fills the bytecode and file caches; not counted
        _python(arguments)
    timings = []
    for label, arguments in commands:
        wall, cpu = zip(*(_timed(arguments) for _ in range(runs)), strict=True)
        timings.append(Timing(label, list(wall), list(cpu)))

    package = import_times([*CLI, "--help"]).get("cloudtrack_app.cli", 0.0)
    probe_imports = sorted(import_times([*CLI, "probe", str(page)]).items(), key=lambda item: -item[1])
    return [
        f"command line start-up, {runs} run(s) each in a fresh interpreter ({sys.executable})",
        f"  {'command':<40} {'wall: median':>12} {'max':>9} {'CPU: median':>12}",
        *(timing.line() for timing in timings),
        f"target: every command ≤ {TARGET_SECONDS * 1000:.0f} ms of wall time on an idle 2-core machine",
        f"import of cloudtrack_app.cli (all that --help loads): {package * 1000:.0f} ms",
        "slowest imports of `probe` (python -X importtime, cumulative):",
        *(f"  {name:<40} {seconds * 1000:6.0f} ms" for name, seconds in probe_imports[:6]),
    ]
