"""A client's estimated cost per session: rule C6 (copay, coinsurance, private pay), R1 (another group's
client, another provider's client: 404), R2 (reading it is audited)."""

import uuid

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.clients.service import enroll
from app.memberships.service import make_provider
from app.models import (
    AuditEvent,
    Client,
    Group,
    InsurancePolicy,
    Rate,
    RosterEntry,
    User,
)
from tests.fixtures.factories import (
    add_member,
    api_key,
    bearer,
    make_group,
    make_user,
    user_headers,
)

# The group's default for 90837, and provider A's own rate for it.
DEFAULT = {"private_pay_cents": 15000, "insurance_cents": 11250}
A_RATE = {"private_pay_cents": 16000, "insurance_cents": 12000}


@pytest.fixture
async def owner(db: AsyncSession) -> User:
    return await make_user(db, first_name="Olive", last_name="Owner")


@pytest.fixture
async def group(db: AsyncSession, owner: User) -> Group:
    return await make_group(db, owner=owner, name="Cedar Therapy")


@pytest.fixture
async def admin(db: AsyncSession, group: Group) -> User:
    user = await make_user(db, first_name="Ada", last_name="Admin")
    await add_member(db, group, user, admin=True)
    return user


async def new_provider(db: AsyncSession, group: Group, first_name: str) -> User:
    user = await make_user(db, first_name=first_name, last_name="Provider")
    await make_provider(db, group, user, "LCSW")
    return user


@pytest.fixture
async def provider_a(db: AsyncSession, group: Group) -> User:
    return await new_provider(db, group, "Alex")


@pytest.fixture
async def provider_b(db: AsyncSession, group: Group) -> User:
    return await new_provider(db, group, "Blair")


@pytest.fixture
async def rates(db: AsyncSession, group: Group, provider_a: User) -> None:
    db.add(Rate(group_id=group.id, provider_user_id=None, service_code="90837", **DEFAULT))
    db.add(Rate(group_id=group.id, provider_user_id=provider_a.id, service_code="90837", **A_RATE))
    await db.flush()


@pytest.fixture
async def person(db: AsyncSession) -> User:
    return await make_user(db, first_name="Casey", last_name="Client")


@pytest.fixture
async def client_record(db: AsyncSession, group: Group, provider_a: User, person: User, rates: None) -> Client:
    client, _ = await enroll(db, group_id=group.id, user=person, provider_user_id=provider_a.id, billing_type="insurance", added_by=provider_a.id)
    return client


async def set_plan(db: AsyncSession, person: User, *, copay_cents: int | None = None, coinsurance_bp: int | None = None) -> None:
    db.add(
        InsurancePolicy(
            user_id=person.id, company="Aetna", member_id_encrypted=b"sealed", member_id_last4="1234",
            copay_cents=copay_cents, coinsurance_bp=coinsurance_bp,
        )
    )
    await db.flush()


def url(group: Group, client: Client) -> str:
    return f"/v1/groups/{group.id}/clients/{client.id}/estimate"


async def estimate_reads(db: AsyncSession) -> int:
    return await db.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "client.estimate_read"))


async def test_a_copay_plan(client: httpx.AsyncClient, db: AsyncSession, group: Group, admin: User, provider_a: User, person: User, client_record: Client) -> None:
    # rule C6: insurance with a copay, on the provider's contracted rate (their own overrides the group's)
    await set_plan(db, person, copay_cents=3000)
    response = await client.get(url(group, client_record), params={"service_code": "90837"}, headers=await user_headers(db, admin))
    assert response.status_code == 200, response.text
    assert response.json() == {
        "client_id": str(client_record.id),
        "provider_user_id": str(provider_a.id),  # the client's provider, for an admin who is not one
        "service_code": "90837",
        "billing_type": "insurance",
        "estimate_cents": 3000,
        "currency": "USD",
        "basis": "copay",
        "inputs": {"contracted_rate_cents": 12000, "private_pay_rate_cents": None, "copay_cents": 3000, "coinsurance_percent": None},
        "reason": None,
    }
    # rule R2: reading the estimate reads PHI; ids only
    [event] = await db.scalars(select(AuditEvent).where(AuditEvent.action == "client.estimate_read"))
    assert (event.actor_user_id, event.target_type, event.target_id, event.group_id) == (admin.id, "client", str(client_record.id), group.id)
    assert event.details == {"provider_user_id": str(provider_a.id)}


