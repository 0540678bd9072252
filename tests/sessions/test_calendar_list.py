"""The calendar list (S5, R1, R2): what each item shows, paging, and the read's audit row.

The list is read and serialised on its own path (app.sessions.service.list_sessions); its items must be what
`session_document` makes of the stored session, in every state, and its audit row what app.core.audit.record writes.
"""

import base64
from datetime import datetime, timedelta

import httpx
import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.pagination import decode_cursor, encode_cursor
from app.models import AuditEvent, Client, Group, TherapySession, User
from app.sessions.service import session_document
from tests.fixtures.factories import api_key, bearer
from tests.sessions.conftest import NOW, Clock, book, make_location, sessions_url

DETAILS = {"service_code": "90837", "diagnosis_code": "F41.1"}
WEEK = {"from": (NOW - timedelta(days=2)).isoformat(), "to": (NOW + timedelta(days=5)).isoformat()}


async def _calendar_in_every_state(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User,
                                   client_record: Client, frozen: Clock, headers: dict[str, str]) -> list[str]:
    """Sessions scheduled, confirmed, cancelled (late, with a fee), cancelled by the provider, no-show, in person."""
    frozen.set(NOW - timedelta(days=2))
    starts = [NOW - timedelta(days=1, hours=h) for h in (2, 0)] + [NOW + timedelta(hours=h) for h in (5, 7, 9, 30)]
    ids = []
    for n, starts_at in enumerate(starts):
        overrides = {}
        if n == 5:
            location = await make_location(db, group, provider)
            overrides = {"telehealth": None, "location_id": str(location.id)}
        response = await book(client, group, headers, client_record, starts_at, **overrides)
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    frozen.set(NOW)
    confirm = await client.post(sessions_url(group, ids[0], "confirm"), json=DETAILS, headers=headers)
    assert confirm.status_code == 200, confirm.text
    no_show = await client.post(sessions_url(group, ids[1], "no-show"), headers=headers)
    assert no_show.status_code == 200, no_show.text
    late = await client.post(sessions_url(group, ids[2], "cancel"), json={"by": "client", "reason": "ill"}, headers=headers)
    assert late.status_code == 200 and late.json()["status"] == "late_cancelled"
    by_provider = await client.post(sessions_url(group, ids[3], "cancel"), json={"by": "provider"}, headers=headers)
    assert by_provider.status_code == 200 and by_provider.json()["status"] == "cancelled"
    return ids


async def test_items_are_the_stored_sessions_in_every_state(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, client_record: Client, frozen: Clock, as_user,
) -> None:
    # rule S5: the calendar shows each session as the API shows it (confirmation, cancellation, no-show, place)
    headers = await as_user(provider)
    ids = await _calendar_in_every_state(client, db, group, provider, client_record, frozen, headers)
    response = await client.get(sessions_url(group), params=WEEK, headers=headers)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [item["id"] for item in items] == ids  # by starts_at
    for item in items:
        stored = await db.get(TherapySession, item["id"], populate_existing=True)
        shown = orjson.loads(orjson.dumps(session_document(stored), default=str, option=orjson.OPT_UTC_Z))
        assert item == {**shown, "client_name": "Casey Client"}  # rule S5: the entry names its client
    states = {item["status"] for item in items}
    assert states == {"confirmed", "no_show", "late_cancelled", "cancelled", "scheduled"}
    confirmed = items[0]["confirmation"]
    assert confirmed["pay_date"] == "2027-03-31"
    assert (confirmed["arrives_earliest"], confirmed["arrives_latest"]) == ("2027-03-31", "2027-04-02")
    assert items[2]["cancellation"] == {"cancelled_at": "2027-03-10T15:00:00Z", "by": "client", "reason": "ill",
                                        "late_cancellation_fee_cents": 7500, "currency": "USD"}
    assert items[5]["telehealth"] is False and items[5]["location_id"] is not None


