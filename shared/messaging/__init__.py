"""Kafka plumbing: publishing events, the consume-handle-commit loop, topics, dead letters."""

from shared.messaging.consumer import (
    BatchHandler,
    ConsumerLoop,
    Delivery,
    Handler,
    Received,
    Rejected,
    RetryPolicy,
    per_event,
)
from shared.messaging.dispatch import EventHandler, dispatch
from shared.messaging.producer import EventProducer
from shared.messaging.topic_admin import ensure_topics

__all__ = [
    "BatchHandler",
    "ConsumerLoop",
    "Delivery",
    "EventHandler",
    "EventProducer",
    "Handler",
    "Received",
    "Rejected",
    "RetryPolicy",
    "dispatch",
    "ensure_topics",
    "per_event",
]
