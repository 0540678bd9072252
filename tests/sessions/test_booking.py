"""Booking and calendars: rules S1, S2, S5, R1, R2."""

from datetime import timedelta

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.clients.service import enroll
from app.memberships.service import make_provider
from app.models import AuditEvent, CancellationPolicy, Client, Group, RosterEntry, TherapySession, User
from tests.fixtures.factories import make_group, make_user
from tests.sessions.conftest import NOW, Clock, at, book, make_client, make_location, sessions_url

SLOT = NOW + timedelta(days=1)


async def test_booking_a_session(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User,
                                 client_record: Client, frozen: Clock, as_user) -> None:
    # rule S1: one provider, one client, start, duration, kind, telehealth; times UTC on the wire
    response = await book(client, group, await as_user(provider), client_record, at("2027-03-11T10:00:00-05:00"), duration_minutes=45)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["provider_user_id"] == str(provider.id) and body["client_id"] == str(client_record.id)
    assert body["starts_at"] == "2027-03-11T15:00:00Z" and body["ends_at"] == "2027-03-11T15:45:00Z"
    assert body["status"] == "scheduled" and body["telehealth"] is True and body["location_id"] is None
    assert body["confirmation"] is None and body["cancellation"] is None
    # rule S4: the policy in force at booking is kept with the session
    stored = await db.get(TherapySession, body["id"])
    policy = await db.scalar(select(CancellationPolicy).where(CancellationPolicy.group_id == group.id))
    assert stored.cancellation_policy_id == policy.id
    # rule R2
    events = await db.scalars(select(AuditEvent.action).where(AuditEvent.target_id == body["id"]))
    assert list(events) == ["session.created"]


async def test_naive_start_is_refused(client: httpx.AsyncClient, group: Group, provider: User, client_record: Client, as_user) -> None:
    response = await client.post(sessions_url(group), json={"client_id": str(client_record.id), "starts_at": "2027-03-11T10:00:00",
                                                             "telehealth": True}, headers=await as_user(provider))
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "body.starts_at"


async def test_place_is_telehealth_or_a_location(client: httpx.AsyncClient, group: Group, provider: User, client_record: Client, as_user) -> None:
    headers = await as_user(provider)
    neither = await book(client, group, headers, client_record, SLOT, telehealth=None)
    both = await book(client, group, headers, client_record, SLOT, location_id="00000000-0000-0000-0000-000000000001")
    assert neither.status_code == both.status_code == 422


async def test_default_durations(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User,
                                 client_record: Client, frozen: Clock, as_user) -> None:
    # rule S1: an intake's default length is the group's intake session length
    group.intake_session_minutes = 75
    await db.flush()
    headers = await as_user(provider)
    intake = await book(client, group, headers, client_record, SLOT, kind="intake", duration_minutes=None)
    assert intake.status_code == 201 and intake.json()["duration_minutes"] == 75
    therapy = await book(client, group, headers, client_record, SLOT + timedelta(hours=3), duration_minutes=None)
    assert therapy.status_code == 201 and therapy.json()["duration_minutes"] == 50


async def test_in_person_needs_one_of_the_providers_current_locations(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, colleague: User, client_record: Client, frozen: Clock, as_user
) -> None:
    # rule S1
    headers = await as_user(provider)
    mine = await make_location(db, group, provider)
    theirs = await make_location(db, group, colleague)
    archived = await make_location(db, group, provider, archived=True)
    for location in (theirs, archived):
        refused = await book(client, group, headers, client_record, SLOT, telehealth=None, location_id=str(location.id))
        assert refused.status_code == 422 and refused.json()["code"] == "invalid_location"
    ok = await book(client, group, headers, client_record, SLOT, telehealth=None, location_id=str(mine.id))
    assert ok.status_code == 201 and ok.json()["telehealth"] is False and ok.json()["location_id"] == str(mine.id)


async def test_client_must_be_on_the_providers_active_roster(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, admin: User, provider: User, colleague: User,
    client_record: Client, colleagues_client: Client, frozen: Clock, as_user,
) -> None:
    # rule S1, C7: an admin books for a provider, but only with a client of that provider's roster
    headers = await as_user(admin)
    refused = await book(client, group, headers, colleagues_client, SLOT, provider_id=str(provider.id))
    assert refused.status_code == 409 and refused.json()["code"] == "client_not_on_roster"
    entry = await db.scalar(select(RosterEntry).where(RosterEntry.client_id == client_record.id))
    entry.archived_at = func.now()
    await db.flush()
    archived = await book(client, group, headers, client_record, SLOT, provider_id=str(provider.id))
    assert archived.status_code == 409 and archived.json()["code"] == "client_not_on_roster"
    # a provider cannot even see a colleague's client (R1), nor book on a colleague's calendar
    own = await book(client, group, await as_user(provider), colleagues_client, SLOT)
    assert own.status_code == 404
    other_calendar = await book(client, group, await as_user(provider), colleagues_client, SLOT, provider_id=str(colleague.id))
    assert other_calendar.status_code == 403


