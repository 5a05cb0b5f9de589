"""`bench …`: speed and quality measurements, printed as figures."""

from __future__ import annotations

import click

from cloudtrack_app.bench.checks import checks_command
from cloudtrack_app.bench.extraction import extraction_command
from cloudtrack_app.bench.fetching import fetch_command
from cloudtrack_app.bench.history import history_command
from cloudtrack_app.bench.ui import ui_command


@click.group()
def bench() -> None:
    """Measure speed and quality (figures go in issue notes, not in unit tests)."""


bench.add_command(checks_command)
bench.add_command(fetch_command)
bench.add_command(extraction_command)
bench.add_command(ui_command)
bench.add_command(history_command)
