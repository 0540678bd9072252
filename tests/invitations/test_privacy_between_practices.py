"""Each practice sees only what it was given (rules C8, A10), generated over every route of the app.

Practice A adds a person with distinctive values (name, phone, insurance company, member id, date of birth,
copay); the person also keeps insurance of their own. Practice B then types the same email with a made-up
name. Every GET route under /v1/groups/{group_id}/ that B can reach with B's own ids (taken from the app's
OpenAPI document, like tests/groups/test_capability_matrix.py: a new route is walked without anyone listing
it) must answer B without any of A's values: before the person accepts, nothing of theirs either; after,
the person's own data and still nothing A typed.
"""

import uuid
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.main import create_app
from app.models import Client, Group, User
from tests.fixtures.factories import make_user, user_headers
from tests.fixtures.mail import mails_to, verification_token

A_TYPED = {
    "first_name": "Zenobia",
    "last_name": "Quillfeather",
    "email": "zq.person@example.com",
    "phone": "(415) 555-0187",
    "billing_type": "insurance",
    "insurance": {"company": "Acme Mutual Zeta", "member_id": "ZQ-55508642", "date_of_birth": "1971-03-17", "copay_cents": 4321},
    "telehealth_state": "CA",
}
# What A typed, as it could appear in a response: never in B's.
A_VALUES = {"Acme Mutual Zeta", "+14155550187", "••••8642", "1971-03-17", "ZQ-55508642", 4321}
A_NAMES = {"Zenobia", "Quillfeather"}
# What the person entered themselves: B sees it only once the person accepted B's invitation.
OWN_INSURANCE = {"company": "Personal Plan Co", "member_id": "PP-00771199", "copay_cents": 2750}
OWN_VALUES = {"Personal Plan Co", "••••1199", 2750}
B_TYPED = {
    "first_name": "Made", "last_name": "Up", "email": "ZQ.Person@example.com", "phone": "(646) 555-0100",
    "billing_type": "insurance",
}
# Values for path and query parameters B can fill with its own ids.
QUERY_DEFAULTS = {"service_code": "90837", "from": "2026-01-01T00:00:00Z", "to": "2026-03-01T00:00:00Z", "year": "2026"}


def group_get_routes() -> list[tuple[str, list[str]]]:
    """Every GET route under /v1/groups/{group_id}/, with its required query parameters."""
    spec = create_app().openapi()
    found = []
    for path, item in spec["paths"].items():
        operation = item.get("get")
        if operation is None or not path.startswith("/v1/groups/{group_id}"):
            continue
        required = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query" and p.get("required")]
        found.append((path, required))
    return found


def leaves(document: Any) -> list[Any]:
    if isinstance(document, dict):
        return [leaf for value in document.values() for leaf in leaves(value)]
    if isinstance(document, list):
        return [leaf for value in document for leaf in leaves(value)]
    return [document]


def found_in(document: Any, forbidden: set[Any]) -> set[Any]:
    """Forbidden values in a JSON document: equal to a leaf, or (strings) inside one."""
    hits = set()
    for leaf in leaves(document):
        for value in forbidden:
            if isinstance(value, str) and isinstance(leaf, str) and value.lower() in leaf.lower():
                hits.add(value)
            elif not isinstance(value, str) and leaf == value and not isinstance(leaf, bool):
                hits.add(value)
    return hits


async def walk(client: httpx.AsyncClient, headers: dict, ids: dict[str, str], forbidden: set[Any]) -> dict[str, int]:
    """Call every reachable GET route with B's ids; assert no forbidden value in any body. Returns path -> status."""
    statuses = {}
    for template, required in group_get_routes():
        path = template
        for name, value in ids.items():
            path = path.replace("{" + name + "}", value)
        if "{" in path:
            continue  # an object B has none of (documents, payouts, imports, ...): nothing of the person there
        params = {name: QUERY_DEFAULTS[name] for name in required if name in QUERY_DEFAULTS}
        response = await client.get(path, params=params, headers=headers)
        assert response.status_code < 500, (template, response.text)
        statuses[template] = response.status_code
        body = response.json() if response.headers.get("content-type", "").endswith("json") else response.text
        hits = found_in(body, forbidden)
        assert not hits, f"B's view of {template} shows {hits}: {response.text}"
    return statuses


