"""Idempotency-Key on every POST that creates something, sends mail or moves money: rule X2.

Generated from the OpenAPI document over the capability matrix's world (tests/groups/test_capability_matrix.py):
every POST but the few listed in app/core/idempotency.NOT_IDEMPOTENT takes the key, and a retry of one that
succeeded replays its first answer. A retry is the same request as the server reads it: JSON with other key
order and whitespace, or a multipart form with a new boundary, replays.
"""

import uuid

import httpx
import orjson
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.idempotency import NOT_IDEMPOTENT
from app.core.routing import PUBLIC
from app.main import create_app
from app.models import IdempotencyRecord, MailMessage
from tests.groups.test_capability_matrix import (  # noqa: F401  (fixtures)
    OPERATIONS,
    SAMPLE_FILES,
    Operation,
    World,
    conn,
    expected_status,
    request_body,
    storage,
    world,
    world_conn,
)

POSTS = [op for op in OPERATIONS if op.method == "POST" and op.path not in NOT_IDEMPOTENT]
# The POSTs the key did not reach before (issue 16): each must replay here, not just accept the header.
NEWLY_COVERED = {
    "clients-transfer_client", "clients-archive_client",  # the welcome email: its own test below
    "memberships-transfer_ownership", "sessions-record_no_show",
    "memberships-approve_admin_grant", "memberships-reject_admin_grant", "memberships-revoke_admin_grant",
}
_replayed: set[str] = set()


def test_every_post_documents_the_key_but_the_listed_few() -> None:
    # rule X2
    spec = create_app().openapi()
    for path, item in spec["paths"].items():
        if "post" not in item:
            continue
        headers = {p["name"] for p in item["post"].get("parameters", []) if p["in"] == "header"}
        assert ("Idempotency-Key" in headers) == (path not in NOT_IDEMPOTENT), path
    assert set(NOT_IDEMPOTENT) <= set(spec["paths"]), "NOT_IDEMPOTENT names a path that no longer exists"


def a_caller_allowed(op: Operation, world: World) -> str | None:
    for caller in ("owner", "provider_admin", "admin_only", "provider_only", "api_key", "staff"):
        if expected_status(op, caller, world) == "ok":
            return caller
    return None  # a client's own /v1/me/... object: nobody in the matrix is that client


@pytest.mark.parametrize("op", POSTS, ids=lambda op: op.operation_id)
async def test_a_retried_post_replays_its_first_answer(op: Operation, world: World, client: httpx.AsyncClient, db: AsyncSession) -> None:
    # rule X2
    path = op.path
    for name, value in world.ids.items():
        path = path.replace("{" + name + "}", str(value))
    caller = a_caller_allowed(op, world)
    if caller is None:
        pytest.skip("only the client the object belongs to may call it, and the matrix has no such caller")
    headers = {**world.credentials[caller], "Idempotency-Key": f"retry-{uuid.uuid4()}"}
    kwargs: dict = {}
    if op.operation_id in SAMPLE_FILES:
        kwargs["files"] = SAMPLE_FILES[op.operation_id]  # httpx draws a new boundary for each request
    elif op.has_body:
        kwargs["json"] = request_body(op, world)
    first = await client.post(path, headers=headers, **kwargs)
    if not 200 <= first.status_code < 300:
        assert op.operation_id not in NEWLY_COVERED, f"{op.operation_id} should succeed in the matrix world: {first.text}"
        pytest.skip(f"refused in the matrix world ({first.status_code}); refusals are not stored")
    records = await db.scalar(select(func.count()).select_from(IdempotencyRecord))
    retry = await client.post(path, headers=headers, **kwargs)
    assert (retry.status_code, retry.content) == (first.status_code, first.content)
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.headers.get("location") == first.headers.get("location")
    assert await db.scalar(select(func.count()).select_from(IdempotencyRecord)) == records  # nothing ran twice
    _replayed.add(op.operation_id)


def test_the_newly_covered_posts_all_replayed() -> None:
    # rule X2: runs after the generated cases above (same module, in order)
    assert NEWLY_COVERED <= _replayed, NEWLY_COVERED - _replayed


