"""Creating the system's topics at start-up, with configured partitions, replication and
retention; existing topics get their retention corrected (see `topic_retention`)."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code

from shared.messaging.topic_retention import RETENTION_MS, correct_retention
from shared.settings import KafkaSettings

logger = logging.getLogger(__name__)


async def ensure_topics(settings: KafkaSettings, names: Iterable[str]) -> list[str]:
    """Create whichever of `names` (from `shared.topics`) do not exist yet in the
    configured namespace, correct the retention of those that do; return the wire names
    created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [settings.topic(name) for name in names]
        missing = [name for name in dict.fromkeys(wanted) if name not in existing]
        if missing:
            await _create(admin, settings, missing)
        present = [name for name in dict.fromkeys(wanted) if name in existing]
        await correct_retention(admin, present, settings.topic_retention_ms)
        return missing
    finally:
        await admin.close()


async def _create(admin: AIOKafkaAdminClient, settings: KafkaSettings, names: list[str]) -> None:
    new_topics = [
        NewTopic(
            name=name,
            num_partitions=settings.kafka_topic_partitions,
            replication_factor=settings.kafka_replication_factor,
            topic_configs={RETENTION_MS: str(settings.topic_retention_ms)},
        )
        for name in names
    ]
    response = await admin.create_topics(new_topics)
    for name, error_code, *rest in response.topic_errors:
        if error_code and for_code(error_code) is not TopicAlreadyExistsError:
            message = rest[0] if rest else ""
            raise for_code(error_code)(f"could not create topic {name!r}: {message}")
    logger.info("created topics %s", names, extra={"event": "topics.created", "topics": names})
