"""The cast of the session tests: a practice in New York with its owner, a provider with a ready client,
a colleague with their own client, an admin who does not provide, rates and a cancellation policy, and a
clock the tests set (app/core/clock.py) so "now" rules are tested at their edges without sleeping."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from app.clients.readiness import CURRENT_FORM_VERSIONS
from app.clients.service import enroll
from app.models import (
    Acknowledgement,
    BillingMethod,
    CancellationPolicy,
    Client,
    Group,
    PracticeLocation,
    Rate,
    User,
)
from tests.fixtures.clock import Clock, freeze
from tests.fixtures.factories import make_group, make_user, user_headers

NOW = datetime(2027, 3, 10, 15, 0, tzinfo=UTC)  # a Wednesday


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return freeze(monkeypatch, NOW)


@pytest.fixture
async def owner(db: AsyncSession) -> User:
    return await make_user(db, first_name="Olive", last_name="Owner")


@pytest.fixture
async def group(db: AsyncSession, owner: User) -> Group:
    group = await make_group(db, owner=owner, name="Sessions Practice", time_zone="America/New_York")
    db.add_all([
        Rate(group_id=group.id, service_code="90837", private_pay_cents=18000, insurance_cents=13500),
        Rate(group_id=group.id, service_code="90834", private_pay_cents=15000, insurance_cents=11000),
        Rate(group_id=group.id, service_code="90791", private_pay_cents=20000, insurance_cents=15500),
        CancellationPolicy(group_id=group.id, window_hours=24, fee_cents=7500, effective_from=NOW - timedelta(days=365)),
    ])
    await db.flush()
    return group


async def make_client(
    db: AsyncSession, group: Group, provider: User, *, ready: bool = True, billing_type: str = "private_pay", name: str = "Casey"
) -> Client:
    person = await make_user(db, first_name=name, last_name="Client", verified=ready)
    client, _ = await enroll(db, group_id=group.id, user=person, provider_user_id=provider.id, billing_type=billing_type, added_by=provider.id)
    if ready:
        db.add(BillingMethod(user_id=person.id, processor_token="tok_test", brand="visa", last4="4242", exp_month=12, exp_year=2035))
        db.add_all(Acknowledgement(user_id=person.id, document=d, version=v) for d, v in CURRENT_FORM_VERSIONS.items())
        await db.flush()
    return client


@pytest.fixture
async def client_record(db: AsyncSession, group: Group, provider: User) -> Client:
    return await make_client(db, group, provider)


@pytest.fixture
async def colleagues_client(db: AsyncSession, group: Group, colleague: User) -> Client:
    return await make_client(db, group, colleague, name="Drew")


async def make_location(db: AsyncSession, group: Group, provider: User, *, archived: bool = False) -> PracticeLocation:
    location = PracticeLocation(
        group_id=group.id, provider_user_id=provider.id, label="Office", address_line1="1 Main St",
        city="Brooklyn", state="NY", postal_code="11201", archived_at=func.now() if archived else None,
    )
    db.add(location)
    await db.flush()
    return location


@pytest.fixture
def as_user(db: AsyncSession) -> Callable:
    async def headers(user: User) -> dict[str, str]:
        return await user_headers(db, user)

    return headers


def sessions_url(group: Group, *parts: object) -> str:
    return "/".join([f"/v1/groups/{group.id}/sessions", *map(str, parts)])


async def book(
    http: httpx.AsyncClient, group: Group, headers: dict[str, str], client: Client, starts_at: datetime, **overrides
) -> httpx.Response:
    body = {"client_id": str(client.id), "starts_at": starts_at.isoformat(), "kind": "therapy", "duration_minutes": 60,
            "telehealth": True, **overrides}
    return await http.post(sessions_url(group), json={k: v for k, v in body.items() if v is not None}, headers=headers)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)