async def test_a_copay_above_the_contracted_rate_is_capped(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider_a: User, person: User, client_record: Client) -> None:
    # rule C6
    await set_plan(db, person, copay_cents=50000)
    body = (await client.get(url(group, client_record), headers=await user_headers(db, provider_a))).json()
    assert (body["estimate_cents"], body["basis"], body["inputs"]["copay_cents"]) == (12000, "copay", 50000)


async def test_a_coinsurance_plan(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider_a: User, person: User, client_record: Client) -> None:
    # rule C6: 12.34% of 120.00 = 14.808 -> 14.81
    await set_plan(db, person, coinsurance_bp=1234)
    body = (await client.get(url(group, client_record), headers=await user_headers(db, provider_a))).json()
    assert (body["estimate_cents"], body["basis"], body["provider_user_id"]) == (1481, "coinsurance", str(provider_a.id))
    assert body["inputs"] == {"contracted_rate_cents": 12000, "private_pay_rate_cents": None, "copay_cents": None, "coinsurance_percent": 12.34}


async def test_private_pay_is_the_providers_rate(client: httpx.AsyncClient, db: AsyncSession, group: Group, admin: User, provider_a: User, provider_b: User, person: User, client_record: Client) -> None:
    # rule C6: private pay ignores any insurance on file
    await set_plan(db, person, copay_cents=3000)
    await db.execute(update(Client).where(Client.id == client_record.id).values(billing_type="private_pay"))
    mine = (await client.get(url(group, client_record), headers=await user_headers(db, provider_a))).json()
    assert (mine["estimate_cents"], mine["basis"], mine["billing_type"]) == (16000, "private_pay_rate", "private_pay")
    assert mine["inputs"] == {"contracted_rate_cents": None, "private_pay_rate_cents": 16000, "copay_cents": None, "coinsurance_percent": None}
    # an admin prices it with another provider of the group: that provider's rate (here the group's default)
    with_b = await client.get(url(group, client_record), params={"provider_id": str(provider_b.id)}, headers=await user_headers(db, admin))
    assert (with_b.json()["estimate_cents"], with_b.json()["provider_user_id"]) == (15000, str(provider_b.id))


async def test_no_estimate_without_insurance_or_its_cost_share(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider_a: User, person: User, client_record: Client) -> None:
    # rule C6: an insurance client without a plan on file gets no number, and is told what is missing
    headers = await user_headers(db, provider_a)
    none = await client.get(url(group, client_record), headers=headers)
    assert none.status_code == 200
    assert (none.json()["estimate_cents"], none.json()["basis"]) == (None, None)
    assert "No insurance is on file" in none.json()["reason"] and none.json()["inputs"]["contracted_rate_cents"] == 12000
    await set_plan(db, person)
    no_share = (await client.get(url(group, client_record), headers=headers)).json()
    assert no_share["estimate_cents"] is None and "copay or coinsurance" in no_share["reason"]


async def test_no_rate_is_a_404_telling_the_admin_to_set_one(client: httpx.AsyncClient, db: AsyncSession, group: Group, admin: User, client_record: Client) -> None:
    # rule C6: no guessing without a rate
    response = await client.get(url(group, client_record), params={"service_code": "90791"}, headers=await user_headers(db, admin))
    assert response.status_code == 404, response.text
    problem = response.json()
    assert problem["code"] == "rate_not_found" and problem["service_code"] == "90791"
    assert f"/v1/groups/{group.id}/rates" in problem["detail"]
    assert await estimate_reads(db) == 0  # a refusal changes nothing
    malformed = await client.get(url(group, client_record), params={"service_code": "9083"}, headers=await user_headers(db, admin))
    assert malformed.status_code == 422 and malformed.json()["errors"][0]["field"] == "query.service_code"


