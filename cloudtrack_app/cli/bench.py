"""`bench …`: speed and quality measurements, printed as figures."""

from __future__ import annotations

import click


@click.group()
def bench() -> None:
    """Measure speed and quality (figures go in issue notes, not in unit tests)."""
