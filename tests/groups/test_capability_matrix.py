"""The capability table, enforced on every route of the app, for every kind of caller (rule R1).

Generated from the app's own OpenAPI document: each operation declares `x-capability`, and this
test derives the status every caller must get from PRODUCT.md's table (app/core/authz.CAPABILITIES).
A new route without a declared capability, or with a body and no sample below, fails here.
BOLA: every call from another group's member or key is a 404 that changes nothing in the database.
"""

import importlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from app.clients.service import enroll
from app.core import crypto
from app.core.storage import LocalStorage
from app.core.authz import CAPABILITIES, Capability, Reach, Rule, key_may_hold
from app.core.routing import AUTHENTICATED, PERSON, PUBLIC, STAFF
from app.main import create_app
from app.memberships.service import make_provider
from app.models import AdminGrant, ApiKey, IdentityVerification
from tests.fixtures.factories import (
    add_member,
    api_key,
    bearer,
    make_group,
    make_user,
    session_token,
    unique_email,
)


WorldExtender = Callable[[AsyncSession, dict[str, uuid.UUID], LocalStorage], Awaitable[None]]


def _feature_samples() -> tuple[dict[str, dict], dict[str, dict], list[WorldExtender]]:
    """Every feature's tests/<feature>/route_samples.py: sample bodies (JSON, or files for multipart
    uploads), and `extend_world(db, ids, storage)` adding that feature's objects to the world."""
    bodies: dict[str, dict] = {}
    files: dict[str, dict] = {}
    extenders = []
    for path in sorted(Path(__file__).resolve().parents[1].glob("*/route_samples.py")):
        module = importlib.import_module(f"tests.{path.parent.name}.route_samples")
        bodies.update(module.SAMPLE_BODIES)
        files.update(getattr(module, "SAMPLE_FILES", {}))
        if hasattr(module, "extend_world"):
            extenders.append(module.extend_world)
    return bodies, files, extenders


SAMPLE_BODIES, SAMPLE_FILES, WORLD_EXTENDERS = _feature_samples()
# Objects in the world (clients, documents, conversations) belong to the provider `user_id`: another
# provider reaching only their own work does not find them (404), as they would not find a stranger's.
OWNED_OBJECTS = (
    "{client_id}", "{document_id}", "{conversation_id}", "{session_id}", "{import_id}", "{login_id}", "{invitation_id}",
)
CALLERS = [
    "owner", "admin_only", "provider_only", "provider_admin", "other_group_member", "anonymous", "staff", "api_key",
    "read_key", "other_api_key",
]
# rule X7: a key with only the `read` scope may make the GETs a key may make, and no write.
READS = ("GET", "HEAD")
OUTSIDERS = {"other_group_member", "staff", "other_api_key"}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    operation_id: str
    capability: str
    has_body: bool


def operations() -> list[Operation]:
    spec = create_app().openapi()
    found = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            found.append(
                Operation(method.upper(), path, operation["operationId"], operation["x-capability"], "requestBody" in operation)
            )
    return found


OPERATIONS = [op for op in operations() if op.capability != PUBLIC]


@dataclass
class World:
    ids: dict[str, uuid.UUID]
    credentials: dict[str, dict[str, str]]


