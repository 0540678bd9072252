"""Members, providers, admin grants and ownership: rules G2, G4, G5, R1, R2."""

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import AdminGrant, AuditEvent, Group, Membership, User
from tests.fixtures.factories import add_member, make_group, make_user, user_headers
from tests.fixtures.mail import consent_token, mails_to, verification_token


@pytest.fixture
async def owner(db: AsyncSession) -> User:
    return await make_user(db, first_name="Olive", last_name="Owner")


@pytest.fixture
async def group(db: AsyncSession, owner: User) -> Group:
    group = await make_group(db, owner=owner, name="Cedar Therapy")
    return group


@pytest.fixture
async def admin(db: AsyncSession, group: Group) -> User:
    user = await make_user(db, first_name="Ada", last_name="Admin")
    await add_member(db, group, user, admin=True)
    return user


async def membership_of(db: AsyncSession, group: Group, user: User) -> Membership | None:
    return await db.scalar(select(Membership).where(Membership.group_id == group.id, Membership.user_id == user.id, Membership.ended_at.is_(None)))


async def test_only_the_owner_adds_providers(client: httpx.AsyncClient, db: AsyncSession, owner: User, group: Group, admin: User) -> None:
    # rule G5
    body = {"full_name": "Pat Provider", "email": "pat@example.com", "license_type": "LMHC"}
    refused = await client.post(f"/v1/groups/{group.id}/providers", json=body, headers=await user_headers(db, admin))
    assert refused.status_code == 403
    assert await db.scalar(select(User).where(User.email == "pat@example.com")) is None  # nothing half-done
    added = await client.post(f"/v1/groups/{group.id}/providers", json=body, headers=await user_headers(db, owner))
    assert added.status_code == 201, added.text
    # rule A10: invited; a provider once they accept
    assert added.json()["status"] == "invited" and added.json()["roles"] == [] and added.json()["license_type"] == "LMHC"
    assert [m.template for m in await mails_to(db, "pat@example.com")] == ["invitation"]
    again = await client.post(f"/v1/groups/{group.id}/providers", json=body, headers=await user_headers(db, owner))
    assert again.status_code == 409 and again.json()["code"] == "invitation_pending"
    [mail] = await mails_to(db, "pat@example.com")
    await client.post("/v1/auth/accept-invitation", json={"token": verification_token(mail.body_text), "password": "pat's passphrase"})
    again = await client.post(f"/v1/groups/{group.id}/providers", json=body, headers=await user_headers(db, owner))
    assert again.status_code == 409 and again.json()["code"] == "already_a_provider"


async def test_adding_a_provider_with_an_account_links_it(client: httpx.AsyncClient, db: AsyncSession, owner: User, group: Group, admin: User) -> None:
    # rule G5: linked, not duplicated; an admin can also become a provider (both roles)
    response = await client.post(
        f"/v1/groups/{group.id}/providers",
        json={"full_name": "Ignored Name", "email": admin.email.upper(), "license_type": "PhD"},
        headers=await user_headers(db, owner),
    )
    assert response.status_code == 201
    assert response.json()["user_id"] == str(admin.id) and response.json()["roles"] == ["admin", "provider"]


async def test_a_grant_asked_by_an_admin_waits_for_the_owner(client: httpx.AsyncClient, db: AsyncSession, owner: User, group: Group, admin: User) -> None:
    # rule G4: every admin grant needs the owner's consent
    colleague = await make_user(db, first_name="Cy", last_name="Colleague")
    await add_member(db, group, colleague, provider=True)
    asked = await client.post(f"/v1/groups/{group.id}/admin-grants", json={"email": colleague.email}, headers=await user_headers(db, admin))
    assert asked.status_code == 201 and asked.json()["status"] == "pending_approval"
    assert not (await membership_of(db, group, colleague)).is_admin
    grant_id = asked.json()["id"]
    # the admin cannot approve it; the owner can
    assert (await client.post(f"/v1/groups/{group.id}/admin-grants/{grant_id}/approve", headers=await user_headers(db, admin))).status_code == 403
    approved = await client.post(f"/v1/groups/{group.id}/admin-grants/{grant_id}/approve", headers=await user_headers(db, owner))
    assert approved.status_code == 200 and approved.json()["status"] == "active"  # a member already: known to the group
    membership = await membership_of(db, group, colleague)
    await db.refresh(membership)
    assert membership.is_admin and membership.is_provider
    twice = await client.post(f"/v1/groups/{group.id}/admin-grants/{grant_id}/approve", headers=await user_headers(db, owner))
    assert twice.status_code == 409 and twice.json()["code"] == "grant_not_pending"


