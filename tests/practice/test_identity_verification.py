"""Identity verification: billing settings (admin column), P2, A4 (staff decide), DESIGN 8, R1, R2."""

from datetime import date, timedelta

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import crypto
from app.models import Group, User
from tests.fixtures.factories import api_key, bearer, user_headers
from tests.practice.conftest import audit_events

TAX_ID = "123-45-6789"
IDENTITY = {"legal_name": "Olive Q. Owner", "date_of_birth": "1980-04-02", "tax_id": TAX_ID}


def url(group: Group) -> str:
    return f"/v1/groups/{group.id}/identity-verification"


def decision_url(group: Group) -> str:
    return f"/v1/ops/groups/{group.id}/identity-verification/decision"


async def raw_row(db: AsyncSession, group: Group) -> dict | None:
    row = (await db.execute(text("SELECT * FROM identity_verifications WHERE group_id = :g"), {"g": group.id})).mappings().first()
    return dict(row) if row else None


async def test_submission_is_pending_encrypted_and_shows_only_the_last_four(client: httpx.AsyncClient, db: AsyncSession, group: Group, admin: User) -> None:
    # P2 (the tax identity payouts are under); DESIGN 8 (tax ids encrypted at rest, never returned whole)
    headers = await user_headers(db, admin)
    before = await client.get(url(group), headers=headers)
    assert before.status_code == 200 and before.json()["status"] == "not_submitted"
    response = await client.put(url(group), json=IDENTITY, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["legal_name"], body["tax_id_last4"], body["decided_at"]) == ("pending", "Olive Q. Owner", "6789", None)
    for secret in ("123456789", TAX_ID, "1980-04-02"):
        assert secret not in response.text
    row = await raw_row(db, group)
    assert row is not None
    for column, value in row.items():
        raw = value if isinstance(value, bytes) else str(value).encode()
        assert b"123456789" not in raw and b"1980-04-02" not in raw, column
    assert crypto.decrypt(row["tax_id_encrypted"], purpose="tax_id") == "123456789"
    assert crypto.decrypt(row["date_of_birth_encrypted"], purpose="date_of_birth") == "1980-04-02"
    assert (await client.get(url(group), headers=headers)).json() == body
    settings = await client.get(f"/v1/groups/{group.id}/settings", headers=headers)
    assert settings.json()["identity_verification"]["status"] == "pending" and "123456789" not in settings.text
    [event] = await audit_events(db, group, "identity_verification.submitted")
    assert (event.actor_user_id, event.target_type, event.target_id) == (admin.id, "identity_verification", str(group.id))
    assert event.details == {"fields": ["date_of_birth", "legal_name", "tax_id"], "previous_status": None}
    assert "6789" not in str(event.details) and "Olive" not in str(event.details)


async def test_staff_verify_a_pending_submission(client: httpx.AsyncClient, db: AsyncSession, group: Group, owner: User, staff: User) -> None:
    # A4: staff actions are audited like any other
    await client.put(url(group), json=IDENTITY, headers=await user_headers(db, owner))
    staff_headers = await user_headers(db, staff)
    response = await client.post(decision_url(group), json={"decision": "verified"}, headers=staff_headers)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "verified" and response.json()["decided_at"] is not None
    row = await raw_row(db, group)
    assert row["decided_by_user_id"] == staff.id  # type: ignore[index]
    again = await client.post(decision_url(group), json={"decision": "rejected", "reason": "changed my mind"}, headers=staff_headers)
    assert again.status_code == 409 and again.json()["code"] == "identity_verification_not_pending" and again.json()["current_status"] == "verified"
    [event] = await audit_events(db, group, "identity_verification.verified")
    assert event.actor_user_id == staff.id and event.target_id == str(group.id)


async def test_a_rejection_needs_a_reason_and_a_resubmission_is_pending_again(client: httpx.AsyncClient, db: AsyncSession, group: Group, owner: User, staff: User) -> None:
    owner_headers, staff_headers = await user_headers(db, owner), await user_headers(db, staff)
    await client.put(url(group), json=IDENTITY, headers=owner_headers)
    for body in ({"decision": "rejected"}, {"decision": "rejected", "reason": "  "}, {"decision": "verified", "reason": "looks fine"}, {"decision": "maybe"}):
        response = await client.post(decision_url(group), json=body, headers=staff_headers)
        assert response.status_code == 422, body
    assert (await raw_row(db, group))["status"] == "pending"  # type: ignore[index]
    rejected = await client.post(decision_url(group), json={"decision": "rejected", "reason": "The name does not match the tax records."}, headers=staff_headers)
    assert rejected.status_code == 200
    seen = (await client.get(url(group), headers=owner_headers)).json()
    assert (seen["status"], seen["rejection_reason"]) == ("rejected", "The name does not match the tax records.")

    resubmitted = await client.put(url(group), json={**IDENTITY, "legal_name": "Olive Quinn Owner"}, headers=owner_headers)
    assert resubmitted.status_code == 200
    body = resubmitted.json()
    assert (body["status"], body["rejection_reason"], body["decided_at"]) == ("pending", None, None)
    events = await audit_events(db, group, "identity_verification.submitted")
    assert [e.details["previous_status"] for e in events] == [None, "rejected"]
    rejection = (await audit_events(db, group, "identity_verification.rejected"))[0]
    assert "name does not match" not in str(rejection.details)


