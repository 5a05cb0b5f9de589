"""Configuration: every knob is documented, and bad values are refused with a clear message."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import AliasChoices, ValidationError

from cloudtrack_app.settings import PROJECT_ROOT, Settings


def _env_names() -> set[str]:
    names = set()
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        names.add(alias.choices[0] if isinstance(alias, AliasChoices) else alias)
    return names


def test_every_setting_is_in_env_example() -> None:
    documented = set(
        re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", (PROJECT_ROOT / ".env.example").read_text(), re.M)
    )
    assert _env_names() - documented == set()
    assert documented - _env_names() == set(), "documents a setting that does not exist"


def test_check_interval_has_a_five_minute_floor() -> None:
    with pytest.raises(ValidationError, match="at least 300 seconds"):
        Settings(CHECK_INTERVAL=60)
    assert Settings(CHECK_INTERVAL=300).check_interval == 300


def test_default_database_is_a_sqlite_file_in_the_data_folder(tmp_path: Path) -> None:
    settings = Settings(CLOUDTRACK_DATA_DIR=tmp_path, DATABASE_URL="")
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'cloudtrack.db'}"


def test_secret_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = Settings(CLOUDTRACK_DATA_DIR=tmp_path, SECRET_KEY="").effective_secret_key
    second = Settings(CLOUDTRACK_DATA_DIR=tmp_path, SECRET_KEY="").effective_secret_key
    assert first == second and len(first) >= 40
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    assert Settings(CLOUDTRACK_DATA_DIR=tmp_path, SECRET_KEY="explicit").effective_secret_key == "explicit"
