"""Booking a first session through the link: rules S10, S9, S13, C5, A10, and the practice's booking settings
(age range, phone consultations first, intake length)."""

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.config import get_settings
from app.memberships.service import make_provider
from app.models import Client, Group, ProviderLicense, ProviderProfile, TherapySession, User, WeeklyHours
from app.models import ProviderAvailability
from tests.booking.test_booking import roster_of, signup_body
from tests.fixtures.clock import Clock, freeze
from tests.fixtures.factories import make_group, make_user, unique_email, user_headers
from tests.fixtures.mail import mails_to

NOW = datetime(2027, 3, 10, 15, 0, tzinfo=UTC)  # Wednesday, 10:00 in New York
MONDAY_9 = "2027-03-15T13:00:00Z"  # 09:00 EDT
MONDAY_10 = "2027-03-15T14:00:00Z"
WINDOW = {"from": "2027-03-15T00:00:00Z", "to": "2027-03-16T00:00:00Z"}


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return freeze(monkeypatch, NOW)


@pytest.fixture
async def group(db: AsyncSession) -> Group:
    return await make_group(db, name="Link Practice", time_zone="America/New_York")


@pytest.fixture
async def provider(db: AsyncSession, group: Group) -> User:
    user = await make_user(db, first_name="Lin", last_name="Provider", email=unique_email("lin"))
    await make_provider(db, group, user, "LCSW")
    await open_mondays(db, group, user)
    return user


async def open_mondays(db: AsyncSession, group: Group, user: User) -> None:
    from datetime import date, time

    db.add(ProviderAvailability(group_id=group.id, provider_user_id=user.id, time_zone="America/New_York"))
    db.add(WeeklyHours(group_id=group.id, provider_user_id=user.id, weekday=0, start_time=time(9), end_time=time(12),
                       effective_from=date(2027, 1, 1)))
    await db.flush()


@pytest.fixture
async def slug(db: AsyncSession, group: Group, provider: User) -> str:
    profile = await db.get(ProviderProfile, (group.id, provider.id))
    return profile.booking_slug


def book_body(**overrides) -> dict:
    return signup_body(**{"starts_at": MONDAY_9, **overrides})


async def test_the_link_shows_intake_slots_of_the_intake_length(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, slug: str, frozen: Clock
) -> None:
    # rule S10, S9: intake length drives intake slots; UTC with the provider's zone echoed
    group.intake_session_minutes = 90
    await db.flush()
    response = await client.get(f"/v1/booking/{slug}/slots", params=WINDOW)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["kind"] == "intake" and body["offered_kinds"] == ["intake"] and body["slot_minutes"] == 90
    assert body["time_zone"] == "America/New_York"
    assert [s["starts_at"] for s in body["slots"]] == [MONDAY_9, "2027-03-15T14:30:00Z"]
    assert (await client.get("/v1/booking/nobody-here/slots", params=WINDOW)).status_code == 404
    refused = await client.get(f"/v1/booking/{slug}/slots", params={**WINDOW, "kind": "consultation"})
    assert refused.status_code == 422 and refused.json()["code"] == "kind_not_offered"


