"""Practice settings: the admin column of the capability table (search visibility, intake length,
client age range, booking preferences, cancellation policy, account settings), R1, R2."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import CancellationPolicy, Group, User
from app.practice import validation
from tests.fixtures.factories import api_key, bearer, user_headers
from tests.practice.conftest import audit_events


def url(group: Group) -> str:
    return f"/v1/groups/{group.id}/settings"


async def stored(db: AsyncSession, group: Group) -> dict[str, Any]:
    """The settings columns as the database has them (not the session's cached object)."""
    row = (
        await db.execute(
            select(
                Group.name, Group.time_zone, Group.shown_in_search, Group.intake_session_minutes, Group.client_age_min,
                Group.client_age_max, Group.booking_preferences, Group.contact_email, Group.contact_phone,
            ).where(Group.id == group.id)
        )
    ).one()
    return dict(row._mapping)


async def policy_count(db: AsyncSession, group: Group) -> int:
    return await db.scalar(select(func.count()).select_from(CancellationPolicy).where(CancellationPolicy.group_id == group.id))


# One field of each capability: a provider is refused every one of them.
ONE_FIELD_PER_AREA = {
    "search_visibility": {"shown_in_search": False},
    "booking_settings:intake": {"intake_session_minutes": 45},
    "booking_settings:ages": {"client_age_min": 18},
    "booking_settings:preferences": {"booking_preferences": {"default_to_phone_consults": True}},
    "account_settings:email": {"contact_email": "desk@example.com"},
    "account_settings:phone": {"contact_phone": "(212) 736-5000"},
    "billing_settings": {"cancellation_policy": {"window_hours": 24, "fee_cents": 5000, "effective_from": "2099-01-01"}},
}


async def test_admin_reads_every_setting_with_defaults(client: httpx.AsyncClient, db: AsyncSession, group: Group, admin: User) -> None:
    # capability table, admin column: every practice setting on one page
    response = await client.get(url(group), headers=await user_headers(db, admin))
    assert response.status_code == 200, response.text
    assert response.json() == {
        "group_id": str(group.id),
        "time_zone": "America/Los_Angeles",
        "shown_in_search": True,
        "intake_session_minutes": 60,
        "session_reminder_hours": 24,  # rule S12: 24 hours by default
        "client_age_min": None,
        "client_age_max": None,
        "booking_preferences": {"default_to_phone_consults": False, "appointments_by_specialization": False},
        "contact_email": None,
        "contact_phone": None,
        "require_two_factor_for_admins": False,
        "cancellation_policy": None,
        "upcoming_cancellation_policies": [],
        "bank_account": None,
        "identity_verification": None,
        "pending_bank_account": None,
    }


async def test_admin_changes_settings_and_the_change_is_audited(client: httpx.AsyncClient, db: AsyncSession, group: Group, admin: User) -> None:
    # capability table, admin column; rule R2 (who, what, which record; field names only)
    body = {
        "shown_in_search": False,
        "intake_session_minutes": 90,
        "session_reminder_hours": 48,
        "client_age_min": 13,
        "client_age_max": 65,
        "booking_preferences": {"default_to_phone_consults": True},
        "contact_email": "front.desk@example.com",
        "contact_phone": "(212) 736-5000",
    }
    response = await client.patch(url(group), json=body, headers=await user_headers(db, admin))
    assert response.status_code == 200, response.text
    settings = response.json()
    assert settings["contact_phone"] == "+12127365000"  # E.164
    assert settings["session_reminder_hours"] == 48  # rule S12: a group setting
    assert settings["booking_preferences"] == {"default_to_phone_consults": True, "appointments_by_specialization": False}
    row = await stored(db, group)
    assert (row["shown_in_search"], row["intake_session_minutes"], row["client_age_min"], row["client_age_max"]) == (False, 90, 13, 65)
    assert (row["contact_email"], row["contact_phone"]) == ("front.desk@example.com", "+12127365000")
    [event] = await audit_events(db, group, "group_settings.updated")
    assert (event.actor_user_id, event.target_type, event.target_id, event.outcome) == (admin.id, "group", str(group.id), "success")
    assert event.details == {"fields": sorted(body)}
    assert "front.desk" not in str(event.details) and "2127365000" not in str(event.details)


async def test_owner_has_every_admin_capability(client: httpx.AsyncClient, db: AsyncSession, group: Group, owner: User) -> None:
    # rule G2: the owner has every admin capability
    headers = await user_headers(db, owner)
    for body in ONE_FIELD_PER_AREA.values():
        response = await client.patch(url(group), json=body, headers=headers)
        assert response.status_code == 200, (body, response.text)


async def test_booking_preferences_merge_key_by_key(client: httpx.AsyncClient, db: AsyncSession, group: Group, admin: User) -> None:
    # booking preferences (e.g. default to phone consults, appointments by specialization)
    headers = await user_headers(db, admin)
    await client.patch(url(group), json={"booking_preferences": {"default_to_phone_consults": True}}, headers=headers)
    response = await client.patch(url(group), json={"booking_preferences": {"appointments_by_specialization": True}}, headers=headers)
    assert response.json()["booking_preferences"] == {"default_to_phone_consults": True, "appointments_by_specialization": True}
    assert (await stored(db, group))["booking_preferences"] == {"default_to_phone_consults": True, "appointments_by_specialization": True}


@pytest.mark.parametrize("area", list(ONE_FIELD_PER_AREA))
async def test_a_provider_is_refused_every_admin_setting(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, area: str) -> None:
    # rule R1, capability table: "no" in the provider column for every practice setting
    before = await stored(db, group)
    response = await client.patch(url(group), json=ONE_FIELD_PER_AREA[area], headers=await user_headers(db, provider))
    assert response.status_code == 403 and response.json()["code"] == "forbidden"
    assert await stored(db, group) == before and await policy_count(db, group) == 0


async def test_a_provider_cannot_read_the_settings(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User) -> None:
    # rule R1
    response = await client.get(url(group), headers=await user_headers(db, provider))
    assert response.status_code == 403 and response.json()["capability"] == "account_settings"


async def test_another_groups_member_gets_404_and_changes_nothing(client: httpx.AsyncClient, db: AsyncSession, group: Group, stranger: User) -> None:
    # rule R1: the API never reveals that another group's object exists
    headers = await user_headers(db, stranger)
    before = await stored(db, group)
    assert (await client.get(url(group), headers=headers)).status_code == 404
    for body in ONE_FIELD_PER_AREA.values():
        response = await client.patch(url(group), json=body, headers=headers)
        assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert await stored(db, group) == before and await policy_count(db, group) == 0
    assert await audit_events(db, group, "group_settings.updated") == []


async def test_a_patch_touching_two_areas_needs_both_capabilities(client: httpx.AsyncClient, db: AsyncSession, group: Group) -> None:
    # capability table: an API key acts as an admin, but not on billing settings (authz.CAPABILITIES)
    headers = bearer(await api_key(db, group))
    both = {"contact_email": "desk@example.com", **ONE_FIELD_PER_AREA["billing_settings"]}
    response = await client.patch(url(group), json=both, headers=headers)
    assert response.status_code == 403 and response.json()["capability"] == "billing_settings"
    assert (await stored(db, group))["contact_email"] is None and await policy_count(db, group) == 0
    alone = await client.patch(url(group), json={"contact_email": "desk@example.com"}, headers=headers)
    assert alone.status_code == 200 and alone.json()["contact_email"] == "desk@example.com"


@pytest.mark.parametrize(
    "body",
    [
        {"name": "Hijacked Practice"},
        {"time_zone": "UTC"},
        {"id": "00000000-0000-0000-0000-000000000000"},
        {"contact_email": "desk@example.com", "is_owner": True},
        {"booking_preferences": {"default_to_phone_consults": True, "accept_everyone": True}},
        {"cancellation_policy": {"window_hours": 24, "fee_cents": 0, "effective_from": "2099-01-01", "currency": "EUR"}},
    ],
)
async def test_unknown_or_privileged_fields_are_422_and_change_nothing(client: httpx.AsyncClient, db: AsyncSession, group: Group, owner: User, body: dict) -> None:
    # issue 3 item 5: mass assignment is impossible
    before = await stored(db, group)
    response = await client.patch(url(group), json=body, headers=await user_headers(db, owner))
    assert response.status_code == 422 and response.json()["code"] == "validation_failed"
    assert any(error["type"] == "extra_forbidden" for error in response.json()["errors"])
    assert await stored(db, group) == before and await policy_count(db, group) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"shown_in_search": None}, "body.shown_in_search"),
        ({"intake_session_minutes": 10}, "body.intake_session_minutes"),
        ({"intake_session_minutes": 241}, "body.intake_session_minutes"),
        ({"client_age_min": -1}, "body.client_age_min"),
        ({"booking_preferences": None}, "body.booking_preferences"),
        ({"contact_email": "not-an-email"}, "body.contact_email"),
        ({"contact_phone": "555-555-5555"}, "body.contact_phone"),
        ({"contact_phone": "call the front desk"}, "body.contact_phone"),
        ({"cancellation_policy": {"window_hours": 169, "fee_cents": 0, "effective_from": "2099-01-01"}}, "body.cancellation_policy.window_hours"),
        ({"cancellation_policy": {"window_hours": 24, "fee_cents": -1, "effective_from": "2099-01-01"}}, "body.cancellation_policy.fee_cents"),
        ({"cancellation_policy": {"window_hours": 24, "fee_cents": 100}}, "body.cancellation_policy.effective_from"),
    ],
)
async def test_invalid_values_are_refused_clearly(client: httpx.AsyncClient, db: AsyncSession, group: Group, admin: User, body: dict, field: str) -> None:
    # X4: a 422 names the field and why, never echoing the value
    before = await stored(db, group)
    response = await client.patch(url(group), json=body, headers=await user_headers(db, admin))
    assert response.status_code == 422, response.text
    assert field in [error["field"] for error in response.json()["errors"]]
    assert "555-555-5555" not in response.text and "not-an-email" not in response.text
    assert await stored(db, group) == before


