"""Local, real infrastructure (Kafka + PostgreSQL) for tests and development.

``up()`` starts a single-node KRaft Kafka broker and a PostgreSQL cluster bound to
127.0.0.1 and returns a :class:`StackInfo`; ``down()`` stops them; ``status()`` describes them.
"""

from devstack.kafka import KafkaError
from devstack.postgres import PostgresError, PostgresNotInstalledError
from devstack.stack import StackInfo, default_state_dir, down, status, up

__all__ = [
    "KafkaError",
    "PostgresError",
    "PostgresNotInstalledError",
    "StackInfo",
    "default_state_dir",
    "down",
    "status",
    "up",
]
