"""Clients and rosters: rules C1, C2, C3, C4, C7, G7, R1, R2."""

import uuid

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.memberships.service import make_provider
from app.invitations.service import accept_account_invitations
from app.models import AuditEvent, Client, Group, InsurancePolicy, Invitation, PracticeInsurance, RosterEntry, User
from tests.fixtures.factories import make_group, make_user, user_headers
from tests.fixtures.mail import mails_to

NEW_CLIENT = {
    "first_name": "Jordan",
    "last_name": "Blake",
    "email": "jordan.blake@example.com",
    "phone": "(212) 555-0142",
    "billing_type": "insurance",
    "insurance": {"company": "Acme Health", "member_id": "XJ-99887766", "date_of_birth": "1990-04-02"},
    "telehealth_state": "ny",
    "assessments": ["PHQ-9", "GAD-7"],
}


async def add(client: httpx.AsyncClient, db: AsyncSession, group: Group, who: User, **overrides) -> httpx.Response:
    return await client.post(f"/v1/groups/{group.id}/clients", json={**NEW_CLIENT, **overrides}, headers=await user_headers(db, who))


async def test_adding_a_client(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User) -> None:
    # rule C1: name, email, phone, billing type, insurance, telehealth state, assessments
    response = await add(client, db, group, provider)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["phone"] == "+12125550142" and body["telehealth_state"] == "NY"
    assert body["billing_type"] == "insurance" and body["assessments"] == ["GAD-7", "PHQ-9"]
    assert [r["provider_user_id"] for r in body["rosters"]] == [str(provider.id)]
    # the member id is encrypted at rest and masked in responses
    assert body["insurance"] == {"status": "on_file", "company": "Acme Health", "member_id": "••••7766"}
    assert "XJ-99887766" not in response.text
    # rule C8: the practice's own copy of the insurance, not the person's policy
    stored = await db.get(PracticeInsurance, uuid.UUID(body["id"]))
    assert b"99887766" not in stored.member_id_encrypted
    assert await db.scalar(select(func.count()).select_from(InsurancePolicy)) == 0
    # rule C4: a new client is not ready; every item is listed
    assert body["readiness"]["ready"] is False
    assert body["readiness"]["missing"] == [
        "account_verified", "billing_method_on_file", "billing_policy_acknowledged", "privacy_policy_acknowledged",
    ]  # insurance is on file: the practice entered it


async def test_readiness_lists_insurance_only_for_insurance_billing(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User) -> None:
    # rule C4
    private = await add(client, db, group, provider, email="pp@example.com", billing_type="private_pay", insurance=None)
    assert [i["item"] for i in private.json()["readiness"]["items"]] == [
        "account_verified", "billing_method_on_file", "billing_policy_acknowledged", "privacy_policy_acknowledged",
    ]
    insured = await add(client, db, group, provider, email="ins@example.com", insurance=None)
    items = {i["item"]: i["done"] for i in insured.json()["readiness"]["items"]}
    assert items["insurance_on_file"] is False


