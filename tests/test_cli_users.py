"""`python -m cloudtrack_app.cli users …`: the first admin on a headless server."""

from __future__ import annotations

import os
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from cloudtrack_app.auth import accounts
from cloudtrack_app.cli import main
from cloudtrack_app.settings import PROJECT_ROOT


def run(*args: str, input: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), input=input)
    return result.exit_code, result.output


def test_create_list_disable_and_enable(sqlite_url: str) -> None:
    code, out = run(
        "users", "create", "Admin@Example.com", "--admin", "--name", "Ada", "--password", "a good password"
    )
    assert code == 0, out
    assert "Created admin account admin@example.com" in out

    code, out = run("users", "list")
    assert code == 0 and "admin@example.com" in out and "Ada" in out and "admin" in out

    assert run("users", "disable", "admin@example.com")[0] == 0
    assert "disabled" in run("users", "list")[1]
    with pytest.raises(accounts.AccountError, match="disabled"):
        accounts.authenticate("admin@example.com", "a good password")

    assert run("users", "disable", "admin@example.com", "--enable")[0] == 0
    assert accounts.authenticate("admin@example.com", "a good password").email == "admin@example.com"


def test_password_is_prompted_for_when_omitted(sqlite_url: str) -> None:
    code, out = run("users", "create", "prompt@example.com", input="typed password\ntyped password\n")
    assert code == 0, out
    assert accounts.authenticate("prompt@example.com", "typed password").email == "prompt@example.com"


def test_refusals_are_clear_messages(sqlite_url: str) -> None:
    code, out = run("users", "create", "not-an-email", "--password", "a good password")
    assert code == 1 and "Enter a valid email address." in out
    code, out = run("users", "create", "short@example.com", "--password", "short")
    assert code == 1 and "at least 8 characters" in out
    code, out = run("users", "disable", "nobody@example.com")
    assert code == 1 and "No account with the email nobody@example.com" in out


def test_every_command_has_help() -> None:
    def walk(command: click.Command, path: list[str]) -> list[list[str]]:
        found = [path]
        if isinstance(command, click.Group):
            for name, child in command.commands.items():
                found += walk(child, [*path, name])
        return found

    paths = walk(main, [])
    assert len(paths) >= 15
    for path in paths:
        code, out = run(*path, "--help")
        assert code == 0 and out.startswith("Usage:"), path
        assert len(out.split("\n\n", 2)[1].strip()) > 10, f"{path} has no description"


def test_the_module_runs_as_a_program() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "cloudtrack_app.cli", "--help"],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        check=True,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    ).stdout
    assert out.startswith("Usage: python -m cloudtrack_app.cli")
