"""docker-compose.yml is valid Compose, runs the Kafka version the local stack runs, and
gives each service its own database role."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


SECRETS = (
    "POSTGRES_PASSWORD",
    "ABAUTO_WRITER_PASSWORD",
    "ABAUTO_DISCOVERY_PASSWORD",
    "ABAUTO_DOWNLOADER_PASSWORD",
    "ABAUTO_IMPORTER_PASSWORD",
)
SERVICE_ROLES = {
    "migrate": ("abauto", "POSTGRES_PASSWORD"),
    "recorder": ("abauto_writer", "ABAUTO_WRITER_PASSWORD"),
    "discovery": ("abauto_discovery", "ABAUTO_DISCOVERY_PASSWORD"),
    "downloader": ("abauto_downloader", "ABAUTO_DOWNLOADER_PASSWORD"),
    "importer": ("abauto_importer", "ABAUTO_IMPORTER_PASSWORD"),
}


def _compose_config(*unset: str) -> subprocess.CompletedProcess[str]:
    """`compose config -q` on the project's file, with every secret but `unset` given."""
    command = _compose_command()
    if command is None:
        pytest.skip("no Compose client (make install provides one)")
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    env.update({name: "validation-only" for name in SECRETS if name not in unset})
    return subprocess.run(
        [*command, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def test_compose_file_validates() -> None:
    result = _compose_config()
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("secret", SECRETS)
def test_compose_refuses_to_start_without_a_database_password(secret: str) -> None:
    result = _compose_config(secret)
    assert result.returncode != 0
    assert secret in result.stderr


def _database_urls(compose: str) -> dict[str, str]:
    """Each service's DATABASE_URL line, as written in the file."""
    urls: dict[str, str] = {}
    service = ""
    for line in compose.splitlines():
        if named := re.match(r"^  ([a-z][a-z0-9-]*):$", line):
            service = named[1]
        elif url := re.match(r"^\s+DATABASE_URL: (.+)$", line):
            urls[service] = url[1]
    return urls


def test_each_service_connects_as_its_own_role() -> None:
    urls = _database_urls((ROOT / "docker-compose.yml").read_text())
    assert urls.keys() == SERVICE_ROLES.keys()
    for service, (role, secret) in SERVICE_ROLES.items():
        prefix = f"postgresql+asyncpg://{role}:${{{secret}:?"
        assert urls[service].startswith(prefix), f"{service}: {urls[service]}"


def test_the_migration_step_creates_the_roles() -> None:
    compose = (ROOT / "docker-compose.yml").read_text()
    assert 'command: ["abauto db upgrade && abauto db create-roles"]' in compose


def test_compose_and_local_stack_run_the_same_kafka_release() -> None:
    pom = (ROOT / "devstack" / "kafka" / "pom.xml").read_text()
    pinned = re.search(r"<kafka.version>([^<]+)</kafka.version>", pom)
    compose = (ROOT / "docker-compose.yml").read_text()
    image = re.search(r"image: apache/kafka:(\S+)", compose)
    assert pinned
    assert image
    assert image.group(1) == pinned.group(1)


def test_the_image_runs_as_a_non_root_user() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    users = re.findall(r"^USER (\S+)", dockerfile, flags=re.MULTILINE)
    assert users
    assert all(not user.startswith(("root", "0")) for user in users)


def test_every_built_service_runs_in_compose() -> None:
    compose = (ROOT / "docker-compose.yml").read_text()
    built = sorted(p.parent.name for p in (ROOT / "services").glob("*/service.py"))
    assert built, "no service found"
    for name in built:
        assert f'command: ["run", "{name}"]' in compose, f"{name} is missing from compose"