async def test_an_existing_account_is_linked_not_duplicated(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, colleague: User) -> None:
    # rules C2, A10, C8: one person, one client record, even with different case and spacing; the practice sees
    # what it typed until the person accepts, then the person's own name
    person = await make_user(db, email="sky.lane@example.com", first_name="Sky", last_name="Lane")
    first = await add(client, db, group, provider, email="  Sky.Lane@EXAMPLE.com ", first_name="Typo", last_name="Name")
    assert first.status_code == 201, first.text
    assert first.json()["user_id"] is None and first.json()["consent"] == "pending"
    assert first.json()["first_name"] == "Typo"  # what was typed: nothing tells the account exists
    second = await add(client, db, group, colleague, email="SKY.LANE@example.com")
    assert second.status_code == 201 and second.json()["id"] == first.json()["id"]
    assert {r["provider_user_id"] for r in second.json()["rosters"]} == {str(provider.id), str(colleague.id)}
    assert await db.scalar(select(func.count()).select_from(User).where(func.lower(User.email) == "sky.lane@example.com")) == 1
    assert await db.scalar(select(func.count()).select_from(Client).where(Client.user_id == person.id)) == 1
    assert await db.scalar(select(func.count()).select_from(Invitation).where(Invitation.user_id == person.id)) == 1
    again = await add(client, db, group, provider, email="sky.lane@example.com")
    assert again.status_code == 409 and again.json()["code"] == "already_on_roster"
    [invitation] = (await client.get("/v1/me/invitations", headers=await user_headers(db, person))).json()["items"]
    accepted = await client.post(f"/v1/me/invitations/{invitation['id']}/accept", headers=await user_headers(db, person))
    assert accepted.status_code == 200, accepted.text
    read = (await client.get(f"/v1/groups/{group.id}/clients/{first.json()['id']}", headers=await user_headers(db, provider))).json()
    assert read["first_name"] == "Sky" and read["user_id"] == str(person.id) and read["consent"] == "accepted"


async def test_notify_sends_the_onboarding_mail(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User) -> None:
    # rule C3
    await add(client, db, group, provider, notify=True)
    [mail] = await mails_to(db, "jordan.blake@example.com")
    assert mail.template == "client_onboarding"
    for step in ("verify your account", "add your insurance", "add a form of billing", "acknowledge the billing and privacy policies"):
        assert step in mail.body_text
    quiet = await add(client, db, group, provider, email="quiet@example.com")
    assert quiet.status_code == 201 and await mails_to(db, "quiet@example.com") == []


async def test_bad_input_is_refused_and_changes_nothing(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, colleague: User) -> None:
    before = await db.scalar(select(func.count()).select_from(Client))
    for overrides, field in (
        ({"phone": "12"}, "body.phone"),
        ({"telehealth_state": "XX"}, "body.telehealth_state"),
        ({"billing_type": "cash"}, "body.billing_type"),
        ({"assessments": ["MMPI"]}, "body.assessments.0"),
        ({"user_id": "00000000-0000-0000-0000-000000000000"}, "body.user_id"),
    ):
        response = await add(client, db, group, provider, **overrides)
        assert response.status_code == 422, overrides
        assert response.json()["errors"][0]["field"] == field
    # a provider cannot add to another provider's roster
    response = await add(client, db, group, provider, provider_id=str(colleague.id))
    assert response.status_code == 403
    assert await db.scalar(select(func.count()).select_from(Client)) == before


async def test_providers_see_their_roster_admins_every_roster(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, colleague: User, admin: User
) -> None:
    # rule C7, R1, and the client rows of the capability table
    mine = (await add(client, db, group, provider, email="mine@example.com", last_name="Adams")).json()
    theirs = (await add(client, db, group, colleague, email="theirs@example.com", last_name="Brown")).json()
    listed = (await client.get(f"/v1/groups/{group.id}/clients", headers=await user_headers(db, provider))).json()
    assert [c["id"] for c in listed["items"]] == [mine["id"]]
    # another provider's client and roster are simply not there
    other = await client.get(f"/v1/groups/{group.id}/clients/{theirs['id']}", headers=await user_headers(db, provider))
    assert other.status_code == 404
    roster = await client.get(f"/v1/groups/{group.id}/clients", params={"provider_id": str(colleague.id)}, headers=await user_headers(db, provider))
    assert roster.status_code == 404
    admin_headers = await user_headers(db, admin)
    everyone = (await client.get(f"/v1/groups/{group.id}/clients", headers=admin_headers)).json()
    assert [c["last_name"] for c in everyone["items"]] == ["Adams", "Brown"]
    one_roster = (await client.get(f"/v1/groups/{group.id}/clients", params={"provider_id": str(colleague.id)}, headers=admin_headers)).json()
    assert [c["id"] for c in one_roster["items"]] == [theirs["id"]]
    # rule R2: reads are audited with ids, never names
    reads = (await db.scalars(select(AuditEvent).where(AuditEvent.action.in_(["client.list_read", "client.read"])))).all()
    assert len(reads) >= 3 and "Adams" not in str([r.details for r in reads])


