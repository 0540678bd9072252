"""Practice locations: the capability table's "addresses and practice locations" row (provider: own; admin: all), R1, R2."""

from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Group, PracticeLocation, User
from tests.fixtures.factories import api_key, bearer, user_headers
from tests.providers.conftest import audit_events


def url(group: Group, user: User) -> str:
    return f"/v1/groups/{group.id}/providers/{user.id}/locations"


def place(label: str, **changes: Any) -> dict[str, Any]:
    return {"label": label, "address_line1": "350 5th Ave", "city": "New York", "state": "NY", "postal_code": "10118", **changes}


async def rows(db: AsyncSession, group: Group, user: User) -> list[tuple]:
    result = await db.execute(
        select(PracticeLocation.label, PracticeLocation.city, PracticeLocation.archived_at.is_not(None))
        .where(PracticeLocation.group_id == group.id, PracticeLocation.provider_user_id == user.id)
        .order_by(PracticeLocation.label)
    )
    return [tuple(r) for r in result]


async def test_a_provider_sets_their_locations_and_unlisted_ones_are_archived_not_deleted(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User) -> None:
    # capability table: addresses and practice locations, provider "own"; archived, never deleted (sessions point at them)
    headers = await user_headers(db, provider)
    assert (await client.get(url(group, provider), headers=headers)).json() == {"locations": []}
    created = await client.patch(url(group, provider), json={"locations": [place("Midtown"), place("Brooklyn", city="Brooklyn", postal_code="11201-1234")]}, headers=headers)
    assert created.status_code == 200, created.text
    by_label = {loc["label"]: loc for loc in created.json()["locations"]}
    assert set(by_label) == {"Midtown", "Brooklyn"} and by_label["Brooklyn"]["postal_code"] == "11201-1234"

    changed = await client.patch(
        url(group, provider),
        json={"locations": [{**place("Midtown suite 2", address_line2="Suite 2"), "id": by_label["Midtown"]["id"]}, place("Queens", city="Queens", postal_code="113750000")]},
        headers=headers,
    )
    assert changed.status_code == 200
    listed = changed.json()["locations"]
    assert {loc["label"] for loc in listed} == {"Midtown suite 2", "Queens"}
    assert next(loc for loc in listed if loc["label"] == "Midtown suite 2")["id"] == by_label["Midtown"]["id"]  # same row, changed
    assert next(loc for loc in listed if loc["label"] == "Queens")["postal_code"] == "11375-0000"
    assert await rows(db, group, provider) == [("Brooklyn", "Brooklyn", True), ("Midtown suite 2", "New York", False), ("Queens", "Queens", False)]
    assert (await client.get(url(group, provider), headers=headers)).json() == changed.json()

    # rule R2: ids only
    first, second = await audit_events(db, group, "practice_locations.updated")
    assert (first.actor_user_id, first.target_type, first.target_id) == (provider.id, "provider_profile", str(provider.id))
    assert len(first.details["created"]) == 2 and first.details["changed"] == [] and first.details["archived"] == []
    assert second.details["changed"] == [by_label["Midtown"]["id"]] and second.details["archived"] == [by_label["Brooklyn"]["id"]]
    assert "350 5th" not in str(second.details)

    emptied = await client.patch(url(group, provider), json={"locations": []}, headers=headers)
    assert emptied.json() == {"locations": []} and len(await rows(db, group, provider)) == 3


async def test_an_unchanged_list_writes_nothing(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User) -> None:
    headers = await user_headers(db, provider)
    saved = (await client.patch(url(group, provider), json={"locations": [place("Midtown")]}, headers=headers)).json()["locations"]
    again = await client.patch(url(group, provider), json={"locations": [{**place("Midtown"), "id": saved[0]["id"]}]}, headers=headers)
    assert again.json()["locations"] == saved
    assert len(await audit_events(db, group, "practice_locations.updated")) == 1


