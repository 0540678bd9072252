"""The client's own insurance: rules C1, C4 (insurance on file), DESIGN 8 (member id encrypted at rest,
never returned whole), R2 (changes audited with field names only)."""

import httpx
import pytest
from cryptography.exceptions import InvalidTag
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import crypto
from app.models import InsurancePolicy, User
from app.onboarding.service import shown_suffix
from tests.fixtures.factories import api_key, bearer, make_group, user_headers
from tests.onboarding.conftest import audit_events

URL = "/v1/me/insurance"
MEMBER_ID = "XQA-908172635"
DOB = "1984-07-19"
POLICY = {"company": "Blue Shield", "member_id": MEMBER_ID, "date_of_birth": DOB, "copay_cents": 3000}


async def raw_row(db: AsyncSession, user: User) -> dict | None:
    row = (await db.execute(text("SELECT * FROM insurance_policies WHERE user_id = :u"), {"u": user.id})).mappings().first()
    return dict(row) if row else None


async def test_the_member_id_is_encrypted_at_rest_and_masked_in_every_response(client: httpx.AsyncClient, db: AsyncSession, person: User, insurance_client) -> None:
    # rule C1, DESIGN 8: insurance member ids are encrypted at rest and never returned whole
    headers = await user_headers(db, person)
    response = await client.put(URL, json=POLICY, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["member_id"] == "••••2635"
    assert (body["company"], body["copay_cents"], body["coinsurance_percent"], body["status"]) == ("Blue Shield", 3000, None, "on_file")
    assert body["date_of_birth_on_file"] is True and "date_of_birth" not in body
    row = await raw_row(db, person)
    assert row is not None
    for column, value in row.items():  # no column holds the member id or the date of birth in clear
        stored = value if isinstance(value, bytes) else str(value).encode()
        assert MEMBER_ID.encode() not in stored and b"908172635" not in stored and DOB.encode() not in stored, column
    assert crypto.decrypt(row["member_id_encrypted"], purpose="insurance_member_id") == MEMBER_ID
    assert crypto.decrypt(row["date_of_birth_encrypted"], purpose="insurance_date_of_birth") == DOB
    # bound to its purpose: the member id's ciphertext does not decrypt as another column's
    with pytest.raises(InvalidTag):
        crypto.decrypt(row["member_id_encrypted"], purpose="insurance_date_of_birth")

    for path in (URL, "/v1/me/onboarding"):
        read = await client.get(path, headers=headers)
        assert read.status_code == 200
        assert MEMBER_ID not in read.text and "908172635" not in read.text and DOB not in read.text
    assert (await client.get(URL, headers=headers)).json() == body
    # rule R2: who changed what, by field name only
    [event] = await audit_events(db, person, "insurance.updated")
    assert (event.target_type, event.target_id, str(event.actor_ip)) == ("insurance_policy", str(person.id), "203.0.113.7")
    assert event.details == {"fields": ["company", "copay_cents", "date_of_birth", "member_id"], "replaced": False, "previous_status": None}


async def test_a_short_member_id_is_never_shown_whole(client: httpx.AsyncClient, db: AsyncSession, person: User) -> None:
    # DESIGN 8: the last four at most, and never all of it
    headers = await user_headers(db, person)
    for member_id, shown in (("AB12", "••••12"), ("7", "••••"), ("ABC-DEF-1234", "••••1234"), ("ab-12c", "••••2c")):
        response = await client.put(URL, json={"company": "Aetna", "member_id": member_id}, headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["member_id"] == shown
    assert shown_suffix("X1234567") == "4567" and shown_suffix("123456") == "456"


async def test_a_change_resets_verification_and_the_same_policy_changes_nothing(client: httpx.AsyncClient, db: AsyncSession, person: User) -> None:
    # rule C4: a changed policy must be verified again; a retried PUT is not a change
    headers = await user_headers(db, person)
    assert (await client.put(URL, json=POLICY, headers=headers)).status_code == 200
    await db.execute(update(InsurancePolicy).where(InsurancePolicy.user_id == person.id).values(status="verified"))
    same = await client.put(URL, json=POLICY, headers=headers)
    assert same.json()["status"] == "verified"
    assert len(await audit_events(db, person, "insurance.updated")) == 1
    changed = await client.put(URL, json={**POLICY, "copay_cents": None, "coinsurance_percent": 12.5}, headers=headers)
    assert changed.status_code == 200
    assert (changed.json()["status"], changed.json()["copay_cents"], changed.json()["coinsurance_percent"]) == ("on_file", None, 12.5)
    stored = await db.scalar(select(InsurancePolicy).where(InsurancePolicy.user_id == person.id).execution_options(populate_existing=True))
    assert (stored.coinsurance_bp, stored.copay_cents) == (1250, None)
    last = (await audit_events(db, person, "insurance.updated"))[-1]
    assert last.details == {"fields": ["coinsurance_percent", "copay_cents"], "replaced": True, "previous_status": "verified"}
    # a PUT replaces the whole policy: a date of birth left out is cleared
    cleared = await client.put(URL, json={"company": "Blue Shield", "member_id": MEMBER_ID, "coinsurance_percent": "12.50"}, headers=headers)
    assert cleared.json()["date_of_birth_on_file"] is False
    assert (await audit_events(db, person, "insurance.updated"))[-1].details["fields"] == ["date_of_birth"]


async def test_invalid_insurance_is_refused_without_echoing_it_and_changes_nothing(client: httpx.AsyncClient, db: AsyncSession, person: User) -> None:
    headers = await user_headers(db, person)
    cases = {
        "body.member_id": [{**POLICY, "member_id": "XQA 9081"}, {**POLICY, "member_id": "X" * 41}, {**POLICY, "member_id": "---"}, {**POLICY, "member_id": ""}],
        "body.date_of_birth": [{**POLICY, "date_of_birth": "2999-01-01"}, {**POLICY, "date_of_birth": "1850-01-01"}],
        "body.coinsurance_percent": [
            {**POLICY, "copay_cents": None, "coinsurance_percent": 100.5},
            {**POLICY, "copay_cents": None, "coinsurance_percent": 12.345},
            {**POLICY, "copay_cents": None, "coinsurance_percent": -1},
        ],
        "body.copay_cents": [{**POLICY, "copay_cents": -1}, {**POLICY, "copay_cents": 12.5}],
        "body.company": [{**POLICY, "company": "  "}],
        "body": [{**POLICY, "coinsurance_percent": 20}],  # a copay or a coinsurance, not both
        "body.member_id_last4": [{**POLICY, "member_id_last4": "0000"}],
    }
    for field, bodies in cases.items():
        for body in bodies:
            response = await client.put(URL, json=body, headers=headers)
            assert response.status_code == 422, (field, response.text)
            assert response.json()["code"] == "validation_failed"
            assert [e["field"] for e in response.json()["errors"]] == [field], response.text
            assert str(body["member_id"]) not in response.text or body["member_id"] == ""
    assert await raw_row(db, person) is None
    assert await audit_events(db, person, "insurance.updated") == []


async def test_reading_and_removing_insurance(client: httpx.AsyncClient, db: AsyncSession, person: User) -> None:
    headers = await user_headers(db, person)
    missing = await client.get(URL, headers=headers)
    assert missing.status_code == 404 and missing.json()["code"] == "insurance_not_on_file"
    assert missing.headers["content-type"] == "application/problem+json"
    await client.put(URL, json=POLICY, headers=headers)
    assert (await client.delete(URL, headers=headers)).status_code == 204
    assert await raw_row(db, person) is None
    assert (await client.get(URL, headers=headers)).status_code == 404
    assert (await client.delete(URL, headers=headers)).status_code == 204  # removing none is no error
    assert len(await audit_events(db, person, "insurance.deleted")) == 1


async def test_insurance_belongs_to_people_not_integrations(client: httpx.AsyncClient, db: AsyncSession, owner: User) -> None:
    # an API key acts for a group, never as a person
    key = await api_key(db, await make_group(db, owner=owner, name="Keyed"))
    response = await client.put(URL, json=POLICY, headers=bearer(key))
    assert response.status_code == 403 and response.json()["code"] == "people_only"
    assert (await client.get(URL)).status_code == 401


async def test_each_person_sees_only_their_own_insurance(client: httpx.AsyncClient, db: AsyncSession, person: User, owner: User) -> None:
    await client.put(URL, json=POLICY, headers=await user_headers(db, person))
    other = await client.get(URL, headers=await user_headers(db, owner))
    assert other.status_code == 404


async def test_reading_your_own_insurance_is_audited(client: httpx.AsyncClient, db: AsyncSession, person: User) -> None:
    # rule R2: a client reading their own insurance is a read of PHI, recorded with ids only
    headers = await user_headers(db, person)
    assert (await client.put(URL, json=POLICY, headers=headers)).status_code == 200
    assert await audit_events(db, person, "insurance.read") == []
    assert (await client.get(URL, headers=headers)).status_code == 200
    [event] = await audit_events(db, person, "insurance.read")
    assert (event.target_type, event.target_id, event.outcome) == ("insurance_policy", str(person.id), "success")
    assert MEMBER_ID not in str(event.details) and "Blue Shield" not in str(event.details)