async def test_a_new_client_books_their_first_session(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, slug: str, frozen: Clock
) -> None:
    # rule S10, C5: account, roster and intake in one go; A10: the answer is the same as for a known email
    body = book_body(telehealth_state=None)
    response = await client.post(f"/v1/booking/{slug}/book", json=body)
    assert response.status_code == 202, response.text
    [person] = await roster_of(db, provider)
    session = await db.scalar(select(TherapySession).where(TherapySession.client_id == person.id))
    assert session.kind == "intake" and session.starts_at.isoformat() == "2027-03-15T13:00:00+00:00"
    assert session.duration_minutes == 60 and session.telehealth
    assert [m.template for m in await mails_to(db, body["email"])] == ["verify_email"]
    # the slot is gone
    slots = (await client.get(f"/v1/booking/{slug}/slots", params=WINDOW)).json()["slots"]
    assert MONDAY_9 not in [s["starts_at"] for s in slots]
    # someone else asking for it: 409 slot_taken with the next open slots
    taken = await client.post(f"/v1/booking/{slug}/book", json=book_body())
    assert taken.status_code == 409 and taken.json()["code"] == "slot_taken"
    assert [s["starts_at"] for s in taken.json()["next_slots"]][:2] == [MONDAY_10, "2027-03-15T15:00:00Z"]
    # a known email gets the same 202 and a mail, and nothing is booked for it
    known = await client.post(f"/v1/booking/{slug}/book", json={**book_body(starts_at=MONDAY_10), "email": body["email"]})
    assert known.status_code == 202 and known.json() == response.json()
    assert await db.scalar(select(func.count()).select_from(TherapySession).where(TherapySession.group_id == group.id)) == 1


async def test_a_logged_in_person_books_as_themselves(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, slug: str, frozen: Clock
) -> None:
    # rule S10: 201 with the session; the provider cannot book their own link
    person = await make_user(db, first_name="Kim", last_name="Client")
    headers = await user_headers(db, person)
    body = {"billing_type": "private_pay", "starts_at": MONDAY_10}
    response = await client.post(f"/v1/booking/{slug}/book", json=body, headers=headers)
    assert response.status_code == 201, response.text
    booked = response.json()
    assert booked["kind"] == "intake" and booked["starts_at"] == MONDAY_10 and booked["telehealth"] is True
    client_row = await db.get(Client, booked["client_id"])
    assert client_row.user_id == person.id
    own = await client.post(f"/v1/booking/{slug}/book", json={**body, "starts_at": MONDAY_9},
                            headers=await user_headers(db, provider))
    assert own.status_code == 409 and own.json()["code"] == "own_booking_link"


async def test_not_a_slot_is_refused(client: httpx.AsyncClient, slug: str, frozen: Clock) -> None:
    # rule S9, S10: outside the hours, off the grid, or within the notice
    for starts_at in ("2027-03-15T17:00:00Z", "2027-03-15T13:10:00Z", "2027-03-11T14:00:00Z"):
        response = await client.post(f"/v1/booking/{slug}/book", json=book_body(starts_at=starts_at))
        assert response.status_code == 409 and response.json()["code"] == "slot_taken", starts_at


async def test_the_age_range_is_checked(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, slug: str, frozen: Clock
) -> None:
    # the practice's client age range: a refusal naming it
    group.client_age_min, group.client_age_max = 18, 64
    await db.flush()
    missing = await client.post(f"/v1/booking/{slug}/book", json=book_body())
    assert missing.status_code == 422 and missing.json()["code"] == "date_of_birth_required"
    young = await client.post(f"/v1/booking/{slug}/book", json=book_body(date_of_birth="2009-03-11"))  # 17 until tomorrow
    assert young.status_code == 422 and young.json()["code"] == "outside_age_range"
    assert "18 to 64" in young.json()["detail"] and young.json()["age_min"] == 18
    assert await roster_of(db, provider) == []
    ok = await client.post(f"/v1/booking/{slug}/book", json=book_body(date_of_birth="2009-03-10"))  # 18 today
    assert ok.status_code == 202, ok.text


async def test_phone_consultations_first(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, slug: str, frozen: Clock
) -> None:
    # "default to phone consults": the link offers a short phone consultation first; it is never billed
    group.booking_preferences = {"default_to_phone_consults": True}
    await db.flush()
    slots = (await client.get(f"/v1/booking/{slug}/slots", params=WINDOW)).json()
    assert slots["kind"] == "consultation" and slots["offered_kinds"] == ["consultation", "intake"]
    assert slots["slot_minutes"] == 15 and len(slots["slots"]) == 12
    response = await client.post(f"/v1/booking/{slug}/book", json=book_body(kind="consultation"))
    assert response.status_code == 202, response.text
    [person] = await roster_of(db, provider)
    session = await db.scalar(select(TherapySession).where(TherapySession.client_id == person.id))
    assert session.kind == "consultation" and session.duration_minutes == 15 and session.cancellation_policy_id is None


