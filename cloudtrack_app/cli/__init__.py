"""`python -m cloudtrack_app.cli`: manage a CloudTrack server from the shell.

Each feature keeps its commands in a module of this package; `main` gathers them. A command
module imports only click and the standard library at its top: what a command needs it imports
when it runs, so `--help` and a quick command start in a fraction of a second (`bench cli`
measures it).
"""

from __future__ import annotations

import click

from cloudtrack_app.cli.bench import bench
from cloudtrack_app.cli.check import check
from cloudtrack_app.cli.notify import notify
from cloudtrack_app.cli.probe import probe
from cloudtrack_app.cli.tokens import tokens
from cloudtrack_app.cli.users import users
from cloudtrack_app.cli.watch import watch


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """CloudTrack: a self-hosted price and stock tracker."""


main.add_command(users)
main.add_command(bench)
main.add_command(watch)
main.add_command(check)
main.add_command(notify)
main.add_command(probe)
main.add_command(tokens)