async def test_another_groups_client_is_404(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User) -> None:
    # rule R1
    theirs = (await add(client, db, group, provider)).json()
    other_group = await make_group(db, name="Elsewhere")
    stranger = await make_user(db)
    await make_provider(db, other_group, stranger, "LPC")
    headers = await user_headers(db, stranger)
    assert (await client.get(f"/v1/groups/{group.id}/clients/{theirs['id']}", headers=headers)).status_code == 404
    assert (await client.get(f"/v1/groups/{other_group.id}/clients/{theirs['id']}", headers=headers)).status_code == 404


async def test_search_by_name_or_email_prefix(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User) -> None:
    # rule C7: search
    for first, last, email in (("Ann", "Smith", "ann@example.com"), ("Bo", "Smythe", "bo@example.com"), ("Ann", "Lee", "zed@example.com"), ("Cy", "Doe", "c_y%@example.com")):
        await add(client, db, group, provider, first_name=first, last_name=last, email=email)
    headers = await user_headers(db, provider)

    async def search(q: str) -> list[str]:
        page = (await client.get(f"/v1/groups/{group.id}/clients", params={"q": q}, headers=headers)).json()
        return [f"{c['first_name']} {c['last_name']}" for c in page["items"]]

    assert await search("smi") == ["Ann Smith"]
    assert await search("SM") == ["Ann Smith", "Bo Smythe"]
    assert await search("ann") == ["Ann Lee", "Ann Smith"]
    assert await search("ann sm") == ["Ann Smith"]
    assert await search("zed@") == ["Ann Lee"]
    assert await search("%") == []  # wildcards are literal
    assert await search("c_y%") == ["Cy Doe"]


