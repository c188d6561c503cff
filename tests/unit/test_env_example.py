"""`.env.example` lists every setting the services read, and only those, with values the
settings accept."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from ops.database_roles import RoleSettings
from services.discovery.settings import DiscoverySettings
from services.downloader.settings import DownloaderSettings
from services.importer.settings import ImporterSettings
from services.recorder.settings import RecorderSettings

ENV_EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"
SETTINGS: tuple[type[BaseSettings], ...] = (
    RecorderSettings,
    DiscoverySettings,
    DownloaderSettings,
    ImporterSettings,
    RoleSettings,
)
COMPOSE_ONLY = {"POSTGRES_PASSWORD"}
# A setting line, active (`NAME=value`) or left at its default (`# NAME=value`).
LINE = re.compile(r"^(?:# )?([A-Z][A-Z0-9_]*)=(.*)$")


def env_names(settings: type[BaseSettings]) -> set[str]:
    """The environment variable each field of a settings class is read from."""
    prefix = str(settings.model_config.get("env_prefix", ""))
    names: set[str] = set()
    for field_name, field in settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(str(choice).upper() for choice in alias.choices)
        else:
            names.add(f"{prefix}{field_name}".upper())
    return names


def listed() -> dict[str, str]:
    """Every variable `.env.example` lists, with its value."""
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    return {m[1]: m[2] for m in map(LINE.match, lines) if m}


@pytest.mark.parametrize("settings", SETTINGS, ids=lambda cls: cls.__name__)
def test_every_setting_has_a_line(settings: type[BaseSettings]) -> None:
    missing = env_names(settings) - listed().keys()
    assert not missing, f"{sorted(missing)} missing from .env.example"


def test_every_line_is_a_setting() -> None:
    known = set().union(*map(env_names, SETTINGS)) | COMPOSE_ONLY
    stale = listed().keys() - known
    assert not stale, f".env.example lists {sorted(stale)}, which nothing reads"


@pytest.mark.parametrize("settings", SETTINGS, ids=lambda cls: cls.__name__)
def test_every_listed_value_is_accepted(
    monkeypatch: pytest.MonkeyPatch, settings: type[BaseSettings]
) -> None:
    for name, value in listed().items():
        monkeypatch.setenv(name, value)
    settings()
