"""A consumer's lag, as `abauto_consumer_lag` shows it: for each partition assigned to it,
the partition's highwater (the offset the next message will get) minus the group's
committed offset (the next message the group has still to finish).

The highwater comes with every fetch, so measuring costs nothing but when a partition is
first assigned: its committed offset is asked of Kafka once (without one yet, the
partition's first offset), and from then on follows this consumer's own commits.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from shared.metrics import CONSUMER_LAG

logger = logging.getLogger(__name__)


class ConsumerLag:
    """Keeps one consumer's lag gauges: `group` and the topics by their wire names."""

    def __init__(self, group: str, topic_names: Mapping[str, str]) -> None:
        self._group = group
        self._topic_names = topic_names
        self._committed: dict[TopicPartition, int] = {}

    def committed(self, offsets: Mapping[TopicPartition, int]) -> None:
        """This consumer committed `offsets` (the next offset to handle, by partition)."""
        for partition, offset in offsets.items():
            if partition in self._committed:
                self._committed[partition] = offset

    async def measure(self, consumer: AIOKafkaConsumer) -> None:
        """Set the gauge of every assigned partition; drop those of partitions revoked."""
        # Read before any await: a rebalance meanwhile may take partitions away.
        highwaters = {p: consumer.highwater(p) for p in set(consumer.assignment())}
        for partition in set(self._committed) - set(highwaters):
            del self._committed[partition]
            CONSUMER_LAG.remove(*self._labels(partition))
        for partition, highwater in highwaters.items():
            if highwater is None:
                continue  # not fetched from yet
            done = self._committed.get(partition)
            if done is None:
                done = await self._first_committed(consumer, partition)
                if done is None:
                    continue
                self._committed[partition] = done
            CONSUMER_LAG.labels(*self._labels(partition)).set(max(0, highwater - done))

    async def _first_committed(
        self, consumer: AIOKafkaConsumer, partition: TopicPartition
    ) -> int | None:
        """The group's committed offset (else the partition's first), or None if Kafka
        cannot say now: measured at a later poll."""
        try:
            committed = await consumer.committed(partition)
            if committed is None:
                committed = (await consumer.beginning_offsets([partition]))[partition]
        except KafkaError as error:
            logger.debug(
                "lag of %s not measured yet: %r",
                partition,
                error,
                extra={"event": "consumer.lag_unmeasured", "topic": partition.topic},
            )
            return None
        return int(committed)

    def _labels(self, partition: TopicPartition) -> tuple[str, str, str]:
        topic = self._topic_names.get(partition.topic, partition.topic)
        return self._group, topic, str(partition.partition)
