"""Acknowledging the standard forms: rules C3, C4 (both forms acknowledged, in their current version), R2."""

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.clients.readiness import CURRENT_FORM_VERSIONS
from app.models import Acknowledgement, User
from tests.fixtures.factories import user_headers
from tests.onboarding.conftest import audit_events

URL = "/v1/me/acknowledgements"


async def stored(db: AsyncSession, user: User) -> list[Acknowledgement]:
    return list(await db.scalars(select(Acknowledgement).where(Acknowledgement.user_id == user.id)))


async def test_acknowledging_records_when_and_from_where_once(client: httpx.AsyncClient, db: AsyncSession, person: User) -> None:
    # rule C3: the person acknowledges the billing policy; rule R2: where it came from
    headers = await user_headers(db, person)
    body = {"document": "billing_policy", "version": CURRENT_FORM_VERSIONS["billing_policy"]}
    first = await client.post(URL, json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert first.json()["document"] == "billing_policy" and first.json()["current"] is True
    [row] = await stored(db, person)
    assert (str(row.id), str(row.ip)) == (first.json()["id"], "203.0.113.7")
    # twice: the first acknowledgement, unchanged (200, not a second record)
    again = await client.post(URL, json=body, headers=headers)
    assert again.status_code == 200 and again.json() == first.json()
    assert len(await stored(db, person)) == 1
    [event] = await audit_events(db, person, "acknowledgement.created")
    assert event.target_id == first.json()["id"] and event.details == {"document": "billing_policy", "version": body["version"]}


async def test_a_retry_with_an_idempotency_key_replays_the_first_answer(client: httpx.AsyncClient, db: AsyncSession, person: User) -> None:
    # rule X2
    headers = {**await user_headers(db, person), "Idempotency-Key": "ack-1"}
    body = {"document": "privacy_policy", "version": CURRENT_FORM_VERSIONS["privacy_policy"]}
    first = await client.post(URL, json=body, headers=headers)
    replay = await client.post(URL, json=body, headers=headers)
    assert (first.status_code, replay.status_code, replay.headers.get("idempotent-replayed")) == (201, 201, "true")
    assert replay.json() == first.json()


async def test_an_outdated_version_is_refused_naming_the_current_one(client: httpx.AsyncClient, db: AsyncSession, person: User) -> None:
    # rule C4: only the current version counts, so only it can be acknowledged
    headers = await user_headers(db, person)
    for version in ("2020-01", "2999-12"):
        response = await client.post(URL, json={"document": "privacy_policy", "version": version}, headers=headers)
        assert response.status_code == 409, response.text
        problem = response.json()
        assert problem["code"] == "form_version_outdated"
        assert problem["current_version"] == CURRENT_FORM_VERSIONS["privacy_policy"] and problem["document"] == "privacy_policy"
        assert CURRENT_FORM_VERSIONS["privacy_policy"] in problem["detail"]
    unknown = await client.post(URL, json={"document": "terms_of_service", "version": "2026-01"}, headers=headers)
    assert unknown.status_code == 422
    assert await stored(db, person) == []
    assert await audit_events(db, person, "acknowledgement.created") == []


async def test_the_list_marks_which_acknowledgements_are_current(client: httpx.AsyncClient, db: AsyncSession, person: User, monkeypatch: pytest.MonkeyPatch) -> None:
    headers = await user_headers(db, person)
    for document, version in CURRENT_FORM_VERSIONS.items():
        await client.post(URL, json={"document": document, "version": version}, headers=headers)
    listed = await client.get(URL, headers=headers)
    assert listed.status_code == 200
    assert sorted((a["document"], a["current"]) for a in listed.json()["items"]) == [("billing_policy", True), ("privacy_policy", True)]
    monkeypatch.setitem(CURRENT_FORM_VERSIONS, "privacy_policy", "2026-07")  # a new privacy policy is published
    relisted = await client.get(URL, headers=headers)
    assert sorted((a["document"], a["current"]) for a in relisted.json()["items"]) == [("billing_policy", True), ("privacy_policy", False)]
    page = await client.get(URL, params={"limit": 1}, headers=headers)
    assert len(page.json()["items"]) == 1 and page.json()["next_cursor"]
    rest = await client.get(URL, params={"limit": 1, "cursor": page.json()["next_cursor"]}, headers=headers)
    assert rest.json()["items"][0]["id"] != page.json()["items"][0]["id"]
