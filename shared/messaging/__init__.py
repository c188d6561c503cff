"""Kafka plumbing: publishing events, the consume-handle-commit loop, topics, dead letters."""

from shared.messaging.consumer import ConsumerLoop, Delivery, RetryPolicy
from shared.messaging.producer import EventProducer
from shared.messaging.topic_admin import ensure_topics

__all__ = ["ConsumerLoop", "Delivery", "EventProducer", "RetryPolicy", "ensure_topics"]