async def test_back_to_back_allowed_and_a_one_minute_overlap_lists_every_conflict(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, colleague: User,
    client_record: Client, frozen: Clock, as_user,
) -> None:
    # rule S2
    headers = await as_user(provider)
    first = await book(client, group, headers, client_record, SLOT)
    assert first.status_code == 201
    back_to_back = await book(client, group, headers, client_record, SLOT + timedelta(hours=1))
    assert back_to_back.status_code == 201
    # a second client, also on the colleague's roster, with a colleague's session at the same time
    shared = await make_client(db, group, provider, name="Shared")
    person = await db.get(User, shared.user_id)
    await enroll(db, group_id=group.id, user=person, provider_user_id=colleague.id, added_by=colleague.id)
    colleague_session = await book(client, group, await as_user(colleague), shared, SLOT + timedelta(hours=2))
    assert colleague_session.status_code == 201
    # one minute into the back-to-back session (provider) and into the colleague's (client)
    overlap = await book(client, group, headers, shared, SLOT + timedelta(hours=2, minutes=-1), duration_minutes=5)
    assert overlap.status_code == 409, overlap.text
    problem = overlap.json()
    assert problem["code"] == "session_conflict"
    assert {(c["party"], c["session_id"]) for c in problem["conflicts"]} == {
        ("provider", back_to_back.json()["id"]), ("client", colleague_session.json()["id"]),
    }
    assert all(c["other_practice"] is False for c in problem["conflicts"])
    # the request's transaction survived the refused insert: the same request pattern still works
    later = await book(client, group, headers, shared, SLOT + timedelta(hours=4))
    assert later.status_code == 201


async def test_a_cancelled_session_frees_its_slot(client: httpx.AsyncClient, group: Group, provider: User,
                                                  client_record: Client, frozen: Clock, as_user) -> None:
    # rule S2: only live sessions hold a slot
    headers = await as_user(provider)
    first = await book(client, group, headers, client_record, SLOT)
    assert (await book(client, group, headers, client_record, SLOT)).status_code == 409
    cancelled = await client.post(sessions_url(group, first.json()["id"], "cancel"), json={"by": "provider"}, headers=headers)
    assert cancelled.status_code == 200
    assert (await book(client, group, headers, client_record, SLOT)).status_code == 201


async def test_a_busy_time_in_another_practice_is_shown_without_its_details(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, client_record: Client, frozen: Clock, as_user
) -> None:
    # rule S2 across groups, R1: nothing of the other practice leaks
    elsewhere = await make_group(db, name="Elsewhere")
    await make_provider(db, elsewhere, provider, "LPC")
    their_client = await make_client(db, elsewhere, provider, name="Elsewhere")
    there = await book(client, elsewhere, await as_user(provider), their_client, SLOT)
    assert there.status_code == 201
    here = await book(client, group, await as_user(provider), client_record, SLOT + timedelta(minutes=30))
    assert here.status_code == 409
    [conflict] = here.json()["conflicts"]
    assert conflict == {"party": "provider", "starts_at": "2027-03-11T15:00:00+00:00", "ends_at": "2027-03-11T16:00:00+00:00",
                        "other_practice": True}
    assert str(elsewhere.id) not in here.text and there.json()["id"] not in here.text and str(their_client.id) not in here.text


async def test_rescheduling_checks_conflicts_too(client: httpx.AsyncClient, group: Group, provider: User,
                                                client_record: Client, frozen: Clock, as_user) -> None:
    # rule S2 on reschedule
    headers = await as_user(provider)
    first = (await book(client, group, headers, client_record, SLOT)).json()
    second = (await book(client, group, headers, client_record, SLOT + timedelta(hours=2))).json()
    moved = await client.patch(sessions_url(group, second["id"]), json={"starts_at": (SLOT + timedelta(minutes=59)).isoformat()}, headers=headers)
    assert moved.status_code == 409
    assert [(c["party"], c["session_id"]) for c in moved.json()["conflicts"]] == [("provider", first["id"]), ("client", first["id"])]
    unchanged = await client.get(sessions_url(group, second["id"]), headers=headers)
    assert unchanged.json()["starts_at"] == second["starts_at"]
    ok = await client.patch(sessions_url(group, second["id"]), json={"starts_at": (SLOT + timedelta(hours=1)).isoformat(), "duration_minutes": 30},
                            headers=headers)
    assert ok.status_code == 200 and ok.json()["ends_at"] == "2027-03-11T16:30:00Z"


