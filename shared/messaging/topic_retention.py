"""Keeping the system's topics' retention what the settings say (`ABAUTO_TOPIC_RETENTION_DAYS`).

The recorder remembers applied event ids for `ABAUTO_PROCESSED_EVENT_RETENTION_DAYS`, which
must exceed the topics' retention: a topic that keeps messages longer (or forever, the
broker's default may be anything) could redeliver an event the recorder has forgotten, and
it would be applied twice. So topics are created with `retention.ms`, and at start-up an
existing topic whose retention differs is corrected, with one WARNING line naming the
topics and their previous values. The topic's other overrides are kept (AlterConfigs
replaces the whole set, so they are sent again).
"""

from __future__ import annotations

import logging
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import for_code

logger = logging.getLogger(__name__)

RETENTION_MS = "retention.ms"
DYNAMIC_TOPIC_CONFIG = 1  # DescribeConfigs' config_source of a topic's own override

Overrides = dict[str, str]


async def correct_retention(admin: AIOKafkaAdminClient, names: list[str], wanted_ms: int) -> None:
    """Set `retention.ms` to `wanted_ms` on those of `names` whose retention differs."""
    if not names:
        return
    current = await _describe(admin, names)
    wrong = {name: c for name, c in current.items() if c[0] != str(wanted_ms)}
    if not wrong:
        return
    logger.warning(
        "topics kept messages for a different time than ABAUTO_TOPIC_RETENTION_DAYS says "
        "(the recorder's duplicate detection relies on it); setting retention.ms=%d on %s",
        wanted_ms,
        ", ".join(f"{name} (was {effective})" for name, (effective, _) in sorted(wrong.items())),
        extra={"event": "topics.retention_corrected", "topics": sorted(wrong)},
    )
    await _alter(
        admin, {name: {**kept, RETENTION_MS: str(wanted_ms)} for name, (_, kept) in wrong.items()}
    )


async def _describe(
    admin: AIOKafkaAdminClient, names: list[str]
) -> dict[str, tuple[str, Overrides]]:
    """Each topic's effective retention.ms and its own (dynamic, non-secret) overrides."""
    resources = [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
    described: dict[str, tuple[str, Overrides]] = {}
    for response in await admin.describe_configs(resources):
        for error_code, message, _, name, entries in response.resources:
            _raise_for(error_code, f"could not read the configuration of topic {name!r}: {message}")
            described[name] = (_effective_retention(entries), _overrides(entries))
    return described


def _effective_retention(entries: list[Any]) -> str:
    return next((str(e[1]) for e in entries if e[0] == RETENTION_MS), "unknown")


def _overrides(entries: list[Any]) -> Overrides:
    # (name, value, read_only, config_source, is_sensitive, synonyms) in DescribeConfigs v1+
    return {
        e[0]: e[1]
        for e in entries
        if e[3] == DYNAMIC_TOPIC_CONFIG and not e[4] and e[1] is not None
    }


async def _alter(admin: AIOKafkaAdminClient, configs: dict[str, Overrides]) -> None:
    resources = [ConfigResource(ConfigResourceType.TOPIC, n, configs=c) for n, c in configs.items()]
    for response in await admin.alter_configs(resources):
        for error_code, message, _, name in response.resources:
            _raise_for(error_code, f"could not set the retention of topic {name!r}: {message}")


def _raise_for(error_code: int, description: str) -> None:
    if error_code:
        raise for_code(error_code)(description)
