"""Column helpers shared by the models."""

import uuid
from datetime import datetime

from sqlalchemy import DateTime, func
from sqlalchemy.orm import Mapped, mapped_column


def uuid_pk() -> Mapped[uuid.UUID]:
    return mapped_column(primary_key=True, default=uuid.uuid4)


def stamped_now() -> Mapped[datetime]:
    """A `timestamptz` the database fills with the transaction's time."""
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


def timestamp(nullable: bool = True) -> Mapped[datetime | None]:
    return mapped_column(DateTime(timezone=True), nullable=nullable)
