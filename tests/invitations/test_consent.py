"""Consent before linking: the invitation flow, answers that do not enumerate accounts, transfers inside a
group, and admin grants that mail only once the owner consented. Rules A10, C8, C2, G4, G5, G7."""

import uuid

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.memberships.service import make_provider
from app.models import AdminGrant, Client, Group, Invitation, Membership, User
from tests.fixtures.factories import add_member, make_user, user_headers
from tests.fixtures.mail import consent_token, mails_to

CLIENT = {"first_name": "Typed", "last_name": "Name", "phone": "(212) 555-0111", "billing_type": "private_pay"}


async def add_client(client: httpx.AsyncClient, db: AsyncSession, group: Group, who: User, email: str, **extra) -> httpx.Response:
    return await client.post(f"/v1/groups/{group.id}/clients", json={**CLIENT, "email": email, **extra}, headers=await user_headers(db, who))


def without(body: dict, *names: str) -> dict:
    return {k: v for k, v in body.items() if k not in names}


# --- the invitation flow ---------------------------------------------------------------------------


async def test_accepting_by_the_mailed_link_links_the_practice(client: httpx.AsyncClient, db: AsyncSession, group: Group, owner_a: User) -> None:
    # rules A10, C8, C2
    person = await make_user(db, email="kim@example.com", first_name="Kim", last_name="Own", password_hash="$argon2id$stub")
    added = (await add_client(client, db, group, owner_a, "kim@example.com")).json()
    assert added["consent"] == "pending" and added["first_name"] == "Typed"
    [mail] = await mails_to(db, "kim@example.com")
    assert mail.template == "invitation_consent" and "Alder Counseling" in mail.body_text and "Typed" not in mail.body_text
    token = consent_token(mail.body_text)
    accepted = await client.post("/v1/invitations/accept", json={"token": token})
    assert accepted.status_code == 200 and accepted.json() == {"status": "accepted", "kind": "client"}
    read = (await client.get(f"/v1/groups/{group.id}/clients/{added['id']}", headers=await user_headers(db, owner_a))).json()
    assert (read["consent"], read["user_id"], read["first_name"]) == ("accepted", str(person.id), "Kim")
    # single use: the same link again is refused, and so is declining with it
    again = await client.post("/v1/invitations/accept", json={"token": token})
    assert again.status_code == 404 and again.json()["code"] == "invitation_token_unknown"
    assert (await client.post("/v1/invitations/decline", json={"token": token})).status_code == 404


async def test_declining_by_the_link_keeps_the_practice_in_its_own_words(client: httpx.AsyncClient, db: AsyncSession, group: Group, owner_a: User) -> None:
    # rules A10, C8
    await make_user(db, email="lou@example.com", first_name="Lou", last_name="Own")
    added = (await add_client(client, db, group, owner_a, "lou@example.com")).json()
    [mail] = await mails_to(db, "lou@example.com")
    declined = await client.post("/v1/invitations/decline", json={"token": consent_token(mail.body_text)})
    assert declined.status_code == 200 and declined.json()["status"] == "declined"
    read = (await client.get(f"/v1/groups/{group.id}/clients/{added['id']}", headers=await user_headers(db, owner_a))).json()
    assert (read["consent"], read["user_id"], read["first_name"]) == ("pending", None, "Typed")
    # asking again is refused with a reason, not a new mail
    welcome = await client.post(f"/v1/groups/{group.id}/clients/{added['id']}/welcome-email", headers=await user_headers(db, owner_a))
    assert welcome.status_code == 409 and welcome.json()["code"] == "invitation_declined"


async def test_an_expired_or_unknown_link_is_refused(client: httpx.AsyncClient, db: AsyncSession, group: Group, owner_a: User) -> None:
    # rule A10: the link expires
    await make_user(db, email="max@example.com")
    added = (await add_client(client, db, group, owner_a, "max@example.com")).json()
    [mail] = await mails_to(db, "max@example.com")
    await db.execute(update(Invitation).where(Invitation.client_id == uuid.UUID(added["id"])).values(expires_at=func.now() - func.make_interval(0, 0, 0, 1)))
    expired = await client.post("/v1/invitations/accept", json={"token": consent_token(mail.body_text)})
    assert expired.status_code == 410 and expired.json()["code"] == "invitation_expired"
    assert (await db.get(Client, uuid.UUID(added["id"]))).consented_at is None
    unknown = await client.post("/v1/invitations/accept", json={"token": "cin_" + "x" * 43})
    assert unknown.status_code == 404 and unknown.json()["code"] == "invitation_token_unknown"


