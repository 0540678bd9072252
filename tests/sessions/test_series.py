"""Recurring series and the person never double-booked: rules S11, S7."""

import uuid

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.clients.service import enroll
from app.memberships.service import make_provider
from app.models import Client, Group, TherapySession, User
from tests.fixtures.factories import make_group, make_user
from tests.sessions.conftest import Clock, at, book, sessions_url


async def book_series(http: httpx.AsyncClient, group: Group, headers: dict, client: Client, first: str, **repeat) -> httpx.Response:
    body = {"client_id": str(client.id), "starts_at": first, "duration_minutes": 50, "telehealth": True,
            "repeat": {"every_weeks": 1, **repeat}}
    return await http.post(sessions_url(group, "series"), json=body, headers=headers)


async def test_a_weekly_series_keeps_its_local_time_across_daylight_saving(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, client_record: Client, frozen: Clock, as_user
) -> None:
    # rule S11: New York springs forward on 2027-03-14; 10:00 local stays 10:00 local
    response = await book_series(client, group, await as_user(provider), client_record, "2027-03-11T10:00:00-05:00", count=3)
    assert response.status_code == 201, response.text
    body = response.json()
    assert [s["starts_at"] for s in body["sessions"]] == [
        "2027-03-11T15:00:00Z", "2027-03-18T14:00:00Z", "2027-03-25T14:00:00Z"]
    assert {s["series_id"] for s in body["sessions"]} == {body["series_id"]}


async def test_every_two_weeks_until_a_date(
    client: httpx.AsyncClient, group: Group, provider: User, client_record: Client, frozen: Clock, as_user
) -> None:
    # rule S11: an end date, inclusive, in the group's zone
    headers = await as_user(provider)
    response = await book_series(client, group, headers, client_record, "2027-04-01T09:00:00-04:00", every_weeks=2, until="2027-04-29")
    assert response.status_code == 201, response.text
    assert [s["starts_at"][:10] for s in response.json()["sessions"]] == ["2027-04-01", "2027-04-15", "2027-04-29"]
    too_far = await book_series(client, group, headers, client_record, "2027-06-01T09:00:00-04:00", until="2028-06-01")
    assert too_far.status_code == 422 and too_far.json()["code"] == "invalid_series_end"
    both = await book_series(client, group, headers, client_record, "2027-06-01T09:00:00-04:00", until="2027-07-01", count=3)
    assert both.status_code == 422
    too_many = await book_series(client, group, headers, client_record, "2027-06-01T09:00:00-04:00", count=53)
    assert too_many.status_code == 422


async def test_a_series_is_booked_whole_or_not_at_all_with_each_conflict_listed(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, client_record: Client, frozen: Clock, as_user
) -> None:
    # rule S11: all or none; every conflicting occurrence listed
    headers = await as_user(provider)
    third = await book(client, group, headers, client_record, at("2027-04-15T10:30:00-04:00"))
    fifth = await book(client, group, headers, client_record, at("2027-04-29T09:30:00-04:00"))
    assert third.status_code == fifth.status_code == 201
    refused = await book_series(client, group, headers, client_record, "2027-04-01T10:00:00-04:00", count=6)
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert problem["code"] == "series_conflict"
    assert [(c["occurrence"], c["starts_at"]) for c in problem["conflicts"]] == [
        (3, "2027-04-15T14:00:00+00:00"), (5, "2027-04-29T14:00:00+00:00")]
    assert {x["session_id"] for c in problem["conflicts"] for x in c["conflicts"]} == {third.json()["id"], fifth.json()["id"]}
    assert await db.scalar(select(func.count()).select_from(TherapySession).where(TherapySession.series_id.is_not(None))) == 0
    # the request's transaction survived: a free series books
    assert (await book_series(client, group, headers, client_record, "2027-04-02T10:00:00-04:00", count=6)).status_code == 201


