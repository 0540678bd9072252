"""Provider profile: the capability table's "profile" row (provider: own; admin: any provider's), G5, R1, R2."""

from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Group, Membership, ProviderProfile, User
from tests.fixtures.factories import api_key, bearer, make_user, user_headers
from tests.providers.conftest import audit_events


def url(group: Group, user: User) -> str:
    return f"/v1/groups/{group.id}/providers/{user.id}/profile"


async def stored(db: AsyncSession, group: Group, user: User) -> dict[str, Any]:
    columns = [c for c in ProviderProfile.__table__.c if c.name != "updated_at"]
    row = (await db.execute(select(*columns).where(ProviderProfile.group_id == group.id, ProviderProfile.user_id == user.id))).one()
    return dict(row._mapping)


FULL = {
    "display_name": "Dr. Pat Provider, LCSW",
    "photo_url": "https://cdn.example.com/photos/pat.jpg",
    "specializations": ["Anxiety", "Trauma", "anxiety "],
    "languages": ["English", "Spanish"],
    "highlights": ["Evening sessions", "Telehealth"],
    "bio": "I help adults with anxiety and trauma.",
    "education": [{"degree": "MSW", "institution": "Columbia University", "year": 2012}],
    "demographics": {"gender": "Non-binary", "pronouns": "they/them", "ethnicity": ["Latinx"]},
}


async def test_a_provider_edits_their_own_profile(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User) -> None:
    # capability table, profile: provider "own" (photo, name, specializations, languages, highlights, bio, education, demographics)
    headers = await user_headers(db, provider)
    response = await client.patch(url(group, provider), json=FULL, headers=headers)
    assert response.status_code == 200, response.text
    profile = response.json()
    assert profile["specializations"] == ["Anxiety", "Trauma"]  # repeats dropped, first spelling kept
    assert profile["demographics"] == {"gender": "Non-binary", "pronouns": "they/them", "sexual_orientation": None, "ethnicity": ["Latinx"], "faith": None}
    assert profile["license_type"] == "LCSW" and profile["education"] == FULL["education"]
    row = await stored(db, group, provider)
    assert (row["display_name"], row["photo_url"], row["languages"], row["bio"]) == (FULL["display_name"], FULL["photo_url"], ["English", "Spanish"], FULL["bio"])
    assert row["demographics"] == {"gender": "Non-binary", "pronouns": "they/them", "ethnicity": ["Latinx"]}
    assert (await client.get(url(group, provider), headers=headers)).json() == profile
    # rule R2: who changed which profile, field names only
    [event] = await audit_events(db, group, "provider_profile.updated")
    assert (event.actor_user_id, event.target_type, event.target_id) == (provider.id, "provider_profile", str(provider.id))
    assert event.details == {"fields": sorted(FULL)}


async def test_a_provider_cannot_read_or_edit_a_colleagues_profile(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, colleague: User) -> None:
    # rule R1: "own" means own; a colleague's profile is 403
    headers = await user_headers(db, provider)
    before = await stored(db, group, colleague)
    assert (await client.get(url(group, colleague), headers=headers)).status_code == 403
    response = await client.patch(url(group, colleague), json={"display_name": "Hijacked"}, headers=headers)
    assert response.status_code == 403 and response.json()["capability"] == "profile"
    assert await stored(db, group, colleague) == before


async def test_an_admin_edits_any_providers_profile(client: httpx.AsyncClient, db: AsyncSession, group: Group, admin: User, owner: User, provider: User) -> None:
    # capability table, profile: admin "any provider's"
    for user in (provider, owner):
        response = await client.patch(url(group, user), json={"bio": "Edited by the practice admin."}, headers=await user_headers(db, admin))
        assert response.status_code == 200, response.text
        assert (await stored(db, group, user))["bio"] == "Edited by the practice admin."
    [first, _] = await audit_events(db, group, "provider_profile.updated")
    assert first.actor_user_id == admin.id and first.target_id == str(provider.id)


async def test_a_partner_key_edits_profiles(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User) -> None:
    # API keys act as admins on provider settings (authz.CAPABILITIES)
    response = await client.patch(url(group, provider), json={"languages": ["French"]}, headers=bearer(await api_key(db, group)))
    assert response.status_code == 200 and response.json()["languages"] == ["French"]