async def test_each_page_is_audited_with_its_ids(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, client_record: Client, frozen: Clock, as_user,
) -> None:
    # rule R2: one audit row per page read, who read it, from where, and the ids shown in order (ids only)
    headers = await as_user(provider)
    ids = await _calendar_in_every_state(client, db, group, provider, client_record, frozen, headers)
    first = await client.get(sessions_url(group), params={**WEEK, "limit": 4}, headers=headers)
    second = await client.get(sessions_url(group), params={**WEEK, "limit": 4, "cursor": first.json()["next_cursor"]}, headers=headers)
    empty = await client.get(sessions_url(group), params={**WEEK, "status": "confirmed", "limit": 4, "cursor": first.json()["next_cursor"]},
                             headers=headers)
    assert [i["id"] for i in first.json()["items"] + second.json()["items"]] == ids and second.json()["next_cursor"] is None
    assert empty.json() == {"items": [], "next_cursor": None}
    events = list(await db.scalars(select(AuditEvent).where(AuditEvent.action == "session.list_read").order_by(AuditEvent.id)))
    assert [e.details for e in events] == [{"session_ids": ids[:4]}, {"session_ids": ids[4:]}, {"session_ids": []}]
    for event, response in zip(events, (first, second, empty), strict=True):
        assert (event.actor_user_id, event.actor_api_key_id, event.group_id) == (provider.id, None, group.id)
        assert (event.target_type, event.target_id, event.outcome) == ("session", None, "success")
        assert str(event.actor_ip) == "203.0.113.7" and event.request_id == response.headers["x-request-id"]
    # An API key reads the group's calendar; its audit row names the key.
    key = await api_key(db, group)
    by_key = await client.get(sessions_url(group), params={**WEEK, "limit": 1}, headers=bearer(key))
    assert by_key.status_code == 200, by_key.text
    assert [i["id"] for i in by_key.json()["items"]] == ids[:1]
    last = await db.scalar(select(AuditEvent).where(AuditEvent.action == "session.list_read").order_by(AuditEvent.id.desc()).limit(1))
    assert last.actor_user_id is None and last.actor_api_key_id is not None and last.details == {"session_ids": ids[:1]}


async def test_cursor_is_the_last_key_and_a_forged_one_is_refused(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, client_record: Client, frozen: Clock, as_user,
) -> None:
    # rule S5: keyset pages; a cursor this endpoint did not issue is a 422, never a 500
    headers = await as_user(provider)
    ids = await _calendar_in_every_state(client, db, group, provider, client_record, frozen, headers)
    first = (await client.get(sessions_url(group), params={**WEEK, "limit": 2}, headers=headers)).json()
    cursor = first["next_cursor"]
    # rule R4: the cursor is sealed; the server reads it back as the last row's key
    starts_at, last_id = decode_cursor(cursor, 2, scope=sessions_url(group))
    assert last_id == ids[1] == first["items"][-1]["id"] and datetime.fromisoformat(starts_at) == datetime.fromisoformat(first["items"][-1]["starts_at"])

    def forged(value: object) -> str:
        # sealed with the app's key for this very list: only the values are wrong
        return encode_cursor(value, scope=sessions_url(group))  # type: ignore[arg-type]

    plain = base64.urlsafe_b64encode(orjson.dumps([starts_at, last_id])).decode().rstrip("=")  # yesterday's format
    for bad in ("not-a-cursor", plain, forged([starts_at]), forged([starts_at, "nope"]), forged([starts_at, 5]), forged(["x", last_id]),
                forged([5, last_id]), forged([starts_at.removesuffix("+00:00"), last_id]), forged({"a": 1})):
        refused = await client.get(sessions_url(group), params={**WEEK, "cursor": bad}, headers=headers)
        assert refused.status_code == 422 and refused.json()["code"] == "invalid_cursor", (bad, refused.text)


async def test_a_calendar_filtered_by_client_names_them(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, admin: User, provider: User, colleague: User,
    client_record: Client, colleagues_client: Client, frozen: Clock, as_user,
) -> None:
    # rule S5: `client_id` narrows the calendar; every entry names its client for those who may see them
    mine = await book(client, group, await as_user(provider), client_record, NOW + timedelta(hours=5))
    theirs = await book(client, group, await as_user(colleague), colleagues_client, NOW + timedelta(hours=5))
    assert mine.status_code == theirs.status_code == 201
    headers = await as_user(admin)
    everyone = (await client.get(sessions_url(group), params=WEEK, headers=headers)).json()["items"]
    assert {(i["id"], i["client_name"]) for i in everyone} == {(mine.json()["id"], "Casey Client"), (theirs.json()["id"], "Drew Client")}
    one = (await client.get(sessions_url(group), params={**WEEK, "client_id": str(colleagues_client.id)}, headers=headers)).json()["items"]
    assert [i["id"] for i in one] == [theirs.json()["id"]]
    # a provider filtering by another provider's client finds nothing of it
    none = await client.get(sessions_url(group), params={**WEEK, "client_id": str(colleagues_client.id)}, headers=await as_user(provider))
    assert none.status_code == 200 and none.json()["items"] == []
