"""Setting up a group practice in one request: rules G1, G2, G3, G4, G5, R2."""

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import AdminGrant, AuditEvent, Group, Membership, ProviderProfile, User
from tests.fixtures.factories import make_group, make_user, user_headers
from tests.fixtures.mail import consent_token, mails_to, verification_token


@pytest.fixture
async def owner(db: AsyncSession) -> User:
    return await make_user(db, first_name="Rosa", last_name="Alvarez", email="rosa@example.com")


async def setup(client: httpx.AsyncClient, headers: dict[str, str], **body) -> httpx.Response:
    return await client.post("/v1/groups", json={"owner_license_type": "LCSW", **body}, headers=headers)


async def test_a_solo_provider_gets_a_group_of_one_named_after_them(client: httpx.AsyncClient, db: AsyncSession, owner: User) -> None:
    # rule G1: no practice name -> the owner's first and last name; G2: exactly one owner
    response = await setup(client, await user_headers(db, owner))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["group"]["name"] == "Rosa Alvarez"
    assert body["group"]["my_roles"] == ["owner", "provider"]
    assert [(m["email"], m["roles"], m["license_type"]) for m in body["members"]] == [("rosa@example.com", ["owner", "provider"], "LCSW")]


async def test_a_group_with_two_admins_and_three_providers(client: httpx.AsyncClient, db: AsyncSession, owner: User) -> None:
    # rule G3, G4, G5: the whole practice in one request
    existing = await make_user(db, email="sam@example.com", first_name="Sam", last_name="Okafor")
    verified_admin = await make_user(db, email="val@example.com", first_name="Val", last_name="Admin")
    response = await setup(
        client,
        await user_headers(db, owner),
        name="Harbor Counseling",
        time_zone="America/Chicago",
        admins=[{"full_name": "Val Admin", "email": "VAL@example.com"}, {"full_name": "Nia Newadmin", "email": "nia@example.com"}],
        providers=[
            {"email": "sam@example.com", "status": "existing", "license_type": "LPC"},
            {"email": "lee@example.com", "status": "new", "full_name": "Lee Park", "license_type": "LMFT"},
            {"email": "kai@example.com", "status": "new", "full_name": "Kai Moreau Jr", "license_type": "PsyD"},
        ],
    )
    assert response.status_code == 201, response.text
    body = response.json()
    group_id = body["group"]["id"]
    assert body["group"] == {**body["group"], "name": "Harbor Counseling", "time_zone": "America/Chicago"}
    # rule A10: everyone named is invited; nobody is a member before accepting, whether or not they had an account
    roles = {m["email"]: m["roles"] for m in body["members"]}
    assert roles == {"rosa@example.com": ["owner", "provider"]}
    statuses = [(g["user_id"], g["status"]) for g in body["admin_grants"]]
    assert statuses == [(None, "pending_verification"), (None, "pending_verification")]  # rule G4: the owner consented
    # G5: an existing account is invited, not duplicated; new ones get their account's invitation
    assert await db.scalar(select(func.count()).select_from(User).where(User.email == "sam@example.com")) == 1
    lee = await db.scalar(select(User).where(User.email == "lee@example.com"))
    assert lee.password_hash is None and not lee.email_verified
    assert [m.template for m in await mails_to(db, "lee@example.com")] == ["invitation"]
    assert [m.template for m in await mails_to(db, existing.email)] == ["invitation_consent"]
    [val_mail] = await mails_to(db, verified_admin.email)
    accepted = await client.post("/v1/invitations/accept", json={"token": consent_token(val_mail.body_text)})
    assert accepted.status_code == 200, accepted.text
    grant = await db.scalar(select(AdminGrant).where(AdminGrant.user_id == verified_admin.id))
    assert grant.status == "active"  # verified and accepted: in effect
    [sam_mail] = await mails_to(db, existing.email)
    assert (await client.post("/v1/invitations/accept", json={"token": consent_token(sam_mail.body_text)})).status_code == 200
    for email in ("lee@example.com", "kai@example.com"):
        [mail] = await mails_to(db, email)
        done = await client.post("/v1/auth/accept-invitation", json={"token": verification_token(mail.body_text), "password": "a long passphrase"})
        assert done.status_code == 204, done.text
    members = (await client.get(f"/v1/groups/{group_id}/members", headers=await user_headers(db, owner))).json()["items"]
    assert {m["email"]: m["roles"] for m in members} == {
        "rosa@example.com": ["owner", "provider"], "val@example.com": ["admin"], "sam@example.com": ["provider"],
        "lee@example.com": ["provider"], "kai@example.com": ["provider"],
    }
    kai = await db.scalar(select(User).where(User.email == "kai@example.com"))
    assert (kai.first_name, kai.last_name) == ("Kai Moreau", "Jr")
    profiles = (await db.scalars(select(ProviderProfile).where(ProviderProfile.group_id == group_id))).all()
    assert {p.license_type for p in profiles} == {"LCSW", "LPC", "LMFT", "PsyD"}
    assert len({p.booking_slug for p in profiles}) == 4
    # rule R2: the setup is audited, without PHI
    actions = (await db.scalars(select(AuditEvent.action).where(AuditEvent.group_id == group_id))).all()
    assert actions.count("group.created") == 1 and actions.count("membership.provider_invited") == 3
    assert actions.count("membership.provider_added") == 3
    details = (await db.scalars(select(AuditEvent.details).where(AuditEvent.group_id == group_id))).all()
    assert "example.com" not in str(details)