async def test_a_person_lists_and_answers_only_their_own_invitations(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, group_b: Group, owner_a: User, owner_b: User
) -> None:
    # rule A10: the logged-in person's pending invitations; another person's is not found
    person = await make_user(db, email="ned@example.com")
    stranger = await make_user(db)
    await add_client(client, db, group, owner_a, "ned@example.com")
    await add_client(client, db, group_b, owner_b, "NED@example.com")
    listed = (await client.get("/v1/me/invitations", headers=await user_headers(db, person))).json()["items"]
    assert sorted(i["group_name"] for i in listed) == ["Alder Counseling", "Birch Therapy"]
    assert (await client.get("/v1/me/invitations", headers=await user_headers(db, stranger))).json()["items"] == []
    refused = await client.post(f"/v1/me/invitations/{listed[0]['id']}/accept", headers=await user_headers(db, stranger))
    assert refused.status_code == 404
    accepted = await client.post(f"/v1/me/invitations/{listed[0]['id']}/accept", headers=await user_headers(db, person))
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    pending = (await client.get("/v1/me/invitations", params={"status": "pending"}, headers=await user_headers(db, person))).json()["items"]
    assert [i["id"] for i in pending] == [listed[1]["id"]]


# --- no enumeration --------------------------------------------------------------------------------


async def test_adding_a_client_answers_the_same_for_known_and_unknown_emails(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, group_b: Group, owner_a: User, owner_b: User
) -> None:
    # rules A10, C8: same status, same fields, same values but for what was typed and the new record's ids
    known = await make_user(db, email="known@example.com", first_name="Real", last_name="Person")
    await add_client(client, db, group, owner_a, "known@example.com", billing_type="insurance",
                     insurance={"company": "A's Insurer", "member_id": "AA-11112222"})
    await accept_all(client, db, known)
    first = await add_client(client, db, group_b, owner_b, "known@example.com", billing_type="insurance")
    second = await add_client(client, db, group_b, owner_b, "nobody-yet@example.com", billing_type="insurance")
    assert first.status_code == second.status_code == 201
    a, b = first.json(), second.json()
    assert a.keys() == b.keys()
    for body in (a, b):
        body["rosters"] = [without(r, "added_at") for r in body["rosters"]]
    assert without(a, "id", "created_at", "email") == without(b, "id", "created_at", "email")
    assert (a["email"], b["email"]) == ("known@example.com", "nobody-yet@example.com")  # as typed, normalised
    # a welcome email is accepted for both alike
    for body in (a, b):
        welcome = await client.post(f"/v1/groups/{group_b.id}/clients/{body['id']}/welcome-email", headers=await user_headers(db, owner_b))
        assert welcome.status_code == 202


async def test_granting_admin_answers_the_same_for_known_and_unknown_emails(
    client: httpx.AsyncClient, db: AsyncSession, group_b: Group, owner_b: User
) -> None:
    # rules A10, G4: no `active` and no user id for an account that exists; nobody is made an admin silently
    known = await make_user(db, email="ann.admin@example.com")
    headers = await user_headers(db, owner_b)
    first = await client.post(f"/v1/groups/{group_b.id}/admin-grants", json={"email": "ann.admin@example.com", "full_name": "Ann A"}, headers=headers)
    second = await client.post(f"/v1/groups/{group_b.id}/admin-grants", json={"email": "new.admin@example.com", "full_name": "New A"}, headers=headers)
    assert first.status_code == second.status_code == 201
    a, b = first.json(), second.json()
    assert without(a, "id", "created_at", "decided_at") == without(b, "id", "created_at", "decided_at")
    assert a["status"] == "pending_verification" and a["user_id"] is None
    assert await db.scalar(select(Membership).where(Membership.group_id == group_b.id, Membership.user_id == known.id)) is None
    assert len(await mails_to(db, "ann.admin@example.com")) == len(await mails_to(db, "new.admin@example.com")) == 1
    # the grants list says no more
    listed = (await client.get(f"/v1/groups/{group_b.id}/admin-grants", headers=headers)).json()["items"]
    assert {g["user_id"] for g in listed} == {None}