async def test_an_unverified_account_waits_until_verified(client: httpx.AsyncClient, db: AsyncSession, owner: User, group: Group) -> None:
    # rules G4, A10: the person accepts, with a verified account, before the role takes effect
    unverified = await make_user(db, verified=False, first_name="Uma", last_name="Unverified", password_hash="$argon2id$stub")
    granted = await client.post(f"/v1/groups/{group.id}/admin-grants", json={"email": unverified.email}, headers=await user_headers(db, owner))
    assert granted.json()["status"] == "pending_verification"
    assert await membership_of(db, group, unverified) is None
    # verifying the account is not a yes to the group...
    from app.users.service import issue_verification_token

    secret = issue_verification_token(db, unverified)
    await db.flush()
    assert (await client.post("/v1/auth/verify-email", json={"token": secret})).status_code == 204
    assert await membership_of(db, group, unverified) is None
    # ...accepting the mailed invitation is, and the role is in effect
    [mail] = [m for m in await mails_to(db, unverified.email) if m.template == "invitation_consent"]
    assert (await client.post("/v1/invitations/accept", json={"token": consent_token(mail.body_text)})).status_code == 200
    assert (await membership_of(db, group, unverified)).is_admin
    me = await client.get("/v1/me", headers=await user_headers(db, unverified))
    assert me.json()["memberships"][0]["roles"] == ["admin"]


