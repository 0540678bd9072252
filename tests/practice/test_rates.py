"""Rates: the admin column's "rates" (per service code and billing type, integer cents), P6, C6, R1, R2."""

from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Group, Membership, Rate, User
from app.practice.service import rate_for
from tests.fixtures.factories import (
    add_member,
    api_key,
    bearer,
    make_group,
    make_user,
    user_headers,
)
from tests.practice.conftest import audit_events
from tests.providers.factories import make_provider


def url(group: Group) -> str:
    return f"/v1/groups/{group.id}/rates"


def rate(code: str, private: int, insurance: int, provider: User | None = None) -> dict[str, Any]:
    return {
        "service_code": code,
        "provider_user_id": str(provider.id) if provider else None,
        "private_pay_cents": private,
        "insurance_cents": insurance,
    }


async def card(db: AsyncSession, group: Group) -> set[tuple]:
    rows = await db.execute(
        select(Rate.provider_user_id, Rate.service_code, Rate.private_pay_cents, Rate.insurance_cents).where(Rate.group_id == group.id)
    )
    return {tuple(row) for row in rows}


async def test_put_replaces_the_whole_card(client: httpx.AsyncClient, db: AsyncSession, group: Group, admin: User, provider: User) -> None:
    # capability table: rates (admin); P6: private-pay rate and insurance contracted rate per service code
    headers = await user_headers(db, admin)
    first = [rate("90837", 16000, 12000), rate("90834", 12000, 9000), rate("90791", 20000, 15000), rate("90837", 18000, 13000, provider)]
    response = await client.put(url(group), json={"rates": first}, headers=headers)
    assert response.status_code == 200, response.text
    listed = response.json()["rates"]
    # group defaults first (by code), then each provider's overrides
    assert [(r["provider_user_id"], r["service_code"]) for r in listed] == [(None, "90791"), (None, "90834"), (None, "90837"), (str(provider.id), "90837")]
    assert all(r["currency"] == "USD" for r in listed)
    assert (await client.get(url(group), headers=headers)).json() == response.json()
    kept_id = await db.scalar(select(Rate.id).where(Rate.group_id == group.id, Rate.service_code == "90791"))

    second = [rate("90837", 17000, 12000), rate("90791", 20000, 15000), rate("90847", 14000, 10000)]
    response = await client.put(url(group), json={"rates": second}, headers=headers)
    assert response.status_code == 200
    assert await card(db, group) == {(None, "90837", 17000, 12000), (None, "90791", 20000, 15000), (None, "90847", 14000, 10000)}
    # An unchanged rate keeps its row.
    assert await db.scalar(select(Rate.id).where(Rate.group_id == group.id, Rate.service_code == "90791")) == kept_id
    # rule R2: counts only, no amounts
    first_event, second_event = await audit_events(db, group, "rates.replaced")
    assert first_event.details == {"added": 4, "changed": 0, "removed": 0}
    assert second_event.details == {"added": 1, "changed": 1, "removed": 2}
    assert (second_event.actor_user_id, second_event.target_type, second_event.target_id) == (admin.id, "rate_card", str(group.id))

    emptied = await client.put(url(group), json={"rates": []}, headers=headers)
    assert emptied.json() == {"rates": []} and await card(db, group) == set()


async def test_rate_for_takes_the_providers_own_rate_then_the_groups_default(client: httpx.AsyncClient, db: AsyncSession, group: Group, owner: User, provider: User) -> None:
    # P6 / C6: a session's amount is the provider's rate for its service code
    other_provider = await make_provider(db, group)
    body = {"rates": [rate("90837", 16000, 12000), rate("90837", 18000, 13000, provider), rate("90834", 11000, 8000, provider)]}
    assert (await client.put(url(group), json=body, headers=await user_headers(db, owner))).status_code == 200
    own = await rate_for(db, group.id, provider.id, "90837")
    assert own is not None and (own.private_pay_cents, own.insurance_cents, own.provider_user_id) == (18000, 13000, provider.id)
    fallback = await rate_for(db, group.id, other_provider.id, "90837")
    assert fallback is not None and (fallback.private_pay_cents, fallback.provider_user_id) == (16000, None)
    assert (await rate_for(db, group.id, None, "90837")).private_pay_cents == 16000  # type: ignore[union-attr]
    assert await rate_for(db, group.id, other_provider.id, "90834") is None  # only the provider has one
    assert await rate_for(db, group.id, provider.id, "90791") is None
    other_group = await make_group(db, name="Other Practice")
    assert await rate_for(db, other_group.id, provider.id, "90837") is None


async def test_duplicate_pairs_are_422_naming_them_and_change_nothing(client: httpx.AsyncClient, db: AsyncSession, group: Group, admin: User, provider: User) -> None:
    headers = await user_headers(db, admin)
    await client.put(url(group), json={"rates": [rate("90837", 16000, 12000)]}, headers=headers)
    body = {"rates": [rate("90837", 1, 1), rate("90834", 1, 1), rate("90837", 2, 2), rate("90834", 3, 3, provider), rate("90834", 4, 4, provider)]}
    response = await client.put(url(group), json=body, headers=headers)
    assert response.status_code == 422
    errors = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert set(errors) == {"body.rates.2", "body.rates.4"}
    assert "rates.0" in errors["body.rates.2"] and "90837" in errors["body.rates.2"] and "group default" in errors["body.rates.2"]
    assert "rates.3" in errors["body.rates.4"] and str(provider.id) in errors["body.rates.4"]
    assert await card(db, group) == {(None, "90837", 16000, 12000)}


