"""A practice the person has not accepted yet: rules S7, C8, C11 (and S2 still per client record)."""

import uuid

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.memberships.service import make_provider
from app.models import Client, Group, TherapySession, User
from tests.fixtures.factories import make_group, make_user
from tests.fixtures.mail import mails_to
from tests.sessions.conftest import Clock, at, book


async def _pending_elsewhere(client: httpx.AsyncClient, db: AsyncSession, person: User, as_user) -> tuple[Group, User, Client]:
    """Practice B types the email of a person who is practice A's client: a pending record (invitation sent)."""
    elsewhere = await make_group(db, name="Elsewhere")
    other = await make_user(db, first_name="Other", last_name="Provider")
    await make_provider(db, elsewhere, other, "LPC")
    added = await client.post(f"/v1/groups/{elsewhere.id}/clients", headers=await as_user(other), json={
        "first_name": "Typed", "last_name": "Name", "email": person.email, "phone": "(212) 555-0142", "billing_type": "private_pay"})
    assert added.status_code == 201, added.text
    assert added.json()["consent"] == "pending"
    record = await db.get(Client, uuid.UUID(added.json()["id"]))
    assert record is not None
    return elsewhere, other, record


async def test_a_practice_not_yet_accepted_learns_nothing_and_acceptance_never_fails(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, client_record: Client, frozen: Clock, as_user
) -> None:
    # rule S7, C8: practice A's session; practice B's pending record of the same person
    person = await db.get(User, client_record.user_id)
    here = await book(client, group, await as_user(provider), client_record, at("2027-03-11T10:00:00-05:00"))
    assert here.status_code == 201, here.text
    elsewhere, other, pending = await _pending_elsewhere(client, db, person, as_user)
    theirs = await as_user(other)
    # B books over A's session: booked, no "busy elsewhere" to probe with
    over = await book(client, elsewhere, theirs, pending, at("2027-03-11T10:30:00-05:00"))
    assert over.status_code == 201, over.text
    apart = await book(client, elsewhere, theirs, pending, at("2027-03-11T14:00:00-05:00"))
    assert apart.status_code == 201, apart.text
    # rule S2: B's own record is still never double-booked
    own = await book(client, elsewhere, theirs, pending, at("2027-03-11T10:45:00-05:00"))
    assert own.status_code == 409 and own.json()["conflicts"][0]["other_practice"] is False
    # rule C11: the person sees only the practice they accepted, and B mails them nothing
    mine = await as_user(person)
    listed = (await client.get("/v1/me/sessions", headers=mine)).json()["items"]
    assert [i["id"] for i in listed] == [here.json()["id"]]
    assert (await client.post(f"/v1/me/sessions/{apart.json()['id']}/cancel", json={}, headers=mine)).status_code == 404
    assert [m.template for m in await mails_to(db, person.email) if m.template.startswith("session_")] == ["session_booked"]

    # the person accepts B, though B's 10:30 overlaps A's 10:00: accepting does not fail
    [invitation] = [i for i in (await client.get("/v1/me/invitations", headers=mine)).json()["items"]
                    if i["group_id"] == str(elsewhere.id)]
    accepted = await client.post(f"/v1/me/invitations/{invitation['id']}/accept", headers=mine)
    assert accepted.status_code == 200, accepted.text
    linked = {s: (await db.get(TherapySession, uuid.UUID(r.json()["id"]), populate_existing=True)).client_user_id
              for s, r in (("over", over), ("apart", apart))}
    assert linked == {"over": None, "apart": person.id}  # the overlapping one stays held by its record only
    listed = (await client.get("/v1/me/sessions", headers=mine)).json()["items"]
    assert {i["id"] for i in listed} == {here.json()["id"], over.json()["id"], apart.json()["id"]}
    # rule S7: from now on B's new booking over A's session is refused, A's shown as busy time only
    refused = await book(client, elsewhere, theirs, pending, at("2027-03-11T09:00:00-05:00"), duration_minutes=90)
    assert refused.status_code == 409, refused.text
    assert {"party": "client", "starts_at": "2027-03-11T15:00:00+00:00", "ends_at": "2027-03-11T16:00:00+00:00",
            "other_practice": True} in refused.json()["conflicts"]
    assert str(group.id) not in refused.text and here.json()["id"] not in refused.text
    # and A can no longer book over B's linked session either
    back = await book(client, group, await as_user(provider), client_record, at("2027-03-11T14:30:00-05:00"))
    assert back.status_code == 409 and back.json()["conflicts"][0]["other_practice"] is True
