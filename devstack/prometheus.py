"""A real Prometheus server on loopback, for the tests and the demo.

    server = start_prometheus(home, {"recorder": ["127.0.0.1:9101"], ...})
    try:
        server.wait_for_scrape(after=time.time(), timeout=30)
        server.value("sum(abauto_events_handled_total)")
    finally:
        stop_prometheus(server)

It scrapes each job's targets every second, keeps its data under `home` (emptied at each
start: a query never sees an earlier run's series), and answers queries on a free port
of its own. `prometheus` comes from the distribution
(`scripts/install-system-deps.sh`).
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devstack.logfiles import tail
from devstack.processes import terminate
from devstack.stack import HOST, choose_ports

log = logging.getLogger("devstack.prometheus")

BINARY = "prometheus"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
SCRAPE_INTERVAL = "1s"
POLL_S = 0.2

_RUNNING: dict[int, subprocess.Popen[bytes]] = {}
"""Servers this process started, by pid (kept so they are waited for, never leaked)."""


class PrometheusError(RuntimeError):
    """Prometheus could not be started, or did not answer as asked."""


def configuration(targets: Mapping[str, Sequence[str]]) -> str:
    """The prometheus.yml scraping each job's `host:port` targets every second (JSON is
    YAML too)."""
    scrape_configs = [
        {"job_name": job, "static_configs": [{"targets": list(addresses)}]}
        for job, addresses in targets.items()
    ]
    interval = {"scrape_interval": SCRAPE_INTERVAL, "scrape_timeout": SCRAPE_INTERVAL}
    return json.dumps({"global": interval, "scrape_configs": scrape_configs}, indent=2)


@dataclass(frozen=True)
class Prometheus:
    """A running Prometheus, and the questions the tests and the demo ask it."""

    url: str
    pid: int
    home: Path
    targets: frozenset[tuple[str, str]]
    """What it scrapes: (job, `host:port`)."""

    def query(self, promql: str) -> list[dict[str, Any]]:
        """The instant vector `promql` evaluates to now: each element's `metric` (its
        labels) and `value` (`[timestamp, "number"]`)."""
        address = f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
        try:
            with urllib.request.urlopen(address, timeout=10) as answer:  # noqa: S310 (loopback)
                body = json.load(answer)
        except (OSError, ValueError) as error:
            raise PrometheusError(f"query {promql!r} failed: {error}") from error
        if body.get("status") != "success" or body["data"]["resultType"] != "vector":
            raise PrometheusError(f"query {promql!r}: {body}")
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def value(self, promql: str) -> float | None:
        """The single number `promql` evaluates to now (a `sum(...)`), or None if it
        selects no series."""
        result = self.query(promql)
        if len(result) > 1:
            raise PrometheusError(f"query {promql!r} gave {len(result)} series, not one")
        return float(result[0]["value"][1]) if result else None

    def scraped_after(self, moment: float) -> bool:
        """Whether every target answered a scrape that began after `moment` (seconds
        since the epoch): what it said then is in every query's reach, as Prometheus
        stores a scrape's samples and its `up` together."""
        answered = {
            (r["metric"]["job"], r["metric"]["instance"])
            for r in self.query("timestamp(up == 1)")
            if float(r["value"][1]) > moment
        }
        return self.targets <= answered

    def wait_for_scrape(self, *, after: float, timeout: float) -> None:
        """Return once `scraped_after(after)`; `PrometheusError` after `timeout`."""
        deadline = time.monotonic() + timeout
        while not self.scraped_after(after):
            if time.monotonic() > deadline:
                down = self.query("up == 0")
                raise PrometheusError(
                    f"not every target scraped within {timeout}s (down: {down}):\n{self.log()}"
                )
            time.sleep(POLL_S)  # polling Prometheus, bounded by the deadline

    def log(self) -> str:
        """The end of the server's log."""
        return tail(self.home / "prometheus.log")


def start_prometheus(home: Path, targets: Mapping[str, Sequence[str]]) -> Prometheus:
    """Start Prometheus scraping `targets` (job name to `host:port`s), its configuration,
    data and log under `home`; return once it is ready for queries."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(home / "data", ignore_errors=True)
    config = home / "prometheus.yml"
    config.write_text(configuration(targets))
    [port] = choose_ports([None])
    logfile = home / "prometheus.log"
    with logfile.open("ab") as output:
        process = subprocess.Popen(
            [
                BINARY, f"--config.file={config}", f"--storage.tsdb.path={home / 'data'}",
                f"--web.listen-address={HOST}:{port}", "--log.level=warn",
            ],
            stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    _RUNNING[process.pid] = process
    scraped = frozenset((job, a) for job, addresses in targets.items() for a in addresses)
    server = Prometheus(f"http://{HOST}:{port}", process.pid, home, scraped)
    _wait_until_ready(server, process)
    log.info("prometheus on %s scraping %s", server.url, dict(targets))
    return server


def _wait_until_ready(server: Prometheus, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _RUNNING.pop(process.pid, None)
            raise PrometheusError(f"prometheus exited ({process.returncode}):\n{server.log()}")
        try:
            with urllib.request.urlopen(f"{server.url}/-/ready", timeout=1):  # noqa: S310
                return
        except OSError:  # not answering yet, or 503 until ready
            time.sleep(POLL_S)  # polling a starting process, bounded by the deadline
    stop_prometheus(server)
    raise PrometheusError(f"prometheus not ready in {START_TIMEOUT_S}s:\n{server.log()}")


def stop_prometheus(server: Prometheus, timeout: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM, wait, SIGKILL if needed. Idempotent."""
    process = _RUNNING.pop(server.pid, None)
    if process is not None:
        terminate(process, timeout)