async def test_a_welcome_email_retried_is_mailed_once(world: World, client: httpx.AsyncClient, db: AsyncSession) -> None:
    # rule X2: a retry of the welcome email must not mail the client twice
    body = {"first_name": "Wendy", "last_name": "Welcome", "email": "wendy.welcome@example.com", "billing_type": "private_pay",
            "provider_id": str(world.ids["user_id"]), "phone": "+12125550188"}
    added = await client.post(f"/v1/groups/{world.ids['group_id']}/clients", json=body, headers=world.credentials["owner"])
    assert added.status_code == 201, added.text
    path = f"/v1/groups/{world.ids['group_id']}/clients/{added.json()['id']}/welcome-email"
    headers = {**world.credentials["owner"], "Idempotency-Key": "welcome-once"}
    before = await db.scalar(select(func.count()).select_from(MailMessage))
    answers = [await client.post(path, headers=headers) for _ in range(3)]
    assert [a.status_code for a in answers] == [202, 202, 202]
    assert [a.headers.get("idempotent-replayed") for a in answers] == [None, "true", "true"]
    assert await db.scalar(select(func.count()).select_from(MailMessage)) == before + 1
    # Without the key, a second request is a second mail: the key is what makes a retry safe.
    await client.post(path, headers=world.credentials["owner"])
    assert await db.scalar(select(func.count()).select_from(MailMessage)) == before + 2


async def test_json_re_serialised_replays(world: World, client: httpx.AsyncClient, db: AsyncSession) -> None:
    # rule X2: the same JSON with other key order and whitespace is the same request
    path = f"/v1/groups/{world.ids['group_id']}/clients"
    body = {"first_name": "Rita", "last_name": "Retry", "email": "rita.retry@example.com", "billing_type": "private_pay",
            "provider_id": str(world.ids["user_id"]), "phone": "+12125550199"}
    headers = {**world.credentials["owner"], "Idempotency-Key": "reserialised", "Content-Type": "application/json"}
    first = await client.post(path, content=orjson.dumps(body), headers=headers)
    assert first.status_code == 201, first.text
    reordered = "{\n  " + ",\n  ".join(f'"{k}" : {orjson.dumps(v).decode()}' for k, v in reversed(body.items())) + "\n}"
    retry = await client.post(path, content=reordered.encode(), headers={**headers, "Content-Type": "application/json; charset=utf-8"})
    assert retry.status_code == 201 and retry.headers["idempotent-replayed"] == "true"
    assert retry.json() == first.json()
    other = await client.post(path, json={**body, "first_name": "Rosa"}, headers=headers)
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")


async def test_a_multipart_upload_retried_with_a_new_boundary_replays(world: World, client: httpx.AsyncClient) -> None:
    # rule X2: the form's fields and each file's hash decide, not the boundary
    path = f"/v1/groups/{world.ids['group_id']}/clients/{world.ids['client_id']}/documents"
    headers = {**world.credentials["owner"], "Idempotency-Key": "upload-once"}

    def upload(boundary: str, content: bytes = b"%PDF-1.4 intake notes") -> httpx.Request:
        return client.build_request(
            "POST", path, headers={**headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
            files={"file": ("intake.pdf", content, "application/pdf")}, data={"category": "administrative"},
        )

    first = await client.send(upload("first-boundary-1111"))
    assert first.status_code == 201, first.text
    retry = await client.send(upload("a-new-boundary-2222"))
    assert retry.status_code == 201 and retry.headers["idempotent-replayed"] == "true"
    assert retry.json() == first.json()
    other = await client.send(upload("third-boundary-3333", content=b"%PDF-1.4 other notes"))
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")


async def test_stored_answers_are_encrypted_at_rest(world: World, client: httpx.AsyncClient, db: AsyncSession) -> None:
    # rule X2 with PHI kept out of plain storage: a created client's answer holds their name
    path = f"/v1/groups/{world.ids['group_id']}/clients"
    body = {"first_name": "Sealed", "last_name": "Answer", "email": "sealed.answer@example.com", "billing_type": "private_pay",
            "provider_id": str(world.ids["user_id"]), "phone": "+12125550177"}
    created = await client.post(path, json=body, headers={**world.credentials["owner"], "Idempotency-Key": "sealed"})
    assert created.status_code == 201
    stored = await db.scalar(select(IdempotencyRecord.response_body).where(IdempotencyRecord.key == "sealed"))
    assert b"Sealed" not in stored and b"Answer" not in stored and b"sealed.answer" not in stored
    fingerprints = await db.scalar(text("SELECT count(*) FROM idempotency_records WHERE length(fingerprint) = 32"))
    assert fingerprints >= 1


def test_public_posts_take_the_key_scoped_by_the_key_alone() -> None:
    # rule X2: no credentials, so no caller to scope by; documented on the public routes too
    spec = create_app().openapi()
    public = [
        path for path, item in spec["paths"].items()
        if "post" in item and item["post"]["x-capability"] == PUBLIC and path not in NOT_IDEMPOTENT
    ]
    assert "/v1/booking/{slug}/signup" in public