async def test_invalid_phone_says_how_to_fix_it(client: httpx.AsyncClient, db: AsyncSession, group: Group, admin: User) -> None:
    response = await client.patch(url(group), json={"contact_phone": "12345"}, headers=await user_headers(db, admin))
    [error] = response.json()["errors"]
    assert error["field"] == "body.contact_phone" and "E.164" in error["message"]


async def test_contact_details_can_be_cleared(client: httpx.AsyncClient, db: AsyncSession, group: Group, admin: User) -> None:
    headers = await user_headers(db, admin)
    await client.patch(url(group), json={"contact_email": "desk@example.com", "contact_phone": "+14155550123"}, headers=headers)
    response = await client.patch(url(group), json={"contact_email": None, "contact_phone": None}, headers=headers)
    assert response.status_code == 200
    row = await stored(db, group)
    assert (row["contact_email"], row["contact_phone"]) == (None, None)


async def test_the_age_range_is_checked_against_what_is_stored(client: httpx.AsyncClient, db: AsyncSession, group: Group, admin: User) -> None:
    # client age range: the minimum never exceeds the maximum, whichever side a PATCH sends
    headers = await user_headers(db, admin)
    assert (await client.patch(url(group), json={"client_age_min": 18, "client_age_max": 65}, headers=headers)).status_code == 200
    response = await client.patch(url(group), json={"client_age_min": 70}, headers=headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.client_age_min"
    both = await client.patch(url(group), json={"client_age_min": 40, "client_age_max": 30}, headers=headers)
    assert both.status_code == 422
    assert ((await stored(db, group))["client_age_min"], (await stored(db, group))["client_age_max"]) == (18, 65)
    # Lifting the maximum first makes the higher minimum possible.
    assert (await client.patch(url(group), json={"client_age_max": None}, headers=headers)).status_code == 200
    response = await client.patch(url(group), json={"client_age_min": 70}, headers=headers)
    assert response.status_code == 200 and (response.json()["client_age_min"], response.json()["client_age_max"]) == (70, None)


async def test_an_empty_patch_changes_nothing_and_audits_nothing(client: httpx.AsyncClient, db: AsyncSession, group: Group, admin: User) -> None:
    before = await stored(db, group)
    response = await client.patch(url(group), json={}, headers=await user_headers(db, admin))
    assert response.status_code == 200 and await stored(db, group) == before
    assert await audit_events(db, group, "group_settings.updated") == []


# --- cancellation policy ------------------------------------------------------------------------


def policy(window_hours: int, fee_cents: int, day: Any) -> dict[str, Any]:
    return {"cancellation_policy": {"window_hours": window_hours, "fee_cents": fee_cents, "effective_from": str(day)}}


async def test_cancellation_policy_versions_accumulate_and_the_current_one_is_reported(client: httpx.AsyncClient, db: AsyncSession, group: Group, admin: User) -> None:
    # billing settings: cancellation policy (window, fee, effective date; versioned: S4 judges by the version in force)
    headers = await user_headers(db, admin)
    today = validation.local_today("America/Los_Angeles")
    first = await client.patch(url(group), json=policy(24, 7500, today), headers=headers)
    assert first.status_code == 200, first.text
    current = first.json()["cancellation_policy"]
    assert (current["window_hours"], current["fee_cents"], current["currency"]) == (24, 7500, "USD")
    # Today means from now on: not from last midnight, so nothing booked earlier today changes policy.
    assert datetime.fromisoformat(current["effective_from"]) > datetime.now(UTC) - timedelta(minutes=5)

    later = today + timedelta(days=10)
    second = await client.patch(url(group), json=policy(48, 10000, later), headers=headers)
    settings = second.json()
    assert settings["cancellation_policy"]["id"] == current["id"]  # still in force
    [upcoming] = settings["upcoming_cancellation_policies"]
    assert (upcoming["window_hours"], upcoming["fee_cents"]) == (48, 10000)
    # Local midnight in the group's zone (Los Angeles), in UTC on the wire.
    assert datetime.fromisoformat(upcoming["effective_from"]) == validation.local_midnight(later, "America/Los_Angeles")

    third = await client.patch(url(group), json=policy(12, 5000, today), headers=headers)
    settings = third.json()
    assert (settings["cancellation_policy"]["window_hours"], settings["cancellation_policy"]["fee_cents"]) == (12, 5000)
    assert [p["id"] for p in settings["upcoming_cancellation_policies"]] == [upcoming["id"]]  # still scheduled

    # Versions are never edited: every one is still stored as it was made.
    rows = (await db.execute(select(CancellationPolicy.window_hours, CancellationPolicy.fee_cents).where(CancellationPolicy.group_id == group.id).order_by(CancellationPolicy.created_at))).all()
    assert [tuple(r) for r in rows] == [(24, 7500), (48, 10000), (12, 5000)]
    events = await audit_events(db, group, "cancellation_policy.created")
    assert len(events) == 3 and all(e.target_type == "cancellation_policy" and e.actor_user_id == admin.id for e in events)
    assert events[0].details == {"fields": ["effective_from", "fee_cents", "window_hours"]}
    assert {e.target_id for e in events} == {current["id"], upcoming["id"], settings["cancellation_policy"]["id"]}
    read = await client.get(url(group), headers=headers)
    assert read.json()["cancellation_policy"] == settings["cancellation_policy"]


async def test_a_scheduled_version_is_corrected_by_another_for_the_same_day(client: httpx.AsyncClient, db: AsyncSession, group: Group, admin: User) -> None:
    headers = await user_headers(db, admin)
    day = validation.local_today("America/Los_Angeles") + timedelta(days=30)
    await client.patch(url(group), json=policy(48, 10000, day), headers=headers)
    corrected = await client.patch(url(group), json=policy(36, 9000, day), headers=headers)
    [upcoming] = corrected.json()["upcoming_cancellation_policies"]
    assert (upcoming["window_hours"], upcoming["fee_cents"]) == (36, 9000)
    assert await policy_count(db, group) == 2


async def test_a_cancellation_policy_cannot_start_in_the_past(client: httpx.AsyncClient, db: AsyncSession, group: Group, admin: User) -> None:
    # a past start would change the fee of sessions already booked
    yesterday = validation.local_today("America/Los_Angeles") - timedelta(days=1)
    response = await client.patch(url(group), json={"contact_email": "desk@example.com", **policy(24, 100, yesterday)}, headers=await user_headers(db, admin))
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "body.cancellation_policy.effective_from" and "America/Los_Angeles" in error["message"]
    assert await policy_count(db, group) == 0
    assert (await stored(db, group))["contact_email"] is None  # the whole PATCH changed nothing
