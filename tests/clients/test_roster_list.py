"""The roster list and its search (C7, C4, R2): the one-statement page answers what a single read answers,
search pages are exact whichever column matched, and the prefix ranges are right (roster_sql, pure)."""

import uuid

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.clients import roster_sql
from app.clients.readiness import CURRENT_FORM_VERSIONS
from app.invitations.service import accept_account_invitations
from app.models import Acknowledgement, AuditEvent, BillingMethod, Client, Group, PracticeInsurance, User
from tests.clients.test_clients import NEW_CLIENT
from tests.fixtures.factories import add_member, make_user, user_headers


async def add(client: httpx.AsyncClient, db: AsyncSession, group: Group, who: User, **overrides) -> dict:
    response = await client.post(f"/v1/groups/{group.id}/clients", json={**NEW_CLIENT, **overrides}, headers=await user_headers(db, who))
    assert response.status_code == 201, response.text
    return response.json()


async def every_page(client: httpx.AsyncClient, url: str, headers: dict, limit: int, **params) -> list[dict]:
    items, cursor, pages = [], None, 0
    while True:
        page = await client.get(url, params={"limit": limit, **params, **({"cursor": cursor} if cursor else {})}, headers=headers)
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        pages += 1
        assert pages < 50
        if not (cursor := page.json()["next_cursor"]):
            return items


async def test_the_list_shows_what_a_single_read_shows(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, colleague: User
) -> None:
    # rule C4 and C7: every state of the readiness checklist, insurance, several rosters, archived entries
    documents = list(CURRENT_FORM_VERSIONS.items())
    cases = [
        dict(email="a1@example.com", last_name="Able", billing_type="insurance"),
        dict(email="a2@example.com", last_name="Baker", billing_type="private_pay", insurance=None, telehealth_state=None, assessments=[]),
        dict(email="a3@example.com", last_name="Cole", billing_type="insurance", insurance=None),
        dict(email="a4@example.com", last_name="Dunn", billing_type="insurance"),
        dict(email="a5@example.com", last_name="Eads", billing_type="private_pay"),
    ]
    added = [await add(client, db, group, provider, **case) for case in cases]
    # Each person accepted the practice's invitation (with their new account), except Cole (rule C8: until then
    # nothing Cole entered counts, not even a card on file).
    users = []
    for a in added:
        record = await db.get(Client, uuid.UUID(a["id"]))
        users.append(await db.get(User, record.user_id))
    for person in users[:2] + users[3:]:
        await accept_account_invitations(db, person.id)
    db.add(BillingMethod(user_id=users[2].id, processor_token="tok_3", brand="visa", last4="3333", exp_month=12, exp_year=2099))
    # Able: ready (verified, insurance, a card, current forms)
    users[0].email_verified_at = func.now()
    db.add(BillingMethod(user_id=users[0].id, processor_token="tok_1", brand="visa", last4="4242", exp_month=12, exp_year=2099))
    db.add_all([Acknowledgement(user_id=users[0].id, document=d, version=v) for d, v in documents])
    # Baker: an expired card, one current form and one old version
    db.add(BillingMethod(user_id=users[1].id, processor_token="tok_2", brand="visa", last4="1111", exp_month=1, exp_year=2020))
    db.add(Acknowledgement(user_id=users[1].id, document=documents[0][0], version=documents[0][1]))
    db.add(Acknowledgement(user_id=users[1].id, document=documents[1][0], version="1999-01"))
    # Dunn: insurance whose verification failed is not on file
    await db.flush()
    policy = await db.get(PracticeInsurance, uuid.UUID(added[3]["id"]))
    policy.status = "failed"
    await db.flush()
    # Eads: on two rosters, one of them archived
    headers = await user_headers(db, provider)
    await add(client, db, group, colleague, email="a5@example.com", billing_type="private_pay")
    archived = await client.post(f"/v1/groups/{group.id}/clients/{added[4]['id']}/archive",
                                 json={"provider_id": str(colleague.id)}, headers=await user_headers(db, colleague))
    assert archived.status_code == 200, archived.text

    listed = (await client.get(f"/v1/groups/{group.id}/clients", headers=headers)).json()["items"]
    assert [c["id"] for c in listed] == [a["id"] for a in added]
    for item in listed:
        single = await client.get(f"/v1/groups/{group.id}/clients/{item['id']}", headers=headers)
        assert item == single.json()
    ready = {c["last_name"]: c["readiness"]["missing"] for c in listed}
    assert ready == {
        "Able": [],
        "Baker": ["account_verified", "billing_method_on_file", "privacy_policy_acknowledged"],
        "Cole": ["account_verified", "insurance_on_file", "billing_method_on_file", "billing_policy_acknowledged", "privacy_policy_acknowledged"],
        "Dunn": ["account_verified", "insurance_on_file", "billing_method_on_file", "billing_policy_acknowledged", "privacy_policy_acknowledged"],
        "Eads": ["account_verified", "billing_method_on_file", "billing_policy_acknowledged", "privacy_policy_acknowledged"],
    }
    assert listed[0]["readiness"]["ready"] is True and listed[3]["insurance"]["status"] == "failed"
    assert listed[1]["insurance"] == {"status": "none", "company": None, "member_id": None}
    assert sorted(r["archived_at"] is None for r in listed[4]["rosters"]) == [False, True]
    assert listed[0]["created_at"].endswith("Z")  # as pydantic writes timestamps
    assert listed[2]["consent"] == "pending" and listed[2]["user_id"] is None  # rule A10
    assert listed[0]["consent"] == "accepted" and listed[0]["user_id"] == str(users[0].id)


