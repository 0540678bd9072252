"""When providers work (S9), where they are licensed (S13), and the group's booking settings.

Weekly hours are wall-clock times in the provider's own IANA zone (kept once per provider), so a
provider in Chicago of a New York practice says "9 to 5" and means Chicago's; open slots are computed
from them in `app/availability/slots.py`.
"""

import uuid
from datetime import date, datetime, time

from sqlalchemy import CheckConstraint, Date, ForeignKey, ForeignKeyConstraint, Index, Integer, SmallInteger, String, Time
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base
from app.models.base import stamped_now, timestamp, uuid_pk


def _provider_key(table: str) -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["group_id", "provider_user_id"],
        ["provider_profiles.group_id", "provider_profiles.user_id"],
        ondelete="CASCADE",
        name=f"fk_{table}_provider_profiles",
    )


class ProviderAvailability(Base):
    """One row per provider: the zone their weekly hours are in."""

    __tablename__ = "provider_availability"
    __table_args__ = (_provider_key("provider_availability"),)

    group_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    provider_user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    time_zone: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = stamped_now()


class WeeklyHours(Base):
    __tablename__ = "provider_weekly_hours"
    __table_args__ = (
        _provider_key("provider_weekly_hours"),
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),
        CheckConstraint("end_time = '00:00' OR end_time > start_time", name="span"),
        CheckConstraint("effective_to IS NULL OR effective_to >= effective_from", name="effective"),
        Index("ix_provider_weekly_hours_group_id_provider_user_id", "group_id", "provider_user_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    group_id: Mapped[uuid.UUID] = mapped_column()
    provider_user_id: Mapped[uuid.UUID] = mapped_column()
    weekday: Mapped[int] = mapped_column(SmallInteger)  # 0 Monday .. 6 Sunday
    start_time: Mapped[time] = mapped_column(Time)
    end_time: Mapped[time] = mapped_column(Time)  # 00:00: midnight at the end of the day
    # None: telehealth; else one of the provider's practice locations.
    location_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("practice_locations.id", ondelete="CASCADE"))
    effective_from: Mapped[date] = mapped_column(Date)
    effective_to: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = stamped_now()


class TimeOff(Base):
    __tablename__ = "provider_time_off"
    __table_args__ = (
        _provider_key("provider_time_off"),
        CheckConstraint("ends_at > starts_at", name="span"),
        Index("ix_provider_time_off_group_id_provider_user_id_starts_at", "group_id", "provider_user_id", "starts_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    group_id: Mapped[uuid.UUID] = mapped_column()
    provider_user_id: Mapped[uuid.UUID] = mapped_column()
    starts_at: Mapped[datetime] = timestamp(nullable=False)
    ends_at: Mapped[datetime] = timestamp(nullable=False)
    all_day: Mapped[bool] = mapped_column()
    # All-day time off keeps the local dates it was given, shown back as entered.
    first_day: Mapped[date | None] = mapped_column(Date)
    last_day: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = stamped_now()
    created_by_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class ProviderLicense(Base):
    """S13: a license to practise in one US state."""

    __tablename__ = "provider_licenses"
    __table_args__ = (
        _provider_key("provider_licenses"),
        Index("ix_provider_licenses_group_id_provider_user_id_state", "group_id", "provider_user_id", "state"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    group_id: Mapped[uuid.UUID] = mapped_column()
    provider_user_id: Mapped[uuid.UUID] = mapped_column()
    state: Mapped[str] = mapped_column(String(2))
    license_type: Mapped[str] = mapped_column(String(16))
    number: Mapped[str] = mapped_column(String(40))
    expires_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = stamped_now()


class BookingSettings(Base):
    """How a group's open slots are cut (S9). No row: the defaults below."""

    __tablename__ = "group_booking_settings"
    __table_args__ = (
        CheckConstraint("minimum_notice_minutes BETWEEN 0 AND 43200", name="notice"),
        CheckConstraint("horizon_days BETWEEN 1 AND 365", name="horizon"),
        CheckConstraint("therapy_minutes BETWEEN 15 AND 240", name="therapy"),
        CheckConstraint("consultation_minutes BETWEEN 5 AND 60", name="consultation"),
        CheckConstraint("buffer_minutes BETWEEN 0 AND 120", name="buffer"),
    )

    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True)
    minimum_notice_minutes: Mapped[int] = mapped_column(Integer, default=1440)
    horizon_days: Mapped[int] = mapped_column(SmallInteger, default=60)
    therapy_minutes: Mapped[int] = mapped_column(SmallInteger, default=50)
    consultation_minutes: Mapped[int] = mapped_column(SmallInteger, default=15)
    buffer_minutes: Mapped[int] = mapped_column(SmallInteger, default=0)
    updated_at: Mapped[datetime] = stamped_now()
