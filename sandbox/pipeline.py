"""Running the four services for real against the local stack: a database of their own
with least-privilege roles, a topic namespace of their own, one process per service,
each with a health port of its own (where Prometheus can scrape its `/metrics`).

Used by `make demo` and by the end-to-end tests; production runs the same processes
(`abauto run all`, or one container per service).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient
from pydantic import SecretStr
from sqlalchemy.engine import make_url

import devstack
from devstack.stack import HOST, choose_ports
from ops import migration_runner
from ops.database_roles import RoleSettings, create_roles
from shared import topics
from shared.messaging import ensure_topics
from shared.settings import DatabaseSettings, KafkaSettings

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("recorder", "discovery", "downloader", "importer")
STOP_TIMEOUT_S = 30.0


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


@dataclass(frozen=True)
class Provisioned:
    """A database and topic namespace made for one run."""

    tag: str
    namespace: str
    database: str
    owner_url: str
    writer_url: str
    reader_urls: Mapping[str, str]  # reading service -> its own SELECT-only role's URL
    kafka_bootstrap: str


async def provision(info: devstack.StackInfo, tag: str | None = None) -> Provisioned:
    """A fresh, migrated database with a writer role and one reader role per reading
    service, and fresh topics."""
    tag = tag or uuid.uuid4().hex[:8]
    name = f"run_{tag}"
    owner = make_url(info.database_url)
    admin = await asyncpg.connect(_plain(info.admin_database_url))
    try:
        await admin.execute(f'CREATE DATABASE "{name}" OWNER "{owner.username}"')
    finally:
        await admin.close()
    owner_url = owner.set(database=name).render_as_string(hide_password=False)
    previous = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = owner_url  # what Alembic's env.py reads
    try:
        await asyncio.to_thread(migration_runner.upgrade, "head")
    finally:
        if previous is None:
            os.environ.pop("DATABASE_URL")
        else:
            os.environ["DATABASE_URL"] = previous
    roles = _run_roles(tag)
    await create_roles(DatabaseSettings(database_url=SecretStr(owner_url)), roles)
    namespace = f"run-{tag}"
    kafka = KafkaSettings(
        kafka_bootstrap_servers=info.kafka_bootstrap, kafka_topic_namespace=namespace
    )
    await ensure_topics(kafka, topics.ALL_TOPICS)
    as_role = owner.set(database=name)

    def url(role: str, password: SecretStr) -> str:
        login = as_role.set(username=role, password=password.get_secret_value())
        return login.render_as_string(hide_password=False)

    return Provisioned(
        tag=tag,
        namespace=namespace,
        database=name,
        owner_url=owner_url,
        writer_url=url(roles.writer_role, roles.writer_password),
        reader_urls={service: url(*login) for service, login in roles.readers().items()},
        kafka_bootstrap=info.kafka_bootstrap,
    )


def _run_roles(tag: str) -> RoleSettings:
    """The run's roles: named after its tag, each with a fresh password."""

    def password(service: str) -> SecretStr:
        return SecretStr(f"{service}-{uuid.uuid4().hex}")

    return RoleSettings(
        writer_role=f"w_{tag}",
        writer_password=password("writer"),
        discovery_role=f"disc_{tag}",
        discovery_password=password("discovery"),
        downloader_role=f"down_{tag}",
        downloader_password=password("downloader"),
        importer_role=f"imp_{tag}",
        importer_password=password("importer"),
    )


async def unprovision(info: devstack.StackInfo, run: Provisioned) -> None:
    """Drop the run's topics, database and roles."""
    admin_client = AIOKafkaAdminClient(bootstrap_servers=run.kafka_bootstrap)
    await admin_client.start()
    try:
        await admin_client.delete_topics([f"{run.namespace}.{t}" for t in topics.ALL_TOPICS])
    finally:
        await admin_client.close()
    admin = await asyncpg.connect(_plain(info.admin_database_url))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{run.database}" WITH (FORCE)')
        for role in _run_roles(run.tag).all_roles():
            await admin.execute(f'DROP ROLE IF EXISTS "{role}"')
    finally:
        await admin.close()


def service_environment(run: Provisioned, service: str, extra: Mapping[str, str]) -> dict[str, str]:
    """The environment of one service: the recorder writes, the others only read, each
    with a role of its own."""
    return {
        **os.environ,
        **extra,
        "DATABASE_URL": run.writer_url if service == "recorder" else run.reader_urls[service],
        "KAFKA_BOOTSTRAP_SERVERS": run.kafka_bootstrap,
        "ABAUTO_KAFKA_TOPIC_NAMESPACE": run.namespace,
    }


@dataclass
class Services:
    """The four service processes of one run, logging to `log_dir/<service>.log`."""

    run: Provisioned
    environment: Mapping[str, str]
    log_dir: Path
    processes: dict[str, asyncio.subprocess.Process] = field(default_factory=dict)
    health_ports: dict[str, int] = field(default_factory=dict)
    """Each service's health port, chosen when it first starts and kept on a restart."""
    _logs: list[IO[bytes]] = field(default_factory=list)

    async def start(self, services: tuple[str, ...] = SERVICES) -> None:
        """Start each service as its own process."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        new = [name for name in services if name not in self.health_ports]
        self.health_ports.update(zip(new, choose_ports([None] * len(new)), strict=True))
        for name in services:
            log = (self.log_dir / f"{name}.log").open("ab")
            self._logs.append(log)
            environment = {
                **service_environment(self.run, name, self.environment),
                "ABAUTO_HEALTH_HOST": HOST,
                "ABAUTO_HEALTH_PORT": str(self.health_ports[name]),
            }
            self.processes[name] = await asyncio.create_subprocess_exec(
                sys.executable, "-m", f"services.{name}",
                cwd=ROOT, env=environment,
                stdout=log, stderr=asyncio.subprocess.STDOUT, stdin=asyncio.subprocess.DEVNULL,
            )  # fmt: skip

    def scrape_targets(self) -> dict[str, list[str]]:
        """Where Prometheus finds each started service's `/metrics`: job name (the
        service's) to `host:port`."""
        return {name: [f"{HOST}:{port}"] for name, port in self.health_ports.items()}

    async def kill(self, name: str) -> None:
        """SIGKILL one service, as a crash or the OOM killer would, and reap it."""
        process = self.processes[name]
        if process.returncode is None:
            process.kill()
        await process.wait()

    async def terminate(self, name: str) -> int:
        """SIGTERM one service, as an orchestrator stopping it would; its exit status."""
        process = self.processes[name]
        if process.returncode is None:
            process.terminate()
        return await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)

    async def restart(self, name: str) -> None:
        """Start one (killed or stopped) service again, as an orchestrator would."""
        await self.start((name,))

    def exited(self) -> dict[str, int]:
        """Services that stopped on their own, with their exit status."""
        return {n: p.returncode for n, p in self.processes.items() if p.returncode is not None}

    async def stop(self) -> dict[str, int]:
        """SIGTERM every service, wait (SIGKILL after a timeout); return exit statuses."""
        for process in self.processes.values():
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        waits = [p.wait() for p in self.processes.values()]
        try:
            await asyncio.wait_for(asyncio.gather(*waits), STOP_TIMEOUT_S)
        except TimeoutError:
            for process in self.processes.values():
                if process.returncode is None:
                    process.kill()
            await asyncio.gather(*(p.wait() for p in self.processes.values()))
        for log in self._logs:
            log.close()
        return {n: p.returncode or 0 for n, p in self.processes.items()}

    def log_tail(self, service: str, lines: int = 30) -> str:
        """The end of a service's log, for error reports."""
        path = self.log_dir / f"{service}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])