async def test_search_pages_are_exact_whichever_column_matched(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User
) -> None:
    # rule C7: "pa" matches by last name, first name or email; paging through it repeats and loses nothing
    people = [
        ("Ann", "Park", "ann.park@example.com"),  # all three
        ("Pat", "Adams", "x1@example.com"),  # first name
        ("Zed", "Young", "pablo@example.com"),  # email only
        ("Paul", "Pace", "y2@example.com"),  # last and first
        ("Bea", "Paine", "z3@example.com"),  # last name
        ("Cy", "Quinn", "pa@example.com"),  # email only
        ("Pam", "Zorn", "pam.zorn@example.com"),  # first and email
        ("Pax", "Adams", "pax@example.com"),  # same last name as Pat
        ("Dee", "Smith", "dee@example.com"),  # no match
        ("Eve", "Pb", "eve@example.com"),  # no match: just past the prefix
        ("Ole", "Oz", "p@example.com"),  # no match: just before it
    ]
    for first, last, email in people:
        await add(client, db, group, provider, first_name=first, last_name=last, email=email)
    url, headers = f"/v1/groups/{group.id}/clients", await user_headers(db, provider)
    expected = sorted(
        [(f.lower(), l.lower(), f, l) for f, l, e in people if any(x.lower().startswith("pa") for x in (f, l, e))],
        key=lambda k: (k[1], k[0]),
    )
    whole = await every_page(client, url, headers, 50, q="PA")
    assert [(c["first_name"], c["last_name"]) for c in whole] == [(f, l) for _, _, f, l in expected]
    for limit in (1, 2, 3):
        paged = await every_page(client, url, headers, limit, q="pa")
        assert [c["id"] for c in paged] == [c["id"] for c in whole], limit
    # two words: first and last name in either order, paged too
    both = await every_page(client, url, headers, 1, q="pa ad")
    assert [(c["first_name"], c["last_name"]) for c in both] == [("Pat", "Adams"), ("Pax", "Adams")]
    assert [c["last_name"] for c in await every_page(client, url, headers, 1, q="adams pax")] == ["Adams"]
    # each page read is audited with the ids shown (rule R2)
    reads = (await db.scalars(select(AuditEvent).where(AuditEvent.action == "client.list_read"))).all()
    assert reads and all(set(r.details["client_ids"]) <= {c["id"] for c in whole + both} for r in reads)


async def test_each_page_read_is_audited_with_the_ids_it_shows(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User
) -> None:
    # rule R2: the read and its audit row are one statement; ids only, in the order shown, not the extra row read
    for n in range(3):
        await add(client, db, group, provider, first_name=f"P{n}", last_name="Same", email=f"p{n}@example.com")
    headers = {**await user_headers(db, provider), "X-Request-ID": "req-roster-1"}
    page = (await client.get(f"/v1/groups/{group.id}/clients", params={"limit": 2}, headers=headers)).json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    [event] = (await db.scalars(select(AuditEvent).where(AuditEvent.action == "client.list_read"))).all()
    assert event.details == {"client_ids": [c["id"] for c in page["items"]]}
    assert (event.actor_user_id, event.group_id, event.target_type, event.target_id, event.outcome) == (
        provider.id, group.id, "client", None, "success")
    assert str(event.actor_ip) == "203.0.113.7" and event.request_id
    empty = await client.get(f"/v1/groups/{group.id}/clients", params={"q": "nobody"}, headers=headers)
    assert empty.json() == {"items": [], "next_cursor": None}
    events = (await db.scalars(select(AuditEvent).where(AuditEvent.action == "client.list_read").order_by(AuditEvent.id))).all()
    assert events[-1].details == {"client_ids": []}


