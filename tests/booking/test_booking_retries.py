"""A booking-link sign-up retried with its Idempotency-Key: rule X2 for a caller without credentials."""

from datetime import timedelta

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import IdempotencyRecord, ProviderProfile, User
from tests.booking.test_booking import group, profile, provider, roster_of, signup_body  # noqa: F401  (fixtures)
from tests.fixtures.mail import mails_to


async def test_a_retried_sign_up_replays_and_enrols_once(client: httpx.AsyncClient, db: AsyncSession, profile: ProviderProfile, provider: User) -> None:
    # rule X2: an anonymous POST is scoped by the key alone, kept a short while
    url = f"/v1/booking/{profile.booking_slug}/signup"
    body = signup_body()
    first = await client.post(url, json=body, headers={"Idempotency-Key": "booking-retry"})
    assert first.status_code < 300, first.text
    retry = await client.post(url, json=dict(reversed(body.items())), headers={"Idempotency-Key": "booking-retry"})
    assert (retry.status_code, retry.content) == (first.status_code, first.content)
    assert retry.headers["idempotent-replayed"] == "true"
    assert len(await roster_of(db, provider)) == 1
    assert len(await mails_to(db, body["email"])) == 1
    record = await db.scalar(select(IdempotencyRecord).where(IdempotencyRecord.key == "booking-retry"))
    assert record.principal == "anonymous"
    assert record.expires_at - record.created_at <= timedelta(hours=1)
    # Another sign-up under the same key is refused, not answered with the first person's reply.
    other = await client.post(url, json=signup_body(), headers={"Idempotency-Key": "booking-retry"})
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")
    assert await db.scalar(select(func.count()).select_from(IdempotencyRecord)) == 1