async def test_telehealth_needs_a_license_in_the_persons_state(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, slug: str, frozen: Clock
) -> None:
    # rule S13
    params = {**WINDOW, "state": "CA"}
    listed = (await client.get(f"/v1/booking/{slug}/slots", params=params)).json()
    assert listed["slots"] == [] and listed["restrictions"][0]["code"] == "not_licensed_in_state"
    refused = await client.post(f"/v1/booking/{slug}/book", json=book_body(telehealth_state="CA"))
    assert refused.status_code == 409 and refused.json()["code"] == "not_licensed_in_state"
    assert await roster_of(db, provider) == []
    db.add(ProviderLicense(group_id=group.id, provider_user_id=provider.id, state="CA", license_type="LCSW", number="1",
                           expires_on=datetime(2028, 1, 1).date()))
    await db.flush()
    assert len((await client.get(f"/v1/booking/{slug}/slots", params=params)).json()["slots"]) == 3
    booked = await client.post(f"/v1/booking/{slug}/book", json=book_body(telehealth_state="CA"))
    assert booked.status_code == 202
    [person] = await roster_of(db, provider)
    assert person.telehealth_state == "CA"


async def test_bookings_are_throttled_per_address(
    client: httpx.AsyncClient, slug: str, frozen: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # like sign-ups: per address, 429 with Retry-After
    monkeypatch.setattr(get_settings(), "booking_signups_per_address", 2)
    for _ in range(2):
        await client.post(f"/v1/booking/{slug}/book", json=book_body())
    refused = await client.post(f"/v1/booking/{slug}/book", json=book_body())
    assert refused.status_code == 429 and refused.json()["code"] == "too_many_bookings" and refused.headers["retry-after"]


async def test_concurrent_bookings_of_one_slot_end_in_one(live_client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    # rule S10 under a real race: 8 people, one slot; one booking, seven 409 slot_taken with the next slots
    async with AsyncSession(engine, expire_on_commit=False) as db:
        group = await make_group(db, name="Race Link Practice", time_zone="America/New_York")
        provider = await make_user(db, first_name="Ray", last_name="Provider")
        await make_provider(db, group, provider, "LPC")
        from datetime import time

        db.add(ProviderAvailability(group_id=group.id, provider_user_id=provider.id, time_zone="UTC"))
        db.add_all(WeeklyHours(group_id=group.id, provider_user_id=provider.id, weekday=d, start_time=time(0), end_time=time(0),
                               effective_from=datetime(2020, 1, 1).date()) for d in range(7))
        slug = (await db.get(ProviderProfile, (group.id, provider.id))).booking_slug
        await db.commit()
    starts_at = (datetime.now(UTC) + timedelta(days=3)).replace(hour=10, minute=0, second=0, microsecond=0)
    responses = await asyncio.gather(*(
        live_client.post(f"/v1/booking/{slug}/book", json=signup_body(starts_at=starts_at.isoformat().replace("+00:00", "Z")))
        for _ in range(8)
    ))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [202] + [409] * 7, [r.text for r in responses]
    for loser in (r.json() for r in responses if r.status_code == 409):
        assert loser["code"] == "slot_taken" and loser["next_slots"][0]["starts_at"] == (starts_at + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    async with engine.connect() as conn:
        sessions = (await conn.execute(text("SELECT count(*) FROM sessions WHERE group_id = :g"), {"g": group.id})).scalar_one()
        clients = (await conn.execute(text("SELECT count(*) FROM clients WHERE group_id = :g"), {"g": group.id})).scalar_one()
    assert sessions == 1 and clients == 1  # the losers' accounts and roster entries went with their transactions
