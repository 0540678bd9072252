"""Demo data for `caseload dev`, seeded when the database has no users.

Each feature adds its part here: the demo group and its people, then clients and sessions.
Every demo account is verified and shares one password, so a newcomer can log in as each role.
"""

import uuid
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.clients.readiness import CURRENT_FORM_VERSIONS
from app.clients.service import enroll
from app.config import get_settings
from app.core import crypto
from app.core.db import Database
from app.memberships.service import ensure_membership, make_provider
from app.models import (
    Acknowledgement,
    AdminGrant,
    BillingMethod,
    CancellationPolicy,
    Client,
    Group,
    InsurancePolicy,
    Membership,
    Rate,
    TherapySession,
    User,
)
from app.onboarding.service import MEMBER_ID
from app.users.service import create_user

DEMO_PASSWORD = "demo-password-2026"
DOMAIN = "demo.caseload.example"
# (email local part, first, last, roles, license type)
PEOPLE = [
    ("owner", "Dana", "Reyes", {"owner", "provider"}, "LCSW"),
    ("admin", "Alex", "Morgan", {"admin"}, None),
    ("provider-admin", "Priya", "Shah", {"admin", "provider"}, "PsyD"),
    ("provider", "Sam", "Okafor", {"provider"}, "LPC"),
    ("provider2", "Lee", "Park", {"provider"}, "LMFT"),
]
# Clients in every onboarding state (C4), on Sam's roster: (first, last, billing, steps done)
CLIENTS = [
    ("Jamie", "New", "insurance", set()),
    ("Robin", "Verified", "insurance", {"verified"}),
    ("Taylor", "Insured", "insurance", {"verified", "insurance"}),
    ("Morgan", "Billing", "private_pay", {"verified", "billing"}),
    ("Casey", "Ready", "insurance", {"verified", "insurance", "billing", "forms"}),
    ("Riley", "Private", "private_pay", {"verified", "billing", "forms"}),
]
# Group default rates, integer cents: (CPT code, private pay, insurance contracted rate)
RATES = [("90791", 20000, 15500), ("90834", 15000, 11000), ("90837", 18000, 13500), ("90847", 17000, 12500)]


async def seed_if_empty(database_url: str) -> list[str] | None:
    """Seed the demo group; returns how to log in, or None when the database already had data."""
    database = Database(database_url, get_settings())
    try:
        async with database.sessionmaker() as db:
            if await db.scalar(select(func.count()).select_from(User)):
                return None
            group = Group(name="Demo Group Practice", time_zone="America/New_York")
            db.add(group)
            await db.flush()
            logins = []
            for local, first, last, roles, license_type in PEOPLE:
                email = f"{local}@{DOMAIN}"
                user = await create_user(
                    db, email=email, password=DEMO_PASSWORD, first_name=first, last_name=last, verified=True
                )
                if "owner" in roles:
                    db.add(Membership(group_id=group.id, user_id=user.id, is_owner=True))
                    await db.flush()
                if "provider" in roles:
                    await make_provider(db, group, user, license_type or "Other")
                if "admin" in roles:
                    db.add(AdminGrant(group_id=group.id, user_id=user.id, status="active", activated_at=func.now()))
                    await ensure_membership(db, group.id, user.id, is_admin=True)
                logins.append(f"{email} ({', '.join(sorted(roles))})")
            sam = await db.scalar(select(User).where(User.email == f"provider@{DOMAIN}"))
            assert sam is not None
            for first, last, billing, done in CLIENTS:
                logins.append(await _demo_client(db, group.id, sam.id, first, last, billing, done))
            db.add_all(Rate(group_id=group.id, service_code=code, private_pay_cents=private, insurance_cents=insurance) for code, private, insurance in RATES)
            db.add(CancellationPolicy(group_id=group.id, window_hours=24, fee_cents=7500, effective_from=func.now()))
            await db.flush()
            await _demo_sessions(db, group, sam.id)
            await _demo_availability(db, group)
            await db.commit()
            return [*logins, f"password for all: {DEMO_PASSWORD}"]
    finally:
        await database.close()


# Weekly hours (S9): (email local part, provider's zone, weekdays, start hour, end hour). Sam works from Chicago.
HOURS = [
    ("owner", "America/New_York", range(0, 4), 9, 17),
    ("provider-admin", "America/New_York", range(1, 5), 12, 20),
    ("provider", "America/Chicago", range(0, 5), 8, 16),
    ("provider2", "America/Los_Angeles", (0, 2, 4), 10, 18),
]


async def _demo_availability(db: AsyncSession, group: Group) -> None:
    """Telehealth hours for every demo provider, a New York license each (the demo clients' state is unset), and
    the booking settings' defaults written out, so open slots and the booking link show times at once."""
    from datetime import date

    from app.models import BookingSettings, ProviderAvailability, ProviderLicense, WeeklyHours

    db.add(BookingSettings(group_id=group.id, minimum_notice_minutes=1440, horizon_days=60, therapy_minutes=50,
                           consultation_minutes=15, buffer_minutes=10))
    for local, zone, weekdays, start, end in HOURS:
        user_id = await db.scalar(select(User.id).where(User.email == f"{local}@{DOMAIN}"))
        db.add(ProviderAvailability(group_id=group.id, provider_user_id=user_id, time_zone=zone))
        db.add_all(WeeklyHours(group_id=group.id, provider_user_id=user_id, weekday=day, start_time=time(start),
                               end_time=time(end), effective_from=date(2026, 1, 1)) for day in weekdays)
        db.add(ProviderLicense(group_id=group.id, provider_user_id=user_id, state="NY", license_type="LCSW",
                               number=f"NY-{local.upper()}-001", expires_on=date(2030, 12, 31)))
    await db.flush()


