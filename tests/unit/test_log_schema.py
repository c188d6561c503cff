"""Every line the services log names what happened in a stable `event` field, and every
name is in the documented log schema (`docs/logs.md`), so a query written against the
schema keeps finding its lines. Checked on the source itself; `tests/e2e` checks the
lines a real run writes."""

from __future__ import annotations

import ast
import logging
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOGGING_CODE = ("shared", "services", "ops/process_group.py")
"""What runs inside the services (and `abauto run all`), whose lines are monitored."""
LEVELS = {"debug", "info", "warning", "error", "exception", "critical", "log"}
DOCUMENTED = re.compile(r"^\| `([a-z_]+\.[a-z_.]+)` \|", re.M)
"""A row of the schema's event table: | `release.chosen` | …"""


def _sources() -> Iterator[Path]:
    for place in LOGGING_CODE:
        path = ROOT / place
        yield from sorted(path.rglob("*.py")) if path.is_dir() else [path]


def _log_calls(tree: ast.AST) -> Iterator[ast.Call]:
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in LEVELS
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "logger"
        ):
            yield node


def _event_of(call: ast.Call) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == "extra" and isinstance(keyword.value, ast.Dict):
            for key, value in zip(keyword.value.keys, keyword.value.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "event":
                    return value
    return None


def _extra_keys(call: ast.Call) -> list[str]:
    return [
        key.value
        for keyword in call.keywords
        if keyword.arg == "extra" and isinstance(keyword.value, ast.Dict)
        for key in keyword.value.keys
        if isinstance(key, ast.Constant) and isinstance(key.value, str)
    ]


def _documented() -> set[str]:
    return set(DOCUMENTED.findall((ROOT / "docs" / "logs.md").read_text()))


def test_every_log_call_names_its_event() -> None:
    unnamed = []
    for path in _sources():
        for call in _log_calls(ast.parse(path.read_text(), str(path))):
            if _event_of(call) is None:
                unnamed.append(f"{path.relative_to(ROOT)}:{call.lineno}")
    assert not unnamed, "log calls without extra={'event': …}: " + ", ".join(unnamed)


def test_every_event_named_in_the_code_is_documented() -> None:
    named: dict[str, str] = {}
    for path in _sources():
        tree = ast.parse(path.read_text(), str(path))
        for call in _log_calls(tree):
            event = _event_of(call)
            if isinstance(event, ast.Constant) and isinstance(event.value, str):
                named[event.value] = f"{path.relative_to(ROOT)}:{call.lineno}"
    undocumented = {name: where for name, where in named.items() if name not in _documented()}
    assert not undocumented, f"not in docs/logs.md: {undocumented}"
    assert len(named) > 40


def test_every_documented_event_is_logged_somewhere() -> None:
    code = "\n".join(path.read_text() for path in _sources())
    dynamic = {"correction": ("proposed", "applied", "reverted")}  # f"correction.{status}"
    missing = []
    for name in _documented():
        family, _, rest = name.partition(".")
        if rest in dynamic.get(family, ()) and f'f"{family}.{{' in code:
            continue
        if f'"{name}"' not in code:
            missing.append(name)
    assert not missing, f"documented but never logged: {sorted(missing)}"


def test_no_field_overwrites_a_log_records_own_attribute() -> None:
    """`logging` raises KeyError for such a field, in the middle of the work it reports
    on (`process`, `name`, `module`, `message`…)."""
    reserved = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
    clashing = []
    for path in _sources():
        for call in _log_calls(ast.parse(path.read_text(), str(path))):
            taken = reserved.intersection(_extra_keys(call))
            if taken:
                clashing.append(f"{path.relative_to(ROOT)}:{call.lineno} {sorted(taken)}")
    assert not clashing, clashing