async def test_resubmitting_while_verified_goes_back_to_pending(client: httpx.AsyncClient, db: AsyncSession, group: Group, owner: User, staff: User) -> None:
    # a changed tax identity must be verified again before payouts rely on it (P2)
    owner_headers = await user_headers(db, owner)
    await client.put(url(group), json=IDENTITY, headers=owner_headers)
    await client.post(decision_url(group), json={"decision": "verified"}, headers=await user_headers(db, staff))
    response = await client.put(url(group), json={**IDENTITY, "tax_id": "98-7654321"}, headers=owner_headers)
    assert (response.json()["status"], response.json()["tax_id_last4"]) == ("pending", "4321")
    assert crypto.decrypt((await raw_row(db, group))["tax_id_encrypted"], purpose="tax_id") == "987654321"  # type: ignore[index]


async def test_only_staff_decide_and_only_what_was_submitted(client: httpx.AsyncClient, db: AsyncSession, group: Group, owner: User, staff: User) -> None:
    # A4: staff is a platform role; the group's own owner cannot verify themselves
    none_yet = await client.post(decision_url(group), json={"decision": "verified"}, headers=await user_headers(db, staff))
    assert none_yet.status_code == 404
    await client.put(url(group), json=IDENTITY, headers=await user_headers(db, owner))
    self_verify = await client.post(decision_url(group), json={"decision": "verified"}, headers=await user_headers(db, owner))
    assert self_verify.status_code == 403 and self_verify.json()["code"] == "staff_only"
    key = await client.post(decision_url(group), json={"decision": "verified"}, headers=bearer(await api_key(db, group)))
    assert key.status_code == 403
    assert (await client.post(decision_url(group), json={"decision": "verified"})).status_code == 401
    assert (await raw_row(db, group))["status"] == "pending"  # type: ignore[index]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"tax_id": "000-12-3456"}, "body.tax_id"),
        ({"tax_id": "666-12-3456"}, "body.tax_id"),
        ({"tax_id": "912-34-5678"}, "body.tax_id"),
        ({"tax_id": "123-00-6789"}, "body.tax_id"),
        ({"tax_id": "123-45-0000"}, "body.tax_id"),
        ({"tax_id": "12345"}, "body.tax_id"),
        ({"date_of_birth": str(date.today() - timedelta(days=17 * 365))}, "body.date_of_birth"),
        ({"date_of_birth": str(date.today() + timedelta(days=1))}, "body.date_of_birth"),
        ({"legal_name": ""}, "body.legal_name"),
        ({"status": "verified"}, "body.status"),
        ({"tax_id_last4": "0000"}, "body.tax_id_last4"),
    ],
)
async def test_invalid_or_privileged_identity_fields_are_422(client: httpx.AsyncClient, db: AsyncSession, group: Group, admin: User, change: dict, field: str) -> None:
    # issue 3 item 5 (mass assignment: a group cannot mark itself verified); DESIGN 8 (no value echoed)
    response = await client.put(url(group), json={**IDENTITY, **change}, headers=await user_headers(db, admin))
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [field]
    if "tax_id" in change:
        assert change["tax_id"] not in response.text
    assert await raw_row(db, group) is None


async def test_providers_and_keys_are_refused_and_other_groups_get_404(client: httpx.AsyncClient, db: AsyncSession, group: Group, owner: User, provider: User, stranger: User) -> None:
    # rule R1; capability table: ID verification is "no" for a provider
    await client.put(url(group), json=IDENTITY, headers=await user_headers(db, owner))
    provider_headers, key = await user_headers(db, provider), bearer(await api_key(db, group))
    for headers in (provider_headers, key):
        assert (await client.get(url(group), headers=headers)).status_code == 403
        assert (await client.put(url(group), json={**IDENTITY, "legal_name": "Mallory"}, headers=headers)).status_code == 403
    stranger_headers = await user_headers(db, stranger)
    assert (await client.get(url(group), headers=stranger_headers)).status_code == 404
    assert (await client.put(url(group), json={**IDENTITY, "legal_name": "Mallory"}, headers=stranger_headers)).status_code == 404
    assert (await raw_row(db, group))["legal_name"] == "Olive Q. Owner"  # type: ignore[index]
    settings = await client.get(f"/v1/groups/{group.id}/settings", headers=key)
    assert settings.json()["identity_verification"] is None and "Olive" not in settings.text