async def test_adding_a_provider_answers_the_same_for_known_and_unknown_emails(
    client: httpx.AsyncClient, db: AsyncSession, group_b: Group, owner_b: User
) -> None:
    # rules A10, G5: the account's real name is not shown; the person becomes a provider on accepting
    known = await make_user(db, email="pia@example.com", first_name="Pia", last_name="Realname", password_hash="$argon2id$stub")
    headers = await user_headers(db, owner_b)
    first = await client.post(f"/v1/groups/{group_b.id}/providers", json={"full_name": "Typed Provider", "email": "pia@example.com", "license_type": "LPC"}, headers=headers)
    second = await client.post(f"/v1/groups/{group_b.id}/providers", json={"full_name": "Typed Provider", "email": "nova@example.com", "license_type": "LPC"}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert without(first.json(), "email") == without(second.json(), "email")
    assert first.json()["first_name"] == "Typed" and "Realname" not in first.text
    members = (await client.get(f"/v1/groups/{group_b.id}/members", headers=headers)).json()["items"]
    assert str(known.id) not in {m["user_id"] for m in members}
    [mail] = await mails_to(db, "pia@example.com")
    assert (await client.post("/v1/invitations/accept", json={"token": consent_token(mail.body_text)})).status_code == 200
    members = (await client.get(f"/v1/groups/{group_b.id}/members", headers=headers)).json()["items"]
    assert {m["user_id"]: m["roles"] for m in members}[str(known.id)] == ["provider"]


# --- transfers inside a group (G7) -----------------------------------------------------------------


async def test_a_transfer_inside_the_group_stays_one_step(client: httpx.AsyncClient, db: AsyncSession, group: Group, owner_a: User) -> None:
    # rules G7, C2: the group's own record is recognised: no new invitation, the consent stays
    second = await make_user(db, first_name="Sec", last_name="Provider")
    await make_provider(db, group, second, "LMFT")
    person = await make_user(db, email="tia@example.com")
    added = (await add_client(client, db, group, owner_a, "tia@example.com")).json()
    await accept_all(client, db, person)
    headers = await user_headers(db, owner_a)
    moved = await client.post(f"/v1/groups/{group.id}/clients/{added['id']}/transfer",
                              json={"from_provider_id": str(owner_a.id), "to_provider_id": str(second.id)}, headers=headers)
    assert moved.status_code == 200 and moved.json()["consent"] == "accepted" and moved.json()["user_id"] == str(person.id)
    # archiving and adding again by email: the same record, at once
    archived = await client.post(f"/v1/groups/{group.id}/clients/{added['id']}/archive", json={"provider_id": str(second.id)}, headers=headers)
    assert archived.status_code == 200
    again = await add_client(client, db, group, owner_a, "TIA@example.com")
    assert again.status_code == 201 and again.json()["id"] == added["id"] and again.json()["consent"] == "accepted"
    assert await db.scalar(select(func.count()).select_from(Invitation).where(Invitation.user_id == person.id)) == 1


# --- admin grants need the owner first (G4) --------------------------------------------------------


async def test_a_grant_asked_by_an_admin_mails_the_person_only_once_the_owner_approved(
    client: httpx.AsyncClient, db: AsyncSession, group_b: Group, owner_b: User
) -> None:
    # rules G4, A10
    admin = await make_user(db)
    await add_member(db, group_b, admin, admin=True)
    person = await make_user(db, email="gus@example.com", password_hash="$argon2id$stub")
    asked = await client.post(f"/v1/groups/{group_b.id}/admin-grants", json={"email": "gus@example.com", "full_name": "Gus G"},
                              headers=await user_headers(db, admin))
    assert asked.status_code == 201 and asked.json()["status"] == "pending_approval"
    assert await mails_to(db, "gus@example.com") == []  # nothing before the owner consents
    approved = await client.post(f"/v1/groups/{group_b.id}/admin-grants/{asked.json()['id']}/approve", headers=await user_headers(db, owner_b))
    assert approved.status_code == 200 and approved.json()["status"] == "pending_verification"
    [mail] = await mails_to(db, "gus@example.com")
    assert mail.template == "invitation_consent"
    assert (await client.post("/v1/invitations/accept", json={"token": consent_token(mail.body_text)})).status_code == 200
    grant = await db.get(AdminGrant, uuid.UUID(asked.json()["id"]))
    await db.refresh(grant)
    assert grant.status == "active"
    membership = await db.scalar(select(Membership).where(Membership.group_id == group_b.id, Membership.user_id == person.id))
    assert membership.is_admin


async def test_declining_an_admin_invitation_rejects_the_grant(client: httpx.AsyncClient, db: AsyncSession, group_b: Group, owner_b: User) -> None:
    # rules G4, A10
    await make_user(db, email="hal@example.com")
    asked = await client.post(f"/v1/groups/{group_b.id}/admin-grants", json={"email": "hal@example.com", "full_name": "Hal H"},
                              headers=await user_headers(db, owner_b))
    [mail] = await mails_to(db, "hal@example.com")
    assert (await client.post("/v1/invitations/decline", json={"token": consent_token(mail.body_text)})).status_code == 200
    grant = await db.get(AdminGrant, uuid.UUID(asked.json()["id"]))
    await db.refresh(grant)
    assert grant.status == "rejected"


async def test_admins_named_by_staff_wait_for_the_owner(client: httpx.AsyncClient, db: AsyncSession) -> None:
    # rules G4, A10: staff set a group up on an owner's behalf; its admins take effect once the owner accepted
    staff = await make_user(db, is_staff=True)
    owner = await make_user(db, email="olga@example.com", password_hash="$argon2id$stub")
    admin = await make_user(db, email="adam@example.com", password_hash="$argon2id$stub")
    response = await client.post("/v1/groups", headers=await user_headers(db, staff), json={
        "name": "Requested", "owner_license_type": "LCSW", "owner": {"full_name": "Olga O", "email": "olga@example.com"},
        "admins": [{"full_name": "Adam A", "email": "adam@example.com"}],
    })
    assert response.status_code == 201, response.text
    assert [g["status"] for g in response.json()["admin_grants"]] == ["pending_approval"]
    assert await mails_to(db, "adam@example.com") == []
    [owner_mail] = await mails_to(db, "olga@example.com")
    assert (await client.post("/v1/invitations/accept", json={"token": consent_token(owner_mail.body_text)})).json()["kind"] == "owner"
    [admin_mail] = await mails_to(db, "adam@example.com")  # the owner's acceptance approved it
    assert (await client.post("/v1/invitations/accept", json={"token": consent_token(admin_mail.body_text)})).status_code == 200
    group_id = uuid.UUID(response.json()["group"]["id"])
    membership = await db.scalar(select(Membership).where(Membership.group_id == group_id, Membership.user_id == admin.id))
    assert membership is not None and membership.is_admin
    assert owner.id != admin.id


async def accept_all(client: httpx.AsyncClient, db: AsyncSession, person: User) -> None:
    headers = await user_headers(db, person)
    for invitation in (await client.get("/v1/me/invitations", params={"status": "pending"}, headers=headers)).json()["items"]:
        assert (await client.post(f"/v1/me/invitations/{invitation['id']}/accept", headers=headers)).status_code == 200


async def test_booking_with_the_practice_accepts_its_invitation(client: httpx.AsyncClient, db: AsyncSession, group_b: Group, owner_b: User) -> None:
    # rules A10, C5: a logged-in person booking through the practice's own link says yes to it
    from app.models import ProviderProfile

    person = await make_user(db, email="bea@example.com", first_name="Bea", last_name="Own")
    added = (await add_client(client, db, group_b, owner_b, "bea@example.com")).json()
    slug = await db.scalar(select(ProviderProfile.booking_slug).where(ProviderProfile.group_id == group_b.id, ProviderProfile.user_id == owner_b.id))
    booked = await client.post(f"/v1/booking/{slug}/signup", json={"billing_type": "private_pay"}, headers=await user_headers(db, person))
    assert booked.status_code in (200, 201), booked.text
    read = (await client.get(f"/v1/groups/{group_b.id}/clients/{added['id']}", headers=await user_headers(db, owner_b))).json()
    assert (read["consent"], read["first_name"], read["user_id"]) == ("accepted", "Bea", str(person.id))


async def test_correcting_a_pending_clients_email_invites_the_right_person(
    client: httpx.AsyncClient, db: AsyncSession, group_b: Group, owner_b: User
) -> None:
    # rules A10, C8: a typo fixed before the person answered: the first invitation is withdrawn, the new email
    # invited, and the answer is the same whether or not the new email has an account
    await make_user(db, email="right@example.com", first_name="Right", last_name="Person")
    headers = await user_headers(db, owner_b)
    answers = []
    for wrong, right in (("wrong1@example.com", "right@example.com"), ("wrong2@example.com", "unknown@example.com")):
        added = (await add_client(client, db, group_b, owner_b, wrong)).json()
        fixed = await client.patch(f"/v1/groups/{group_b.id}/clients/{added['id']}", json={"email": right}, headers=headers)
        assert fixed.status_code == 200, fixed.text
        answers.append(fixed.json())
        withdrawn = await db.scalar(select(Invitation.status).join(User, User.id == Invitation.user_id).where(User.email == wrong))
        assert withdrawn == "withdrawn"
    first, second = answers
    for body in answers:
        body["rosters"] = [without(r, "added_at") for r in body["rosters"]]
    assert without(first, "id", "created_at", "email") == without(second, "id", "created_at", "email")
    assert first["first_name"] == "Typed" and first["user_id"] is None
    assert [m.template for m in await mails_to(db, "right@example.com")] == ["invitation_consent"]