@pytest.fixture(scope="module")
async def world_conn(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """One connection for the whole matrix: the world is built once, each case runs in a savepoint."""
    async with engine.connect() as connection:
        outer = await connection.begin()
        yield connection
        await outer.rollback()


@pytest.fixture
async def conn(world_conn: AsyncConnection, world: World) -> AsyncIterator[AsyncConnection]:
    """Overrides the suite's `conn`: every case starts from the same world and leaves it unchanged."""
    savepoint = await world_conn.begin_nested()
    yield world_conn
    if savepoint.is_active:
        await savepoint.rollback()


@pytest.fixture(scope="module")
def storage(tmp_path_factory: pytest.TempPathFactory) -> LocalStorage:
    """Overrides the suite's `storage`: the world's stored files outlive each case, as its rows do."""
    return LocalStorage(tmp_path_factory.mktemp("matrix-files"))


@pytest.fixture(scope="module")
async def world(world_conn: AsyncConnection, storage: LocalStorage) -> World:
    async with AsyncSession(bind=world_conn, join_transaction_mode="create_savepoint", expire_on_commit=False) as db:
        built = await build_world(db, storage)
        await db.commit()  # releases the savepoint: the world stays in the outer transaction
    return built


async def build_world(db: AsyncSession, storage: LocalStorage) -> World:
    owner = await make_user(db, first_name="Owen", last_name="Owner")
    group = await make_group(db, owner=owner, name="Matrix Practice")
    people = {"owner": owner}
    for name, roles in (("admin_only", {"admin": True}), ("provider_only", {"provider": True}), ("provider_admin", {"admin": True, "provider": True})):
        people[name] = await make_user(db, first_name=name)
        if roles.get("provider"):
            await make_provider(db, group, people[name], "LPC")
            if roles.get("admin"):
                membership = await add_member_admin(db, group.id, people[name].id)
                assert membership
        else:
            await add_member(db, group, people[name], **roles)
    await make_provider(db, group, owner, "LCSW")
    other_group = await make_group(db, name="Other Practice")
    people["other_group_member"] = await make_user(db)
    await add_member(db, other_group, people["other_group_member"], admin=True, provider=True)
    people["staff"] = await make_user(db, is_staff=True)
    credentials = {name: bearer(await session_token(db, user)) for name, user in people.items()}
    credentials["anonymous"] = {}
    every_scope = ["read"] + [c.value for c in Capability if key_may_hold(c)]
    credentials["api_key"] = bearer(await api_key(db, group, name="This group's key", scopes=every_scope, created_by=owner))
    credentials["read_key"] = bearer(await api_key(db, group, name="Read-only key", scopes=["read"], created_by=owner))
    credentials["other_api_key"] = bearer(await api_key(db, other_group))
    target_key = ApiKey(group_id=group.id, name="Target", display_prefix="ck_target", key_hash=uuid.uuid4().bytes * 2)
    grantee = await make_user(db)
    grant = AdminGrant(group_id=group.id, user_id=grantee.id, requested_by_user_id=people["admin_only"].id, status="pending_approval")
    # Something for staff to decide on (the decision route is a 404 when nothing was submitted).
    submitted = IdentityVerification(
        group_id=group.id,
        legal_name="Owen Owner",
        date_of_birth_encrypted=crypto.encrypt("1980-01-01", purpose="date_of_birth"),
        tax_id_encrypted=crypto.encrypt("123456789", purpose="tax_id"),
        tax_id_last4="6789",
    )
    db.add_all([target_key, grant, submitted])
    await db.flush()
    client_person = await make_user(db, first_name="Casey", last_name="Client")
    client, _ = await enroll(db, group_id=group.id, user=client_person, provider_user_id=people["provider_only"].id, added_by=owner.id)
    ids = {name: user.id for name, user in people.items()}
    ids.update(group_id=group.id, user_id=people["provider_only"].id, grant_id=grant.id, key_id=target_key.id, client_id=client.id)
    for extend in WORLD_EXTENDERS:
        await extend(db, ids, storage)
    return World(ids=ids, credentials=credentials)


async def add_member_admin(db: AsyncSession, group_id: uuid.UUID, user_id: uuid.UUID):
    from app.memberships.service import ensure_membership

    return await ensure_membership(db, group_id, user_id, is_admin=True)


def allowed_for(caller: str, rule: Rule, world: World, path_user: uuid.UUID | None) -> bool:
    """PRODUCT.md's table restated: the provider column is own work, the admin column the whole group."""
    if caller == "api_key":
        return rule.api_key and rule.admin is Reach.GROUP
    is_owner = caller == "owner"
    is_admin = caller in ("owner", "admin_only", "provider_admin")
    is_provider = caller in ("owner", "provider_only", "provider_admin")
    if rule.owner_only:
        return is_owner
    if is_admin and rule.admin is Reach.GROUP:
        return True
    if is_provider and rule.provider is Reach.GROUP:
        return True
    if is_provider and rule.provider is Reach.OWN:
        return path_user is None or path_user == world.ids[caller]
    return False


def expected_status(op: Operation, caller: str, world: World) -> str:
    """'401', '403', '404', or 'ok' (authorization passed: any status but those and 5xx)."""
    if caller == "read_key":
        as_key = expected_status(op, "api_key", world)
        return "403" if as_key == "ok" and op.method not in READS else as_key
    if caller == "anonymous":
        return "401"
    if op.capability == AUTHENTICATED:
        return "ok"
    if op.capability == PERSON:
        if caller in ("api_key", "other_api_key"):
            return "403"
        # /v1/me/... objects are the client person's own: nobody in the matrix is that client.
        return "404" if any(part in op.path for part in OWNED_OBJECTS) else "ok"
    if op.capability == STAFF:
        return "ok" if caller == "staff" else "403"
    if caller in OUTSIDERS:
        return "404"
    path_user = world.ids["user_id"] if "{user_id}" in op.path else None
    rule = CAPABILITIES[Capability(op.capability)]
    if not allowed_for(caller, rule, world, path_user):
        return "403"
    owned = any(part in op.path for part in OWNED_OBJECTS) or "$client_id" in str(SAMPLE_BODIES.get(op.operation_id, ""))
    if owned and not allowed_for(caller, rule, world, world.ids["user_id"]):
        return "404"  # within the caller's own work only, and this object is another provider's
    return "ok"


def request_body(op: Operation, world: World) -> Any:
    body = SAMPLE_BODIES[op.operation_id]
    replacements = {"$email": unique_email("matrix")} | {f"${name}": str(value) for name, value in world.ids.items()}
    return {key: replacements.get(value, value) if isinstance(value, str) else value for key, value in body.items()}


# Authenticating marks a credential as used; that is bookkeeping, not a change made by the request.
_WITHOUT_USAGE = {
    "api_keys": "(t.id, t.group_id, t.name, t.key_hash, t.revoked_at)",
    "auth_sessions": "(t.id, t.user_id, t.token_hash, t.expires_at, t.revoked_at)",
}


async def database_fingerprint(db: AsyncSession) -> dict[str, str]:
    """A digest of every table's rows, in one statement."""
    # The audit log is left out: a refused attempt is recorded there (rule R3), checked on its own below.
    tables = (await db.execute(text(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
        "AND tablename NOT IN ('alembic_version', 'audit_events', 'audit_chain_heads') ORDER BY 1"
    ))).scalars().all()
    digests = ", ".join(
        f"(SELECT md5(coalesce(string_agg({_WITHOUT_USAGE.get(t, 't')}::text, ',' ORDER BY {_WITHOUT_USAGE.get(t, 't')}::text), '')) FROM \"{t}\" t)"
        for t in tables
    )
    row = (await db.execute(text(f"SELECT {digests}"))).one()
    return dict(zip(tables, row, strict=True))


def test_every_route_declares_a_known_capability_and_has_samples() -> None:
    for op in operations():
        assert op.capability in {PUBLIC, AUTHENTICATED, PERSON, STAFF} | {c.value for c in Capability}, op
        if op.capability != PUBLIC and op.has_body:
            assert op.operation_id in SAMPLE_BODIES, f"{op.method} {op.path}: add a sample body for the capability matrix"


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.operation_id)
async def test_capability_matrix(op: Operation, caller: str, world: World, client: httpx.AsyncClient, db: AsyncSession) -> None:
    # rule R1 and the capability table, for every route and caller
    path = op.path
    for name, value in world.ids.items():
        path = path.replace("{" + name + "}", str(value))
    assert "{" not in path, f"unknown path parameter in {op.path}: teach the matrix its fixture"
    expected = expected_status(op, caller, world)
    before = await database_fingerprint(db) if expected == "404" else None
    last_event = await db.scalar(text("SELECT coalesce(max(id), 0) FROM audit_events"))
    kwargs: dict[str, Any] = {"headers": world.credentials[caller]}
    if op.operation_id in SAMPLE_FILES:
        kwargs["files"] = SAMPLE_FILES[op.operation_id]
    elif op.has_body:
        kwargs["json"] = request_body(op, world)
    response = await client.request(op.method, path, **kwargs)
    assert response.status_code < 500, response.text
    if expected == "ok":
        assert response.status_code not in (401, 403, 404), f"{caller} {op.method} {op.path}: {response.text}"
    else:
        assert str(response.status_code) == expected, f"{caller} {op.method} {op.path}: {response.text}"
    if caller == "read_key" and expected == "403" and expected_status(op, "api_key", world) == "ok":
        assert response.json()["code"] == "insufficient_scope", response.text  # rule X7
    if before is not None:  # BOLA: another group's caller changed nothing
        assert await database_fingerprint(db) == before
    if expected in ("403", "404") and "{group_id}" in op.path:
        # rule R3: the refused attempt on the group's objects is in the group's audit log, and nothing else is
        refused = (await db.execute(text(
            "SELECT group_id, action, outcome, details->>'route' FROM audit_events WHERE id > :last"
        ), {"last": last_event})).all()
        assert [tuple(r) for r in refused] == [(world.ids["group_id"], "access.refused", "refused", op.path)], refused