async def test_practice_b_sees_nothing_practice_a_entered(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, group_b: Group, owner_a: User, owner_b: User
) -> None:
    # rules C8, A10, C2, C4, C6: generated over every GET route under /v1/groups/{group_id}/
    a_headers, b_headers = await user_headers(db, owner_a), await user_headers(db, owner_b)
    added_a = await client.post(f"/v1/groups/{group.id}/clients", json={**A_TYPED, "notify": True}, headers=a_headers)
    assert added_a.status_code == 201, added_a.text
    # The person takes the account A's invitation made, accepts A, and enters insurance of their own.
    [mail] = await mails_to(db, "zq.person@example.com")
    claimed = await client.post("/v1/auth/accept-invitation", json={"token": verification_token(mail.body_text), "password": "zenobia's passphrase"})
    assert claimed.status_code == 204, claimed.text
    person = await db.get(User, (await db.get(Client, uuid.UUID(added_a.json()["id"]))).user_id)
    p_headers = await user_headers(db, person)
    assert (await client.put("/v1/me/insurance", json=OWN_INSURANCE, headers=p_headers)).status_code == 200

    # B types the same email with a made-up name: the answer is in B's own words.
    added_b = await client.post(f"/v1/groups/{group_b.id}/clients", json=B_TYPED, headers=b_headers)
    assert added_b.status_code == 201, added_b.text
    body = added_b.json()
    assert (body["first_name"], body["last_name"], body["user_id"], body["account_verified"]) == ("Made", "Up", None, False)
    assert body["insurance"] == {"status": "none", "company": None, "member_id": None}
    assert not found_in(body, A_VALUES | A_NAMES | OWN_VALUES)

    ids = {"group_id": str(group_b.id), "client_id": body["id"], "user_id": str(owner_b.id), "provider_id": str(owner_b.id), "year": "2026"}
    before = await walk(client, b_headers, ids, A_VALUES | A_NAMES | OWN_VALUES)
    # The walk reached the routes that carry person data (a route that answered 404 would prove nothing).
    for route in ("/v1/groups/{group_id}/clients", "/v1/groups/{group_id}/clients/{client_id}",
                  "/v1/groups/{group_id}/clients/{client_id}/estimate", "/v1/groups/{group_id}/clients/{client_id}/documents",
                  "/v1/groups/{group_id}/members", "/v1/groups/{group_id}/sessions"):
        assert before.get(route) == 200, (route, before.get(route))
    estimate = (await client.get(f"/v1/groups/{group_b.id}/clients/{body['id']}/estimate", headers=b_headers)).json()
    assert estimate["estimate_cents"] is None  # B has no plan: not A's copay, not the person's

    # The person accepts B's invitation: B now sees what they entered themselves, still nothing A typed.
    [invitation] = (await client.get("/v1/me/invitations", params={"status": "pending"}, headers=p_headers)).json()["items"]
    assert invitation["group_name"] == "Birch Therapy" and invitation["kind"] == "client"
    assert (await client.post(f"/v1/me/invitations/{invitation['id']}/accept", headers=p_headers)).status_code == 200
    after = await walk(client, b_headers, ids, A_VALUES)
    assert after == before
    read = (await client.get(f"/v1/groups/{group_b.id}/clients/{body['id']}", headers=b_headers)).json()
    assert (read["first_name"], read["last_name"], read["user_id"]) == ("Zenobia", "Quillfeather", str(person.id))  # their own
    assert read["insurance"]["company"] == "Personal Plan Co" and read["phone"] == "+16465550100"  # B's own phone stays
    estimate = (await client.get(f"/v1/groups/{group_b.id}/clients/{body['id']}/estimate", headers=b_headers)).json()
    assert estimate["estimate_cents"] == 2750  # the person's own plan, never A's 4321
    # A, whom the person accepted, sees the person's own insurance now, and its own phone.
    read_a = (await client.get(f"/v1/groups/{group.id}/clients/{added_a.json()['id']}", headers=a_headers)).json()
    assert read_a["insurance"]["company"] == "Personal Plan Co" and read_a["phone"] == "+14155550187"


async def test_a_declined_invitation_leaves_b_with_what_it_typed(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, group_b: Group, owner_a: User, owner_b: User
) -> None:
    # rules A10, C8: declining tells B nothing about the account
    person = await make_user(db, email="dee@example.com", first_name="Dee", last_name="Real")
    b_headers = await user_headers(db, owner_b)
    added = await client.post(f"/v1/groups/{group_b.id}/clients", json={**B_TYPED, "email": "dee@example.com"}, headers=b_headers)
    [invitation] = (await client.get("/v1/me/invitations", headers=await user_headers(db, person))).json()["items"]
    declined = await client.post(f"/v1/me/invitations/{invitation['id']}/decline", headers=await user_headers(db, person))
    assert declined.status_code == 200 and declined.json()["status"] == "declined"
    read = (await client.get(f"/v1/groups/{group_b.id}/clients/{added.json()['id']}", headers=b_headers)).json()
    assert (read["first_name"], read["user_id"], read["consent"], read["account_verified"]) == ("Made", None, "pending", False)
    again = await client.post(f"/v1/me/invitations/{invitation['id']}/accept", headers=await user_headers(db, person))
    assert again.status_code == 409 and again.json()["code"] == "invitation_used"
