"""The ORM models of the shared PostgreSQL schema (only the recorder writes them)."""

from shared.models.author import Author
from shared.models.blocked_release import BlockedRelease
from shared.models.book import Book
from shared.models.download import Download
from shared.models.failed_attempt import FailedAttempt
from shared.models.metadata_correction import MetadataCorrection
from shared.models.missing_book import MissingBook
from shared.models.recorder_state import ProcessedEvent, WriterGeneration
from shared.models.series import Series
from shared.models.service_instance import ServiceInstance
from shared.models.task import Task

__all__ = [
    "Author",
    "BlockedRelease",
    "Book",
    "Download",
    "FailedAttempt",
    "MetadataCorrection",
    "MissingBook",
    "ProcessedEvent",
    "Series",
    "ServiceInstance",
    "Task",
    "WriterGeneration",
]