async def test_rejected_grants_never_take_effect(client: httpx.AsyncClient, db: AsyncSession, owner: User, group: Group, admin: User) -> None:
    other = await make_user(db)
    asked = await client.post(f"/v1/groups/{group.id}/admin-grants", json={"email": other.email}, headers=await user_headers(db, admin))
    rejected = await client.post(
        f"/v1/groups/{group.id}/admin-grants/{asked.json()['id']}/reject", json={"reason": "not now"}, headers=await user_headers(db, owner)
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected" and rejected.json()["reason"] == "not now"
    assert await membership_of(db, group, other) is None


async def test_the_owner_revokes_admin_rights(client: httpx.AsyncClient, db: AsyncSession, owner: User, group: Group) -> None:
    helper = await make_user(db)
    granted = await client.post(f"/v1/groups/{group.id}/admin-grants", json={"email": helper.email}, headers=await user_headers(db, owner))
    assert granted.json()["status"] == "pending_verification"  # rule A10: until the person accepts
    [mail] = await mails_to(db, helper.email)
    assert (await client.post("/v1/invitations/accept", json={"token": consent_token(mail.body_text)})).status_code == 200
    helper_headers = await user_headers(db, helper)
    assert (await client.get(f"/v1/groups/{group.id}/api-keys", headers=helper_headers)).status_code == 200
    revoked = await client.post(f"/v1/groups/{group.id}/admin-grants/{granted.json()['id']}/revoke", json={}, headers=await user_headers(db, owner))
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    # an admin-only membership ends with the right; the person no longer sees the group
    assert (await client.get(f"/v1/groups/{group.id}/api-keys", headers=helper_headers)).status_code == 404
    audit = (await db.scalars(select(AuditEvent.action).where(AuditEvent.group_id == group.id))).all()
    assert {"admin_grant.requested", "admin_grant.revoked"} <= set(audit)


async def test_nobody_changes_their_own_role(client: httpx.AsyncClient, db: AsyncSession, owner: User, group: Group, admin: User) -> None:
    provider = await make_user(db)
    await add_member(db, group, provider, provider=True)
    # a provider cannot ask for admin rights at all, even for themselves
    response = await client.post(f"/v1/groups/{group.id}/admin-grants", json={"email": provider.email}, headers=await user_headers(db, provider))
    assert response.status_code == 403
    # an admin asking for themselves is refused
    response = await client.post(f"/v1/groups/{group.id}/admin-grants", json={"email": admin.email}, headers=await user_headers(db, admin))
    assert response.status_code == 409 and response.json()["code"] in {"own_role", "already_admin"}
    response = await client.post(f"/v1/groups/{group.id}/ownership-transfer", json={"user_id": str(owner.id)}, headers=await user_headers(db, owner))
    assert response.status_code == 409 and response.json()["code"] == "own_role"


async def test_a_second_grant_for_the_same_person_finds_the_first(client: httpx.AsyncClient, db: AsyncSession, owner: User, group: Group, admin: User) -> None:
    other = await make_user(db)
    first = await client.post(f"/v1/groups/{group.id}/admin-grants", json={"email": other.email}, headers=await user_headers(db, admin))
    second = await client.post(f"/v1/groups/{group.id}/admin-grants", json={"email": other.email}, headers=await user_headers(db, owner))
    assert second.status_code == 409 and second.json()["grant_id"] == first.json()["id"]


async def test_ownership_transfer(client: httpx.AsyncClient, db: AsyncSession, owner: User, group: Group, admin: User) -> None:
    # rule G2: always exactly one owner
    unverified = await make_user(db, verified=False)
    await add_member(db, group, unverified, provider=True)
    path = f"/v1/groups/{group.id}/ownership-transfer"
    refused = await client.post(path, json={"user_id": str(unverified.id)}, headers=await user_headers(db, owner))
    assert refused.status_code == 409 and refused.json()["code"] == "account_not_verified"
    not_owner = await client.post(path, json={"user_id": str(admin.id)}, headers=await user_headers(db, admin))
    assert not_owner.status_code == 403
    stranger = await make_user(db)
    assert (await client.post(path, json={"user_id": str(stranger.id)}, headers=await user_headers(db, owner))).status_code == 404
    done = await client.post(path, json={"user_id": str(admin.id)}, headers=await user_headers(db, owner))
    assert done.status_code == 204
    owners = (await db.scalars(select(Membership.user_id).where(Membership.group_id == group.id, Membership.is_owner, Membership.ended_at.is_(None)))).all()
    assert owners == [admin.id]
    former = await membership_of(db, group, owner)
    await db.refresh(former)
    assert former.is_admin and not former.is_owner


async def test_members_are_listed_with_roles(client: httpx.AsyncClient, db: AsyncSession, owner: User, group: Group, admin: User) -> None:
    provider = await make_user(db)
    await add_member(db, group, provider, provider=True)
    response = await client.get(f"/v1/groups/{group.id}/members", headers=await user_headers(db, provider))
    assert response.status_code == 200
    assert {(m["user_id"], tuple(m["roles"])) for m in response.json()["items"]} == {
        (str(owner.id), ("owner", "admin", "provider")),
        (str(admin.id), ("admin",)),
        (str(provider.id), ("provider",)),
    }
    outsider = await make_user(db)
    assert (await client.get(f"/v1/groups/{group.id}/members", headers=await user_headers(db, outsider))).status_code == 404


async def test_grants_can_be_filtered_by_status(client: httpx.AsyncClient, db: AsyncSession, owner: User, group: Group, admin: User) -> None:
    for _ in range(2):
        other = await make_user(db)
        await client.post(f"/v1/groups/{group.id}/admin-grants", json={"email": other.email}, headers=await user_headers(db, admin))
    listed = await client.get(f"/v1/groups/{group.id}/admin-grants", params={"status": "pending_approval"}, headers=await user_headers(db, owner))
    assert len(listed.json()["items"]) == 2
    assert all(g["status"] == "pending_approval" for g in listed.json()["items"])
    grants = (await db.scalars(select(AdminGrant).where(AdminGrant.group_id == group.id))).all()
    assert len(grants) == 2