async def test_a_providers_search_stays_on_their_roster(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, colleague: User
) -> None:
    # rule R1 with search: every branch of the search is narrowed to the caller's roster
    mine = await add(client, db, group, provider, first_name="Pam", last_name="Mine", email="pam.mine@example.com")
    await add(client, db, group, colleague, first_name="Pam", last_name="Theirs", email="pam.theirs@example.com")
    await add(client, db, group, colleague, first_name="Sue", last_name="Pamuk", email="sue@example.com")
    items = (await client.get(f"/v1/groups/{group.id}/clients", params={"q": "pam"}, headers=await user_headers(db, provider))).json()["items"]
    assert [c["id"] for c in items] == [mine["id"]]
    admin = await make_user(db)
    await add_member(db, group, admin, admin=True)
    everyone = (await client.get(f"/v1/groups/{group.id}/clients", params={"q": "pam"}, headers=await user_headers(db, admin))).json()["items"]
    assert [c["last_name"] for c in everyone] == ["Mine", "Pamuk", "Theirs"]


async def test_a_provider_naming_their_own_roster_sees_its_entries_by_status(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, colleague: User
) -> None:
    # rules R1 and C7: `provider_id` = the caller filters on the caller's own entries (one roster test in SQL)
    headers = await user_headers(db, provider)
    shared = await add(client, db, group, provider, first_name="Ada", last_name="Shared", email="ada.shared@example.com")
    await add(client, db, group, colleague, first_name="Ada", last_name="Shared", email="ada.shared@example.com")
    kept = await add(client, db, group, provider, first_name="Kim", last_name="Kept", email="kim.kept@example.com")
    await add(client, db, group, colleague, first_name="Tom", last_name="Theirs", email="tom.theirs@example.com")
    archived = await client.post(f"/v1/groups/{group.id}/clients/{shared['id']}/archive", json={"provider_id": str(provider.id)},
                                 headers=headers)
    assert archived.status_code == 200, archived.text
    url = f"/v1/groups/{group.id}/clients"
    for status, expected in (("active", [kept]), ("archived", [shared]), ("all", [kept, shared])):
        items = (await client.get(url, params={"provider_id": str(provider.id), "status": status}, headers=headers)).json()["items"]
        assert [c["id"] for c in items] == [c["id"] for c in expected], status


async def test_a_forged_cursor_is_refused(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User) -> None:
    from app.core.pagination import encode_cursor

    headers = await user_headers(db, provider)
    url = f"/v1/groups/{group.id}/clients"
    for cursor in ("garbage", encode_cursor(["a", "b"], scope=url), encode_cursor(["a", "b", "not-a-uuid"], scope=url),
                   encode_cursor([1, "b", str(uuid.uuid4())], scope=url)):
        response = await client.get(f"/v1/groups/{group.id}/clients", params={"cursor": cursor}, headers=headers)
        assert response.status_code == 422 and response.json()["code"] == "invalid_cursor", cursor


def test_prefix_ranges() -> None:
    # the "C" collation orders by code point: [prefix, next) holds exactly the strings starting with prefix
    assert roster_sql.prefix_range("sm") == ("sm", "sn")
    assert roster_sql.prefix_range("c_y%") == ("c_y%", "c_y&")  # wildcards are plain characters
    assert roster_sql.prefix_range("a\ud7ff") == ("a\ud7ff", "a\ue000")  # no surrogates
    top = chr(0x10FFFF)
    assert roster_sql.prefix_range("a" + top) == ("a" + top, "b")
    low, high = roster_sql.prefix_range(top)
    assert low == top and high > top * 320
    for word in ("sm", "zz", "é", "o'b", "a" + top):
        low, high = roster_sql.prefix_range(word)
        for key in (word, word + "a", word + top, word + "\x7f" * 5):
            assert low <= key < high, (word, key)
        for key in (word[:-1], high, high + "a"):
            assert not (low <= key < high), (word, key)


def test_search_words() -> None:
    assert roster_sql.search_tokens(None) == [] and roster_sql.search_tokens("   ") == []
    assert roster_sql.search_tokens(" Ann ") == ["ann"]
    assert roster_sql.search_tokens("Ann Marie SMITH") == ["ann", "smith"]
    assert roster_sql.search_tokens("a\x00b") == ["ab"]


def test_every_shape_numbers_its_parameters() -> None:
    for own in (False, True):
        for provider in (False, True):
            for status in ("active", "archived", "all"):
                for words in (0, 1, 2):
                    for after in (False, True):
                        sql, names = roster_sql.page_statement(own=own, provider=provider, status=status, words=words, after=after, size=50)
                        assert "LIMIT 51" in sql and "LIMIT 50" in sql  # one more row read than shown and audited
                        assert len(set(names)) == len(names)
                        assert all(f"${n}" in sql for n in range(1, len(names) + 1)) and f"${len(names) + 1}" not in sql
                        assert ("own_id" in names) == own and ("provider_id" in names) == provider
                        assert ("after_id" in names) == after and ("low2" in names) == (words == 2)
