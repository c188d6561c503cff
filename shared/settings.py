"""Settings every service shares, read from the environment and validated at start-up.

`DATABASE_URL` and `KAFKA_BOOTSTRAP_SERVERS` keep their standard names; everything else
is prefixed `ABAUTO_`. Secrets are `SecretStr` so they never reach a log line or a repr.
"""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared import topics

ASYNC_DRIVER_PREFIX = "postgresql+asyncpg://"
MS_PER_DAY = 24 * 60 * 60 * 1000


class DatabaseSettings(BaseSettings):
    """Where PostgreSQL is; the URL carries credentials, so it is a secret."""

    model_config = SettingsConfigDict(
        env_prefix="ABAUTO_", extra="ignore", hide_input_in_errors=True
    )

    database_url: SecretStr = Field(validation_alias=AliasChoices("DATABASE_URL"))
    database_pool_size: int = Field(default=5, ge=1, le=100)
    database_echo: bool = False

    @field_validator("database_url")
    @classmethod
    def _must_use_asyncpg(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith(ASYNC_DRIVER_PREFIX):
            raise ValueError(f"DATABASE_URL must start with {ASYNC_DRIVER_PREFIX!r}")
        return value


class KafkaSettings(BaseSettings):
    """Where Kafka is and how the topics this system creates are shaped."""

    model_config = SettingsConfigDict(
        env_prefix="ABAUTO_", extra="ignore", hide_input_in_errors=True
    )

    kafka_bootstrap_servers: str = Field(
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS"), min_length=3
    )
    kafka_topic_partitions: int = Field(default=3, ge=1, le=256)
    kafka_replication_factor: int = Field(default=1, ge=1, le=16)
    kafka_client_id_prefix: str = "abauto"
    kafka_topic_namespace: str = Field(
        default=topics.DEFAULT_NAMESPACE, pattern=r"^[A-Za-z0-9_-]{1,100}$"
    )
    topic_retention_days: int = Field(
        default=7, ge=1, le=3650, description="retention.ms of the system's topics"
    )

    @property
    def topic_retention_ms(self) -> int:
        """How long the system's topics keep messages, in Kafka's unit."""
        return self.topic_retention_days * MS_PER_DAY

    def topic(self, name: str) -> str:
        """The wire name of one of `shared.topics`' topics, in this namespace."""
        return topics.qualified(self.kafka_topic_namespace, name)

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _must_name_host_and_port(cls, value: str) -> str:
        for server in value.split(","):
            host, _, port = server.strip().rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"bootstrap server {server!r} is not host:port")
        return value


class ServiceSettings(DatabaseSettings, KafkaSettings):
    """The settings of one running service: database, Kafka, logs, health endpoint and
    heartbeat."""

    log_level: str = Field(default="INFO", pattern="^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$")
    health_host: str = "127.0.0.1"
    health_port: int = Field(default=0, ge=0, le=65535)
    heartbeat_interval_seconds: float = Field(
        default=30.0,
        ge=1,
        le=3600,
        description="how often the service says it is alive (and whether it is ready)",
    )