async def test_another_groups_member_gets_404_and_changes_nothing(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, stranger: User) -> None:
    # rule R1: another group's provider does not exist for an outsider
    headers = await user_headers(db, stranger)
    before = await stored(db, group, provider)
    assert (await client.get(url(group, provider), headers=headers)).status_code == 404
    response = await client.patch(url(group, provider), json={"display_name": "Hijacked"}, headers=headers)
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert await stored(db, group, provider) == before
    # Nor through their own group's path: the provider is not one of theirs.
    [other_group_id] = (await db.scalars(select(Membership.group_id).where(Membership.user_id == stranger.id))).all()
    cross = await client.patch(f"/v1/groups/{other_group_id}/providers/{provider.id}/profile", json={"display_name": "Hijacked"}, headers=headers)
    assert cross.status_code == 404 and await stored(db, group, provider) == before


async def test_someone_who_is_not_an_active_provider_of_the_group_is_404(client: httpx.AsyncClient, db: AsyncSession, group: Group, owner: User, admin: User, provider: User) -> None:
    headers = await user_headers(db, owner)
    assert (await client.get(url(group, admin), headers=headers)).status_code == 404  # an admin who does not provide
    assert (await client.get(url(group, await make_user(db)), headers=headers)).status_code == 404  # no member at all
    await db.execute(update(Membership).where(Membership.user_id == provider.id, Membership.group_id == group.id).values(ended_at=Membership.created_at))
    response = await client.patch(url(group, provider), json={"bio": "after leaving"}, headers=headers)
    assert response.status_code == 404  # removed (G6): the profile stays, but is not edited any more


@pytest.mark.parametrize(
    "body",
    [
        {"license_type": "PhD"},  # set by the owner when adding the provider (G3, G5)
        {"display_name": "Pat", "license_type": "MD"},
        {"booking_slug": "pat-the-best"},
        {"user_id": "00000000-0000-0000-0000-000000000000"},
        {"group_id": "00000000-0000-0000-0000-000000000000"},
        {"rating": 5},
        {"demographics": {"gender": "Woman", "age": 40}},
        {"education": [{"degree": "MSW", "institution": "NYU", "honours": "summa"}]},
    ],
)
async def test_unknown_or_privileged_fields_are_422_and_change_nothing(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, body: dict) -> None:
    # issue 3 item 5: mass assignment is impossible; license type is privileged (G5)
    before = await stored(db, group, provider)
    response = await client.patch(url(group, provider), json=body, headers=await user_headers(db, provider))
    assert response.status_code == 422 and response.json()["code"] == "validation_failed"
    assert any(error["type"] == "extra_forbidden" for error in response.json()["errors"])
    assert await stored(db, group, provider) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"photo_url": "http://cdn.example.com/pat.jpg"}, "body.photo_url"),
        ({"photo_url": "javascript:alert(1)"}, "body.photo_url"),
        ({"photo_url": "https://cdn.example.com/" + "p" * 500}, "body.photo_url"),
        ({"bio": "x" * 5001}, "body.bio"),
        ({"display_name": ""}, "body.display_name"),
        ({"specializations": ["x"] * 31}, "body.specializations"),
        ({"specializations": ["y" * 101]}, "body.specializations.0"),
        ({"languages": None}, "body.languages"),
        ({"highlights": [""]}, "body.highlights.0"),
        ({"education": [{"degree": "MSW", "institution": "NYU", "year": 1850}]}, "body.education.0.year"),
        ({"demographics": {"pronouns": "p" * 51}}, "body.demographics.pronouns"),
    ],
)
async def test_invalid_profile_values_are_422(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, body: dict, field: str) -> None:
    before = await stored(db, group, provider)
    response = await client.patch(url(group, provider), json=body, headers=await user_headers(db, provider))
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]]
    assert await stored(db, group, provider) == before


async def test_demographics_merge_and_null_clears_a_key(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User) -> None:
    headers = await user_headers(db, provider)
    await client.patch(url(group, provider), json={"demographics": {"gender": "Woman", "faith": "Buddhist"}}, headers=headers)
    response = await client.patch(url(group, provider), json={"demographics": {"faith": None, "pronouns": "she/her"}}, headers=headers)
    assert (await stored(db, group, provider))["demographics"] == {"gender": "Woman", "pronouns": "she/her"}
    assert response.json()["demographics"]["faith"] is None


async def test_fields_left_out_stay_and_null_clears_optional_ones(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User) -> None:
    headers = await user_headers(db, provider)
    await client.patch(url(group, provider), json=FULL, headers=headers)
    response = await client.patch(url(group, provider), json={"photo_url": None, "highlights": []}, headers=headers)
    assert response.status_code == 200
    row = await stored(db, group, provider)
    assert (row["photo_url"], row["highlights"], row["bio"], row["languages"]) == (None, [], FULL["bio"], ["English", "Spanish"])
