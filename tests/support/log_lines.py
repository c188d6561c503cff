"""The lines the services of a run wrote (`sandbox.pipeline.Services` gives each a file)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_log_lines(log_dir: Path) -> list[dict[str, Any]]:
    """Every line of every service's log, parsed, in time order; a line that is not one
    JSON object fails the caller (a log stack could not read it either)."""
    lines: list[dict[str, Any]] = []
    for path in sorted(log_dir.glob("*.log")):
        for number, text in enumerate(path.read_text().splitlines(), 1):
            try:
                line = json.loads(text)
            except json.JSONDecodeError:
                raise AssertionError(f"{path.name}:{number} is not JSON: {text[:300]}") from None
            assert isinstance(line, dict), f"{path.name}:{number}: {text[:300]}"
            lines.append(line)
    return sorted(lines, key=lambda line: str(line.get("time")))
