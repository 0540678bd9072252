"""Weekly hours, time off, booking settings and open slots through the API: rule S9 (and S2, S5 kept)."""

from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.memberships.service import make_provider
from app.models import Client, Group, User
from tests.availability.conftest import provider_url
from tests.fixtures.clock import Clock
from tests.fixtures.factories import make_group, make_user
from tests.sessions.conftest import NOW, at, book, make_location

# NOW is Wednesday 2027-03-10 15:00Z (10:00 in New York). The next Monday is 2027-03-15, after the
# spring-forward night of Sunday 2027-03-14.
MONDAY_HOURS = {"weekday": 0, "start": "09:00", "end": "12:00", "location_id": None, "effective_from": "2027-01-01"}


async def set_hours(http: httpx.AsyncClient, group: Group, provider: User, headers: dict, *hours: dict, zone: str = "America/Chicago"):
    return await http.put(provider_url(group, provider, "weekly-hours"), json={"time_zone": zone, "hours": list(hours)}, headers=headers)


async def slots(http: httpx.AsyncClient, group: Group, provider: User, headers: dict, **params) -> httpx.Response:
    query = {"from": "2027-03-15T00:00:00Z", "to": "2027-03-16T00:00:00Z", **params}
    return await http.get(provider_url(group, provider, "open-slots"), params=query, headers=headers)