async def test_a_pending_admin_takes_effect_when_they_accept_the_invitation(client: httpx.AsyncClient, db: AsyncSession, owner: User) -> None:
    # rule G4: a verified account before the role takes effect
    response = await setup(client, await user_headers(db, owner), admins=[{"full_name": "Nia Newadmin", "email": "nia@example.com"}])
    group_id = response.json()["group"]["id"]
    [invitation] = await mails_to(db, "nia@example.com")
    from tests.fixtures.mail import verification_token

    token = verification_token(invitation.body_text)
    accepted = await client.post("/v1/auth/accept-invitation", json={"token": token, "password": "nia's own passphrase"})
    assert accepted.status_code == 204
    nia = await db.scalar(select(User).where(User.email == "nia@example.com"))
    membership = await db.scalar(select(Membership).where(Membership.user_id == nia.id, Membership.group_id == group_id))
    assert membership is not None and membership.is_admin
    grant = await db.scalar(select(AdminGrant).where(AdminGrant.user_id == nia.id))
    assert grant.status == "active" and grant.activated_at is not None
    login = await client.post("/v1/auth/token", data={"username": "nia@example.com", "password": "nia's own passphrase"})
    assert login.status_code == 200


async def test_invitation_links_need_a_password(client: httpx.AsyncClient, db: AsyncSession, owner: User) -> None:
    await setup(client, await user_headers(db, owner), providers=[{"email": "lee@example.com", "status": "new", "full_name": "Lee Park", "license_type": "LMFT"}])
    [invitation] = await mails_to(db, "lee@example.com")
    from tests.fixtures.mail import verification_token

    response = await client.post("/v1/auth/verify-email", json={"token": verification_token(invitation.body_text)})
    assert response.status_code == 409 and response.json()["code"] == "password_required"
    # a lost invitation: asking for a new link sends another invitation, which accepts with a password
    await client.post("/v1/auth/resend-verification", json={"email": "lee@example.com"})
    resent = (await mails_to(db, "lee@example.com"))[-1]
    assert "/accept-invitation?token=" in resent.body_text
    accepted = await client.post("/v1/auth/accept-invitation", json={"token": verification_token(resent.body_text), "password": "lee's passphrase!"})
    assert accepted.status_code == 204


async def test_setup_refusals_change_nothing(client: httpx.AsyncClient, db: AsyncSession, owner: User) -> None:
    headers = await user_headers(db, owner)
    before = await db.scalar(select(func.count()).select_from(Group))
    cases = [
        ({"providers": [{"email": "new@example.com", "status": "new", "license_type": "LPC"}]}, "validation_failed"),  # G3: a new provider needs a name
        ({"providers": [{"email": "x@example.com", "status": "new", "full_name": "X Y", "license_type": "Wizard"}]}, "validation_failed"),
        ({"time_zone": "Mars/Olympus"}, "validation_failed"),
        ({"owner_license_type": None}, "validation_failed"),  # the owner provides, so needs a license
        ({"owner": {"full_name": "Someone Else", "email": "else@example.com"}}, "privileged_field"),  # staff only
        ({"is_owner": True}, "validation_failed"),  # mass assignment
    ]
    for body, code in cases:
        response = await setup(client, headers, **body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["code"] == code, body
    assert await db.scalar(select(func.count()).select_from(Group)) == before
    assert await db.scalar(select(func.count()).select_from(User).where(User.email == "ghost@example.com")) == 0


async def test_an_owner_who_does_not_provide(client: httpx.AsyncClient, db: AsyncSession, owner: User) -> None:
    response = await setup(client, await user_headers(db, owner), name="Admin-run Practice", owner_is_provider=False, owner_license_type=None)
    assert response.status_code == 201
    assert response.json()["group"]["my_roles"] == ["owner"]


async def test_staff_set_a_group_up_on_an_owners_behalf(client: httpx.AsyncClient, db: AsyncSession) -> None:
    # rule A4: staff is a platform role, not a group role
    staff = await make_user(db, is_staff=True)
    response = await setup(
        client, await user_headers(db, staff), name="Requested Practice", owner={"full_name": "Ola Owner", "email": "ola@example.com"}
    )
    assert response.status_code == 201, response.text
    members = response.json()["members"]
    assert [(m["email"], m["roles"]) for m in members] == [("ola@example.com", ["owner", "provider"])]
    assert response.json()["group"]["my_roles"] == []  # staff did not join the group
    assert [m.template for m in await mails_to(db, "ola@example.com")] == ["invitation"]


async def test_api_keys_cannot_set_up_groups(client: httpx.AsyncClient, db: AsyncSession) -> None:
    from tests.fixtures.factories import api_key, bearer

    group = await make_group(db)
    response = await setup(client, bearer(await api_key(db, group)))
    assert response.status_code == 403 and response.json()["code"] == "people_only"


async def test_list_read_and_update_groups(client: httpx.AsyncClient, db: AsyncSession, owner: User) -> None:
    mine = await make_group(db, owner=owner, name="Mine")
    other = await make_group(db, name="Not mine")
    headers = await user_headers(db, owner)
    listed = (await client.get("/v1/groups", headers=headers)).json()
    assert [g["id"] for g in listed["items"]] == [str(mine.id)]
    assert (await client.get(f"/v1/groups/{other.id}", headers=headers)).status_code == 404  # rule R1
    updated = await client.patch(f"/v1/groups/{mine.id}", json={"name": "Renamed", "time_zone": "America/Denver"}, headers=headers)
    assert updated.status_code == 200 and updated.json()["name"] == "Renamed"
    refused = await client.patch(f"/v1/groups/{mine.id}", json={"id": str(other.id)}, headers=headers)
    assert refused.status_code == 422  # no mass assignment
