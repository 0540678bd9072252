"""Licensed where the client is: rule S13."""

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Client, EarningLine, Group, User
from tests.availability.conftest import provider_url
from tests.fixtures.clock import Clock
from tests.sessions.conftest import at, book, make_location, sessions_url

MONDAY = at("2027-03-15T14:00:00Z")
LICENSE = {"state": "CA", "license_type": "LMFT", "number": "LMFT 123456", "expires_on": "2027-03-14"}


async def test_telehealth_needs_a_license_in_the_clients_state(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, owner: User, client_record: Client,
    frozen: Clock, as_user
) -> None:
    # rule S13
    headers = await as_user(provider)
    client_record.telehealth_state = "CA"
    await db.flush()
    refused = await book(client, group, headers, client_record, MONDAY)
    assert refused.status_code == 409
    problem = refused.json()
    assert problem["code"] == "not_licensed_in_state" and problem["state"] == "CA" and "license" in problem["detail"]
    # in person needs no license for the client's state
    office = await make_location(db, group, provider)
    in_person = await book(client, group, headers, client_record, MONDAY, telehealth=None, location_id=str(office.id))
    assert in_person.status_code == 201, in_person.text
    # a license that expires the day before the session does not cover it
    added = await client.post(provider_url(group, provider, "licenses"), json=LICENSE, headers=headers)
    assert added.status_code == 201, added.text
    later = at("2027-03-15T20:00:00Z")
    assert (await book(client, group, headers, client_record, later)).json()["code"] == "not_licensed_in_state"
    # an admin records a current one for the provider
    current = await client.post(provider_url(group, provider, "licenses"), json={**LICENSE, "expires_on": "2029-01-31"},
                                headers=await as_user(owner))
    assert current.status_code == 201
    booked = await book(client, group, headers, client_record, later)
    assert booked.status_code == 201, booked.text
    listed = await client.get(provider_url(group, provider, "licenses"), headers=headers)
    assert [item["expires_on"] for item in listed.json()["items"]] == ["2027-03-14", "2029-01-31"]
    # moving an in-person session to telehealth is checked too; so is confirming once the license is gone
    removed = await client.delete(provider_url(group, provider, "licenses", current.json()["id"]), headers=headers)
    assert removed.status_code == 204
    moved = await client.patch(sessions_url(group, in_person.json()["id"]), json={"telehealth": True}, headers=headers)
    assert moved.status_code == 409 and moved.json()["code"] == "not_licensed_in_state"
    frozen.set(at("2027-03-15T21:00:00Z"))
    confirmed = await client.post(sessions_url(group, booked.json()["id"], "confirm"), headers=headers,
                                  json={"service_code": "90837", "diagnosis_code": "F41.1"})
    assert confirmed.status_code == 409 and confirmed.json()["code"] == "not_licensed_in_state"


async def test_open_slots_for_an_unlicensed_state_are_empty_with_the_reason(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, client_record: Client, frozen: Clock, as_user
) -> None:
    # rule S13, S9
    headers = await as_user(provider)
    hours = {"weekday": 0, "start": "09:00", "end": "11:00", "location_id": None, "effective_from": "2027-01-01"}
    await client.put(provider_url(group, provider, "weekly-hours"), json={"time_zone": "America/New_York", "hours": [hours]},
                     headers=headers)
    client_record.telehealth_state = "TX"
    await db.flush()
    params = {"from": "2027-03-15T00:00:00Z", "to": "2027-03-16T00:00:00Z", "client_id": str(client_record.id)}
    response = await client.get(provider_url(group, provider, "open-slots"), params=params, headers=headers)
    assert response.status_code == 200
    assert response.json()["slots"] == []
    assert [r["code"] for r in response.json()["restrictions"]] == ["not_licensed_in_state"]
    await client.post(provider_url(group, provider, "licenses"), headers=headers,
                      json={**LICENSE, "state": "TX", "expires_on": "2030-01-01"})
    response = await client.get(provider_url(group, provider, "open-slots"), params=params, headers=headers)
    assert len(response.json()["slots"]) == 2 and response.json()["restrictions"] == []


async def test_license_refusals(client: httpx.AsyncClient, group: Group, provider: User, colleague: User, as_user) -> None:
    # rule S13: two-letter states; a provider records only their own
    headers = await as_user(provider)
    bad = await client.post(provider_url(group, provider, "licenses"), json={**LICENSE, "state": "California"}, headers=headers)
    assert bad.status_code == 422
    theirs = await client.post(provider_url(group, colleague, "licenses"), json=LICENSE, headers=headers)
    assert theirs.status_code == 403


async def test_a_phone_consultation_is_never_billed(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, client_record: Client, frozen: Clock, as_user
) -> None:
    # rule S13 does not apply to a phone call; a consultation earns no pay line and carries no policy
    headers = await as_user(provider)
    client_record.telehealth_state = "CA"
    await db.flush()
    booked = await book(client, group, headers, client_record, MONDAY, kind="consultation", duration_minutes=15)
    assert booked.status_code == 201, booked.text
    frozen.set(at("2027-03-15T14:20:00Z"))
    confirmed = await client.post(sessions_url(group, booked.json()["id"], "confirm"), headers=headers,
                                  json={"service_code": "90837", "diagnosis_code": "F41.1", "duration_minutes": 15})
    assert confirmed.status_code == 200, confirmed.text
    lines = await db.scalar(select(func.count()).select_from(EarningLine).where(EarningLine.session_id == booked.json()["id"]))
    assert lines == 0