def starts(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [s["starts_at"] for s in response.json()["slots"]]


async def test_open_slots_are_hours_minus_sessions_and_time_off(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, client_record: Client, frozen: Clock, as_user
) -> None:
    # rule S9: weekly hours in the provider's own zone (Chicago in a New York practice), UTC on the wire
    headers = await as_user(provider)
    put = await set_hours(client, group, provider, headers, MONDAY_HOURS)
    assert put.status_code == 200, put.text
    assert put.json()["time_zone"] == "America/Chicago"
    assert put.json()["hours"][0] | {"id": None} == {**MONDAY_HOURS, "id": None, "telehealth": True, "effective_to": None}
    response = await slots(client, group, provider, headers, kind="therapy")
    body = response.json()
    assert body["time_zone"] == "America/Chicago" and body["slot_minutes"] == 50
    # 09:00 CDT is 14:00Z; 50-minute slots: 09:00, 09:50, 10:40 (11:30 + 50 > 12:00)
    assert starts(response) == ["2027-03-15T14:00:00Z", "2027-03-15T14:50:00Z", "2027-03-15T15:40:00Z"]
    # rule S9: a live session takes its slot; a cancelled one gives it back
    booked = await book(client, group, headers, client_record, at("2027-03-15T14:50:00Z"), duration_minutes=50)
    assert booked.status_code == 201, booked.text
    assert starts(await slots(client, group, provider, headers)) == ["2027-03-15T14:00:00Z", "2027-03-15T15:40:00Z"]
    # part-day time off
    off = await client.post(provider_url(group, provider, "time-off"), headers=headers,
                            json={"starts_at": "2027-03-15T09:00:00-05:00", "ends_at": "2027-03-15T09:30:00-05:00"})
    assert off.status_code == 201, off.text
    assert off.json()["all_day"] is False and off.json()["starts_at"] == "2027-03-15T14:00:00Z"
    assert starts(await slots(client, group, provider, headers)) == ["2027-03-15T15:40:00Z"]
    removed = await client.delete(provider_url(group, provider, "time-off", off.json()["id"]), headers=headers)
    assert removed.status_code == 204
    cancelled = await client.post(f"/v1/groups/{group.id}/sessions/{booked.json()['id']}/cancel", headers=headers,
                                  json={"by": "provider", "reason": "moved"})
    assert cancelled.status_code == 200
    assert len(starts(await slots(client, group, provider, headers))) == 3
    # all-day time off, in the provider's zone
    day_off = await client.post(provider_url(group, provider, "time-off"), headers=headers,
                                json={"first_day": "2027-03-15", "last_day": "2027-03-15"})
    assert day_off.status_code == 201
    assert day_off.json()["starts_at"] == "2027-03-15T05:00:00Z" and day_off.json()["ends_at"] == "2027-03-16T05:00:00Z"
    assert starts(await slots(client, group, provider, headers)) == []
    listed = await client.get(provider_url(group, provider, "time-off"), headers=headers)
    assert [t["id"] for t in listed.json()["items"]] == [day_off.json()["id"]]


async def test_booking_settings_kind_lengths_buffer_notice_and_horizon(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, owner: User, client_record: Client,
    frozen: Clock, as_user
) -> None:
    # rule S9: the group's settings: slot length per kind (intake from the intake length), buffer, notice, horizon
    headers = await as_user(provider)
    await set_hours(client, group, provider, headers, MONDAY_HOURS, zone="America/New_York")
    defaults = await client.get(f"/v1/groups/{group.id}/booking-settings", headers=headers)
    assert defaults.json() == {"minimum_notice_minutes": 1440, "horizon_days": 60, "therapy_minutes": 50,
                               "consultation_minutes": 15, "buffer_minutes": 0, "intake_minutes": 60}
    settings = {"minimum_notice_minutes": 60, "horizon_days": 6, "therapy_minutes": 60, "consultation_minutes": 15,
                "buffer_minutes": 15}
    refused = await client.put(f"/v1/groups/{group.id}/booking-settings", json=settings, headers=headers)
    assert refused.status_code == 403  # a provider does not set the group's booking settings
    saved = await client.put(f"/v1/groups/{group.id}/booking-settings", json=settings, headers=await as_user(owner))
    assert saved.status_code == 200, saved.text
    group.intake_session_minutes = 90
    await db.flush()
    # 09:00 EDT = 13:00Z; 90-minute intakes
    assert starts(await slots(client, group, provider, headers, kind="intake")) == ["2027-03-15T13:00:00Z", "2027-03-15T14:30:00Z"]
    assert len(starts(await slots(client, group, provider, headers, kind="consultation"))) == 12
    booked = await book(client, group, headers, client_record, at("2027-03-15T14:00:00Z"), duration_minutes=60)
    assert booked.status_code == 201
    # the 15-minute buffer takes the slots touching the session
    assert starts(await slots(client, group, provider, headers)) == []
    # notice: nothing within the hour; horizon: six days from Monday the 8th ends before Monday the 15th
    frozen.set(at("2027-03-15T12:30:00Z"))
    assert starts(await slots(client, group, provider, headers, kind="consultation"))[0] == "2027-03-15T13:30:00Z"
    frozen.set(NOW - timedelta(days=2))
    assert starts(await slots(client, group, provider, headers, kind="consultation")) == []


async def test_effective_dates_and_locations(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, colleague: User, frozen: Clock, as_user
) -> None:
    # rule S9: hours per place, effective-dated; `location` filters
    headers = await as_user(provider)
    office = await make_location(db, group, provider)
    theirs = await make_location(db, group, colleague)
    archived = await make_location(db, group, provider, archived=True)
    for bad in (theirs, archived):
        refused = await set_hours(client, group, provider, headers, {**MONDAY_HOURS, "location_id": str(bad.id)})
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "body.hours.0.location_id"
    backwards = await set_hours(client, group, provider, headers, {**MONDAY_HOURS, "end": "08:00"})
    assert backwards.status_code == 422
    ok = await set_hours(
        client, group, provider, headers,
        {**MONDAY_HOURS, "effective_to": "2027-03-15"},
        {**MONDAY_HOURS, "start": "13:00", "end": "14:00", "location_id": str(office.id), "effective_from": "2027-03-16"},
        zone="America/New_York",
    )
    assert ok.status_code == 200, ok.text
    week = {"from": "2027-03-15T00:00:00Z", "to": "2027-03-23T00:00:00Z"}
    found = (await slots(client, group, provider, headers, kind="consultation", **week)).json()["slots"]
    # consultations are phone calls: telehealth hours only, here only until the 15th
    assert found and all(s["telehealth"] for s in found) and {s["starts_at"][:10] for s in found} == {"2027-03-15"}
    therapy = (await slots(client, group, provider, headers, location=str(office.id), **week)).json()["slots"]
    assert [s["starts_at"] for s in therapy] == ["2027-03-22T17:00:00Z"]
    assert all(s["location_id"] == str(office.id) for s in therapy)
    tele = (await slots(client, group, provider, headers, location="telehealth", **week)).json()["slots"]
    assert all(s["telehealth"] for s in tele) and len(tele) == 3
    bad_location = await slots(client, group, provider, headers, location="somewhere")
    assert bad_location.status_code == 422


async def test_refusals_and_tenancy(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User,
                                   colleague: User, frozen: Clock, as_user) -> None:
    # rule S9 (refusals), R1: a provider keeps their own hours; another group's provider is not there
    headers = await as_user(provider)
    assert (await set_hours(client, group, colleague, headers, MONDAY_HOURS)).status_code == 403
    assert (await slots(client, group, provider, headers, to="2027-06-01T00:00:00Z")).status_code == 422
    assert (await slots(client, group, provider, headers, to="2027-03-14T00:00:00Z")).status_code == 422
    bad_zone = await set_hours(client, group, provider, headers, MONDAY_HOURS, zone="Mars/Olympus")
    assert bad_zone.status_code == 422
    neither = await client.post(provider_url(group, provider, "time-off"), json={}, headers=headers)
    assert neither.status_code == 422
    stranger = await make_user(db, first_name="Sal", last_name="Stranger")
    other = await make_group(db, owner=stranger, name="Elsewhere")
    other_provider = await make_user(db, first_name="Olu", last_name="Other")
    await make_provider(db, other, other_provider, "LPC")
    away = await client.get(f"/v1/groups/{group.id}/providers/{other_provider.id}/weekly-hours", headers=await as_user(stranger))
    assert away.status_code in (403, 404)
    missing = await client.delete(provider_url(group, provider, "time-off", "00000000-0000-0000-0000-000000000001"), headers=headers)
    assert missing.status_code == 404
