"""The readiness checklist: rule C4 (verified, insurance for insurance billing only, a form of billing,
both forms acknowledged), as the client completes it, and its set-based loader."""

import uuid
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import event, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.clients.readiness import CURRENT_FORM_VERSIONS, ReadinessFacts
from app.clients.readiness_loader import readiness_facts
from app.clients.service import enroll
from app.models import (
    Acknowledgement,
    BillingMethod,
    Client,
    Group,
    InsurancePolicy,
    User,
)
from app.users.service import issue_verification_token
from tests.fixtures.factories import make_group, make_user, user_headers

YEAR = datetime.now(UTC).year
INSURANCE = {"company": "Aetna", "member_id": "W200300400", "copay_cents": 2500}
BILLING = {"processor_token": "pm_1PqSampleToken", "brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": YEAR + 2}


def checklist(group_entry: dict) -> dict[str, bool]:
    return {item["item"]: item["done"] for item in group_entry["checklist"]}


async def test_items_flip_as_the_client_completes_them(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, person: User, insurance_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # rule C4: each item of the checklist, in every group the person is a client of
    other_group = await make_group(db, name="Birch Counseling")
    other_provider = await make_user(db)
    from app.memberships.service import make_provider

    await make_provider(db, other_group, other_provider, "LPC")
    private, _ = await enroll(db, group_id=other_group.id, user=person, provider_user_id=other_provider.id, billing_type="private_pay", added_by=None)
    headers = await user_headers(db, person)

    async def onboarding() -> dict:
        response = await client.get("/v1/me/onboarding", headers=headers)
        assert response.status_code == 200, response.text
        return response.json()

    start = await onboarding()
    assert [(g["group_name"], g["billing_type"], g["client_id"]) for g in start["groups"]] == [
        ("Birch Counseling", "private_pay", str(private.id)),
        ("Cedar Therapy", "insurance", str(insurance_client.id)),
    ]
    birch, cedar = start["groups"]
    assert cedar["group_id"] == str(group.id) and not cedar["ready"] and not birch["ready"]
    assert checklist(cedar) == {
        "account_verified": False, "insurance_on_file": False, "billing_method_on_file": False,
        "billing_policy_acknowledged": False, "privacy_policy_acknowledged": False,
    }
    assert "insurance_on_file" not in checklist(birch)  # private pay needs no insurance
    assert cedar["missing"] == [item for item, done in checklist(cedar).items() if not done]
    assert start["forms"] == [
        {"document": document, "current_version": version, "acknowledged": False} for document, version in CURRENT_FORM_VERSIONS.items()
    ]

    secret = issue_verification_token(db, person)
    await db.flush()
    assert (await client.post("/v1/auth/verify-email", json={"token": secret})).status_code == 204
    assert all(checklist(g)["account_verified"] for g in (await onboarding())["groups"])

    assert (await client.put("/v1/me/insurance", json=INSURANCE, headers=headers)).status_code == 200
    birch, cedar = (await onboarding())["groups"]
    assert checklist(cedar)["insurance_on_file"] and "insurance_on_file" not in checklist(birch)

    assert (await client.put("/v1/me/billing-method", json=BILLING, headers=headers)).status_code == 200
    for document, version in CURRENT_FORM_VERSIONS.items():
        assert (await client.post("/v1/me/acknowledgements", json={"document": document, "version": version}, headers=headers)).status_code == 201
    done = await onboarding()
    assert [g["ready"] for g in done["groups"]] == [True, True] and all(g["missing"] == [] for g in done["groups"])
    assert (done["account_verified"], done["insurance_on_file"], done["billing_method_on_file"]) == (True, True, True)

    # a new version of a form un-readies everyone until they acknowledge it
    monkeypatch.setitem(CURRENT_FORM_VERSIONS, "privacy_policy", "2026-07")
    again = await onboarding()
    assert [g["missing"] for g in again["groups"]] == [["privacy_policy_acknowledged"]] * 2
    assert again["forms"][1] == {"document": "privacy_policy", "current_version": "2026-07", "acknowledged": False}
    assert (await client.post("/v1/me/acknowledgements", json={"document": "privacy_policy", "version": "2026-07"}, headers=headers)).status_code == 201
    assert all(g["ready"] for g in (await onboarding())["groups"])


async def test_a_person_who_is_nobodys_client_sees_their_own_progress(client: httpx.AsyncClient, db: AsyncSession, person: User) -> None:
    headers = await user_headers(db, person)
    await client.put("/v1/me/billing-method", json=BILLING, headers=headers)
    response = await client.get("/v1/me/onboarding", headers=headers)
    assert response.status_code == 200
    assert response.json()["groups"] == [] and response.json()["billing_method_on_file"] is True


@pytest.fixture
async def statements(conn: AsyncConnection):
    """Counts the SQL statements sent on the test's connection."""
    sent: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        sent.append(statement)

    event.listen(conn.sync_connection, "before_cursor_execute", record)
    yield sent
    event.remove(conn.sync_connection, "before_cursor_execute", record)


async def test_the_loader_reads_a_page_of_clients_in_one_statement(db: AsyncSession, group: Group, provider: User, statements: list[str]) -> None:
    # rule C4, for every client response: three statements for 50 clients (the person's facts, their own
    # policies, the practice's copies: C8), never one per client
    clients = []
    for i in range(50):
        person = await make_user(db, verified=i % 2 == 0)
        client, _ = await enroll(db, group_id=group.id, user=person, provider_user_id=provider.id, billing_type="insurance" if i % 3 else "private_pay", added_by=None)
        clients.append(client)
        if i % 5 == 0:
            db.add(InsurancePolicy(user_id=person.id, company="Aetna", member_id_encrypted=b"x", member_id_last4="0000"))
        if i % 7 == 0:
            db.add(BillingMethod(user_id=person.id, processor_token="pm_token_123", brand="visa", last4="4242", exp_month=1, exp_year=YEAR + 1))
        if i % 4 == 0:
            db.add(Acknowledgement(user_id=person.id, document="billing_policy", version=CURRENT_FORM_VERSIONS["billing_policy"]))
            db.add(Acknowledgement(user_id=person.id, document="privacy_policy", version="2019-01"))  # an old version counts for nothing
    await db.flush()
    statements.clear()
    facts = await readiness_facts(db, clients)
    assert len(statements) == 3
    assert set(facts) == {c.id for c in clients}
    for i, client in enumerate(clients):
        assert facts[client.id] == ReadinessFacts(
            account_verified=i % 2 == 0,
            billing_type=client.billing_type,
            has_insurance=i % 5 == 0,
            has_billing_method=i % 7 == 0,
            acknowledged=frozenset({("billing_policy", CURRENT_FORM_VERSIONS["billing_policy"])}) if i % 4 == 0 else frozenset(),
        ), i
    statements.clear()
    assert await readiness_facts(db, []) == {} and statements == []


async def test_an_expired_card_or_a_failed_insurance_is_not_on_file(db: AsyncSession, person: User, insurance_client: Client) -> None:
    # rule C4: what is on file must be usable: a card good through its expiry month, insurance not failed
    db.add(InsurancePolicy(user_id=person.id, company="Aetna", member_id_encrypted=b"x", member_id_last4="0000", status="verified"))
    db.add(BillingMethod(user_id=person.id, processor_token="pm_token_123", brand="visa", last4="4242", exp_month=12, exp_year=YEAR - 1))
    await db.flush()
    facts = (await readiness_facts(db, [insurance_client]))[insurance_client.id]
    assert facts.has_insurance and not facts.has_billing_method
    await db.execute(update(InsurancePolicy).where(InsurancePolicy.user_id == person.id).values(status="failed"))
    await db.execute(update(BillingMethod).where(BillingMethod.user_id == person.id).values(exp_year=YEAR, exp_month=datetime.now(UTC).month))
    facts = (await readiness_facts(db, [insurance_client]))[insurance_client.id]
    assert not facts.has_insurance and facts.has_billing_method


async def test_a_missing_person_has_nothing_done(db: AsyncSession, insurance_client: Client) -> None:
    from app.clients.readiness_loader import person_facts

    ghost = uuid.uuid4()
    facts = await person_facts(db, [ghost])
    assert facts[ghost].account_verified is False and facts[ghost].acknowledged == frozenset()