async def test_another_groups_client_is_not_found(client: httpx.AsyncClient, db: AsyncSession, group: Group, client_record: Client) -> None:
    # rule R1: the API never reveals that another group's client exists
    stranger = await make_user(db, first_name="Sam", last_name="Stranger")
    other = await make_group(db, owner=stranger, name="Other Practice")
    headers = await user_headers(db, stranger)
    for path in (url(group, client_record), url(other, client_record), f"/v1/groups/{other.id}/clients/{uuid.uuid4()}/estimate"):
        response = await client.get(path, headers=headers)
        assert response.status_code == 404 and response.json()["code"] == "not_found", path
    other_key = await api_key(db, other)
    assert (await client.get(url(other, client_record), headers=bearer(other_key))).status_code == 404
    assert await estimate_reads(db) == 0


async def test_a_provider_sees_only_their_own_clients_and_rates(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider_a: User, provider_b: User, person: User, client_record: Client) -> None:
    # rule R1, capability table: a provider reaches their own roster only
    await set_plan(db, person, copay_cents=3000)
    not_theirs = await client.get(url(group, client_record), headers=await user_headers(db, provider_b))
    assert not_theirs.status_code == 404 and not_theirs.json()["code"] == "not_found"
    someone_elses_rate = await client.get(url(group, client_record), params={"provider_id": str(provider_b.id)}, headers=await user_headers(db, provider_a))
    assert someone_elses_rate.status_code == 403
    assert await estimate_reads(db) == 0
    own = await client.get(url(group, client_record), params={"provider_id": str(provider_a.id)}, headers=await user_headers(db, provider_a))
    assert own.status_code == 200 and own.json()["provider_user_id"] == str(provider_a.id)


async def test_which_provider_prices_the_session(client: httpx.AsyncClient, db: AsyncSession, group: Group, owner: User, admin: User, provider_a: User, person: User, client_record: Client) -> None:
    headers = await user_headers(db, owner)
    # the owner provides too, but not to this client: the client's provider
    assert (await client.get(url(group, client_record), headers=headers)).json()["provider_user_id"] == str(provider_a.id)
    # once the client is on the owner's roster too, the owner's own rate
    await enroll(db, group_id=group.id, user=person, provider_user_id=owner.id, added_by=owner.id)
    assert (await client.get(url(group, client_record), headers=headers)).json()["provider_user_id"] == str(owner.id)
    # a provider_id that is no provider of the group is refused
    for stranger_id in (uuid.uuid4(), admin.id):
        refused = await client.get(url(group, client_record), params={"provider_id": str(stranger_id)}, headers=headers)
        assert refused.status_code == 422 and refused.json()["errors"] == [{"field": "query.provider_id", "message": "is not an active provider of this group"}]


async def test_a_client_on_no_active_roster_needs_a_provider_named(client: httpx.AsyncClient, db: AsyncSession, group: Group, admin: User, provider_a: User, client_record: Client) -> None:
    await db.execute(update(RosterEntry).where(RosterEntry.client_id == client_record.id).values(archived_at=func.now()))
    headers = await user_headers(db, admin)
    refused = await client.get(url(group, client_record), headers=headers)
    assert refused.status_code == 409 and refused.json()["code"] == "provider_required"
    named = await client.get(url(group, client_record), params={"provider_id": str(provider_a.id)}, headers=headers)
    assert named.status_code == 200
    # the archived roster's provider still sees their former client's estimate (history stays readable)
    assert (await client.get(url(group, client_record), headers=await user_headers(db, provider_a))).status_code == 200


async def test_a_partner_integration_reads_estimates(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider_a: User, client_record: Client) -> None:
    # capability table: client data for the whole group through the group's API key
    key = await api_key(db, group)
    response = await client.get(url(group, client_record), headers=bearer(key))
    assert response.status_code == 200 and response.json()["provider_user_id"] == str(provider_a.id)
    event = await db.scalar(select(AuditEvent).where(AuditEvent.action == "client.estimate_read"))
    assert event.actor_api_key_id is not None and event.actor_user_id is None
