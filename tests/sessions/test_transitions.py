"""Confirming, correcting, cancelling, no-shows: rules S3, S4, S6, C4, P6."""

from datetime import date, timedelta

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import AuditEvent, CancellationPolicy, Client, EarningLine, Group, TherapySession, User
from app.payouts.schedule import schedule_for
from tests.sessions.conftest import NOW, Clock, at, book, make_client, sessions_url

DETAILS = {"service_code": "90837", "diagnosis_code": "F41.1"}


async def booked(http: httpx.AsyncClient, group: Group, headers: dict, client: Client, starts_at, frozen: Clock, **overrides) -> dict:
    """Book as if `starts_at` were in the future (booked a day before)."""
    now = frozen.now
    frozen.set(starts_at - timedelta(days=1))
    response = await book(http, group, headers, client, starts_at, **overrides)
    frozen.set(now)
    assert response.status_code == 201, response.text
    return response.json()


async def lines_of(db: AsyncSession, session_id: str) -> list[EarningLine]:
    stmt = select(EarningLine).where(EarningLine.session_id == session_id).order_by(EarningLine.kind)
    return list(await db.scalars(stmt.execution_options(populate_existing=True)))


async def test_confirming_a_session(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User,
                                    client_record: Client, frozen: Clock, as_user) -> None:
    # rules S3, S6, P6
    headers = await as_user(provider)
    session = await booked(client, group, headers, client_record, at("2027-03-09T23:30:00-05:00"), frozen)  # 04:30Z on the 10th
    response = await client.post(sessions_url(group, session["id"], "confirm"), json={**DETAILS, "diagnosis_code": "f411"}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "confirmed"
    confirmation = body["confirmation"]
    expected = schedule_for(NOW, "America/New_York")
    assert confirmation["service_date"] == "2027-03-09"  # the local day, not the UTC one
    assert confirmation["service_code"] == "90837" and confirmation["diagnosis_code"] == "F41.1"
    assert confirmation["pay_date"] == expected.pay_date.isoformat() == "2027-03-31"
    assert (confirmation["arrives_earliest"], confirmation["arrives_latest"]) == ("2027-03-31", "2027-04-02")
    assert confirmation["confirmed_at"] == "2027-03-10T15:00:00Z" and confirmation["editable_until"] == "2027-03-12T15:00:00Z"
    [line] = await lines_of(db, session["id"])
    assert (line.kind, line.amount_cents, line.billing_type, line.pay_date) == ("session", 18000, "private_pay", date(2027, 3, 31))
    stored = await db.get(TherapySession, session["id"], populate_existing=True)
    assert stored.confirmed_by_user_id == provider.id and stored.period_date == date(2027, 3, 31)
    again = await client.post(sessions_url(group, session["id"], "confirm"), json=DETAILS, headers=headers)
    assert again.status_code == 409 and again.json()["code"] == "session_not_scheduled"
    actions = await db.scalars(select(AuditEvent.action).where(AuditEvent.target_id == session["id"]).order_by(AuditEvent.id))
    assert list(actions) == ["session.created", "session.confirmed"]


async def test_confirm_needs_the_session_to_have_started(client: httpx.AsyncClient, group: Group, provider: User,
                                                         client_record: Client, frozen: Clock, as_user) -> None:
    # rule S3
    headers = await as_user(provider)
    session = await booked(client, group, headers, client_record, NOW + timedelta(minutes=1), frozen)
    early = await client.post(sessions_url(group, session["id"], "confirm"), json=DETAILS, headers=headers)
    assert early.status_code == 409 and early.json()["code"] == "session_not_started"
    frozen.set(NOW + timedelta(minutes=1))
    assert (await client.post(sessions_url(group, session["id"], "confirm"), json=DETAILS, headers=headers)).status_code == 200


async def test_confirmation_window_counts_local_days(client: httpx.AsyncClient, group: Group, provider: User,
                                                     client_record: Client, frozen: Clock, as_user) -> None:
    # rule S3: up to 30 days after, in the group's time zone (Feb 1 local is Feb 2 in UTC)
    headers = await as_user(provider)
    day30 = await booked(client, group, headers, client_record, at("2027-02-01T23:00:00-05:00"), frozen)
    day31 = await booked(client, group, headers, client_record, at("2027-02-01T21:00:00-05:00"), frozen)
    frozen.set(at("2027-03-03T23:59:00-05:00"))  # day 30 locally (day 29 in UTC dates)
    assert (await client.post(sessions_url(group, day30["id"], "confirm"), json=DETAILS, headers=headers)).status_code == 200
    frozen.set(at("2027-03-04T00:00:30-05:00"))  # day 31 locally (still day 30 counted in UTC dates)
    late = await client.post(sessions_url(group, day31["id"], "confirm"), json=DETAILS, headers=headers)
    assert late.status_code == 409 and late.json()["code"] == "confirmation_window_closed"


async def test_a_client_not_ready_blocks_confirmation_and_lists_what_is_missing(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, frozen: Clock, as_user
) -> None:
    # rules S3, C4
    headers = await as_user(provider)
    new_client = await make_client(db, group, provider, ready=False, billing_type="insurance", name="New")
    session = await booked(client, group, headers, new_client, NOW - timedelta(hours=2), frozen)
    refused = await client.post(sessions_url(group, session["id"], "confirm"), json=DETAILS, headers=headers)
    assert refused.status_code == 409
    assert refused.json()["code"] == "client_not_ready"
    assert refused.json()["missing"] == ["account_verified", "insurance_on_file", "billing_method_on_file",
                                         "billing_policy_acknowledged", "privacy_policy_acknowledged"]


async def test_admin_confirms_for_a_provider(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, admin: User,
                                             client_record: Client, frozen: Clock, as_user) -> None:
    # rule S3: admins may confirm for any provider of the group
    session = await booked(client, group, await as_user(provider), client_record, NOW - timedelta(hours=2), frozen)
    response = await client.post(sessions_url(group, session["id"], "confirm"), json={**DETAILS, "duration_minutes": 55},
                                 headers=await as_user(admin))
    assert response.status_code == 200 and response.json()["duration_minutes"] == 55
    stored = await db.get(TherapySession, session["id"], populate_existing=True)
    assert stored.confirmed_by_user_id == admin.id


async def test_confirm_without_a_rate_is_refused(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User,
                                                 client_record: Client, frozen: Clock, as_user) -> None:
    # rule P6: the line's amount is the rate; without one, the admin must set it first
    headers = await as_user(provider)
    session = await booked(client, group, headers, client_record, NOW - timedelta(hours=2), frozen)
    refused = await client.post(sessions_url(group, session["id"], "confirm"), json={**DETAILS, "service_code": "90847"}, headers=headers)
    assert refused.status_code == 409 and refused.json()["code"] == "rate_missing"
    still = await client.get(sessions_url(group, session["id"]), headers=headers)
    assert still.json()["status"] == "scheduled" and await lines_of(db, session["id"]) == []


async def test_bad_codes_are_validation_errors(client: httpx.AsyncClient, group: Group, provider: User,
                                               client_record: Client, frozen: Clock, as_user) -> None:
    headers = await as_user(provider)
    session = await booked(client, group, headers, client_record, NOW - timedelta(hours=2), frozen)
    bad = await client.post(sessions_url(group, session["id"], "confirm"), json={"service_code": "12345", "diagnosis_code": "hello"}, headers=headers)
    assert bad.status_code == 422 and {e["field"] for e in bad.json()["errors"]} == {"body.service_code", "body.diagnosis_code"}


async def test_corrections_for_48_hours_then_locked(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User,
                                                    client_record: Client, frozen: Clock, as_user) -> None:
    # rule S3: corrections within 48 hours of confirmed_at (47h allowed, 49h refused); the unpaid line follows
    headers = await as_user(provider)
    session = await booked(client, group, headers, client_record, NOW - timedelta(hours=2), frozen)
    assert (await client.post(sessions_url(group, session["id"], "confirm"), json=DETAILS, headers=headers)).status_code == 200
    moved = await client.patch(sessions_url(group, session["id"]), json={"starts_at": NOW.isoformat()}, headers=headers)
    assert moved.status_code == 409 and moved.json()["code"] == "session_confirmed"
    frozen.set(NOW + timedelta(hours=47))
    # rule S8: a correction cannot move the service date off the session's local date
    other_day = await client.patch(sessions_url(group, session["id"]),
                                   json={"service_code": "90834", "diagnosis_code": "F32.A", "service_date": "2027-03-09"}, headers=headers)
    assert other_day.status_code == 422 and other_day.json()["code"] == "service_date_mismatch", other_day.text
    corrected = await client.patch(sessions_url(group, session["id"]),
                                   json={"service_code": "90834", "diagnosis_code": "F32.A", "service_date": "2027-03-10"}, headers=headers)
    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["confirmation"]["service_code"] == "90834"
    assert corrected.json()["confirmation"]["service_date"] == "2027-03-10"
    [line] = await lines_of(db, session["id"])
    assert (line.service_code, line.amount_cents) == ("90834", 15000)
    frozen.set(NOW + timedelta(hours=49))
    locked = await client.patch(sessions_url(group, session["id"]), json={"service_code": "90837"}, headers=headers)
    assert locked.status_code == 409 and locked.json()["code"] == "confirmation_locked"


async def test_a_paid_line_is_not_corrected(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User,
                                            client_record: Client, frozen: Clock, as_user) -> None:
    # rule P6: only the unpaid line follows a correction
    from app.models import Payout

    headers = await as_user(provider)
    session = await booked(client, group, headers, client_record, NOW - timedelta(hours=2), frozen)
    await client.post(sessions_url(group, session["id"], "confirm"), json=DETAILS, headers=headers)
    # Confirmation put the line in its period's accruing payout; settlement has since paid it.
    [line] = await lines_of(db, session["id"])
    await db.execute(update(Payout).where(Payout.id == line.payout_id).values(status="paid"))
    await client.patch(sessions_url(group, session["id"]), json={"service_code": "90834"}, headers=headers)
    [line] = await lines_of(db, session["id"])
    assert (line.service_code, line.amount_cents) == ("90837", 18000)


async def test_client_cancellation_window_edges_use_the_policy_at_booking(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, client_record: Client, frozen: Clock, as_user
) -> None:
    # rule S4: inside the booked policy's window (24h, $75) a client's cancellation is late; exactly at the edge it is not
    headers = await as_user(provider)
    edge = await booked(client, group, headers, client_record, NOW + timedelta(hours=24), frozen)
    inside = await booked(client, group, headers, client_record, NOW + timedelta(hours=26), frozen)
    # a stricter policy adopted after booking does not apply to these sessions
    db.add(CancellationPolicy(group_id=group.id, window_hours=72, fee_cents=20000, effective_from=NOW - timedelta(minutes=1)))
    await db.flush()
    on_time = await client.post(sessions_url(group, edge["id"], "cancel"), json={"by": "client", "reason": "moving"}, headers=headers)
    assert on_time.status_code == 200
    assert on_time.json()["status"] == "cancelled" and on_time.json()["cancellation"]["late_cancellation_fee_cents"] is None
    frozen.set(NOW + timedelta(hours=2, seconds=1))  # 23:59:59 before the start
    late = await client.post(sessions_url(group, inside["id"], "cancel"), json={"by": "client"}, headers=headers)
    assert late.status_code == 200
    assert late.json()["status"] == "late_cancelled"
    assert late.json()["cancellation"] == {"cancelled_at": "2027-03-10T17:00:01Z", "by": "client", "reason": None,
                                           "late_cancellation_fee_cents": 7500, "currency": "USD"}  # rule X1: money says its currency
    [line] = await lines_of(db, inside["id"])
    assert (line.kind, line.amount_cents, line.billing_type, line.provider_user_id) == ("late_cancellation_fee", 7500, "private_pay", provider.id)
    assert await lines_of(db, edge["id"]) == []


async def test_provider_cancellation_has_no_fee_and_started_sessions_cannot_be_cancelled(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, client_record: Client, frozen: Clock, as_user
) -> None:
    # rule S4
    headers = await as_user(provider)
    soon = await booked(client, group, headers, client_record, NOW + timedelta(hours=1), frozen)
    cancelled = await client.post(sessions_url(group, soon["id"], "cancel"), json={"by": "provider"}, headers=headers)
    assert cancelled.json()["status"] == "cancelled" and await lines_of(db, soon["id"]) == []
    started = await booked(client, group, headers, client_record, NOW, frozen)
    refused = await client.post(sessions_url(group, started["id"], "cancel"), json={"by": "client"}, headers=headers)
    assert refused.status_code == 409 and refused.json()["code"] == "session_started"
    again = await client.post(sessions_url(group, soon["id"], "cancel"), json={"by": "provider"}, headers=headers)
    assert again.status_code == 409 and again.json()["code"] == "session_not_scheduled"
    closed = await client.patch(sessions_url(group, soon["id"]), json={"duration_minutes": 30}, headers=headers)
    assert closed.status_code == 409 and closed.json()["code"] == "session_closed"


async def test_no_show_once_started(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User,
                                    client_record: Client, frozen: Clock, as_user) -> None:
    # rule S4: sessions are never deleted; a no-show is a status
    headers = await as_user(provider)
    session = await booked(client, group, headers, client_record, NOW + timedelta(minutes=1), frozen)
    early = await client.post(sessions_url(group, session["id"], "no-show"), headers=headers)
    assert early.status_code == 409 and early.json()["code"] == "session_not_started"
    frozen.set(NOW + timedelta(minutes=1))
    done = await client.post(sessions_url(group, session["id"], "no-show"), headers=headers)
    assert done.status_code == 200 and done.json()["status"] == "no_show" and done.json()["no_show_at"] == "2027-03-10T15:01:00Z"
    # a no-show still holds its slot
    assert (await book(client, group, headers, client_record, NOW + timedelta(minutes=1))).status_code == 409


async def test_service_date_must_be_the_sessions_local_date(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User,
                                                            client_record: Client, frozen: Clock, as_user) -> None:
    # rule S8: the service date confirmed is the session's date in the group's time zone, not the UTC one,
    # not a day in the future, not a year ago; a refusal changes nothing
    headers = await as_user(provider)
    session = await booked(client, group, headers, client_record, at("2027-03-09T23:30:00-05:00"), frozen)  # 04:30Z on the 10th
    url = sessions_url(group, session["id"], "confirm")
    for wrong in ("2027-03-10", "2027-03-19", "2019-03-09"):
        refused = await client.post(url, json={**DETAILS, "service_date": wrong}, headers=headers)
        assert refused.status_code == 422, refused.text
        problem = refused.json()
        assert problem["code"] == "service_date_mismatch" and problem["expected_service_date"] == "2027-03-09"
        assert problem["errors"][0]["field"] == "body.service_date" and wrong not in problem["detail"]
    assert (await db.get(TherapySession, session["id"], populate_existing=True)).status == "scheduled"
    assert await lines_of(db, session["id"]) == []
    confirmed = await client.post(url, json={**DETAILS, "service_date": "2027-03-09"}, headers=headers)
    assert confirmed.status_code == 200 and confirmed.json()["confirmation"]["service_date"] == "2027-03-09"