async def test_ids_must_be_this_providers_active_locations(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, colleague: User) -> None:
    # R1: a location of another provider cannot be taken over by naming its id
    theirs = (await client.patch(url(group, colleague), json={"locations": [place("Theirs")]}, headers=await user_headers(db, colleague))).json()["locations"][0]
    headers = await user_headers(db, provider)
    mine = (await client.patch(url(group, provider), json={"locations": [place("Mine")]}, headers=headers)).json()["locations"][0]
    response = await client.patch(url(group, provider), json={"locations": [{**place("Stolen"), "id": theirs["id"]}]}, headers=headers)
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "body.locations.0.id", "message": "is not an active location of this provider; leave id out to add a location"}]
    twice = await client.patch(url(group, provider), json={"locations": [{**place("A"), "id": mine["id"]}, {**place("B"), "id": mine["id"]}]}, headers=headers)
    assert twice.status_code == 422 and twice.json()["errors"][0]["field"] == "body.locations.1.id"
    assert await rows(db, group, colleague) == [("Theirs", "New York", False)]
    assert await rows(db, group, provider) == [("Mine", "New York", False)]
    # An archived location is not revived by its id either.
    await client.patch(url(group, provider), json={"locations": []}, headers=headers)
    revived = await client.patch(url(group, provider), json={"locations": [{**place("Mine"), "id": mine["id"]}]}, headers=headers)
    assert revived.status_code == 422


async def test_admins_manage_every_providers_locations_and_colleagues_cannot(client: httpx.AsyncClient, db: AsyncSession, group: Group, admin: User, provider: User, colleague: User) -> None:
    # capability table: admin "all"; provider "own" (R1: 403 on a colleague's)
    response = await client.patch(url(group, provider), json={"locations": [place("Set by admin")]}, headers=await user_headers(db, admin))
    assert response.status_code == 200
    colleague_headers = await user_headers(db, colleague)
    assert (await client.get(url(group, provider), headers=colleague_headers)).status_code == 403
    assert (await client.patch(url(group, provider), json={"locations": []}, headers=colleague_headers)).status_code == 403
    assert await rows(db, group, provider) == [("Set by admin", "New York", False)]
    keyed = await client.get(url(group, provider), headers=bearer(await api_key(db, group)))
    assert keyed.status_code == 200 and len(keyed.json()["locations"]) == 1


async def test_another_groups_member_gets_404_and_changes_nothing(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, stranger: User) -> None:
    # rule R1
    await client.patch(url(group, provider), json={"locations": [place("Midtown")]}, headers=await user_headers(db, provider))
    headers = await user_headers(db, stranger)
    assert (await client.get(url(group, provider), headers=headers)).status_code == 404
    assert (await client.patch(url(group, provider), json={"locations": []}, headers=headers)).status_code == 404
    assert await rows(db, group, provider) == [("Midtown", "New York", False)]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"state": "XX"}, "body.locations.0.state"),
        ({"state": "New York"}, "body.locations.0.state"),
        ({"state": "AE"}, "body.locations.0.state"),  # a military mail route, not a place
        ({"postal_code": "1011"}, "body.locations.0.postal_code"),
        ({"postal_code": "10118-12"}, "body.locations.0.postal_code"),
        ({"postal_code": "SW1A 1AA"}, "body.locations.0.postal_code"),
        ({"label": ""}, "body.locations.0.label"),
        ({"city": None}, "body.locations.0.city"),
        ({"archived_at": "2020-01-01T00:00:00Z"}, "body.locations.0.archived_at"),
        ({"provider_user_id": "00000000-0000-0000-0000-000000000000"}, "body.locations.0.provider_user_id"),
    ],
)
async def test_invalid_addresses_and_unknown_fields_are_422(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, change: dict, field: str) -> None:
    response = await client.patch(url(group, provider), json={"locations": [{**place("Midtown"), **change}]}, headers=await user_headers(db, provider))
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert await rows(db, group, provider) == []


async def test_states_are_read_in_any_case_and_territories_count(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User) -> None:
    response = await client.patch(url(group, provider), json={"locations": [place("San Juan", state="pr", postal_code="00901"), place("DC", state="DC", postal_code="20001")]}, headers=await user_headers(db, provider))
    assert response.status_code == 200
    assert sorted(loc["state"] for loc in response.json()["locations"]) == ["DC", "PR"]