async def test_a_codes_case_does_not_hide_a_duplicate(client: httpx.AsyncClient, db: AsyncSession, group: Group, admin: User) -> None:
    response = await client.put(url(group), json={"rates": [rate("g0410", 1, 1), rate("G0410", 2, 2)]}, headers=await user_headers(db, admin))
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "body.rates.1"


async def test_rates_name_only_active_providers_of_the_group(client: httpx.AsyncClient, db: AsyncSession, group: Group, owner: User, admin: User, provider: User, stranger: User) -> None:
    # a rate for someone who does not provide here would be paid to no one (P6)
    departed = await make_provider(db, group)
    await db.execute(update(Membership).where(Membership.user_id == departed.id, Membership.group_id == group.id).values(ended_at=Membership.created_at))
    outsider = await make_user(db)
    body = {"rates": [rate("90837", 1, 1, provider), rate("90837", 1, 1, admin), rate("90837", 1, 1, stranger), rate("90837", 1, 1, departed), rate("90837", 1, 1, outsider)]}
    response = await client.put(url(group), json=body, headers=await user_headers(db, owner))
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert [e["field"] for e in errors] == [f"body.rates.{i}.provider_user_id" for i in (1, 2, 3, 4)]
    assert {e["message"] for e in errors} == {"is not an active provider of this group"}  # another group's member is told no more
    assert await card(db, group) == set()


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"service_code": "9083"}, "body.rates.0.service_code"),
        ({"service_code": "90-37"}, "body.rates.0.service_code"),
        ({"private_pay_cents": -1}, "body.rates.0.private_pay_cents"),
        ({"private_pay_cents": 10_000_001}, "body.rates.0.private_pay_cents"),
        ({"insurance_cents": -5}, "body.rates.0.insurance_cents"),
        ({"insurance_cents": 120.5}, "body.rates.0.insurance_cents"),
        ({"currency": "EUR"}, "body.rates.0.currency"),
        ({"id": "00000000-0000-0000-0000-000000000000"}, "body.rates.0.id"),
    ],
)
async def test_invalid_rates_are_422(client: httpx.AsyncClient, db: AsyncSession, group: Group, admin: User, entry: dict, field: str) -> None:
    # money is integer cents (DESIGN 7); unknown fields are refused
    response = await client.put(url(group), json={"rates": [{**rate("90837", 100, 100), **entry}]}, headers=await user_headers(db, admin))
    assert response.status_code == 422
    assert field in [e["field"] for e in response.json()["errors"]]
    assert await card(db, group) == set()


async def test_a_service_code_is_stored_upper_case(client: httpx.AsyncClient, db: AsyncSession, group: Group, admin: User) -> None:
    response = await client.put(url(group), json={"rates": [rate("g0410", 9000, 7000)]}, headers=await user_headers(db, admin))
    assert response.json()["rates"][0]["service_code"] == "G0410"
    assert (await rate_for(db, group.id, None, "g0410")).insurance_cents == 7000  # type: ignore[union-attr]


async def test_providers_get_403_and_other_groups_404(client: httpx.AsyncClient, db: AsyncSession, group: Group, owner: User, provider: User, stranger: User) -> None:
    # rule R1; capability table: rates are "no" for a provider
    await client.put(url(group), json={"rates": [rate("90837", 16000, 12000)]}, headers=await user_headers(db, owner))
    body = {"rates": [rate("90837", 1, 1)]}
    provider_headers = await user_headers(db, provider)
    assert (await client.get(url(group), headers=provider_headers)).status_code == 403
    assert (await client.put(url(group), json=body, headers=provider_headers)).status_code == 403
    stranger_headers = await user_headers(db, stranger)
    assert (await client.get(url(group), headers=stranger_headers)).status_code == 404
    assert (await client.put(url(group), json=body, headers=stranger_headers)).status_code == 404
    other_key = bearer(await api_key(db, await make_group(db, name="Keyed Practice")))
    assert (await client.put(url(group), json=body, headers=other_key)).status_code == 404
    assert await card(db, group) == {(None, "90837", 16000, 12000)}


async def test_a_partner_key_manages_rates(client: httpx.AsyncClient, db: AsyncSession, group: Group) -> None:
    # API keys act as admins on rates (authz.CAPABILITIES): billing tools keep the card in sync
    response = await client.put(url(group), json={"rates": [rate("90853", 4000, 3000)]}, headers=bearer(await api_key(db, group)))
    assert response.status_code == 200
    [event] = await audit_events(db, group, "rates.replaced")
    assert event.actor_user_id is None and event.actor_api_key_id is not None


async def test_an_admin_who_also_provides_may_have_their_own_rate(client: httpx.AsyncClient, db: AsyncSession, group: Group, owner: User) -> None:
    # the owner is a provider too (make_group): their own override is allowed
    both = await make_provider(db, group, admin=True)
    body = {"rates": [rate("90837", 1000, 900, owner), rate("90837", 1100, 950, both)]}
    assert (await client.put(url(group), json=body, headers=await user_headers(db, both))).status_code == 200


async def test_an_admin_only_member_is_not_a_provider(client: httpx.AsyncClient, db: AsyncSession, group: Group, owner: User) -> None:
    admin_only = await make_user(db)
    await add_member(db, group, admin_only, admin=True)
    response = await client.put(url(group), json={"rates": [rate("90837", 1, 1, admin_only)]}, headers=await user_headers(db, owner))
    assert response.status_code == 422
