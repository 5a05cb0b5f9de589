"""The command line starts light: `bench cli` measures it, and `bench` without the benchmarks
package (as in the container image) says so in one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cloudtrack_app.cli import main
from cloudtrack_app.cli.bench import NOT_INSTALLED
from cloudtrack_app.settings import PROJECT_ROOT

pytestmark = pytest.mark.slow

PAGE = """<!doctype html><html lang="en"><head><title>Kettle</title>
<script type="application/ld+json">{"@context": "https://schema.org", "@type": "Product",
 "name": "Kettle 42", "offers": {"@type": "Offer", "price": "19.99", "priceCurrency": "EUR"}}</script>
</head><body><h1>Kettle 42</h1></body></html>"""


def test_bench_cli_times_every_command_and_prints_its_table(tmp_path: Path) -> None:
    page = tmp_path / "kettle.html"
    page.write_text(PAGE, encoding="utf-8")

    result = CliRunner().invoke(main, ["bench", "cli", "--runs", "1", "--page", str(page)])

    assert result.exit_code == 0, result.output
    labels = [line.split("  ")[1] for line in result.output.splitlines() if line.startswith("  ")]
    for command in ("python -c pass", "--help", "users --help", "watch --help", "probe kettle.html"):
        assert command in labels
    assert "import of cloudtrack_app.cli" in result.output
    assert "slowest imports of `probe`" in result.output


def test_bench_without_the_benchmarks_package_says_so(tmp_path: Path) -> None:
    (tmp_path / "cloudtrack_app").symlink_to(PROJECT_ROOT / "cloudtrack_app")

    done = subprocess.run(
        [sys.executable, "-m", "cloudtrack_app.cli", "bench", "history", "--products", "1"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 1
    assert done.stderr.strip() == f"Error: {NOT_INSTALLED}"
