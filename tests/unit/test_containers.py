"""docker-compose.yml is valid Compose and runs the Kafka version the local stack runs."""

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


def _compose_config(password: str | None) -> subprocess.CompletedProcess[str]:
    """`compose config -q` on the project's file, with or without POSTGRES_PASSWORD."""
    command = _compose_command()
    if command is None:
        pytest.skip("no Compose client (make install provides one)")
    env = {k: v for k, v in os.environ.items() if k != "POSTGRES_PASSWORD"}
    if password is not None:
        env["POSTGRES_PASSWORD"] = password
    return subprocess.run(
        [*command, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def test_compose_file_validates() -> None:
    result = _compose_config("validation-only")
    assert result.returncode == 0, result.stderr


def test_compose_refuses_to_start_without_a_database_password() -> None:
    result = _compose_config(None)
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr


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
