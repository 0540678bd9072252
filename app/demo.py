"""Demo data for `caseload dev`, seeded when the database has no users.

Each feature adds its part here: the demo group and its people, then clients and sessions.
Every demo account is verified and shares one password, so a newcomer can log in as each role.
"""

import uuid

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
    Group,
    InsurancePolicy,
    Membership,
    Rate,
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
            await db.commit()
            return [*logins, f"password for all: {DEMO_PASSWORD}"]
    finally:
        await database.close()


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