async def test_pages_follow_the_name_order(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User) -> None:
    for n in range(5):
        await add(client, db, group, provider, first_name=f"P{n}", last_name="Same", email=f"p{n}@example.com")
    headers = await user_headers(db, provider)
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(f"/v1/groups/{group.id}/clients", params=params, headers=headers)).json()
        seen += [c["first_name"] for c in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert seen == ["P0", "P1", "P2", "P3", "P4"]


async def test_archive_and_re_add(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User) -> None:
    # rule C7: archiving is reversible by adding the client again
    added = (await add(client, db, group, provider)).json()
    headers = await user_headers(db, provider)
    archived = await client.post(f"/v1/groups/{group.id}/clients/{added['id']}/archive", json={}, headers=headers)
    assert archived.status_code == 200 and archived.json()["rosters"][0]["archived_at"]
    active = (await client.get(f"/v1/groups/{group.id}/clients", headers=headers)).json()
    assert active["items"] == []
    archived_list = (await client.get(f"/v1/groups/{group.id}/clients", params={"status": "archived"}, headers=headers)).json()
    assert [c["id"] for c in archived_list["items"]] == [added["id"]]
    again = await add(client, db, group, provider)
    assert again.status_code == 201 and again.json()["id"] == added["id"]
    assert len(again.json()["rosters"]) == 2  # history kept
    twice = await client.post(f"/v1/groups/{group.id}/clients/{added['id']}/archive", json={}, headers=headers)
    assert twice.status_code == 200
    assert (await client.post(f"/v1/groups/{group.id}/clients/{added['id']}/archive", json={}, headers=headers)).status_code == 404


async def test_transfer_keeps_the_same_person_and_history(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, colleague: User, admin: User
) -> None:
    # rule G7
    added = (await add(client, db, group, provider)).json()
    response = await client.post(
        f"/v1/groups/{group.id}/clients/{added['id']}/transfer",
        json={"from_provider_id": str(provider.id), "to_provider_id": str(colleague.id)},
        headers=await user_headers(db, admin),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == added["id"] and body["user_id"] == added["user_id"]
    rosters = {r["provider_user_id"]: r["archived_at"] for r in body["rosters"]}
    assert rosters[str(provider.id)] is not None and rosters[str(colleague.id)] is None
    colleague_view = (await client.get(f"/v1/groups/{group.id}/clients", headers=await user_headers(db, colleague))).json()
    assert [c["id"] for c in colleague_view["items"]] == [added["id"]]
    entries = await db.scalar(select(func.count()).select_from(RosterEntry).where(RosterEntry.client_id == added["id"]))
    assert entries == 2


async def test_a_provider_transfers_only_their_own_client(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, colleague: User) -> None:
    added = (await add(client, db, group, colleague)).json()
    response = await client.post(
        f"/v1/groups/{group.id}/clients/{added['id']}/transfer",
        json={"from_provider_id": str(colleague.id), "to_provider_id": str(provider.id)},
        headers=await user_headers(db, provider),
    )
    assert response.status_code == 404  # not on their roster: not visible at all


async def test_a_verified_client_owns_their_identity(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User) -> None:
    added = (await add(client, db, group, provider)).json()
    headers = await user_headers(db, provider)
    path = f"/v1/groups/{group.id}/clients/{added['id']}"
    fixed = await client.patch(path, json={"last_name": "Blake-Rivers", "phone": "415 555 0199"}, headers=headers)
    assert fixed.status_code == 200 and fixed.json()["last_name"] == "Blake-Rivers" and fixed.json()["phone"] == "+14155550199"
    record = await db.get(Client, uuid.UUID(added["id"]))
    person = await db.get(User, record.user_id)
    person.email_verified_at = func.now()
    await db.flush()
    await accept_account_invitations(db, person.id)  # rule A10: the person accepted the practice's invitation
    refused = await client.patch(path, json={"first_name": "Someone"}, headers=headers)
    assert refused.status_code == 409 and refused.json()["code"] == "client_controls_identity"
    allowed = await client.patch(path, json={"billing_type": "private_pay"}, headers=headers)
    assert allowed.status_code == 200 and allowed.json()["billing_type"] == "private_pay"


async def test_welcome_email_only_for_clients_new_to_the_platform(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User) -> None:
    added = (await add(client, db, group, provider)).json()
    headers = await user_headers(db, provider)
    path = f"/v1/groups/{group.id}/clients/{added['id']}/welcome-email"
    assert (await client.post(path, headers=headers)).status_code == 202
    assert [m.template for m in await mails_to(db, "jordan.blake@example.com")] == ["client_onboarding"]
    record = await db.get(Client, uuid.UUID(added["id"]))
    person = await db.get(User, record.user_id)
    person.email_verified_at = func.now()
    await db.flush()
    await accept_account_invitations(db, person.id)
    response = await client.post(path, headers=headers)
    assert response.status_code == 409 and response.json()["code"] == "already_on_platform"


async def test_client_work_logs_no_phi(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, capsys) -> None:
    # DESIGN.md 8: ids and statuses in logs, never names, emails, phones or member ids
    from app.core.logging import configure_logging

    configure_logging("INFO")
    added = (await add(client, db, group, provider)).json()
    headers = await user_headers(db, provider)
    await client.get(f"/v1/groups/{group.id}/clients", params={"q": "Blake"}, headers=headers)
    await client.patch(f"/v1/groups/{group.id}/clients/{added['id']}", json={"phone": "not a phone"}, headers=headers)
    await add(client, db, group, provider)  # a refusal (already on the roster)
    output = capsys.readouterr().out
    assert '"path":"/v1/groups/{group_id}/clients"' in output
    for phi in ("jordan", "blake", "2125550142", "99887766", "acme", "not a phone"):
        assert phi not in output.lower(), phi
