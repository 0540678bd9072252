"""Individual intake form: the capability table's "individual intake form" row (provider: own; admin: all), R1, R2."""

from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Group, IntakeForm, User
from tests.fixtures.factories import user_headers
from tests.providers.conftest import audit_events


def url(group: Group, user: User) -> str:
    return f"/v1/groups/{group.id}/providers/{user.id}/intake-form"


QUESTIONS = [
    {"id": "reason", "label": "What brings you to therapy?", "kind": "long_text", "required": True},
    {"id": "prior-therapy", "label": "Have you been in therapy before?", "kind": "yes_no", "required": False},
    {"id": "format", "label": "Preferred format", "kind": "single_choice", "options": ["In person", "Telehealth"], "required": True},
    {"id": "concerns", "label": "Concerns", "kind": "multi_choice", "options": ["Anxiety", "Depression", "Grief"], "required": False},
    {"id": "start_date", "label": "Earliest start", "kind": "date", "required": False},
    {"id": "referral", "label": "Who referred you?", "kind": "text", "required": False},
]


def expected(questions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"options": None, **q} for q in questions]


async def stored(db: AsyncSession, group: Group, user: User) -> list | None:
    return await db.scalar(select(IntakeForm.questions).where(IntakeForm.group_id == group.id, IntakeForm.provider_user_id == user.id))


async def test_a_provider_builds_their_own_intake_form(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User) -> None:
    # capability table: individual intake form, provider "own"
    headers = await user_headers(db, provider)
    empty = await client.get(url(group, provider), headers=headers)
    assert empty.status_code == 200 and empty.json() == {"questions": [], "updated_at": None}
    response = await client.patch(url(group, provider), json={"questions": QUESTIONS}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["questions"] == expected(QUESTIONS) and response.json()["updated_at"]
    assert (await client.get(url(group, provider), headers=headers)).json() == response.json()
    shorter = await client.patch(url(group, provider), json={"questions": QUESTIONS[:1]}, headers=headers)
    assert shorter.json()["questions"] == expected(QUESTIONS[:1])
    assert await stored(db, group, provider) == QUESTIONS[:1]
    # rule R2: a count, never the questions
    first, second = await audit_events(db, group, "intake_form.updated")
    assert (first.actor_user_id, first.target_type, first.target_id, first.details) == (provider.id, "intake_form", str(provider.id), {"questions": 6})
    assert second.details == {"questions": 1}


async def test_admins_edit_any_providers_form_and_colleagues_cannot(client: httpx.AsyncClient, db: AsyncSession, group: Group, admin: User, provider: User, colleague: User) -> None:
    # capability table: admin "all"; rule R1: a colleague's form is 403
    assert (await client.patch(url(group, provider), json={"questions": QUESTIONS[:2]}, headers=await user_headers(db, admin))).status_code == 200
    headers = await user_headers(db, colleague)
    assert (await client.get(url(group, provider), headers=headers)).status_code == 403
    assert (await client.patch(url(group, provider), json={"questions": []}, headers=headers)).status_code == 403
    assert await stored(db, group, provider) == QUESTIONS[:2]


async def test_another_groups_member_gets_404_and_changes_nothing(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, stranger: User) -> None:
    # rule R1
    await client.patch(url(group, provider), json={"questions": QUESTIONS}, headers=await user_headers(db, provider))
    headers = await user_headers(db, stranger)
    assert (await client.get(url(group, provider), headers=headers)).status_code == 404
    assert (await client.patch(url(group, provider), json={"questions": []}, headers=headers)).status_code == 404
    assert await stored(db, group, provider) == QUESTIONS


def question(**changes: Any) -> dict[str, Any]:
    return {"id": "q1", "label": "Question", "kind": "text", **changes}


@pytest.mark.parametrize(
    ("questions", "field"),
    [
        ([question(kind="single_choice")], "body.questions.0"),  # choice without options
        ([question(kind="multi_choice", options=["Only one"])], "body.questions.0.options"),
        ([question(kind="single_choice", options=["Yes", "yes"])], "body.questions.0"),
        ([question(options=["A", "B"])], "body.questions.0"),  # options on a text question
        ([question(kind="yes_no", options=["Yes", "No"])], "body.questions.0"),
        ([question(kind="essay")], "body.questions.0.kind"),
        ([question(id="Has Spaces")], "body.questions.0.id"),
        ([question(id="x" * 41)], "body.questions.0.id"),
        ([question(label="")], "body.questions.0.label"),
        ([question(hint="extra")], "body.questions.0.hint"),
        ([question(), question(label="Again")], "body"),  # ids must be unique
        ([question(id=f"q{i}") for i in range(101)], "body.questions"),
    ],
)
async def test_invalid_forms_are_422_and_change_nothing(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, questions: list, field: str) -> None:
    headers = await user_headers(db, provider)
    await client.patch(url(group, provider), json={"questions": QUESTIONS[:1]}, headers=headers)
    response = await client.patch(url(group, provider), json={"questions": questions}, headers=headers)
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]]
    assert await stored(db, group, provider) == QUESTIONS[:1]


async def test_duplicate_ids_are_named(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User) -> None:
    response = await client.patch(url(group, provider), json={"questions": [question(), question(id="q2"), question(label="Again")]}, headers=await user_headers(db, provider))
    assert "q1" in response.json()["errors"][0]["message"]


async def test_a_hundred_questions_are_allowed(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User) -> None:
    response = await client.patch(url(group, provider), json={"questions": [question(id=f"q{i}") for i in range(100)]}, headers=await user_headers(db, provider))
    assert response.status_code == 200 and len(response.json()["questions"]) == 100