async def test_this_and_following_moves_the_rest_and_never_the_past(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, client_record: Client, frozen: Clock, as_user
) -> None:
    # rule S11: scoped edits; past occurrences untouched
    headers = await as_user(provider)
    sessions = (await book_series(client, group, headers, client_record, "2027-03-11T10:00:00-05:00", count=4)).json()["sessions"]
    ids = [s["id"] for s in sessions]
    frozen.set(at("2027-03-12T12:00:00Z"))  # the first has taken place
    # the second moves from Thursday 10:00 to Friday 11:00; the following ones too, wall-clock
    moved = await client.patch(sessions_url(group, ids[1]) + "?scope=following",
                               json={"starts_at": "2027-03-19T11:00:00-04:00"}, headers=headers)
    assert moved.status_code == 200, moved.text
    stored = {s.id: s for s in await db.scalars(select(TherapySession).where(TherapySession.id.in_(ids)).execution_options(populate_existing=True))}
    starts = [stored[uuid.UUID(i)].starts_at.isoformat() for i in ids]
    assert starts == ["2027-03-11T15:00:00+00:00", "2027-03-19T15:00:00+00:00", "2027-03-26T15:00:00+00:00",
                      "2027-04-02T15:00:00+00:00"]
    # `this` moves one only
    one = await client.patch(sessions_url(group, ids[2]), json={"duration_minutes": 30}, headers=headers)
    assert one.status_code == 200 and one.json()["duration_minutes"] == 30
    # `all` cancels what is still to come; the past occurrence stays scheduled
    cancelled = await client.post(sessions_url(group, ids[1], "cancel") + "?scope=all", json={"by": "provider"}, headers=headers)
    assert cancelled.status_code == 200, cancelled.text
    statuses = dict((await db.execute(select(TherapySession.id, TherapySession.status).where(TherapySession.id.in_(ids)))).all())
    assert [statuses[uuid.UUID(i)] for i in ids] == ["scheduled", "cancelled", "cancelled", "cancelled"]


async def test_moving_a_series_onto_a_busy_time_moves_nothing(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, client_record: Client, frozen: Clock, as_user
) -> None:
    # rule S11: a scoped move is all or none, conflicts listed per occurrence
    headers = await as_user(provider)
    sessions = (await book_series(client, group, headers, client_record, "2027-04-01T10:00:00-04:00", count=3)).json()["sessions"]
    blocker = await book(client, group, headers, client_record, at("2027-04-16T11:00:00-04:00"))
    moved = await client.patch(sessions_url(group, sessions[0]["id"]) + "?scope=all",
                               json={"starts_at": "2027-04-02T11:00:00-04:00"}, headers=headers)
    assert moved.status_code == 409 and moved.json()["code"] == "series_conflict"
    assert [c["occurrence"] for c in moved.json()["conflicts"]] == [3]
    assert moved.json()["conflicts"][0]["conflicts"][0]["session_id"] == blocker.json()["id"]
    # a week later onto the next occurrence's old place: allowed, the series moves as a whole
    shifted = await client.patch(sessions_url(group, sessions[0]["id"]) + "?scope=all",
                                 json={"starts_at": "2027-04-08T10:00:00-04:00"}, headers=headers)
    assert shifted.status_code == 200, shifted.text
    assert shifted.json()["starts_at"] == "2027-04-08T14:00:00Z"
    single = await book(client, group, headers, client_record, at("2027-06-01T10:00:00-04:00"))
    not_series = await client.patch(sessions_url(group, single.json()["id"]) + "?scope=all", json={"duration_minutes": 30}, headers=headers)
    assert not_series.status_code == 422 and not_series.json()["code"] == "not_in_series"


async def test_the_client_is_never_double_booked_across_practices(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, client_record: Client, frozen: Clock, as_user
) -> None:
    # rule S7: one person, a client record in each practice; the database refuses the overlap
    elsewhere = await make_group(db, name="Elsewhere")
    other_provider = await make_user(db, first_name="Other", last_name="Provider")
    await make_provider(db, elsewhere, other_provider, "LPC")
    person = await db.get(User, client_record.user_id)
    there_record, _ = await enroll(db, group_id=elsewhere.id, user=person, provider_user_id=other_provider.id, added_by=other_provider.id)
    there = await book(client, elsewhere, await as_user(other_provider), there_record, at("2027-03-11T10:00:00-05:00"))
    assert there.status_code == 201, there.text
    here = await book(client, group, await as_user(provider), client_record, at("2027-03-11T10:30:00-05:00"))
    assert here.status_code == 409, here.text
    assert here.json()["conflicts"] == [{"party": "client", "starts_at": "2027-03-11T15:00:00+00:00",
                                          "ends_at": "2027-03-11T16:00:00+00:00", "other_practice": True}]
    assert str(elsewhere.id) not in here.text and there.json()["id"] not in here.text and str(there_record.id) not in here.text
    # a series across that time is refused whole, the busy time shown without details
    series = await book_series(client, group, await as_user(provider), client_record, "2027-03-04T10:15:00-05:00", count=2)
    assert series.status_code == 409 and series.json()["conflicts"][0]["conflicts"][0]["other_practice"] is True
    # the database itself holds it, whoever writes
    stored = await db.get(TherapySession, uuid.UUID(there.json()["id"]))
    assert stored.client_user_id == person.id
