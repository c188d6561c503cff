"""`make up`: the embedded stack (`devstack`) ready to use: started, migrated, topics created.

Prints the `export` lines on stdout (so `eval "$(make -s up)"` works) and a summary on
stderr.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shlex
import sys

import devstack
from ops import migration_runner
from shared import topics
from shared.messaging import ensure_topics
from shared.settings import KafkaSettings


def main() -> None:
    """Start, migrate, create topics, print the exports."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    info = devstack.up()
    os.environ["KAFKA_BOOTSTRAP_SERVERS"] = info.kafka_bootstrap
    os.environ["DATABASE_URL"] = info.database_url
    migration_runner.upgrade("head")
    created = asyncio.run(
        ensure_topics(
            KafkaSettings(kafka_bootstrap_servers=info.kafka_bootstrap), topics.ALL_TOPICS
        )
    )
    print(f"export KAFKA_BOOTSTRAP_SERVERS={shlex.quote(info.kafka_bootstrap)}")
    print(f"export DATABASE_URL={shlex.quote(info.database_url)}")
    print(
        f"Kafka {info.kafka_bootstrap} ({len(topics.ALL_TOPICS)} topics, {len(created)} new); "
        "PostgreSQL migrated to head.\n"
        'Use it from a shell with: eval "$(.venv/bin/abauto stack up)"; '
        "stop it with: make down",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
