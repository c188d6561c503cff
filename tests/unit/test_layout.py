"""The layout the README promises, checked on the imports themselves (import-linter, with
the contracts in pyproject.toml): `shared/` holds only what the services share and imports
no service, tool or fake; the services never import one another (they talk through
Kafka); operator tooling lives in `ops/`; `bench/` does not reach into `tests/`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_import_contracts_hold() -> None:
    # its own process: import-linter reconfigures logging, which other tests read
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "lint-imports"),
            "--no-cache",
            "--config",
            "pyproject.toml",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 kept, 0 broken" in done.stdout


def test_shared_holds_no_operator_tooling() -> None:
    moved = {"cli", "process_group", "migration_runner", "database_roles", "event_docs"}
    assert not moved & {path.stem for path in (ROOT / "shared").glob("*.py")}
