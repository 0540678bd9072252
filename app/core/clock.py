"""The service's clock. Rules about "now" (S3, S4) read it here, so tests can move time without sleeping."""

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)