# A week of Sam's calendar, in every state (S1-S6): (client last name, days from today, local hour, kind, status)
SESSIONS = [
    ("Ready", -3, 10, "therapy", "confirmed"),
    ("Private", -2, 14, "therapy", "no_show"),
    ("Private", 1, 11, "therapy", "late_cancelled"),
    ("Ready", 2, 9, "therapy", "cancelled"),
    ("Ready", 1, 10, "therapy", "scheduled"),
    ("New", 2, 9, "intake", "scheduled"),
    ("Private", 3, 15, "therapy", "scheduled"),
    ("Ready", -1, 16, "therapy", "scheduled"),  # took place, waiting to be confirmed
]


async def _demo_sessions(db: AsyncSession, group: Group, provider_id: uuid.UUID) -> None:
    from app.payouts import earnings
    from app.payouts.schedule import schedule_for
    from app.practice.service import cancellation_policy_at

    tz = ZoneInfo(group.time_zone)
    now = datetime.now(UTC)
    today = now.astimezone(tz).date()
    policy = await cancellation_policy_at(db, group.id, now)
    clients = {c.last_name: c for c in await db.scalars(select(Client).where(Client.group_id == group.id))}
    for last, days, hour, kind, status in SESSIONS:
        starts_at = datetime.combine(today + timedelta(days=days), time(hour), tz).astimezone(UTC)
        minutes = group.intake_session_minutes if kind == "intake" else 50
        session = TherapySession(
            group_id=group.id, provider_user_id=provider_id, client_id=clients[last].id, kind=kind, starts_at=starts_at,
            duration_minutes=minutes, ends_at=starts_at + timedelta(minutes=minutes), telehealth=True, status=status,
            cancellation_policy_id=policy.id if policy else None, created_by_user_id=provider_id,
        )
        if status == "confirmed":
            schedule = schedule_for(now, tz)
            session.confirmed_at, session.confirmed_by_user_id = now, provider_id
            session.service_date, session.service_code, session.diagnosis_code = starts_at.astimezone(tz).date(), "90837", "F41.1"
            session.period_date, session.pay_date = schedule.period_date, schedule.pay_date
        elif status in ("cancelled", "late_cancelled"):
            session.cancelled_at, session.cancelled_by_user_id = now, provider_id
            session.cancelled_by = "client" if status == "late_cancelled" else "provider"
            session.late_cancellation_fee_cents = policy.fee_cents if status == "late_cancelled" and policy else None
        elif status == "no_show":
            session.no_show_at, session.no_show_by_user_id = starts_at + timedelta(minutes=15), provider_id
        db.add(session)
        await db.flush()
        if status == "confirmed":
            await earnings.record_session_earning(db, session)
        elif status == "late_cancelled":
            await earnings.record_late_cancellation_fee(db, session)
    await _demo_series(db, group, provider_id, clients["Ready"].id, datetime.combine(today + timedelta(days=7), time(13), tz))


async def _demo_series(db: AsyncSession, group: Group, provider_id: uuid.UUID, client_id: uuid.UUID, first: datetime) -> None:
    """S11: a weekly series of twelve from a week today, at the same local hour each week."""
    from app.sessions.recurrence import occurrences

    series_id = uuid.uuid4()
    for starts_at in occurrences(first, group.time_zone, 1, count=12, until=None):
        db.add(TherapySession(
            group_id=group.id, provider_user_id=provider_id, client_id=client_id, kind="therapy", starts_at=starts_at,
            duration_minutes=50, ends_at=starts_at + timedelta(minutes=50), telehealth=True, status="scheduled",
            created_by_user_id=provider_id, series_id=series_id,
        ))
    await db.flush()


async def _demo_client(
    db: AsyncSession, group_id: uuid.UUID, provider_id: uuid.UUID, first: str, last: str, billing: str, done: set[str]
) -> str:
    email = f"client.{last.lower()}@{DOMAIN}"
    user = await create_user(
        db, email=email, password=DEMO_PASSWORD, first_name=first, last_name=last, verified="verified" in done
    )
    await enroll(db, group_id=group_id, user=user, provider_user_id=provider_id, billing_type=billing, added_by=provider_id)
    if "insurance" in done:
        db.add(InsurancePolicy(
            user_id=user.id, company="Demo Health Plan", member_id_encrypted=crypto.encrypt("DEMO12345678", purpose=MEMBER_ID),
            member_id_last4="5678", copay_cents=2500,
        ))
    if "billing" in done:
        db.add(BillingMethod(user_id=user.id, processor_token="tok_demo_visa", brand="visa", last4="4242", exp_month=12, exp_year=2030))
    if "forms" in done:
        db.add_all(Acknowledgement(user_id=user.id, document=doc, version=version) for doc, version in CURRENT_FORM_VERSIONS.items())
    await db.flush()
    return f"{email} (client of Sam: {', '.join(sorted(done)) or 'nothing done yet'})"