async def test_spring_forward_night(client: httpx.AsyncClient, group: Group, provider: User, client_record: Client, frozen: Clock, as_user) -> None:
    # rule S5: UTC on the wire, days in the group's zone (America/New_York springs forward 2027-03-14 02:00)
    headers = await as_user(provider)
    night = await book(client, group, headers, client_record, at("2027-03-14T01:30:00-05:00"), duration_minutes=60)
    assert night.status_code == 201
    assert night.json()["ends_at"] == "2027-03-14T07:30:00Z"  # 03:30 EDT: one real hour later
    late = await book(client, group, headers, client_record, at("2027-03-14T23:30:00-04:00"))  # 03:30Z on the 15th
    assert late.status_code == 201
    day = {"from": "2027-03-14T00:00:00-05:00", "to": "2027-03-15T00:00:00-04:00"}  # a 23-hour local day
    listed = await client.get(sessions_url(group), params=day, headers=headers)
    assert [s["id"] for s in listed.json()["items"]] == [night.json()["id"], late.json()["id"]]
    next_day = await client.get(sessions_url(group), params={"from": "2027-03-15T00:00:00-04:00", "to": "2027-03-16T00:00:00-04:00"}, headers=headers)
    assert next_day.json()["items"] == []


async def test_calendars_by_provider_and_group(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, colleague: User, admin: User,
    client_record: Client, colleagues_client: Client, frozen: Clock, as_user,
) -> None:
    # rule S5, R1, R2
    mine = [(await book(client, group, await as_user(provider), client_record, SLOT + timedelta(hours=h))).json()["id"] for h in range(3)]
    theirs = (await book(client, group, await as_user(colleague), colleagues_client, SLOT)).json()["id"]
    week = {"from": NOW.isoformat(), "to": (NOW + timedelta(days=7)).isoformat()}
    own = await client.get(sessions_url(group), params=week, headers=await as_user(provider))
    assert [s["id"] for s in own.json()["items"]] == mine  # a provider's calendar is their own
    asked = await client.get(sessions_url(group), params={**week, "provider_id": str(colleague.id)}, headers=await as_user(provider))
    assert asked.status_code == 403
    admin_headers = await as_user(admin)
    whole = await client.get(sessions_url(group), params={**week, "limit": 2}, headers=admin_headers)
    page1 = whole.json()
    page2 = (await client.get(sessions_url(group), params={**week, "limit": 2, "cursor": page1["next_cursor"]}, headers=admin_headers)).json()
    assert len(page1["items"]) == 2 and page2["next_cursor"] is None
    ordered = [s["id"] for s in page1["items"] + page2["items"]]
    assert set(ordered) == {*mine, theirs} and ordered.index(mine[1]) == 2  # (starts_at, id) order
    one = await client.get(sessions_url(group), params={**week, "provider_id": str(colleague.id)}, headers=admin_headers)
    assert [s["id"] for s in one.json()["items"]] == [theirs]
    reads = list(await db.scalars(select(AuditEvent).where(AuditEvent.group_id == group.id, AuditEvent.action == "session.list_read")
                                 .order_by(AuditEvent.id)))
    assert [len(e.details["session_ids"]) for e in reads] == [3, 2, 2, 1]  # one event per page, with the ids
    too_long = await client.get(sessions_url(group), params={"from": NOW.isoformat(), "to": (NOW + timedelta(days=94)).isoformat()}, headers=admin_headers)
    backwards = await client.get(sessions_url(group), params={"from": NOW.isoformat(), "to": NOW.isoformat()}, headers=admin_headers)
    assert too_long.status_code == backwards.status_code == 422
    by_status = await client.get(sessions_url(group), params={**week, "status": "cancelled"}, headers=admin_headers)
    assert by_status.json()["items"] == []


async def test_another_providers_session_is_not_there(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, colleague: User,
    colleagues_client: Client, frozen: Clock, as_user,
) -> None:
    # rule R1: a provider reads and changes only their own calendar; another's session is a 404
    theirs = (await book(client, group, await as_user(colleague), colleagues_client, SLOT)).json()["id"]
    headers = await as_user(provider)
    assert (await client.get(sessions_url(group, theirs), headers=headers)).status_code == 404
    assert (await client.patch(sessions_url(group, theirs), json={"duration_minutes": 30}, headers=headers)).status_code == 404
    assert (await client.post(sessions_url(group, theirs, "cancel"), json={"by": "client"}, headers=headers)).status_code == 404
    assert (await client.post(sessions_url(group, theirs, "confirm"), json={"service_code": "90837", "diagnosis_code": "F41.1"},
                              headers=headers)).status_code == 404
    assert (await client.post(sessions_url(group, theirs, "no-show"), headers=headers)).status_code == 404
    stored = await db.get(TherapySession, theirs)
    await db.refresh(stored)
    assert stored.status == "scheduled" and stored.duration_minutes == 60
    # a stranger to the group sees nothing at all
    stranger = await make_user(db)
    assert (await client.get(sessions_url(group, theirs), headers=await as_user(stranger))).status_code == 404


async def test_idempotent_create_retry(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User,
                                       client_record: Client, frozen: Clock, as_user) -> None:
    # rule X2: a retried booking is the same booking
    headers = {**await as_user(provider), "Idempotency-Key": "book-once"}
    first = await book(client, group, headers, client_record, SLOT)
    again = await book(client, group, headers, client_record, SLOT)
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    assert again.headers.get("idempotent-replayed") == "true"
    count = await db.scalar(select(func.count()).select_from(TherapySession).where(TherapySession.group_id == group.id))
    assert count == 1
