"""Reading payouts, payments and tax summaries over HTTP; settlement on demand: rules P2, P4, P5, P6, P7, R1, R2."""

from datetime import UTC, date, datetime, timedelta

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import crypto
from app.models import AuditEvent, IdentityVerification, OutboxJob, Payout
from tests.fixtures.factories import make_group, make_user, user_headers
from tests.payouts.conftest import Cast
from tests.payouts.factories import confirmed_session_with_line, make_payout

JAN = datetime(2026, 1, 5, 15, tzinfo=UTC)


async def line(db: AsyncSession, cast: Cast, who: str, cents: int, at: datetime = JAN):
    provider = getattr(cast, who)
    client = cast.other_client if who == "colleague" else cast.client
    _, earning = await confirmed_session_with_line(
        db, group_id=cast.group.id, provider_id=provider.id, client_id=client.id, confirmed_at=at, amount_cents=cents
    )
    return earning


async def audit_actions(db: AsyncSession, action: str) -> list[AuditEvent]:
    return list(await db.scalars(select(AuditEvent).where(AuditEvent.action == action)))


async def test_payout_detail_lists_lines_and_subtotals_per_clinician(client: httpx.AsyncClient, db: AsyncSession, cast: Cast) -> None:
    # rule P6: lines (session, provider, client, amount, confirmed_at) and a subtotal per clinician; rule R2
    lines = [
        await line(db, cast, "provider", 15000),
        await line(db, cast, "provider", 12000, JAN + timedelta(hours=3)),
        await line(db, cast, "colleague", 9000),
    ]
    payout = await make_payout(db, cast.group.id, lines)
    response = await client.get(f"/v1/groups/{cast.group.id}/payouts/{payout.id}", headers=await user_headers(db, cast.admin))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["amount_cents"] == 36000 == sum(item["amount_cents"] for item in body["lines"])
    assert (body["pay_date"], body["arrives_earliest"], body["arrives_latest"]) == ("2026-02-02", "2026-02-02", "2026-02-04")
    [first] = [item for item in body["lines"] if item["amount_cents"] == 15000]
    assert first["client"]["name"] == "Casey Client" and first["provider"]["name"] == "Pat Provider"
    assert first["confirmed_at"] and first["session_id"] and first["kind"] == "session"
    subtotals = {s["provider"]["name"]: (s["amount_cents"], s["line_count"]) for s in body["subtotals"]}
    assert subtotals == {"Pat Provider": (27000, 2), "Quinn Colleague": (9000, 1)}
    [event] = await audit_actions(db, "payout.read")
    assert event.target_id == str(payout.id) and sorted(event.details["client_ids"]) == sorted({str(cast.client.id), str(cast.other_client.id)})


async def test_payout_list_pages_and_filters(client: httpx.AsyncClient, db: AsyncSession, cast: Cast) -> None:
    # rule P4, rule P7: each payout shows its pay date, arrival window and status
    first = await make_payout(db, cast.group.id, [await line(db, cast, "provider", 100)], status="paid")
    second = await make_payout(db, cast.group.id, [await line(db, cast, "provider", 200, datetime(2026, 1, 20, 15, tzinfo=UTC))])
    headers = await user_headers(db, cast.owner)
    page = (await client.get(f"/v1/groups/{cast.group.id}/payouts", params={"limit": 1}, headers=headers)).json()
    assert len(page["items"]) == 1 and page["next_cursor"]
    rest = (await client.get(f"/v1/groups/{cast.group.id}/payouts", params={"limit": 1, "cursor": page["next_cursor"]}, headers=headers)).json()
    assert {page["items"][0]["id"], rest["items"][0]["id"]} == {str(first.id), str(second.id)}
    paid = (await client.get(f"/v1/groups/{cast.group.id}/payouts", params={"status": "paid"}, headers=headers)).json()
    assert [p["id"] for p in paid["items"]] == [str(first.id)] and paid["items"][0]["status"] == "paid"


async def test_another_groups_payout_is_not_found_and_providers_are_refused(client: httpx.AsyncClient, db: AsyncSession, cast: Cast) -> None:
    # rule R1: tenancy (404) and the capability table (payments: admins only, 403 for a provider)
    payout = await make_payout(db, cast.group.id, [await line(db, cast, "provider", 100)])
    stranger = await make_user(db)
    other = await make_group(db, owner=stranger)
    as_stranger = await user_headers(db, stranger)
    assert (await client.get(f"/v1/groups/{other.id}/payouts/{payout.id}", headers=as_stranger)).status_code == 404
    assert (await client.get(f"/v1/groups/{cast.group.id}/payouts/{payout.id}", headers=as_stranger)).status_code == 404
    as_provider = await user_headers(db, cast.provider)
    for path in ("payouts", f"payouts/{payout.id}", "payouts/upcoming", "payments", "tax-summaries/2026"):
        response = await client.get(f"/v1/groups/{cast.group.id}/{path}", headers=as_provider)
        assert response.status_code == 403, (path, response.text)


