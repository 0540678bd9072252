"""What each provider of a group keeps for themselves: profile, practice locations, intake form.

The provider column of the capability table: a provider edits their own, an admin any provider's.
"""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, ForeignKeyConstraint, Index, String, Text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base
from app.models.base import stamped_now, timestamp, uuid_pk


class ProviderProfile(Base):
    __tablename__ = "provider_profiles"
    __table_args__ = (Index("uq_provider_profiles_booking_slug", "booking_slug", unique=True),)

    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    license_type: Mapped[str] = mapped_column(String(16))
    display_name: Mapped[str | None] = mapped_column(String(200))
    photo_url: Mapped[str | None] = mapped_column(String(500))
    specializations: Mapped[list[str]] = mapped_column(ARRAY(String(100)), server_default="{}", default=list)
    languages: Mapped[list[str]] = mapped_column(ARRAY(String(50)), server_default="{}", default=list)
    highlights: Mapped[list[str]] = mapped_column(ARRAY(String(200)), server_default="{}", default=list)
    bio: Mapped[str | None] = mapped_column(Text)
    education: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default="[]", default=list)
    demographics: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}", default=dict)
    # C5: the public booking link, /v1/booking/{slug}.
    booking_slug: Mapped[str] = mapped_column(String(80))
    updated_at: Mapped[datetime] = stamped_now()


class PracticeLocation(Base):
    """Where a provider sees clients in person. Archived, never deleted: sessions point at them."""

    __tablename__ = "practice_locations"
    __table_args__ = (
        ForeignKeyConstraint(
            ["group_id", "provider_user_id"],
            ["provider_profiles.group_id", "provider_profiles.user_id"],
            ondelete="CASCADE",
            name="fk_practice_locations_provider_profiles",
        ),
        Index("ix_practice_locations_group_id_provider_user_id", "group_id", "provider_user_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    group_id: Mapped[uuid.UUID] = mapped_column()
    provider_user_id: Mapped[uuid.UUID] = mapped_column()
    label: Mapped[str] = mapped_column(String(100))
    address_line1: Mapped[str] = mapped_column(String(200))
    address_line2: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(2))
    postal_code: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = stamped_now()
    archived_at: Mapped[datetime | None] = timestamp()


class IntakeForm(Base):
    """A provider's individual intake form: the questions new clients answer."""

    __tablename__ = "intake_forms"
    __table_args__ = (
        ForeignKeyConstraint(
            ["group_id", "provider_user_id"],
            ["provider_profiles.group_id", "provider_profiles.user_id"],
            ondelete="CASCADE",
            name="fk_intake_forms_provider_profiles",
        ),
    )

    group_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    provider_user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    questions: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default="[]", default=list)
    updated_at: Mapped[datetime] = stamped_now()
