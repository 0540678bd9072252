"""Partner keys (rule X7): scopes within the creator's rights, a per-key rate limit, test mode, key format."""

import re
import uuid

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import mail, test_mode
from app.core.middleware import RequestInfo, current_request
from app.models import ApiKey, Group, MailMessage, Membership, User
from tests.fixtures.factories import add_member, bearer, make_group, make_user, user_headers

KEY_FORMAT = re.compile(r"\bck_(live|test)_[0-9A-Za-z]{38}\b")


@pytest.fixture
async def owner(db: AsyncSession) -> User:
    return await make_user(db, first_name="Olive", last_name="Owner")


@pytest.fixture
async def group(db: AsyncSession, owner: User) -> Group:
    return await make_group(db, owner=owner, name="Harbor Counseling")


async def create_key(client: httpx.AsyncClient, headers: dict[str, str], group: Group, **body: object) -> dict:
    response = await client.post(f"/v1/groups/{group.id}/api-keys", json={"name": "EHR", **body}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def test_live_and_test_keys_have_prefixes_scanners_can_tell_apart(client: httpx.AsyncClient, db: AsyncSession, owner: User, group: Group) -> None:
    # rule X7: key prefix format
    headers = await user_headers(db, owner)
    live = await create_key(client, headers, group)
    test = await create_key(client, headers, group, mode="test")
    assert KEY_FORMAT.fullmatch(live["key"]) and live["key"].startswith("ck_live_") and live["mode"] == "live"
    assert KEY_FORMAT.fullmatch(test["key"]) and test["key"].startswith("ck_test_") and test["mode"] == "test"
    assert live["display_prefix"] == live["key"][:12] and test["display_prefix"].startswith("ck_test_")
    assert live["scopes"] == ["read"]  # least privilege unless asked
    # Found in running text, as a scanner would find a leaked key.
    assert KEY_FORMAT.findall(f"config: token={live['key']}\n") == ["live"]


async def test_read_scope_reads_and_every_write_is_refused(client: httpx.AsyncClient, db: AsyncSession, owner: User, group: Group) -> None:
    # rule X7: scopes
    key = await create_key(client, await user_headers(db, owner), group, scopes=["read"])
    reads = await client.get(f"/v1/groups/{group.id}/clients", headers=bearer(key["key"]))
    assert reads.status_code == 200, reads.text
    write = await client.patch(f"/v1/groups/{group.id}/settings", json={"contact_email": "desk@example.com"}, headers=bearer(key["key"]))
    assert write.status_code == 403 and write.json()["code"] == "insufficient_scope"
    assert "account_settings" in write.json()["detail"]


async def test_a_capability_scope_allows_its_writes_only(client: httpx.AsyncClient, db: AsyncSession, owner: User, group: Group) -> None:
    # rule X7: scopes
    key = await create_key(client, await user_headers(db, owner), group, scopes=["account_settings"])
    headers = bearer(key["key"])
    patched = await client.patch(f"/v1/groups/{group.id}/settings", json={"contact_email": "desk@example.com"}, headers=headers)
    assert patched.status_code == 200, patched.text
    other = await client.get(f"/v1/groups/{group.id}/clients", headers=headers)
    assert other.status_code == 403 and other.json()["code"] == "insufficient_scope"


async def test_scopes_a_key_cannot_hold_are_refused(client: httpx.AsyncClient, db: AsyncSession, owner: User, group: Group) -> None:
    # rule X7: keys never hand out access, and unknown names are refused
    headers = await user_headers(db, owner)
    for scope in ("api_keys", "messaging", "everything"):
        response = await client.post(f"/v1/groups/{group.id}/api-keys", json={"name": "x", "scopes": [scope]}, headers=headers)
        assert response.status_code == 422 and response.json()["code"] == "unknown_scope", response.text
        assert "read" in response.json()["detail"]


@pytest.mark.parametrize("change", ["demoted", "removed", "two_factor_required"])
async def test_a_key_loses_what_its_creator_loses(client: httpx.AsyncClient, db: AsyncSession, owner: User, group: Group, change: str) -> None:
    # rule X7: creator-ceiling, checked again on every call
    admin = await make_user(db)
    await add_member(db, group, admin, admin=True, provider=True)
    key = await create_key(client, await user_headers(db, admin), group, scopes=["read", "account_settings"])
    headers = bearer(key["key"])
    assert (await client.get(f"/v1/groups/{group.id}/clients", headers=headers)).status_code == 200
    if change == "two_factor_required":  # the group now requires two-factor of admins; the creator has none
        await db.execute(update(Group).where(Group.id == group.id).values(require_two_factor_for_admins=True))
    else:
        values = {"is_admin": False} if change == "demoted" else {"ended_at": func.now()}
        await db.execute(update(Membership).where(Membership.group_id == group.id, Membership.user_id == admin.id).values(**values))
    for method, path, body in (("GET", "clients", None), ("PATCH", "settings", {"contact_email": "x@example.com"})):
        response = await client.request(method, f"/v1/groups/{group.id}/{path}", json=body, headers=headers)
        assert response.status_code == 403 and response.json()["code"] == "key_creator_lacks_rights", response.text


async def test_rate_limit_headers_and_429(client: httpx.AsyncClient, db: AsyncSession, owner: User, group: Group) -> None:
    # rule X7: rate-limit headers and 429
    key = await create_key(client, await user_headers(db, owner), group, rate_limit_per_minute=3)
    assert key["rate_limit_per_minute"] == 3
    remaining = []
    for _ in range(3):
        response = await client.get("/v1/me", headers=bearer(key["key"]))
        assert response.status_code == 200
        assert response.headers["RateLimit-Limit"] == "3"
        assert 1 <= int(response.headers["RateLimit-Reset"]) <= 60
        remaining.append(response.headers["RateLimit-Remaining"])
    assert remaining == ["2", "1", "0"]
    refused = await client.get(f"/v1/groups/{group.id}/clients", headers=bearer(key["key"]))
    assert refused.status_code == 429 and refused.json()["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60 and refused.headers["RateLimit-Remaining"] == "0"
    # Counted per key: another key of the group is not held back; a login carries no quota headers.
    other = await create_key(client, await user_headers(db, owner), group)
    assert (await client.get("/v1/me", headers=bearer(other["key"]))).status_code == 200
    assert "RateLimit-Limit" not in (await client.get("/v1/me", headers=await user_headers(db, owner))).headers


async def test_rate_limit_is_capped_by_the_setting(client: httpx.AsyncClient, db: AsyncSession, owner: User, group: Group) -> None:
    # rule X7: a key's limit stays within API_KEY_RATE_LIMIT_MAX
    response = await client.post(
        f"/v1/groups/{group.id}/api-keys", json={"name": "x", "rate_limit_per_minute": 6001}, headers=await user_headers(db, owner)
    )
    assert response.status_code == 422 and response.json()["code"] == "rate_limit_too_high"
    key = await create_key(client, await user_headers(db, owner), group)
    assert key["rate_limit_per_minute"] == 600


async def test_redis_down_lets_keyed_requests_through(app: FastAPI, client: httpx.AsyncClient, db: AsyncSession, owner: User, group: Group) -> None:
    # rule X7: the limit fails open when Redis cannot be reached
    key = await create_key(client, await user_headers(db, owner), group, rate_limit_per_minute=1)
    app.state.redis = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    response = await client.get("/v1/me", headers=bearer(key["key"]))
    assert response.status_code == 200 and "RateLimit-Limit" not in response.headers


async def test_test_key_acts_on_a_test_copy_only(client: httpx.AsyncClient, db: AsyncSession, owner: User, group: Group) -> None:
    # rule X7: test-mode isolation
    headers = await user_headers(db, owner)
    first = await create_key(client, headers, group, mode="test", scopes=["read", "account_settings"])
    second = await create_key(client, headers, group, mode="test")
    copy_id = first["acts_on_group_id"]
    assert copy_id != str(group.id) and second["acts_on_group_id"] == copy_id  # one copy, made lazily
    copy = await db.get(Group, uuid.UUID(copy_id))
    assert copy.live_group_id == group.id and copy.time_zone == group.time_zone and not copy.shown_in_search
    assert (await db.scalar(select(Membership).where(Membership.group_id == copy.id))) is None  # nobody copied
    test_headers = bearer(first["key"])
    me = await client.get("/v1/me", headers=test_headers)
    assert [m["group_id"] for m in me.json()["memberships"]] == [copy_id]
    patched = await client.patch(f"/v1/groups/{copy_id}/settings", json={"contact_email": "sandbox@example.com"}, headers=test_headers)
    assert patched.status_code == 200, patched.text
    live = await client.get(f"/v1/groups/{group.id}/settings", headers=headers)
    assert "sandbox@example.com" not in live.text
    # The live group does not exist for a test key.
    assert (await client.get(f"/v1/groups/{group.id}/clients", headers=test_headers)).status_code == 404
    listed = await client.get(f"/v1/groups/{group.id}/api-keys", headers=headers)
    assert {k["mode"] for k in listed.json()["items"]} == {"test"}
    owner_groups = await client.get("/v1/groups", headers=headers)
    assert copy_id not in owner_groups.text


async def test_a_test_mode_request_sends_no_mail(db: AsyncSession) -> None:
    # rule X7: no mail from a test-mode group
    token = current_request.set(RequestInfo("req-test-mode", None, "/v1/groups"))
    try:
        test_mode.enter()
        await mail.send_mail(db, to="someone@example.com", subject="s", body="b", template="t")
        current_request.set(RequestInfo("req-next", None, "/v1/groups"))  # the next request is live again
        await mail.send_mail(db, to="someone@example.com", subject="s", body="b", template="live")
    finally:
        current_request.reset(token)
    await db.flush()
    sent = (await db.scalars(select(MailMessage.template).where(MailMessage.to_address == "someone@example.com"))).all()
    assert sent == ["live"]


async def test_keys_made_before_scopes_keep_working(client: httpx.AsyncClient, db: AsyncSession, group: Group) -> None:
    # rule X7: existing keys act as live keys with what keys always had
    from tests.fixtures.factories import api_key

    secret = await api_key(db, group)
    stored = await db.scalar(select(ApiKey).where(ApiKey.group_id == group.id))
    assert stored.mode == "live" and stored.scopes is None
    patched = await client.patch(f"/v1/groups/{group.id}/settings", json={"contact_email": "desk@example.com"}, headers=bearer(secret))
    assert patched.status_code == 200, patched.text


async def test_the_count_survives_redis_forgetting_its_script(client: httpx.AsyncClient, db: AsyncSession, redis, owner: User, group: Group) -> None:
    # rule X7: a restarted Redis (scripts forgotten) still counts, in the same window
    key = await create_key(client, await user_headers(db, owner), group, rate_limit_per_minute=5)
    assert (await client.get("/v1/me", headers=bearer(key["key"]))).headers["RateLimit-Remaining"] == "4"
    await redis.script_flush()
    assert (await client.get("/v1/me", headers=bearer(key["key"]))).headers["RateLimit-Remaining"] == "3"
