"""The LogQL queries of `docs/logs.md`, run with Grafana Loki's own engine.

`logcli query --stdin` (built by `scripts/build-logcli.sh`) evaluates a query's log
pipeline — `| json`, label filters, `line_format` — over lines piped to it. It ignores
the stream selector (every piped line is one stream) and evaluates no metric query, so a
metric query's inner pipeline is run by logcli, and its count, sum or maximum is taken
here over what the pipeline kept, grouped by the query's `by (…)` labels.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "docs" / "logs.md"
_BLOCK = re.compile(r"^### (?P<title>.+?)\n.*?```logql\n(?P<query>.+?)\n```", re.M | re.S)
_METRIC = re.compile(
    r"^(?:(?:sum|max|min) ?(?:by \((?P<by>[^)]*)\) )?\()?"
    r"(?P<function>count_over_time|max_over_time)\((?P<pipeline>.+?)"
    r"(?: \| unwrap (?P<unwrap>\w+))? \[\w+\]\)\)?$"
)


def logcli() -> Path | None:
    """The logcli binary, if built (or named by ABAUTO_LOGCLI)."""
    named = os.environ.get("ABAUTO_LOGCLI")
    path = Path(named) if named else ROOT / ".tools" / "logcli"
    return path if path.is_file() and os.access(path, os.X_OK) else None


def documented_queries() -> dict[str, str]:
    """Each query of the schema page by its heading."""
    queries = SCHEMA.read_text().partition("\n## Queries")[2]
    return {m["title"]: m["query"] for m in _BLOCK.finditer(queries)}


@dataclass(frozen=True)
class LogQL:
    """Runs queries over the given lines with the logcli at `binary`."""

    binary: Path
    lines: Sequence[str]

    def log_query(self, query: str) -> list[dict[str, Any]]:
        """The lines a log query keeps (as JSON objects), or what its `line_format` made
        of them (as {"line": text})."""
        out = self._run(query)
        if "line_format" in query:
            return [{"line": text} for text in out]
        return [json.loads(text) for text in out]

    def metric_query(self, query: str) -> dict[tuple[str, ...], float]:
        """A `count_over_time` / `max_over_time … unwrap` query's value per group (the
        window is taken to hold every line)."""
        found = _METRIC.match(query)
        if found is None:
            raise ValueError(f"not a metric query this harness knows: {query}")
        by = [label.strip() for label in (found["by"] or "").split(",") if label.strip()]
        fields = [*by, found["unwrap"]] if found["unwrap"] else by
        shown = "\t".join(f"{{{{.{field}}}}}" for field in fields) or "1"
        kept = self._run(f'{found["pipeline"]} | line_format "{shown}"')
        rows = [tuple(text.split("\t")) if fields else () for text in kept]
        if found["function"] == "count_over_time":
            return {group: float(n) for group, n in Counter(rows).items()}
        values: dict[tuple[str, ...], float] = {}
        for row in rows:
            group, value = row[:-1], float(row[-1])
            values[group] = max(values.get(group, value), value)
        return values

    def _run(self, query: str) -> list[str]:
        done = subprocess.run(
            [
                str(self.binary),
                "query",
                "--stdin",
                "--quiet",
                "-o",
                "raw",
                "--batch",
                "1000000",
                query,
            ],
            input="\n".join(self.lines) + "\n",
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, f"logcli refused {query!r}: {done.stderr}"
        return [text for text in done.stdout.splitlines() if text]