async def test_upcoming_shows_the_accruing_payouts_per_clinician(client: httpx.AsyncClient, db: AsyncSession, cast: Cast) -> None:
    # rule P6, rule P3: the preview of the coming payouts (the accruing ones), per pay date and clinician
    await line(db, cast, "provider", 100)
    await line(db, cast, "colleague", 50)
    await line(db, cast, "provider", 7, datetime(2026, 1, 20, 15, tzinfo=UTC))
    settled = await line(db, cast, "provider", 999, datetime(2025, 12, 5, 15, tzinfo=UTC))
    await make_payout(db, cast.group.id, [settled])  # scheduled: no longer upcoming
    body = (await client.get(f"/v1/groups/{cast.group.id}/payouts/upcoming", headers=await user_headers(db, cast.admin))).json()
    assert [(i["pay_date"], i["amount_cents"], i["line_count"]) for i in body["items"]] == [("2026-02-02", 150, 2), ("2026-02-17", 7, 1)]
    assert {s["provider"]["name"]: s["amount_cents"] for s in body["items"][0]["subtotals"]} == {"Pat Provider": 100, "Quinn Colleague": 50}
    payouts = {p["id"]: p for p in (await client.get(f"/v1/groups/{cast.group.id}/payouts", headers=await user_headers(db, cast.admin))).json()["items"]}
    assert payouts[body["items"][0]["id"]]["status"] == "accruing"  # the list shows them too, with their status


async def test_payments_tab(client: httpx.AsyncClient, db: AsyncSession, cast: Cast) -> None:
    # the seed's payments tab: payment date, amount, the client it is for, the provider; rule R2
    paid_line = await line(db, cast, "provider", 100)
    await make_payout(db, cast.group.id, [paid_line], status="paid")
    await line(db, cast, "colleague", 50, JAN + timedelta(days=20))
    headers = await user_headers(db, cast.admin)
    body = (await client.get(f"/v1/groups/{cast.group.id}/payments", params={"limit": 1}, headers=headers)).json()
    [newest] = body["items"]
    assert (newest["amount_cents"], newest["client"]["name"], newest["provider"]["name"]) == (50, "Dana Client", "Quinn Colleague")
    assert newest["payout_status"] == "accruing" and newest["payment_date"] == "2026-02-17" and newest["payout_id"]
    older = (await client.get(f"/v1/groups/{cast.group.id}/payments", params={"cursor": body["next_cursor"]}, headers=headers)).json()
    assert [(p["amount_cents"], p["payout_status"], p["payment_date"]) for p in older["items"]] == [(100, "paid", "2026-02-02")]
    assert older["next_cursor"] is None
    assert len(await audit_actions(db, "payment.list_read")) == 2


async def test_tax_summary_is_under_the_owners_identity(client: httpx.AsyncClient, db: AsyncSession, cast: Cast) -> None:
    # rule P2: one year's paid total under the owner's tax identity, per clinician
    db.add(IdentityVerification(
        group_id=cast.group.id, legal_name="Olive Owner", tax_id_last4="6789", status="verified",
        date_of_birth_encrypted=crypto.encrypt("1980-01-01", purpose="date_of_birth"),
        tax_id_encrypted=crypto.encrypt("123456789", purpose="tax_id"),
    ))
    paid = await make_payout(db, cast.group.id, [await line(db, cast, "provider", 1000), await line(db, cast, "colleague", 500)], status="paid")
    unpaid = await make_payout(db, cast.group.id, [await line(db, cast, "provider", 7, datetime(2026, 1, 20, 15, tzinfo=UTC))], status="in_transit")
    last_year = await make_payout(db, cast.group.id, [await line(db, cast, "provider", 3, datetime(2025, 12, 20, 15, tzinfo=UTC))], status="paid")
    await db.execute(update(Payout).where(Payout.id == paid.id).values(paid_at=datetime(2026, 2, 2, 15, tzinfo=UTC)))
    # Paid at 03:00 UTC on 1 January: still 31 December in New York, so last year's.
    await db.execute(update(Payout).where(Payout.id == last_year.id).values(paid_at=datetime(2026, 1, 1, 3, tzinfo=UTC)))
    assert unpaid.status == "in_transit"
    body = (await client.get(f"/v1/groups/{cast.group.id}/tax-summaries/2026", headers=await user_headers(db, cast.owner))).json()
    assert body["payee"] == {"legal_name": "Olive Owner", "tax_id_last4": "6789", "verification_status": "verified"}
    assert (body["total_paid_cents"], body["payout_count"]) == (1500, 1)
    assert {c["provider"]["name"]: c["amount_cents"] for c in body["clinicians"]} == {"Pat Provider": 1000, "Quinn Colleague": 500}
    earlier = (await client.get(f"/v1/groups/{cast.group.id}/tax-summaries/2025", headers=await user_headers(db, cast.owner))).json()
    assert earlier["total_paid_cents"] == 3


async def test_staff_queue_a_settlement(client: httpx.AsyncClient, db: AsyncSession, cast: Cast) -> None:
    # rule P5: on demand, staff only; the job goes through the outbox
    staff = await make_user(db, is_staff=True)
    response = await client.post("/v1/ops/settlements", json={"pay_date": "2026-02-02"}, headers=await user_headers(db, staff))
    assert response.status_code == 202, response.text
    assert response.json()["pay_date"] == "2026-02-02"
    [job] = list(await db.scalars(select(OutboxJob).where(OutboxJob.function == "settle")))
    assert job.args == ["2026-02-02"] and job.job_id == response.json()["job_id"]
    without_body = await client.post("/v1/ops/settlements", headers=await user_headers(db, staff))
    assert without_body.status_code == 202 and without_body.json()["pay_date"] is None
    refused = await client.post("/v1/ops/settlements", json={}, headers=await user_headers(db, cast.owner))
    assert refused.status_code == 403
    assert date.fromisoformat(response.json()["pay_date"]) == date(2026, 2, 2)
