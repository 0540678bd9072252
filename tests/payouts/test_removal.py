"""G6: removing a provider: blockers listed in a 409, then the membership ends and history stays."""

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import AuditEvent, Membership, RosterEntry
from tests.fixtures.factories import user_headers
from tests.payouts.conftest import Cast
from tests.payouts.factories import confirmed_session_with_line, make_payout, make_session

JAN = datetime(2026, 1, 5, 15, tzinfo=UTC)


def removal_url(cast: Cast, user_id) -> str:
    return f"/v1/groups/{cast.group.id}/members/{user_id}/removal"


async def test_blockers_appear_and_clear(client: httpx.AsyncClient, db: AsyncSession, cast: Cast) -> None:
    # rule G6: refused while a started session is unconfirmed, a line is unpaid or a payout not yet paid
    ids = {"group_id": cast.group.id, "provider_id": cast.provider.id, "client_id": cast.client.id}
    started = await make_session(db, **ids, starts_at=datetime.now(UTC) - timedelta(hours=3))
    _, unpaid_line = await confirmed_session_with_line(db, **ids, confirmed_at=JAN, amount_cents=100)
    _, paid_line = await confirmed_session_with_line(db, **ids, confirmed_at=JAN + timedelta(days=20), amount_cents=200)
    payout = await make_payout(db, cast.group.id, [paid_line], status="in_transit")
    future = await make_session(db, **ids, starts_at=datetime.now(UTC) + timedelta(days=3))
    headers = await user_headers(db, cast.admin)

    refused = await client.post(removal_url(cast, cast.provider.id), json={"reason": "Moving away"}, headers=headers)
    assert refused.status_code == 409, refused.text
    body = refused.json()
    assert body["code"] == "removal_blocked"
    assert {(b["kind"], b["id"]) for b in body["blockers"]} == {
        ("unconfirmed_session", str(started.id)), ("unpaid_earning", str(unpaid_line.id)), ("unpaid_payout", str(payout.id)),
    }
    assert body["counts"] == {"unconfirmed_session": 1, "unpaid_earning": 1, "unpaid_payout": 1}

    # Clear them: the session is confirmed (cancelled here), the line paid, the payout paid.
    started.status, started.cancelled_at, started.cancelled_by = "cancelled", datetime.now(UTC), "client"
    await make_payout(db, cast.group.id, [unpaid_line], status="paid")
    payout.status = "paid"
    await db.flush()

    removed = await client.post(removal_url(cast, cast.provider.id), json={"reason": "Moving away"}, headers=headers)
    assert removed.status_code == 200, removed.text
    assert removed.json()["cancelled_session_ids"] == [str(future.id)] and removed.json()["archived_roster_entries"] == 1
    membership = await db.scalar(select(Membership).where(Membership.group_id == cast.group.id, Membership.user_id == cast.provider.id))
    await db.refresh(membership)
    assert membership.ended_at is not None and membership.ended_reason == "Moving away"
    await db.refresh(future)
    assert (future.status, future.cancelled_by, future.late_cancellation_fee_cents) == ("cancelled", "provider", None)
    entry = await db.scalar(select(RosterEntry).where(RosterEntry.provider_user_id == cast.provider.id))
    await db.refresh(entry)
    assert entry.archived_at is not None
    events = list(await db.scalars(select(AuditEvent.action).where(AuditEvent.target_id == str(cast.provider.id))))
    assert events == ["member.removed"]  # the refusal changed nothing (and rolled back with its request)
    # History stays readable by admins: the payout still names the provider's sessions.
    detail = await client.get(f"/v1/groups/{cast.group.id}/payouts/{payout.id}", headers=headers)
    assert detail.status_code == 200 and detail.json()["lines"][0]["provider"]["id"] == str(cast.provider.id)
    # And the removed provider no longer reaches the group.
    gone = await client.get(f"/v1/groups/{cast.group.id}/members", headers=await user_headers(db, cast.provider))
    assert gone.status_code == 404


async def test_who_may_remove_whom(client: httpx.AsyncClient, db: AsyncSession, cast: Cast) -> None:
    # rule G6: an admin, never the provider alone; the owner cannot be removed
    body = {"reason": "x"}
    as_provider = await client.post(removal_url(cast, cast.provider.id), json=body, headers=await user_headers(db, cast.provider))
    assert as_provider.status_code == 403
    as_colleague = await client.post(removal_url(cast, cast.provider.id), json=body, headers=await user_headers(db, cast.colleague))
    assert as_colleague.status_code == 403
    owner = await client.post(removal_url(cast, cast.owner.id), json=body, headers=await user_headers(db, cast.admin))
    assert owner.status_code == 409 and owner.json()["code"] == "owner_cannot_be_removed"
    self_removal = await client.post(removal_url(cast, cast.owner.id), json=body, headers=await user_headers(db, cast.owner))
    assert self_removal.status_code == 403 and self_removal.json()["code"] == "self_removal"
    not_a_provider = await client.post(removal_url(cast, cast.admin.id), json=body, headers=await user_headers(db, cast.owner))
    assert not_a_provider.status_code == 404
    ok = await client.post(removal_url(cast, cast.colleague.id), json=body, headers=await user_headers(db, cast.owner))
    assert ok.status_code == 200, ok.text
    again = await client.post(removal_url(cast, cast.colleague.id), json=body, headers=await user_headers(db, cast.owner))
    assert again.status_code == 404
    no_reason = await client.post(removal_url(cast, cast.provider.id), json={}, headers=await user_headers(db, cast.owner))
    assert no_reason.status_code == 422
